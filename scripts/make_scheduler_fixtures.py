"""Parity fixtures for the DiffusionSchedulers target (diffusers 0.42.1 schedulers, CPU, float32).

For each scheduler (EulerDiscrete, DDIM, PNDM, DPMSolverMultistep) built with `from_config` from the
SD 1.5-inpainting scheduler config (PNDM) and the SDXL-inpainting 0.1 config (EulerDiscrete), and for a few
variants (other spacings, prediction types and beta schedules), this runs the denoising loop as
diffusers' inpainting pipelines do for a (steps, strength) pair:

    set_timesteps(steps); get_timesteps(steps, strength) (slice + set_begin_index);
    latents = noise * init_noise_sigma if strength == 1 else add_noise(x0, noise, timesteps[:1]);
    per step: scaled = scale_model_input(latents, t); model_output = 0.3 * scaled + eps * (t / 1000);
              latents = step(model_output, t, latents); blend = add_noise(x0, noise, timesteps[i + 1:i + 2])

and records timesteps, sigmas, init_noise_sigma, the starting latents, every `scaled` (Euler only: the others
return the sample itself), every `latents` and every `blend`, stacked per run as `<run>/samples` etc.
The "model" 0.3 * scaled + eps * (t / 1000) is written the same way in the Swift tests.

Run from the repository root: python3 scripts/make_scheduler_fixtures.py
Writes Tests/DiffusionSchedulersTests/Fixtures/{schedulers.json, schedulers.safetensors,
sd15_inpainting_scheduler_config.json, sdxl_inpainting_scheduler_config.json}.
"""
import json
import os

import numpy as np
import torch
from diffusers import DDIMScheduler, DPMSolverMultistepScheduler, EulerDiscreteScheduler, PNDMScheduler
from safetensors.torch import save_file

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "Tests", "DiffusionSchedulersTests", "Fixtures")
rng = np.random.default_rng(4)

# scheduler/scheduler_config.json of stable-diffusion-v1-5/stable-diffusion-inpainting (as published).
SD15_INPAINTING = {
    "_class_name": "PNDMScheduler",
    "_diffusers_version": "0.6.0",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "num_train_timesteps": 1000,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "trained_betas": None,
}
# scheduler/scheduler_config.json of diffusers/stable-diffusion-xl-1.0-inpainting-0.1 (as published).
SDXL_INPAINTING = {
    "_class_name": "EulerDiscreteScheduler",
    "_diffusers_version": "0.21.0.dev0",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "interpolation_type": "linear",
    "num_train_timesteps": 1000,
    "prediction_type": "epsilon",
    "sample_max_value": 1.0,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "timestep_spacing": "leading",
    "trained_betas": None,
    "use_karras_sigmas": False,
}
CLASSES = {
    "EulerDiscreteScheduler": EulerDiscreteScheduler,
    "DDIMScheduler": DDIMScheduler,
    "PNDMScheduler": PNDMScheduler,
    "DPMSolverMultistepScheduler": DPMSolverMultistepScheduler,
}
SHAPE = (1, 4, 2, 3)  # a tiny latent (N, C, H, W)
x0 = torch.from_numpy(rng.standard_normal(SHAPE).astype(np.float32))
noise = torch.from_numpy(rng.standard_normal(SHAPE).astype(np.float32))
eps = torch.from_numpy(rng.standard_normal(SHAPE).astype(np.float32))
tensors = {"x0": x0, "noise": noise, "eps": eps}


def as_floats(t):
    return [float(v) for v in np.asarray(t, dtype=np.float64).reshape(-1)]


