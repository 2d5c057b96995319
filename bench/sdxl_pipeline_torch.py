#!/usr/bin/env python3
"""diffusers' StableDiffusionXLInpaintPipeline on the same random SDXL folder and inputs as the Swift run in
bench/run_sdxl_pipeline.sh, for the side-by-side end-to-end row of RESULTS.md. fp32 compute (CPU); the fp16 files are
loaded as fp32, which is how diffusers runs on a CPU. Prints one JSON line: load_s, step_s (each denoising step),
total_s (the pipeline call), peak_rss_gib.

Usage: python3 bench/sdxl_pipeline_torch.py MODEL_DIR IMAGE MASK STEPS THREADS
"""
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import diffusion_bench  # noqa: E402,F401  (hides a broken torchvision before diffusers loads)
import PIL.Image  # noqa: E402
import torch  # noqa: E402
from diffusers import StableDiffusionXLInpaintPipeline  # noqa: E402


def main():
    model, image, mask, steps, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    pipe = StableDiffusionXLInpaintPipeline.from_pretrained(model, variant="fp16", torch_dtype=torch.float32)
    load_s = time.perf_counter() - t0
    stamps = []

    def on_step(p, i, t, kwargs):
        stamps.append(time.perf_counter())
        return kwargs

    t0 = time.perf_counter()
    with torch.inference_mode():
        pipe(prompt="copper metal scratches", negative_prompt="smooth, plain, black, dark, shadow",
             image=PIL.Image.open(image).convert("RGB"), mask_image=PIL.Image.open(mask).convert("L"),
             num_inference_steps=steps, guidance_scale=20.0, strength=0.99, padding_mask_crop=2, height=1024,
             width=1024, generator=torch.manual_seed(1), callback_on_step_end=on_step)
    total_s = time.perf_counter() - t0
    step_s = [b - a for a, b in zip([t0] + stamps[:-1], stamps)]
    print(json.dumps({"side": "pytorch", "load_s": load_s, "step_s": step_s, "total_s": total_s,
                      "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
