"""Parity fixture for PatchCoreDual scoring (Sources/Scoring/DualScoring.swift).

Written from the issue text (issue 3, "The method"), not from the Swift code:
  s_N* = max over test patches of the distance to the nearest negative-bank row; m_test,* that patch, m* its
  nearest row; w_N = 1 - exp(s_N*/sqrt(d)) / sum_{m in N_b(m*)} exp(||m_test,* - m||/sqrt(d)), N_b(m*) the 3
  nearest bank rows of m* minus m* itself (b = 2); s_N = w_N * s_N*.
  s_P* = the same against the positive bank (thesis: max over test patches); w_P = exp(s_P*/sqrt(d)) / sum ...;
  s_P = w_P * s_P*. s_ratio = s_N / (s_P + eps). Map = n_i / (p_i + eps).
Alternatives: positive patch at the negative argmax, or argmin of p_i; difference s_N - s_P; calibrated log-ratio
(z-scored log(s + eps) with given statistics); patch_log_ratio reads both sides at the test patch with the largest
calibrated log-ratio of its own distances, z(log n_i) - z(log p_i). The map is the thesis ratio for every rule.

Run from the repository root: python3 scripts/make_dual_scoring_fixtures.py
Writes Tests/PatchCoreTests/Fixtures/dual_scoring.safetensors (tensors + a JSON case list in the metadata).
"""
import json
import os

import numpy as np
import torch
from safetensors.torch import save_file

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "Tests", "PatchCoreTests", "Fixtures", "dual_scoring.safetensors")
rng = np.random.default_rng(20251129)
EPS = 1e-6
B = 2


def cdist(a, b):
    # float64 Euclidean distances (M, N)
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))


def nearest(x, bank):
    d = cdist(x, bank)
    idx = np.argmin(d, axis=1)  # first on ties
    return d[np.arange(len(x)), idx], idx


def quotient(test_patch, s_star, bank, row):
    """exp(s*/sqrt(d)) / sum_{m in N_b(row)} exp(||test - m||/sqrt(d)); None when N_b is empty."""
    d = bank.shape[1]
    k = min(B + 1, len(bank))
    if k < 2:
        return None
    dist = cdist(bank[row:row + 1], bank)[0]
    order = np.argsort(dist, kind="stable")[:k]
    support = [int(j) for j in order if j != row][:B]
    dj = cdist(test_patch[None], bank[support])[0]
    return np.exp(s_star / np.sqrt(d)) / np.exp(dj / np.sqrt(d)).sum()


def dual(features, neg, pos, rule, cal):
    n, n_idx = nearest(features, neg)
    p, p_idx = nearest(features, pos)
    def z_log_ratio(a, b):
        zn = (np.log(np.maximum(a, 0) + EPS) - cal[0]) / cal[1]
        zp = (np.log(np.maximum(b, 0) + EPS) - cal[2]) / cal[3]
        return zn - zp

    i_n = int(np.argmax(z_log_ratio(n, p))) if rule == "patch_log_ratio" else int(np.argmax(n))
    s_n_star = n[i_n]
    q = quotient(features[i_n], s_n_star, neg, int(n_idx[i_n]))
    w_n = 1.0 if q is None else 1.0 - q
    if rule == "thesis":
        i_p = int(np.argmax(p))
    elif rule == "min_positive":
        i_p = int(np.argmin(p))
    else:  # at_negative_argmax, difference, log_ratio, patch_log_ratio
        i_p = i_n
    s_p_star = p[i_p]
    q = quotient(features[i_p], s_p_star, pos, int(p_idx[i_p]))
    w_p = 1.0 if q is None else q
    s_n, s_p = w_n * s_n_star, w_p * s_p_star

    def combine(a, b):
        if rule in ("thesis", "at_negative_argmax", "min_positive"):
            return a / (b + EPS)
        if rule == "difference":
            return a - b
        return z_log_ratio(a, b)

    score = combine(s_n, s_p)
    patch_map = n / (p + EPS)  # the thesis map, for every rule
    return dict(score=float(score), s_n_star=float(s_n_star), w_n=float(w_n), s_n=float(s_n),
                s_p_star=float(s_p_star), w_p=float(w_p), s_p=float(s_p), negative_patch=i_n, positive_patch=i_p,
                negative_row=int(n_idx[i_n]), positive_row=int(p_idx[i_p])), patch_map


tensors = {}
cases = []
RULES = ["thesis", "at_negative_argmax", "min_positive", "difference", "log_ratio", "patch_log_ratio"]
for c, (patches, d, n_neg, n_pos) in enumerate([(20, 16, 30, 12), (49, 64, 80, 25), (12, 8, 10, 1), (16, 32, 3, 2), (24, 16, 40, 10)]):
    scale = 1.0 if c % 2 == 0 else 3.0  # distances near and far from 1 so exp(d/sqrt(d)) matters
    neg = (rng.standard_normal((n_neg, d)) * scale).astype(np.float32)
    pos = (rng.standard_normal((n_pos, d)) * scale + 0.5).astype(np.float32)
    features = (rng.standard_normal((patches, d)) * scale).astype(np.float32)
    if c < 4:  # one test patch equal to a positive row: p = 0 there (case 4 has none, so no patch wins by eps)
        features[1] = pos[0]
    tensors[f"case{c}_features"] = torch.from_numpy(features)
    tensors[f"case{c}_negative"] = torch.from_numpy(neg)
    tensors[f"case{c}_positive"] = torch.from_numpy(pos)
    cal = [float(rng.normal()), float(rng.uniform(0.5, 2)), float(rng.normal()), float(rng.uniform(0.5, 2))]
    for rule in RULES:
        result, patch_map = dual(features, neg, pos, rule, cal)
        tensors[f"case{c}_{rule}_map"] = torch.from_numpy(patch_map.astype(np.float32))
        cases.append(dict(case=c, rule=rule, calibration=cal, **result))

os.makedirs(os.path.dirname(OUT), exist_ok=True)
save_file({k: v.contiguous() for k, v in tensors.items()}, OUT,
          metadata={"cases": json.dumps(cases), "epsilon": str(EPS), "num_neighbours": str(B)})
print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes, {len(cases)} cases)")
