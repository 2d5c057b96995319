#!/usr/bin/env python3
"""diffusers on PyTorch CPU: one UNet call (batch 2, for classifier-free guidance), one VAE decode / encode and one
text encoding, with randomly initialised weights of the real configs (written here, nothing downloaded).

The Swift side is bench/DiffusionBench (same configs). Prints one JSON object to stdout.
Run: python3 bench/diffusion_bench.py --model sd15|sdxl --component unet|vae_decode|vae_encode|text [--threads 2]
Each component is best run in its own process so the peak RSS is its own.
"""
import argparse
import json
import resource
import statistics
import sys
import time

import torch


def hide_broken_torchvision():
    """transformers imports torchvision when it is installed; a torchvision whose C ops do not match torch (as
    installed on this machine: 'operator torchvision::nms does not exist') breaks every diffusers import. Nothing
    here uses torchvision, so a broken one is made to look absent."""
    import importlib.util
    try:
        import torchvision  # noqa: F401
        return
    except Exception:
        pass
    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        if name == "torchvision" or name.startswith("torchvision."):
            return None
        return real_find_spec(name, *args, **kwargs)
    importlib.util.find_spec = find_spec


hide_broken_torchvision()

SD15_UNET = dict(sample_size=64, in_channels=9, out_channels=4, layers_per_block=2,
                 block_out_channels=(320, 640, 1280, 1280),
                 down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
                 up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
                 cross_attention_dim=768, attention_head_dim=8)
SDXL_UNET = dict(sample_size=128, in_channels=9, out_channels=4, layers_per_block=2,
                 block_out_channels=(320, 640, 1280),
                 down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
                 up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
                 transformer_layers_per_block=(1, 2, 10), attention_head_dim=(5, 10, 20), cross_attention_dim=2048,
                 use_linear_projection=True, addition_embed_type="text_time", addition_time_embed_dim=256,
                 projection_class_embeddings_input_dim=2816)
VAE = dict(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2, block_out_channels=(128, 256, 512, 512),
           down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4)
CLIP_L = dict(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
              max_position_embeddings=77, hidden_act="quick_gelu", projection_dim=768)
CLIP_BIGG = dict(vocab_size=49408, hidden_size=1280, intermediate_size=5120, num_hidden_layers=32,
                 num_attention_heads=20, max_position_embeddings=77, hidden_act="gelu", projection_dim=1280)


def timed(fn, repeats):
    times = []
    with torch.inference_mode():
        fn()  # warm-up
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def flops(fn):
    from torch.utils.flop_counter import FlopCounterMode
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["sd15", "sdxl"], required=True)
    ap.add_argument("--component", choices=["unet", "vae_decode", "vae_encode", "text"], required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--latent", type=int, help="latent side (default: the model's native 64 / 128)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    lat = args.latent or (64 if args.model == "sd15" else 128)
    size = lat * 8
    if args.component == "unet":
        from diffusers import UNet2DConditionModel
        unet = UNet2DConditionModel(**(SD15_UNET if args.model == "sd15" else SDXL_UNET)).eval()
        x = torch.randn(2, 9, lat, lat)
        ctx = torch.randn(2, 77, 768 if args.model == "sd15" else 2048)
        kwargs = {}
        if args.model == "sdxl":
            kwargs["added_cond_kwargs"] = {"text_embeds": torch.randn(2, 1280),
                                           "time_ids": torch.tensor([[size, size, 0, 0, size, size]] * 2, dtype=torch.float32)}
        fn = lambda: unet(x, torch.tensor(500.0), encoder_hidden_states=ctx, **kwargs)
        batch = 2
    elif args.component.startswith("vae"):
        from diffusers import AutoencoderKL
        vae = AutoencoderKL(**VAE, sample_size=size).eval()
        if args.component == "vae_decode":
            z = torch.randn(1, 4, lat, lat)
            fn = lambda: vae.decode(z)
        else:
            img = torch.rand(1, 3, size, size) * 2 - 1
            fn = lambda: vae.encode(img)
        batch = 1
    else:
        from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection
        if args.model == "sd15":
            enc = CLIPTextModel(CLIPTextConfig(**CLIP_L)).eval()
        else:
            enc = CLIPTextModelWithProjection(CLIPTextConfig(**CLIP_BIGG)).eval()
        ids = torch.randint(0, 49407, (2, 77))
        fn = lambda: enc(ids, output_hidden_states=True)
        batch = 2
    median, times = timed(fn, args.repeats)
    total = flops(fn)
    print(json.dumps({"side": "pytorch", "model": args.model, "component": args.component, "batch": batch,
                      "size": size, "threads": args.threads, "median_s": median, "runs_s": times,
                      "tflop": total / 1e12, "gflops_per_s": total / median / 1e9,
                      "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
