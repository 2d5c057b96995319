#!/usr/bin/env python3
"""Writes Tests/TensorCoreTests/Fixtures/neural_ops.safetensors from PyTorch, seeded: linear, layer norm, group norm
(+ SiLU), softmax, GELU variants and multi-head attention (plain and causal), the layers CLIP and the diffusion UNet/VAE
are built from. The Swift parity tests are Tests/TensorCoreTests/NeuralOpsParityTests.swift.
Run: python3 scripts/make_neuralops_fixtures.py
"""
import pathlib

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

torch.manual_seed(20261129)
OUT = pathlib.Path(__file__).resolve().parent.parent / "Tests" / "TensorCoreTests" / "Fixtures" / "neural_ops.safetensors"
t = {}

x = torch.randn(2, 5, 24)
w = torch.randn(40, 24) * 0.2
b = torch.randn(40)
t["linear.x"], t["linear.w"], t["linear.b"] = x, w, b
t["linear.y"] = F.linear(x, w, b)

x = torch.randn(3, 7, 32) * 3 + 1
g, be = torch.randn(32), torch.randn(32)
t["layer_norm.x"], t["layer_norm.w"], t["layer_norm.b"] = x, g, be
t["layer_norm.y"] = F.layer_norm(x, [32], g, be, eps=1e-5)

x = torch.randn(2, 32, 5, 6) * 2 - 0.5
g, be = torch.randn(32), torch.randn(32)
t["group_norm.x"], t["group_norm.w"], t["group_norm.b"] = x, g, be
t["group_norm.y"] = F.group_norm(x, 8, g, be, eps=1e-6)
t["group_norm.silu"] = F.silu(F.group_norm(x, 8, g, be, eps=1e-6))

x = torch.randn(4, 9) * 4
t["act.x"] = x
t["act.softmax"] = torch.softmax(x, dim=-1)
t["act.gelu"] = F.gelu(x)
t["act.gelu_tanh"] = F.gelu(x, approximate="tanh")
t["act.quick_gelu"] = x * torch.sigmoid(1.702 * x)

B, LQ, LK, H, D = 2, 11, 7, 4, 8
q, k, v = torch.randn(B, LQ, H * D), torch.randn(B, LK, H * D), torch.randn(B, LK, H * D)


def heads(z):
    return z.view(z.shape[0], z.shape[1], H, D).transpose(1, 2)


o = F.scaled_dot_product_attention(heads(q), heads(k), heads(v))
t["attn.q"], t["attn.k"], t["attn.v"] = q, k, v
t["attn.o"] = o.transpose(1, 2).reshape(B, LQ, H * D)
ks, vs = torch.randn(B, LQ, H * D), torch.randn(B, LQ, H * D)
oc = F.scaled_dot_product_attention(heads(q), heads(ks), heads(vs), is_causal=True)
t["causal.k"], t["causal.v"] = ks, vs
t["causal.o"] = oc.transpose(1, 2).reshape(B, LQ, H * D)

x = torch.randn(2, 3, 4, 5)
t["permute.x"] = x
t["permute.y"] = x.permute(0, 2, 3, 1).contiguous()

save_file({k: v.contiguous().float() for k, v in t.items()}, str(OUT))
print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(t)} tensors)")
