#!/usr/bin/env python3
"""Parity fixtures for Tests/DiffusionModelsTests (UNet2DConditionModel, AutoencoderKL); deterministic, CPU.

Builds tiny randomly initialised diffusers models from config dicts (nothing from a hub), saves each with
save_pretrained(safe_serialization=True) into Tests/DiffusionModelsTests/Fixtures/{unet,vae}/<name>/, and writes
reference tensors (inputs, outputs and block intermediates, recorded with forward hooks) next to them as
reference.safetensors:

Channel counts are below the suggested (32, 64) to keep all fixtures within 2.5 MiB.

- unet/sd_inpaint: SD 1.x-style inpainting UNet (in_channels 9, block_out_channels (16, 32), conv projections);
  one call at 8x8 latents and one at 5x7 (odd sizes: the upsampler targets the skip size).
- unet/sdxl_inpaint: SDXL-style inpainting UNet (addition_embed_type "text_time", transformer_layers_per_block
  [1, 2], linear projections, cross_attention_dim 48), saved only as variant "fp16" in half precision (the fp32
  loading path is covered by sd_inpaint; this keeps the budget); its reference is computed in fp32 from the
  fp16-rounded weights, so the comparison stays tight. The output of the unrounded weights is kept as
  "out_fp32_weights" to show what the rounding costs.
- vae/tiny: AutoencoderKL with block_out_channels (8, 16), latent 4: encode mean / logvar and decode.

Usage: pip install torch==2.13.0 diffusers==0.42.1 safetensors; python3 scripts/make_unet_vae_fixtures.py
"""
import os
import shutil

import torch

# The PyPI torchvision wheel (pulled in by transformers, which diffusers imports) is a CUDA build whose compiled
# ops do not load next to the CPU torch; stub the two schemas it registers first (see /work/shared/REFERENCE.md).
_lib = torch.library.Library("torchvision", "DEF")
_lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
_lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
from diffusers import AutoencoderKL, UNet2DConditionModel  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "DiffusionModelsTests", "Fixtures")
torch.set_num_threads(1)


