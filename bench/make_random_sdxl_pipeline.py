#!/usr/bin/env python3
"""A full-size SDXL inpainting pipeline folder with RANDOM weights, for the memory and end-to-end timing run of
`patchcore synthesize` (bench/run_sdxl_pipeline.sh). Nothing is downloaded: the configs are the published ones
(bench/diffusion_bench.py), the tokenizers use the real CLIP vocabulary (scripts/clip_vocab.py, from PyPI's
open-clip-torch wheel), and every weight file is written as a `variant="fp16"` safetensors file, as the hub's
diffusers/stable-diffusion-xl-1.0-inpainting-0.1 ships them (about 7 GB in all).

Usage: python3 bench/make_random_sdxl_pipeline.py OUT_DIR
The images it makes are noise: this checks memory, speed and that the folder loads, not image quality.
"""
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "scripts"))
import diffusion_bench as configs  # noqa: E402  (also hides a broken torchvision before diffusers loads)
from clip_vocab import clip_vocab, write_vocab_files  # noqa: E402
from diffusers import AutoencoderKL, UNet2DConditionModel  # noqa: E402
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection  # noqa: E402

CLIP_MERGES = 48894  # the whole BPE: 512 byte tokens + 48894 merges + 2 specials = 49408
EULER = dict(beta_end=0.012, beta_schedule="scaled_linear", beta_start=0.00085, clip_sample=False,
             interpolation_type="linear", num_train_timesteps=1000, prediction_type="epsilon", sample_max_value=1.0,
             set_alpha_to_one=False, skip_prk_steps=True, steps_offset=1, timestep_spacing="leading",
             trained_betas=None, use_karras_sigmas=False)


def write_tokenizer(folder: Path, vocab, merges, pad):
    write_vocab_files(folder, vocab, merges)
    config = {"add_prefix_space": False, "do_lower_case": True, "errors": "replace", "model_max_length": 77,
              "tokenizer_class": "CLIPTokenizer", "bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>",
              "unk_token": "<|endoftext|>", "pad_token": pad}
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")


def save_half(model, folder: Path):
    model.half().save_pretrained(folder, safe_serialization=True, variant="fp16")
    print("wrote", folder, flush=True)


def main():
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    vocab, merges = clip_vocab(CLIP_MERGES)
    assert len(vocab) == 49408
    write_tokenizer(out / "tokenizer", vocab, merges, "<|endoftext|>")
    write_tokenizer(out / "tokenizer_2", vocab, merges, "!")
    (out / "scheduler").mkdir(exist_ok=True)
    (out / "scheduler" / "scheduler_config.json").write_text(
        json.dumps({"_class_name": "EulerDiscreteScheduler", "_diffusers_version": "0.42.1", **EULER}, indent=2))
    ids = dict(bos_token_id=vocab["<|startoftext|>"], eos_token_id=vocab["<|endoftext|>"], pad_token_id=1)
    save_half(CLIPTextModel(CLIPTextConfig(**configs.CLIP_L, **ids)).eval(), out / "text_encoder")
    save_half(CLIPTextModelWithProjection(CLIPTextConfig(**configs.CLIP_BIGG, **ids)).eval(), out / "text_encoder_2")
    save_half(AutoencoderKL(**configs.VAE, sample_size=1024, scaling_factor=0.13025, force_upcast=True).eval(),
              out / "vae")
    save_half(UNet2DConditionModel(**configs.SDXL_UNET).eval(), out / "unet")
    index = {"_class_name": "StableDiffusionXLInpaintPipeline", "_diffusers_version": "0.42.1",
             "force_zeros_for_empty_prompt": True, "requires_aesthetics_score": False,
             "scheduler": ["diffusers", "EulerDiscreteScheduler"],
             "text_encoder": ["transformers", "CLIPTextModel"],
             "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"],
             "tokenizer": ["transformers", "CLIPTokenizer"], "tokenizer_2": ["transformers", "CLIPTokenizer"],
             "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"]}
    (out / "model_index.json").write_text(json.dumps(index, indent=2) + "\n")
    print("done:", out)


if __name__ == "__main__":
    main()
