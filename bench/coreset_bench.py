#!/usr/bin/env python3
"""PyTorch side of the memory-bank benchmark (bench/CoresetBench/main.swift is the Swift side).

  python3 bench/coreset_bench.py make-bank --kind {gauss,mixture,bottle,magnetic_tile} [--out /tmp/bank_<kind>.f32]
      writes a raw little-endian float32 (N,128) file; gauss = iid N(0,1) (worst case for pruning),
      mixture = 2,000 Gaussian blobs of varied spread, bottle = real MobileNetV2 "blocks" patch features of the
      209 MVTec bottle train images (features.6 + features.13, AvgPool 3x3, bilinear to 28x28; D=128);
      magnetic_tile = the same features of the 700 split=train,label=good Magnetic Tile images, Resize((224,224))
      without crop as `patchcore evaluate --size 224x224` (N=548,800; the 1% coreset is 5,488 picks).
  python3 bench/coreset_bench.py coreset --bank FILE [--picks 300] [--start S]
      patchcore-inspection-style greedy iteration (||a||^2 - 2ab + ||b||^2, clamp, sqrt, cat + min) on the
      bank; times the first --picks picks, extrapolates linearly to 10% of N (PyTorch's per-pick cost does not
      depend on the pick number), prints the first picks for comparison with Swift.
  python3 bench/coreset_bench.py knn --bank FILE
      per-image 1-NN: the last image's 784 patches vs every 10th row of the other images and vs all other rows,
      torch.cdist + min (median of 5).
  python3 bench/coreset_bench.py faiss --bank FILE [--threads 2]
  python3 bench/coreset_bench.py faiss --bank BANK.f32 --queries QUERIES.f32 [--threads 2]
      faiss IndexFlatL2 on a given bank and query file (as `CoresetBench exact BANK QUERIES` reads them), median of 3
      the same queries and banks through faiss-cpu (pip faiss-cpu): exact IndexFlatL2 (median of 5), and IVF
      (nlist = 4 sqrt(N), trained on the bank, nprobe 1/8/32) with its recall@1 against the exact neighbour and the
      change of the mean 1-NN distance.
  python3 bench/coreset_bench.py make-large --model MODEL.safetensors --out PREFIX --images IMAGE...
      for the 1,000 x 1,000 latency case (bench/run_large_image_predict.sh): the model file's memory bank to
      PREFIX_bank.f32 and the features of each image resized to 1,000 x 1,000 (15,625 patches) to PREFIX_<n>.f32,
      as `CoresetBench exact` reads them.
Runs on 2 threads (torch.set_num_threads(2)), like REFERENCE.md.
"""
import argparse
import pathlib
import sys
import time

import numpy as np
import torch

torch.set_num_threads(2)
N_BOTTLE = 163_856


def make_bank(kind, out):
    rng = np.random.default_rng(0)
    if kind == "gauss":
        x = rng.standard_normal((N_BOTTLE, 128), dtype=np.float32)
    elif kind == "mixture":
        centres = rng.normal(0, 1.0, size=(2000, 128)).astype(np.float32)
        labels = rng.integers(0, 2000, size=N_BOTTLE)
        spread = rng.uniform(0.05, 0.4, size=2000).astype(np.float32)[labels][:, None]
        x = centres[labels] + spread * rng.standard_normal((N_BOTTLE, 128), dtype=np.float32)
    elif kind == "magnetic_tile":
        x = bottle_features(magnetic_tile_files(), resize_only=True)
    else:
        x = bottle_features()
    x = np.ascontiguousarray(x, dtype="<f4")
    x.tofile(out)
    print(f"wrote {out} shape {x.shape}")


def magnetic_tile_files():
    import csv
    root = pathlib.Path("/work/shared/datasets/magnetic_tile")
    with open(root / "split.csv", newline="") as fh:
        return [root / r["image"] for r in csv.DictReader(fh) if r["split"] == "train" and r["label"] == "good"]


