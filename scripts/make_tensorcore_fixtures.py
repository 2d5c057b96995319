#!/usr/bin/env python3
"""Writes Tests/TensorCoreTests/Fixtures/kernels.safetensors (+ kernels.json) from PyTorch, seeded.

Each case stores its inputs and torch's output as `<case>.<name>` tensors; kernels.json lists the cases and their
parameters. The Swift parity tests (Tests/TensorCoreTests/KernelParityTests.swift) recompute every case.
Run: python3 scripts/make_tensorcore_fixtures.py
"""
import json
import pathlib

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

torch.manual_seed(20261129)
OUT = pathlib.Path(__file__).resolve().parent.parent / "Tests" / "TensorCoreTests" / "Fixtures"

tensors = {}
cases = []


def rnd(*shape, scale=1.0):
    return (torch.randn(*shape) * scale).float()


def pair(v):
    return list(v) if isinstance(v, (tuple, list)) else [v, v]


def conv_case(name, x_shape, w_shape, bias=True, stride=1, padding=0, dilation=1, groups=1,
              residual=False, activation="none"):
    x = rnd(*x_shape)
    w = rnd(*w_shape, scale=0.5)
    b = rnd(w_shape[0], scale=0.5) if bias else None
    y = F.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
    tensors[f"{name}.x"] = x
    tensors[f"{name}.w"] = w
    if b is not None:
        tensors[f"{name}.b"] = b
    if residual:
        r = rnd(*y.shape)
        tensors[f"{name}.r"] = r
        y = y + r
    y = {"none": lambda t: t, "relu": F.relu, "relu6": F.relu6, "silu": F.silu, "sigmoid": torch.sigmoid}[activation](y)
    tensors[f"{name}.y"] = y.contiguous()
    cases.append({"op": "conv2d", "name": name, "stride": pair(stride), "padding": pair(padding),
                  "dilation": pair(dilation), "groups": groups, "bias": bias, "residual": residual,
                  "activation": activation})


conv_case("conv3x3_s1_p1", (2, 4, 9, 11), (6, 4, 3, 3), padding=1)
conv_case("conv7x7_s2_p3", (1, 3, 20, 18), (8, 3, 7, 7), bias=False, stride=2, padding=3)
conv_case("conv1x1", (2, 16, 7, 5), (12, 16, 1, 1))
conv_case("conv1x1_s2", (1, 8, 9, 9), (10, 8, 1, 1), bias=False, stride=2)
conv_case("conv3x3_s2_p1", (2, 5, 12, 13), (7, 5, 3, 3), stride=2, padding=1)
conv_case("depthwise3x3_s1", (2, 6, 10, 13), (6, 1, 3, 3), padding=1, groups=6)
conv_case("depthwise3x3_s2", (1, 5, 11, 12), (5, 1, 3, 3), bias=False, stride=2, padding=1, groups=5)
conv_case("depthwise3x3_s2_wide", (1, 3, 9, 37), (3, 1, 3, 3), stride=2, padding=1, groups=3)
conv_case("depthwise5x5_s2", (1, 4, 13, 13), (4, 1, 5, 5), stride=2, padding=2, groups=4)
conv_case("depthwise5x5_s1", (1, 4, 12, 21), (4, 1, 5, 5), stride=1, padding=2, groups=4)
conv_case("depthwise3x3_dilated", (1, 4, 12, 12), (4, 1, 3, 3), padding=2, dilation=2, groups=4)
conv_case("depthwise_multiplier2", (1, 3, 8, 8), (6, 1, 3, 3), padding=1, groups=3)
conv_case("grouped3x3", (1, 8, 9, 9), (12, 2, 3, 3), padding=1, groups=4)
conv_case("dilated3x3", (1, 4, 15, 15), (5, 4, 3, 3), bias=False, padding=2, dilation=2)
conv_case("asymmetric", (1, 3, 10, 9), (4, 3, 3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2))
# At least 16 input channels per group: these take the shifted-GEMM path instead of im2col.
conv_case("wide3x3_s1", (2, 16, 9, 10), (8, 16, 3, 3), padding=1)
conv_case("wide3x3_s2", (1, 20, 11, 13), (12, 20, 3, 3), stride=2, padding=1)
conv_case("wide3x3_dilated", (1, 16, 12, 11), (6, 16, 3, 3), bias=False, padding=2, dilation=2)
conv_case("wide_grouped", (1, 32, 8, 8), (8, 16, 3, 3), padding=1, groups=2)
conv_case("wide_asymmetric", (1, 17, 13, 12), (5, 17, 5, 3), stride=(2, 3), padding=(2, 1), dilation=(1, 2))
conv_case("wide_fused_residual_relu", (1, 16, 7, 7), (16, 16, 3, 3), padding=1, residual=True, activation="relu")
conv_case("fused_residual_relu", (1, 6, 8, 8), (6, 6, 3, 3), padding=1, residual=True, activation="relu")
conv_case("fused_1x1_residual", (2, 8, 6, 6), (8, 8, 1, 1), residual=True)
conv_case("fused_depthwise_relu6", (1, 8, 10, 10), (8, 1, 3, 3), padding=1, groups=8, activation="relu6")
conv_case("fused_depthwise_residual_silu", (1, 4, 7, 9), (4, 1, 3, 3), padding=1, groups=4, residual=True,
          activation="silu")

