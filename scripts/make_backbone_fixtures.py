#!/usr/bin/env python3
"""Parity fixtures for Tests/BackbonesTests (deterministic; rerun to regenerate).

1. Synthetic weights: every torchvision / efficientnet_lite_pytorch model is filled with the same counter-based
   hash generator as Swift's `SyntheticWeights` (splitmix64 over FNV-1a-64(key) ^ seed), run in eval mode on a
   small seeded input, and the requested taps are saved: Fixtures/synthetic_<name>.safetensors
   (tensors: "input" and one per tap; metadata: seed, taps).
2. Real ImageNet weights (MobileNetV2 torchvision, EfficientNet-Lite2): two procedurally generated 224x224 RGB
   images (Fixtures/real_images.safetensors, uint8 "image" (2,224,224,3)) are normalised and run; the default taps are saved:
   Fixtures/real_<name>.safetensors. The weights are also written as .safetensors next to the .pth files in
   /root/.cache/patchcore/weights/ (not in git) for the interim fallback while the .pth reader is being written.

Usage: python3 scripts/make_backbone_fixtures.py
"""
import json
import math
import os

import numpy as np
import torch

_lib = torch.library.Library("torchvision", "DEF")
_lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
_lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
import torchvision  # noqa: E402
from efficientnet_lite_pytorch import EfficientNet  # noqa: E402
from safetensors.numpy import save_file  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "BackbonesTests", "Fixtures")
WEIGHTS = "/root/.cache/patchcore/weights"
SEED = 20240611
M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def fnv1a64(s: str) -> int:
    h = 0xCBF29CE484222325
    for b in s.encode("utf-8"):
        h = ((h ^ b) * 0x100000001B3) & M64
    return h


def splitmix64(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = x + np.uint64(GOLDEN)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def value_range(name, shape):
    if name.endswith(".weight") and len(shape) >= 2:
        fan_in = int(np.prod(shape[1:]))
        b = np.sqrt(np.float32(6) / np.float32(fan_in)).astype(np.float32)
        return np.float32(-b), np.float32(b)
    if name.endswith(".running_var") or (name.endswith(".weight") and len(shape) == 1):
        return np.float32(0.5), np.float32(1.5)
    return np.float32(-0.1), np.float32(0.1)


def synthetic(name, shape, seed):
    """Same values as Swift SyntheticWeights.tensor(name:shape:seed:)."""
    count = int(np.prod(shape)) if len(shape) else 1
    h = np.uint64(fnv1a64(name) ^ seed)
    with np.errstate(over="ignore"):
        idx = np.arange(count, dtype=np.uint64)
        r = splitmix64(h + idx * np.uint64(GOLDEN))
    u = (r >> np.uint64(40)).astype(np.float32) / np.float32(16777216)
    lo, hi = value_range(name, shape)
    span = np.float32(hi - lo)
    return (lo + span * u).astype(np.float32).reshape(shape)


def fill(model, seed):
    with torch.no_grad():
        for k, v in model.state_dict().items():
            if k.endswith("num_batches_tracked"):
                continue
            v.copy_(torch.from_numpy(synthetic(k, list(v.shape), seed)))


def run_taps(model, x, taps):
    """Eval-mode forward, capturing each tap by module path. A tap 'P._expand_conv' (EfficientNet) is the
    first output of block P's shared ReLU6 (`_swish`), i.e. the activation after expand conv + BN."""
    out, handles = {}, []
    for t in taps:
        if t.endswith("._expand_conv"):
            mod = model.get_submodule(t[: -len("._expand_conv")] + "._swish")

            def hook(m, i, o, t=t):
                out.setdefault(t, o.detach().clone())
        else:
            mod = model.get_submodule(t)

            def hook(m, i, o, t=t):
                out[t] = o.detach().clone()
        handles.append(mod.register_forward_hook(hook))
    model.eval()
    with torch.no_grad():
        if isinstance(model, EfficientNet):
            model.extract_features(x)
        else:
            model(x)
    for h in handles:
        h.remove()
    return {t: out[t].numpy().astype(np.float32) for t in taps}


def torch_model(name):
    if name.startswith("efficientnet_lite"):
        return EfficientNet.from_name(name.replace("_", "-"))
    return getattr(torchvision.models, name)(weights=None)


def save(path, tensors, meta):
    tensors = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    save_file(tensors, path, metadata={k: str(v) for k, v in meta.items()})
    print(f"{os.path.relpath(path, ROOT)}: {os.path.getsize(path) / 1024:.1f} KiB")


SYNTHETIC = {
    "mobilenet_v2": ["features.1", "features.6", "features.7.conv.0", "features.13", "features.14.conv.0", "features.18"],
    "resnet18": ["layer1", "layer2", "layer3", "layer4"],
    "resnet34": ["layer3"],
    "resnet50": ["layer2", "layer3", "layer4"],
    "resnet101": ["layer3"],
    "wide_resnet50_2": ["layer2", "layer3"],
    "efficientnet_lite0": ["_blocks.4", "_blocks.5._expand_conv", "_blocks.10", "_blocks.15"],
    "efficientnet_lite1": ["_blocks.6", "_blocks.14"],
    "efficientnet_lite2": ["_blocks.6", "_blocks.7._expand_conv", "_blocks.14"],
    "efficientnet_lite3": ["_blocks.6", "_blocks.16"],
    "efficientnet_lite4": ["_blocks.8", "_blocks.20", "_blocks.29"],
}


def procedural_images():
    """Two deterministic 224x224 RGB uint8 images: smooth shapes + texture + seeded noise."""
    yy, xx = np.mgrid[0:224, 0:224].astype(np.float64)
    rng = np.random.RandomState(7)
    a = np.stack([
        128 + 90 * np.sin(xx / 17.0) * np.cos(yy / 23.0),
        128 + 100 * np.tanh((xx - yy) / 60.0),
        255 * (((xx - 100) ** 2 + (yy - 120) ** 2) < 60 ** 2) * 0.7 + 30,
    ], axis=-1) + rng.normal(0, 12, (224, 224, 3))
    b = np.stack([
        200 * ((np.floor(xx / 28) + np.floor(yy / 28)) % 2) + 20,
        128 + 120 * np.sin((xx + 2 * yy) / 9.0),
        255 * yy / 223.0,
    ], axis=-1) + rng.normal(0, 25, (224, 224, 3))
    return np.clip(np.stack([a, b]), 0, 255).round().astype(np.uint8)


def normalise(images, mean, std):
    x = images.astype(np.float32) / np.float32(255)
    x = (x - np.array(mean, np.float32)) / np.array(std, np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2)).astype(np.float32)