def run(name, cls_name, config, steps, strength):
    s = CLASSES[cls_name].from_config(config)
    s.set_timesteps(steps)
    full_timesteps = as_floats(s.timesteps)
    sigmas = as_floats(s.sigmas) if cls_name in ("EulerDiscreteScheduler", "DPMSolverMultistepScheduler") else None
    init_noise_sigma = float(s.init_noise_sigma)
    # diffusers pipelines' get_timesteps(num_inference_steps, strength), denoising_start None
    init_timestep = min(int(steps * strength), steps)
    t_start = max(steps - init_timestep, 0)
    timesteps = s.timesteps[t_start * s.order:]
    begin_index = None
    if hasattr(s, "set_begin_index"):
        begin_index = t_start * s.order
        s.set_begin_index(begin_index)
    if strength == 1.0:
        latents = noise * s.init_noise_sigma
    else:
        latents = s.add_noise(x0, noise, timesteps[:1])
    start = latents.clone()
    samples, scaled_inputs, blends = [], [], []
    for i, t in enumerate(timesteps):
        scaled = s.scale_model_input(latents, t)
        model_output = 0.3 * scaled + eps * (float(t) / 1000.0)
        scaled_inputs.append(scaled.clone())
        latents = s.step(model_output, t, latents).prev_sample
        samples.append(latents.clone())
        if i + 1 < len(timesteps):
            blends.append(s.add_noise(x0, noise, timesteps[i + 1:i + 2]))
    # Stacked along a new leading axis: samples[i] is the latent after step i.
    tensors[f"{name}/start"] = start
    tensors[f"{name}/samples"] = torch.stack(samples)
    if cls_name == "EulerDiscreteScheduler":  # the others return the sample itself
        tensors[f"{name}/scaled"] = torch.stack(scaled_inputs)
    if blends:
        tensors[f"{name}/blends"] = torch.stack(blends)
    # add_noise on a fresh schedule (no begin index: looked up by timestep)
    fresh = CLASSES[cls_name].from_config(config)
    fresh.set_timesteps(steps)
    lookups = sorted({0, len(fresh.timesteps) // 2, len(fresh.timesteps) - 1})
    tensors[f"{name}/fresh_noise"] = torch.stack(
        [fresh.add_noise(x0, noise, fresh.timesteps[k:k + 1]) for k in lookups])
    return {
        "name": name, "scheduler": cls_name, "config": config, "steps": steps, "strength": strength,
        "order": s.order, "timesteps": full_timesteps, "sigmas": sigmas, "init_noise_sigma": init_noise_sigma,
        "t_start": t_start, "begin_index": begin_index, "loop_timesteps": as_floats(timesteps),
        "fresh_noise_indices": lookups,
    }


runs = []
for base_name, base in (("sd15", SD15_INPAINTING), ("sdxl", SDXL_INPAINTING)):
    for cls_name in CLASSES:
        for steps, strength in ((30, 0.99), (10, 1.0), (7, 0.6)):
            runs.append(run(f"{base_name}_{cls_name}_{steps}_{strength}", cls_name, base, steps, strength))

variants = [
    ("euler_linspace", "EulerDiscreteScheduler", {**SDXL_INPAINTING, "timestep_spacing": "linspace"}),
    ("euler_trailing_v", "EulerDiscreteScheduler",
     {**SDXL_INPAINTING, "timestep_spacing": "trailing", "prediction_type": "v_prediction"}),
    ("euler_karras", "EulerDiscreteScheduler", {**SDXL_INPAINTING, "use_karras_sigmas": True}),
    ("euler_karras_range", "EulerDiscreteScheduler",
     {**SD15_INPAINTING, "use_karras_sigmas": True, "sigma_min": 0.05, "sigma_max": 10.0}),
    ("euler_linear_sample", "EulerDiscreteScheduler",
     {**SDXL_INPAINTING, "beta_schedule": "linear", "beta_start": 0.0001, "beta_end": 0.02,
      "prediction_type": "sample", "final_sigmas_type": "sigma_min"}),
    ("ddim_trailing_v", "DDIMScheduler",
     {**SD15_INPAINTING, "timestep_spacing": "trailing", "prediction_type": "v_prediction", "set_alpha_to_one": True}),
    ("ddim_linspace_clip_cos", "DDIMScheduler",
     {k: v for k, v in SD15_INPAINTING.items() if k != "clip_sample"}
     | {"timestep_spacing": "linspace", "beta_schedule": "squaredcos_cap_v2"}),
    ("pndm_linspace_v", "PNDMScheduler",
     {**SD15_INPAINTING, "timestep_spacing": "linspace", "prediction_type": "v_prediction"}),
    ("pndm_trailing_linear", "PNDMScheduler",
     {**SD15_INPAINTING, "timestep_spacing": "trailing", "beta_schedule": "linear", "beta_start": 0.0001,
      "beta_end": 0.02}),
    ("dpm_trailing_v", "DPMSolverMultistepScheduler",
     {**SDXL_INPAINTING, "timestep_spacing": "trailing", "prediction_type": "v_prediction"}),
    ("dpm_karras", "DPMSolverMultistepScheduler", {**SD15_INPAINTING, "use_karras_sigmas": True}),
    ("dpm_karras_sdxl", "DPMSolverMultistepScheduler", {**SDXL_INPAINTING, "use_karras_sigmas": True}),
    ("dpm_order1_sample", "DPMSolverMultistepScheduler",
     {**SD15_INPAINTING, "solver_order": 1, "prediction_type": "sample"}),
    ("dpm_sigma_min_no_lof", "DPMSolverMultistepScheduler",
     {**SD15_INPAINTING, "final_sigmas_type": "sigma_min", "lower_order_final": False}),
    ("dpm_euler_at_final", "DPMSolverMultistepScheduler",
     {**SDXL_INPAINTING, "final_sigmas_type": "sigma_min", "euler_at_final": True}),
]
for name, cls_name, config in variants:
    for steps, strength in ((8, 1.0), (9, 0.5)):
        runs.append(run(f"{name}_{steps}_{strength}", cls_name, config, steps, strength))

# training tables
tables = {}
for schedule, start, end in (("scaled_linear", 0.00085, 0.012), ("linear", 0.0001, 0.02),
                             ("squaredcos_cap_v2", 0.0001, 0.02)):
    s = DDIMScheduler(beta_schedule=schedule, beta_start=start, beta_end=end)
    tensors[f"alphas_cumprod/{schedule}"] = s.alphas_cumprod.contiguous()
    tables[schedule] = {"beta_start": start, "beta_end": end}

os.makedirs(OUT, exist_ok=True)
save_file(tensors, os.path.join(OUT, "schedulers.safetensors"), metadata={"diffusers": "0.42.1"})
with open(os.path.join(OUT, "schedulers.json"), "w") as f:
    json.dump({"shape": list(SHAPE), "runs": runs, "tables": tables}, f)
for file, config in (("sd15_inpainting_scheduler_config.json", SD15_INPAINTING),
                     ("sdxl_inpainting_scheduler_config.json", SDXL_INPAINTING)):
    with open(os.path.join(OUT, file), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")
print(f"{len(runs)} runs, {len(tensors)} tensors")
