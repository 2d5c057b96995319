"""Generated good-part textures for the large-image fitting benchmarks (bench/RESULTS.md, "Fitting on 1,000 x 1,000
images"): oriented stripes, smooth shading and pixel noise, one RGB PNG per image, numpy seed 0.

    python3 bench/make_large_images.py OUT_DIR --count 1000 --size 1000
"""
import argparse
import os
from multiprocessing import Pool

import numpy as np
from PIL import Image


def make(args):
    out, index, size = args
    rng = np.random.default_rng([0, index])
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(0.02, 0.06)
    stripes = 0.5 + 0.5 * np.sin(2 * np.pi * (x * np.cos(angle) + y * np.sin(angle)) / period)
    shading = 0.7 + 0.3 * (x * rng.uniform(-1, 1) + y * rng.uniform(-1, 1))
    base = np.array([rng.uniform(0.3, 0.6), rng.uniform(0.3, 0.6), rng.uniform(0.3, 0.6)], dtype=np.float32)
    img = (0.6 * stripes[..., None] + 0.4) * shading[..., None] * base[None, None, :] * 255
    img += rng.normal(0, 6, size=img.shape).astype(np.float32)
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(os.path.join(out, f"{index:04d}.png"), compress_level=1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--size", type=int, default=1000)
    p.add_argument("--jobs", type=int, default=2)
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    with Pool(a.jobs) as pool:
        pool.map(make, [(a.out, i, a.size) for i in range(a.count)], chunksize=8)


if __name__ == "__main__":
    main()