def main():
    torch.manual_seed(0)
    torch.set_num_threads(2)
    os.makedirs(OUT, exist_ok=True)
    g = torch.Generator().manual_seed(SEED)
    x = torch.randn(1, 3, 40, 40, generator=g)
    for name, taps in SYNTHETIC.items():
        model = torch_model(name)
        fill(model, SEED)
        outs = run_taps(model, x, taps)
        save(os.path.join(OUT, f"synthetic_{name}.safetensors"), {"input": x.numpy(), **outs},
             {"seed": SEED, "taps": ",".join(taps)})

    images = procedural_images()
    save(os.path.join(OUT, "real_images.safetensors"), {"image": images}, {"what": "two procedural 224x224 RGB images"})
    real = [
        ("mobilenet_v2", "mobilenet_v2-b0353104", ["features.6", "features.13"],
         [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
        ("efficientnet_lite2", "efficientnet-lite2-9656183e", ["_blocks.6", "_blocks.14"],
         [127 / 255] * 3, [128 / 255] * 3),
    ]
    for name, stem, taps, mean, std in real:
        sd = torch.load(os.path.join(WEIGHTS, stem + ".pth"), map_location="cpu", weights_only=True)
        model = torch_model(name)
        model.load_state_dict(sd)
        from safetensors.torch import save_file as save_torch
        save_torch({k: v.contiguous() for k, v in sd.items()}, os.path.join(WEIGHTS, stem + ".safetensors"))
        outs = run_taps(model, torch.from_numpy(normalise(images, mean, std)), taps)
        save(os.path.join(OUT, f"real_{name}.safetensors"), outs,
             {"weights": stem + ".pth", "taps": ",".join(taps), "mean": json.dumps(mean), "std": json.dumps(std)})


if __name__ == "__main__":
    main()