def perturb(model, seed):
    """Default init leaves norms at 1/0 and some layers symmetric; jitter every parameter so that a weight read
    under the wrong name changes the output."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, p in sorted(model.named_parameters()):
            p.add_(0.1 * torch.randn(p.shape, generator=g))
    return model


def hooks(model, names):
    """Records the (first) output of each named submodule."""
    store = {}

    def make(name):
        def hook(_module, _inputs, output):
            out = output[0] if isinstance(output, tuple) else output
            store[name] = out.detach().clone().contiguous()
        return hook

    handles = [model.get_submodule(n).register_forward_hook(make(n)) for n in names]
    return store, handles


def save_dir(model, sub, variant=None):
    path = os.path.join(OUT, sub)
    if variant is None and os.path.isdir(path):
        shutil.rmtree(path)
    model.save_pretrained(path, safe_serialization=True, variant=variant)
    return path


def unet_trace_names(model):
    names = ["time_embedding", "conv_in", "mid_block"]
    names += [f"down_blocks.{i}" for i in range(len(model.down_blocks))]
    names += [f"up_blocks.{i}" for i in range(len(model.up_blocks))]
    return names


def make_sd_unet():
    torch.manual_seed(0)
    config = dict(
        sample_size=8, in_channels=9, out_channels=4, layers_per_block=2, block_out_channels=(16, 32),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=24, attention_head_dim=4, norm_num_groups=8, flip_sin_to_cos=True, freq_shift=0,
    )
    unet = perturb(UNet2DConditionModel(**config), 1).eval()
    path = save_dir(unet, "unet/sd_inpaint")
    g = torch.Generator().manual_seed(2)
    ref = {}
    for tag, (h, w) in (("", (8, 8)), ("odd_", (5, 7))):
        sample = torch.randn(2, 9, h, w, generator=g)
        text = torch.randn(2, 7, 24, generator=g)
        store, handles = hooks(unet, unet_trace_names(unet))
        with torch.no_grad():
            out = unet(sample, torch.tensor(981.0), encoder_hidden_states=text).sample
        for hd in handles:
            hd.remove()
        ref[tag + "sample"] = sample
        ref[tag + "encoder_hidden_states"] = text
        ref[tag + "out"] = out
        if tag == "":
            ref.update({"trace." + k: v for k, v in store.items()})
    save_file(ref, os.path.join(path, "reference.safetensors"), metadata={"timestep": "981"})


def make_sdxl_unet():
    torch.manual_seed(10)
    config = dict(
        sample_size=8, in_channels=9, out_channels=4, layers_per_block=1, block_out_channels=(16, 32),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        transformer_layers_per_block=[1, 2], attention_head_dim=(2, 4), use_linear_projection=True,
        addition_embed_type="text_time", addition_time_embed_dim=8, projection_class_embeddings_input_dim=6 * 8 + 40,
        cross_attention_dim=48, norm_num_groups=8, flip_sin_to_cos=True, freq_shift=0, upcast_attention=True,
    )
    unet = perturb(UNet2DConditionModel(**config), 11).eval()
    path = os.path.join(OUT, "unet/sdxl_inpaint")
    if os.path.isdir(path):
        shutil.rmtree(path)
    g = torch.Generator().manual_seed(12)
    sample = torch.randn(2, 9, 8, 8, generator=g)
    text = torch.randn(2, 6, 48, generator=g)
    text_embeds = torch.randn(2, 40, generator=g)
    time_ids = torch.tensor([[64.0, 64.0, 0.0, 0.0, 64.0, 64.0], [96.0, 48.0, 8.0, 4.0, 64.0, 64.0]])
    cond = {"text_embeds": text_embeds, "time_ids": time_ids}
    with torch.no_grad():
        out_fp32_weights = unet(sample, torch.tensor(420.0), encoder_hidden_states=text, added_cond_kwargs=cond).sample
    # Half-precision file, then the fp32 forward of the fp16-rounded weights as the reference.
    save_dir(unet.half(), "unet/sdxl_inpaint", variant="fp16")
    unet = unet.float()
    store, handles = hooks(unet, unet_trace_names(unet))
    with torch.no_grad():
        out = unet(sample, torch.tensor(420.0), encoder_hidden_states=text, added_cond_kwargs=cond).sample
    for hd in handles:
        hd.remove()
    ref = {"sample": sample, "encoder_hidden_states": text, "text_embeds": text_embeds, "time_ids": time_ids,
           "out": out, "out_fp32_weights": out_fp32_weights}
    ref.update({"trace." + k: v for k, v in store.items()})
    save_file(ref, os.path.join(path, "reference.safetensors"), metadata={"timestep": "420"})


def make_vae():
    torch.manual_seed(20)
    config = dict(
        in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2, block_out_channels=(8, 16), layers_per_block=1,
        latent_channels=4, norm_num_groups=4, sample_size=16, scaling_factor=0.18215,
    )
    vae = perturb(AutoencoderKL(**config), 21).eval()
    path = save_dir(vae, "vae/tiny")
    g = torch.Generator().manual_seed(22)
    image = torch.rand(1, 3, 16, 16, generator=g) * 2 - 1
    latents = torch.randn(1, 4, 8, 8, generator=g)
    noise = torch.randn(1, 4, 8, 8, generator=g)
    names = ["encoder.conv_in", "encoder.down_blocks.0", "encoder.down_blocks.1", "encoder.mid_block",
             "decoder.conv_in", "decoder.mid_block", "decoder.up_blocks.0", "decoder.up_blocks.1"]
    with torch.no_grad():
        store, handles = hooks(vae, names)
        dist = vae.encode(image).latent_dist
        decoded = vae.decode(latents).sample
        for hd in handles:
            hd.remove()
        sample = dist.mean + dist.std * noise
    ref = {"image": image, "mean": dist.mean.contiguous(), "logvar": dist.logvar.contiguous(), "latents": latents,
           "decoded": decoded, "noise": noise, "sample": sample}
    ref.update({"trace." + k: v for k, v in store.items()})
    save_file(ref, os.path.join(path, "reference.safetensors"))


if __name__ == "__main__":
    make_sd_unet()
    make_sdxl_unet()
    make_vae()
    total = sum(os.path.getsize(os.path.join(d, f)) for sub in ("unet", "vae")
                for d, _, fs in os.walk(os.path.join(OUT, sub)) for f in fs)
    print(f"fixtures: {total / 2**20:.2f} MiB")
