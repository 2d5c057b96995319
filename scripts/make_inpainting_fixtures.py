#!/usr/bin/env python3
"""Reference fixtures for the Swift inpainting pipelines (Tests/InpaintingTests/Fixtures/).

pip install torch==2.13.0 diffusers==0.42.1 transformers safetensors numpy pillow   (CPU; nothing from a hub)

Builds two tiny randomly initialised pipelines from config dicts and saves them in diffusers format:
  sd_tiny/    StableDiffusionInpaintPipeline: 9-channel UNet (block_out_channels (16, 32), 8 norm groups (size budget), cross_attention_dim 32),
              CLIPTextModel (hidden 32), 4-level AutoencoderKL (vae scale factor 8), PNDM with SD 1.5 inpainting's
              scheduler config.
  sdxl_tiny/  StableDiffusionXLInpaintPipeline: two text encoders (the second with projection), text_time addition
              embeddings, Euler with SDXL inpainting 0.1's scheduler config; every weight file stored as variant fp16 only.
The tokenizers use the real CLIP BPE: the first 486 merges of open-clip-torch's bpe_simple_vocab_16e6.txt.gz
(PyPI wheel), so the vocabulary has 1000 entries.

Then runs each pipeline on a small image + mask (working size 64x64, latents 8x8) with the initial noise and the VAE
sampling noise taken from tensors saved here: `randn_tensor` in the pipeline modules and in diffusers' vae.py is
replaced by a queue of saved tensors, consumed in the order the pipeline asks (names in cases.json). Hooks record
the text encoder calls, every UNet call (inputs and output), the VAE encode moments and decode, and the latents after
each scheduler step (callback_on_step_end). Every tensor goes to <case>.safetensors; metadata to cases.json.
"""
import json
import sys
from pathlib import Path

import numpy as np
import PIL.Image
import torch
from safetensors.torch import save_file

# The installed torchvision may not match torch; nothing here needs it, so keep transformers from loading it.
sys.modules.setdefault("torchvision", None)
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

import diffusers
from diffusers import (AutoencoderKL, EulerDiscreteScheduler, PNDMScheduler, StableDiffusionInpaintPipeline,
                       StableDiffusionXLInpaintPipeline, UNet2DConditionModel)
from diffusers.models.autoencoders import vae as vae_module
from diffusers.pipelines.stable_diffusion import pipeline_stable_diffusion_inpaint as sd_module
from diffusers.pipelines.stable_diffusion_xl import pipeline_stable_diffusion_xl_inpaint as sdxl_module

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from clip_vocab import clip_vocab, write_vocab_files  # noqa: E402

OUT = ROOT / "Tests/InpaintingTests/Fixtures"
MAX_LENGTH = 77
PROMPTS = ["white marks on the wall", "copper metal scratches"]
NEGATIVE = "smooth, plain, black, dark, shadow"

SD15_INPAINT_SCHEDULER = dict(beta_end=0.012, beta_schedule="scaled_linear", beta_start=0.00085, clip_sample=False,
                              num_train_timesteps=1000, set_alpha_to_one=False, skip_prk_steps=True, steps_offset=1,
                              trained_betas=None)
SDXL_INPAINT_SCHEDULER = dict(beta_end=0.012, beta_schedule="scaled_linear", beta_start=0.00085, clip_sample=False,
                              interpolation_type="linear", num_train_timesteps=1000, prediction_type="epsilon",
                              sample_max_value=1.0, set_alpha_to_one=False, skip_prk_steps=True, steps_offset=1,
                              timestep_spacing="leading", trained_betas=None, use_karras_sigmas=False)


# ---------------------------------------------------------------- tokenizer (real CLIP merges, truncated vocab)

def write_tokenizer(folder: Path, vocab, merges, pad):
    write_vocab_files(folder, vocab, merges)
    config = {"add_prefix_space": False, "do_lower_case": True, "errors": "replace", "model_max_length": MAX_LENGTH,
              "tokenizer_class": "CLIPTokenizer", "bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>",
              "unk_token": "<|endoftext|>", "pad_token": pad}
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    special = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
               "pad_token": pad}
    (folder / "special_tokens_map.json").write_text(json.dumps(special, indent=2) + "\n")
    tok = CLIPTokenizer(vocab=str(folder / "vocab.json"), merges=str(folder / "merges.txt"), pad_token=pad,
                        model_max_length=MAX_LENGTH)
    ids = tok(PROMPTS[1], padding="max_length", max_length=MAX_LENGTH, truncation=True).input_ids
    assert ids[0] == vocab["<|startoftext|>"] and vocab["<|endoftext|>"] in ids and len(set(ids)) > 4, ids
    return tok