# Conv followed by eval-mode BatchNorm2d: the Swift side folds BN into the conv and must reproduce y.
for name, bias in [("bnfold", False), ("bnfold_bias", True)]:
    x, w = rnd(1, 5, 8, 8), rnd(7, 5, 3, 3, scale=0.5)
    b = rnd(7, scale=0.5) if bias else None
    bn = torch.nn.BatchNorm2d(7, eps=1e-3).eval()
    with torch.no_grad():
        bn.weight.copy_(rnd(7).abs() + 0.5)
        bn.bias.copy_(rnd(7))
        bn.running_mean.copy_(rnd(7))
        bn.running_var.copy_(torch.rand(7) * 2 + 0.1)
        y = bn(F.conv2d(x, w, b, padding=1))
    for k, v in {"x": x, "w": w, "gamma": bn.weight, "beta": bn.bias, "mean": bn.running_mean,
                 "var": bn.running_var, "y": y}.items():
        tensors[f"{name}.{k}"] = v.detach().float().contiguous()
    if b is not None:
        tensors[f"{name}.b"] = b
    cases.append({"op": "bnfold", "name": name, "padding": [1, 1], "eps": 1e-3, "bias": bias})


def maxpool_case(name, shape, kernel, stride, padding, ceil_mode, shift=0.0):
    x = rnd(*shape) + shift
    y = F.max_pool2d(x, kernel, stride, padding, ceil_mode=ceil_mode)
    tensors[f"{name}.x"], tensors[f"{name}.y"] = x, y
    cases.append({"op": "maxpool2d", "name": name, "kernel": kernel, "stride": [stride, stride], "padding": [padding, padding],
                  "ceil_mode": ceil_mode})


maxpool_case("maxpool3_s2_p1", (1, 3, 12, 12), 3, 2, 1, False)
maxpool_case("maxpool3_s2_p1_negative", (1, 2, 7, 7), 3, 2, 1, False, shift=-10.0)  # padding must act as -inf
maxpool_case("maxpool2_s2_ceil", (1, 2, 7, 7), 2, 2, 0, True)
maxpool_case("maxpool2_s2_p1_ceil_drop", (1, 2, 5, 5), 2, 2, 1, True)  # last window would start in padding
maxpool_case("maxpool3_s1_p1", (2, 2, 6, 5), 3, 1, 1, False)


def adaptive_case(name, shape, out):
    x = rnd(*shape)
    y = F.adaptive_avg_pool2d(x, out)
    tensors[f"{name}.x"], tensors[f"{name}.y"] = x, y
    cases.append({"op": "adaptiveavgpool2d", "name": name, "output": list(out)})


adaptive_case("adaptive_7to3", (1, 3, 7, 7), (3, 3))
adaptive_case("adaptive_5x9to2x4", (2, 2, 5, 9), (2, 4))
adaptive_case("adaptive_global", (1, 4, 6, 6), (1, 1))
adaptive_case("adaptive_upsample", (1, 1, 3, 3), (5, 5))

for act, fn in [("relu", F.relu), ("relu6", F.relu6), ("silu", F.silu), ("sigmoid", torch.sigmoid)]:
    x = rnd(3, 50, scale=6.0)
    tensors[f"act_{act}.x"], tensors[f"act_{act}.y"] = x, fn(x)
    cases.append({"op": "activation", "name": f"act_{act}", "activation": act})

OUT.mkdir(parents=True, exist_ok=True)
save_file({k: v.contiguous() for k, v in tensors.items()}, str(OUT / "kernels.safetensors"),
          metadata={"generator": "scripts/make_tensorcore_fixtures.py", "torch": torch.__version__})
(OUT / "kernels.json").write_text(json.dumps({"cases": cases}, indent=1) + "\n")
print(f"wrote {len(tensors)} tensors, {len(cases)} cases to {OUT}")