def make_large(model, prefix, images):
    import json
    import struct
    with open(model, "rb") as fh:
        size = struct.unpack("<Q", fh.read(8))[0]
        header = json.loads(fh.read(size))
        start, end = header["memory_bank"]["data_offsets"]
        fh.seek(8 + size + start)
        bank = np.frombuffer(fh.read(end - start), dtype="<f4").reshape(header["memory_bank"]["shape"])
    bank.tofile(f"{prefix}_bank.f32")
    print(f"wrote {prefix}_bank.f32 shape {bank.shape}")
    for n, image in enumerate(images):
        x = np.ascontiguousarray(bottle_features([pathlib.Path(image)], resize_only=True, size=1000), dtype="<f4")
        x.tofile(f"{prefix}_{n}.f32")
        print(f"wrote {prefix}_{n}.f32 shape {x.shape} ({image})")


def bottle_features(files=None, resize_only=False, size=224):
    _lib = torch.library.Library("torchvision", "DEF")
    _lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    import torchvision
    from PIL import Image
    import torch.nn.functional as F

    net = torchvision.models.mobilenet_v2()
    net.load_state_dict(torch.load("/root/.cache/patchcore/weights/mobilenet_v2-b0353104.pth", map_location="cpu"))
    net.eval()
    T = torchvision.transforms
    geometry = [T.Resize((size, size))] if resize_only else [T.Resize(256), T.CenterCrop(224)]
    tf = T.Compose(geometry + [T.ToTensor(), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    if files is None:
        files = sorted(pathlib.Path("/work/shared/datasets/mvtec_ad/bottle/train/good").glob("*.png"))
    feats = []
    with torch.no_grad():
        for i in range(0, len(files), 8):
            x = torch.stack([tf(Image.open(f).convert("RGB")) for f in files[i:i + 8]])
            taps = {}
            for j, layer in enumerate(net.features[:14]):
                x = layer(x)
                if j in (6, 13):
                    taps[j] = F.avg_pool2d(x, 3, 1, 1)
            a = taps[6]
            b = F.interpolate(taps[13], size=a.shape[-2:], mode="bilinear", align_corners=False)
            f = torch.cat([a, b], 1).permute(0, 2, 3, 1).reshape(-1, 128)
            feats.append(f.numpy())
    return np.concatenate(feats)


def load(path):
    x = np.fromfile(path, dtype="<f4")
    return torch.from_numpy(x.reshape(-1, 128))


def pairwise(a, b):
    # patchcore-inspection GreedyCoresetSampler._compute_batchwise_differences
    aa = a.unsqueeze(1).bmm(a.unsqueeze(2)).reshape(-1, 1)
    bb = b.unsqueeze(1).bmm(b.unsqueeze(2)).reshape(1, -1)
    return (-2 * a.mm(b.T) + aa + bb).clamp(0, None).sqrt()


def coreset(path, picks, start):
    x = load(path)
    n = len(x)
    total = int(n * 0.1)
    with torch.no_grad():
        t0 = time.perf_counter()
        mind = pairwise(x, x[start:start + 1])
        chosen = [start]
        for _ in range(picks - 1):
            idx = int(torch.argmax(mind).item())
            chosen.append(idx)
            d = pairwise(x, x[idx:idx + 1])
            mind = torch.min(torch.cat([mind, d], dim=-1), dim=1).values.reshape(-1, 1)
        dt = time.perf_counter() - t0
    per = dt / picks
    print(f"pytorch greedy: N={n} first {picks} picks {dt:.2f} s, {per * 1e3:.2f} ms/pick, "
          f"extrapolated 10% ({total} picks): {per * total:.1f} s")
    print("pytorch first picks:", chosen[:20])


def knn(path):
    """Queries: the last image's 784 patches; banks exclude that image: every 10th other row, all other rows."""
    x = load(path)
    q = x[-784:].contiguous()
    others = x[:-784]
    for b in (others[::10].contiguous(), others.contiguous()):
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            d = torch.cdist(q, b).min(dim=1)
            times.append(time.perf_counter() - t0)
        print(f"pytorch cdist+min 784 x {len(b)}: median {np.median(times) * 1e3:.1f} ms "
              f"(min {min(times) * 1e3:.1f}); mean 1-NN distance {d.values.mean():.4f}")


def faiss_flat(b, q, threads, runs):
    """faiss IndexFlatL2 1-NN of q in b, `runs` times: prints the median and returns the distances and rows."""
    import faiss
    faiss.omp_set_num_threads(threads)
    flat = faiss.IndexFlatL2(b.shape[1])
    flat.add(b)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        d, i = flat.search(q, 1)
        times.append(time.perf_counter() - t0)
    exact_d = np.sqrt(np.maximum(d[:, 0], 0))
    print(f"faiss IndexFlatL2 {len(b)} x {len(q)} ({threads} threads): median {np.median(times) * 1e3:.1f} ms "
          f"(min {min(times) * 1e3:.1f}); mean 1-NN distance {exact_d.mean():.4f}")
    return exact_d, i[:, 0]


def faiss_knn(path, threads):
    import faiss
    x = load(path).numpy()
    q = np.ascontiguousarray(x[-784:])
    others = x[:-784]
    for b in (np.ascontiguousarray(others[::10]), np.ascontiguousarray(others)):
        exact_d, exact_i = faiss_flat(b, q, threads, runs=5)
        nlist = int(4 * np.sqrt(len(b)))
        quantizer = faiss.IndexFlatL2(b.shape[1])
        ivf = faiss.IndexIVFFlat(quantizer, b.shape[1], nlist)
        t0 = time.perf_counter()
        ivf.train(b)
        ivf.add(b)
        build = time.perf_counter() - t0
        for nprobe in (1, 8, 32):
            ivf.nprobe = nprobe
            times = []
            for _ in range(5):
                t0 = time.perf_counter()
                d, i = ivf.search(q, 1)
                times.append(time.perf_counter() - t0)
            recall = float(np.mean(i[:, 0] == exact_i))
            approx = np.sqrt(np.maximum(d[:, 0], 0))
            print(f"faiss IVF{nlist},Flat nprobe {nprobe} 784 x {len(b)}: median {np.median(times) * 1e3:.2f} ms; "
                  f"recall@1 {recall:.4f}; mean 1-NN distance {approx.mean():.4f} (exact {exact_d.mean():.4f}); "
                  f"build {build:.1f} s")


def faiss_pair(bank, queries, threads):
    b, q = np.ascontiguousarray(load(bank).numpy()), np.ascontiguousarray(load(queries).numpy())
    faiss_flat(b, q, threads, runs=3)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["make-bank", "make-large", "coreset", "knn", "faiss"])
    ap.add_argument("--model")
    ap.add_argument("--images", nargs="*", default=[])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--kind", default="mixture")
    ap.add_argument("--out")
    ap.add_argument("--bank")
    ap.add_argument("--queries")
    ap.add_argument("--picks", type=int, default=300)
    ap.add_argument("--start", type=int, default=0)
    a = ap.parse_args()
    if a.cmd == "make-large":
        make_large(a.model, a.out or "/tmp/large1000", a.images)
    elif a.cmd == "make-bank":
        make_bank(a.kind, a.out or f"/tmp/bank_{a.kind}.f32")
    elif a.cmd == "coreset":
        coreset(a.bank, a.picks, a.start)
    elif a.cmd == "faiss" and a.queries:
        faiss_pair(a.bank, a.queries, a.threads)
    elif a.cmd == "faiss":
        faiss_knn(a.bank, a.threads)
    else:
        knn(a.bank)


if __name__ == "__main__":
    sys.exit(main())