# ---------------------------------------------------------------- tiny components

def shake(model, scale=1.5):
    """Larger-than-default random weights so every layer moves the output."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(1 + 0.2 * torch.randn_like(p) if name.endswith("weight") else 0.1 * torch.randn_like(p))
            else:
                p.mul_(scale)
    return model


def text_encoder(vocab, projection):
    cfg = CLIPTextConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=37, num_hidden_layers=3,
                         num_attention_heads=4, max_position_embeddings=MAX_LENGTH, projection_dim=32,
                         hidden_act="quick_gelu" if not projection else "gelu",
                         bos_token_id=vocab["<|startoftext|>"], eos_token_id=vocab["<|endoftext|>"], pad_token_id=1)
    model = (CLIPTextModelWithProjection if projection else CLIPTextModel)(cfg).eval()
    return shake(model)


def tiny_vae(force_upcast):
    return shake(AutoencoderKL(block_out_channels=[8, 16, 16, 16], in_channels=3, out_channels=3,
                               down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
                               latent_channels=4, layers_per_block=1, norm_num_groups=8, sample_size=64,
                               scaling_factor=0.18215 if not force_upcast else 0.13025,
                               force_upcast=force_upcast).eval(), 1.0)


def tiny_unet(sdxl):
    common = dict(block_out_channels=(16, 32), layers_per_block=1, sample_size=8, in_channels=9, out_channels=4,
                  down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                  up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), norm_num_groups=8)
    if sdxl:
        unet = UNet2DConditionModel(**common, attention_head_dim=(2, 4), use_linear_projection=True,
                                    cross_attention_dim=64, transformer_layers_per_block=(1, 2),
                                    addition_embed_type="text_time", addition_time_embed_dim=8,
                                    projection_class_embeddings_input_dim=6 * 8 + 32)
    else:
        unet = UNet2DConditionModel(**common, attention_head_dim=8, cross_attention_dim=32)
    return shake(unet.eval(), 1.0)


def write_scheduler_config(folder, cls, version, config):
    """The scheduler_config.json exactly as the hub model ships it (from_config drops fields a class ignores)."""
    full = {"_class_name": cls, "_diffusers_version": version, **config}
    (folder / "scheduler" / "scheduler_config.json").write_text(json.dumps(full, indent=2, sort_keys=True) + "\n")


def half_round(model):
    """fp16-rounded weights computed in fp32 (what Swift does with an fp16 file)."""
    return model.half().float()


# ---------------------------------------------------------------- recording

class Recorder:
    def __init__(self):
        self.tensors = {}
        self.counts = {}
        self.noise_queue = []
        self.noise_order = []

    def put(self, prefix, t):
        i = self.counts.get(prefix, 0)
        self.counts[prefix] = i + 1
        self.tensors[f"{prefix}_{i}"] = t.detach().float().contiguous().clone()

    def randn(self, shape, generator=None, device=None, dtype=None, layout=None):
        name, noise = self.noise_queue.pop(0)
        assert tuple(noise.shape) == tuple(shape), (name, noise.shape, shape)
        self.noise_order.append(name)
        return noise.clone().to(dtype or torch.float32)


def hook_text_encoder(rec, enc, name):
    orig = enc.forward

    def forward(input_ids=None, *args, **kwargs):
        out = orig(input_ids=input_ids, *args, **kwargs)
        rec.put(f"{name}_input_ids", input_ids.float())
        if out.hidden_states is not None:  # SDXL: the penultimate layer
            rec.put(f"{name}_hidden_state_m2", out.hidden_states[-2])
        else:  # SD: the last hidden state
            rec.put(f"{name}_last_hidden_state", out[0])
        if hasattr(out, "text_embeds"):  # SDXL's pooled embedding: text encoder 2's projection
            rec.put(f"{name}_pooled", out.text_embeds)
        return out
    enc.forward = forward


def hook_unet(rec, unet):
    orig = unet.forward

    def forward(sample, timestep, encoder_hidden_states, *args, added_cond_kwargs=None, **kwargs):
        out = orig(sample, timestep, encoder_hidden_states, *args, added_cond_kwargs=added_cond_kwargs, **kwargs)
        rec.put("unet_sample", sample)
        rec.put("unet_timestep", torch.as_tensor(timestep, dtype=torch.float32).reshape(1))
        if "unet_encoder_hidden_states_0" not in rec.tensors:  # the same at every step
            rec.put("unet_encoder_hidden_states", encoder_hidden_states)
        if added_cond_kwargs and "unet_time_ids_0" not in rec.tensors:  # the same at every step
            rec.put("unet_text_embeds", added_cond_kwargs["text_embeds"])
            rec.put("unet_time_ids", added_cond_kwargs["time_ids"])
        rec.put("unet_output", out[0])
        return out
    unet.forward = forward


def hook_vae(rec, vae):
    enc, dec = vae.encode, vae.decode

    def encode(x, return_dict=True):
        out = enc(x, return_dict=return_dict)
        rec.put("vae_encode_input", x)
        rec.put("vae_encode_mean", out.latent_dist.mean)
        rec.put("vae_encode_logvar", out.latent_dist.logvar)
        return out

    def decode(z, return_dict=True, generator=None):
        out = dec(z, return_dict=return_dict)
        rec.put("vae_decode_input", z)
        rec.put("vae_decode_output", out.sample if return_dict else out[0])
        return out
    vae.encode, vae.decode = encode, decode


# ---------------------------------------------------------------- inputs

def test_image(w, h, seed):
    g = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([(xx * 255 // max(w - 1, 1)), (yy * 255 // max(h - 1, 1)), ((xx + yy) * 3) % 256], -1)
    noise = g.integers(-20, 21, size=(h, w, 3))
    return PIL.Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8), "RGB")


def test_mask(w, h, box):
    m = np.zeros((h, w), np.uint8)
    x0, y0, x1, y1 = box
    m[y0:y1, x0:x1] = 255
    m[y0 + 2, x1:x1 + 3] = 200  # a thin faint extension, still >= 0.5
    return PIL.Image.fromarray(m, "L")


def run_case(name, pipe, rec, noises, kwargs, meta):
    rec.tensors.clear()
    rec.counts.clear()
    rec.noise_order.clear()
    rec.noise_queue = list(noises)
    steps = []

    def on_step(p, i, t, cb):
        steps.append(cb["latents"].detach().clone())
        return {}

    out = pipe(**kwargs, output_type="pil", callback_on_step_end=on_step, callback_on_step_end_tensor_inputs=["latents"])
    assert not rec.noise_queue, f"{name}: unused noise {[n for n, _ in rec.noise_queue]}"
    for i, s in enumerate(steps):
        rec.tensors[f"step_latents_{i}"] = s.float().contiguous()
    for n, t in noises:
        rec.tensors[f"noise_{n}"] = t.contiguous()
    # The decoded image before uint8 conversion is vae_decode_output_0; the final 8-bit image is a PNG.
    out.images[0].save(OUT / f"{name}_output.png")
    kwargs["image"].save(OUT / f"{name}_image.png")
    kwargs["mask_image"].save(OUT / f"{name}_mask.png")
    save_file(rec.tensors, str(OUT / f"{name}.safetensors"))
    meta.update(dict(noise_order=list(rec.noise_order), callbacks=len(steps), unet_calls=rec.counts.get("unet_output", 0),
                     image=f"{name}_image.png", mask=f"{name}_mask.png", output=f"{name}_output.png"))
    if kwargs.get("padding_mask_crop") is not None:
        w, h = kwargs["width"], kwargs["height"]
        meta["crop_region"] = list(pipe.mask_processor.get_crop_region(kwargs["mask_image"], w, h,
                                                                      pad=kwargs["padding_mask_crop"]))
    return meta


def crop_region_cases():
    """get_crop_region on assorted masks and working sizes (pure geometry)."""
    from diffusers.image_processor import VaeImageProcessor
    cases = []
    g = np.random.default_rng(7)
    for i in range(24):
        w, h = int(g.integers(16, 90)), int(g.integers(16, 90))
        m = np.zeros((h, w), np.uint8)
        rects = []
        for _ in range(int(g.integers(1, 3))):
            x0, y0 = int(g.integers(0, w)), int(g.integers(0, h))
            x1, y1 = min(x0 + int(g.integers(1, 30)), w), min(y0 + int(g.integers(1, 12)), h)
            v = int(g.integers(1, 256))
            m[y0:y1, x0:x1] = v
            rects.append([x0, y0, x1, y1, v])
        ww, wh = [(64, 64), (64, 32), (32, 64), (48, 80)][i % 4]
        pad = [0, 2, 5, 32][i % 4 if i < 12 else (i // 4) % 4]
        region = VaeImageProcessor.get_crop_region(PIL.Image.fromarray(m, "L"), ww, wh, pad=pad)
        cases.append(dict(width=w, height=h, rects=rects, working=[ww, wh],
                          pad=pad, region=[int(v) for v in region]))
    return cases


def lanczos_cases():
    """PIL LANCZOS resizes (the VaeImageProcessor resample), RGB and L, shrinking and enlarging."""
    img = test_image(13, 11, 5)
    out = {"source": np.array(img).tolist(), "source_size": [13, 11], "resized": []}
    for (w, h) in [(20, 18), (6, 5), (13, 19)]:
        out["resized"].append(dict(size=[w, h], rgb=np.array(img.resize((w, h), PIL.Image.LANCZOS)).tolist(),
                                   gray=np.array(img.convert("L").resize((w, h), PIL.Image.LANCZOS)).tolist()))
    return out


def blur_cases():
    """VaeImageProcessor.blur (Pillow GaussianBlur) of a small mask at several radii, one larger than the image."""
    from diffusers.image_processor import VaeImageProcessor
    m = np.zeros((17, 23), np.uint8)
    m[4:11, 6:15] = 255
    m[12, 2:20] = 180
    m[0:3, 20:23] = 90
    img = PIL.Image.fromarray(m, "L")
    return {"mask": m.tolist(), "blurred": [dict(radius=r, pixels=np.array(VaeImageProcessor.blur(img, r)).tolist())
                                            for r in (1, 2.5, 4, 33)]}


def main():
    assert diffusers.__version__ == "0.42.1", diffusers.__version__
    OUT.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    vocab, merges = clip_vocab(486)
    assert len(vocab) == 1000
    rec = Recorder()
    sd_module.randn_tensor = rec.randn
    sdxl_module.randn_tensor = rec.randn
    vae_module.randn_tensor = rec.randn
    meta = {"diffusers": diffusers.__version__, "torch": torch.__version__, "prompts": PROMPTS, "negative": NEGATIVE,
            "cases": {}}

    # ---- SD 1.x inpainting
    sd_dir = OUT / "sd_tiny"
    tok = write_tokenizer(sd_dir / "tokenizer", vocab, merges, "<|endoftext|>")
    te = half_round(text_encoder(vocab, projection=False))
    unet = half_round(tiny_unet(sdxl=False))
    vae = half_round(tiny_vae(force_upcast=False))
    sched = PNDMScheduler.from_config(SD15_INPAINT_SCHEDULER)
    pipe = StableDiffusionInpaintPipeline(vae=vae, text_encoder=te, tokenizer=tok, unet=unet, scheduler=sched,
                                          safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(sd_dir, safe_serialization=True)
    write_scheduler_config(sd_dir, "PNDMScheduler", "0.6.0", SD15_INPAINT_SCHEDULER)
    # Weights stored in fp16 under the plain file names (a half-precision download); the pipeline already computes
    # with the rounded values.
    unet.half().save_pretrained(sd_dir / "unet", safe_serialization=True)
    unet.float()
    te.half().save_pretrained(sd_dir / "text_encoder", safe_serialization=True)
    te.float()
    vae.half().save_pretrained(sd_dir / "vae", safe_serialization=True)
    vae.float()
    for p in (sd_dir / "unet").glob("*.safetensors"):
        assert p.name == "diffusion_pytorch_model.safetensors"
    hook_text_encoder(rec, te, "te1")
    hook_unet(rec, unet)
    hook_vae(rec, vae)
    for ci, (prompt, crop) in enumerate([(PROMPTS[0], None), (PROMPTS[1], 3)]):
        name = f"sd_case{ci}"
        size = (64, 64) if crop is None else (80, 72)
        image = test_image(*size, 10 + ci)
        mask = test_mask(*size, (20, 24, 36, 34) if crop is None else (30, 20, 44, 40))
        g = torch.Generator().manual_seed(100 + ci)
        noises = [("latents", torch.randn(1, 4, 8, 8, generator=g)),
                  ("vae_masked_image", torch.randn(1, 4, 8, 8, generator=g))]
        kwargs = dict(prompt=prompt, negative_prompt=NEGATIVE, image=image, mask_image=mask, height=64, width=64,
                      num_inference_steps=4, guidance_scale=7.5, strength=1.0, padding_mask_crop=crop)
        m = dict(family="sd", model="sd_tiny", prompt=prompt, negative_prompt=NEGATIVE, steps=4, guidance=7.5,
                 strength=1.0, padding_mask_crop=crop, width=64, height=64)
        meta["cases"][name] = run_case(name, pipe, rec, noises, kwargs, m)

    # ---- SDXL inpainting
    xl_dir = OUT / "sdxl_tiny"
    tok1 = write_tokenizer(xl_dir / "tokenizer", vocab, merges, "<|endoftext|>")
    tok2 = write_tokenizer(xl_dir / "tokenizer_2", vocab, merges, "!")
    te1 = half_round(text_encoder(vocab, projection=False))
    te2 = half_round(text_encoder(vocab, projection=True))
    unet = half_round(tiny_unet(sdxl=True))
    vae = half_round(tiny_vae(force_upcast=True))
    sched = EulerDiscreteScheduler.from_config(SDXL_INPAINT_SCHEDULER)
    pipe = StableDiffusionXLInpaintPipeline(vae=vae, text_encoder=te1, text_encoder_2=te2, tokenizer=tok1,
                                            tokenizer_2=tok2, unet=unet, scheduler=sched,
                                            requires_aesthetics_score=False, force_zeros_for_empty_prompt=True,
                                            add_watermarker=False)
    pipe.save_pretrained(xl_dir, safe_serialization=True)
    write_scheduler_config(xl_dir, "EulerDiscreteScheduler", "0.21.0.dev0", SDXL_INPAINT_SCHEDULER)
    # Every component only as variant fp16 (diffusion_pytorch_model.fp16.safetensors, model.fp16.safetensors).
    for sub, module in (("unet", unet), ("vae", vae), ("text_encoder", te1), ("text_encoder_2", te2)):
        for p in (xl_dir / sub).glob("*.safetensors"):
            p.unlink()
        module.half().save_pretrained(xl_dir / sub, safe_serialization=True, variant="fp16")
        module.float()
    hook_text_encoder(rec, te1, "te1")
    hook_text_encoder(rec, te2, "te2")
    hook_unet(rec, unet)
    hook_vae(rec, vae)
    for ci, (prompt, negative, crop) in enumerate([(PROMPTS[0], NEGATIVE, 2), (PROMPTS[1], None, None)]):
        name = f"sdxl_case{ci}"
        size = (96, 88) if crop is not None else (64, 64)
        image = test_image(*size, 20 + ci)
        mask = test_mask(*size, (40, 30, 52, 46) if crop is not None else (8, 40, 30, 52))
        g = torch.Generator().manual_seed(200 + ci)
        noises = [("vae_image", torch.randn(1, 4, 8, 8, generator=g)),
                  ("latents", torch.randn(1, 4, 8, 8, generator=g)),
                  ("vae_masked_image", torch.randn(1, 4, 8, 8, generator=g))]
        kwargs = dict(prompt=prompt, negative_prompt=negative, image=image, mask_image=mask, height=64, width=64,
                      num_inference_steps=5, guidance_scale=20.0, strength=0.99, padding_mask_crop=crop)
        m = dict(family="sdxl", model="sdxl_tiny", prompt=prompt, negative_prompt=negative, steps=5, guidance=20.0,
                 strength=0.99, padding_mask_crop=crop, width=64, height=64)
        meta["cases"][name] = run_case(name, pipe, rec, noises, kwargs, m)

    # transformers also writes tokenizer.json (a copy of vocab + merges); hub SD folders ship without it.
    for p in OUT.glob("*/tokenizer*/tokenizer.json"):
        p.unlink()
    meta["crop_regions"] = crop_region_cases()
    (OUT / "cases.json").write_text(json.dumps(meta, indent=1) + "\n")
    (OUT / "pillow.json").write_text(json.dumps({"lanczos": lanczos_cases(), "blur": blur_cases()},
                                                separators=(",", ":")) + "\n")
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"fixtures: {total / 2**20:.2f} MiB in {OUT}")


if __name__ == "__main__":
    main()
