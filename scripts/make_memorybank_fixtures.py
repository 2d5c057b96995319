#!/usr/bin/env python3
"""Fixtures for Tests/PatchCoreTests/MemoryBank*.swift (deterministic; run from the repo root).

Writes Tests/PatchCoreTests/Fixtures/memorybank_v1.safetensors and memorybank_v1.json:
  * two greedy coreset cases, picked by a numpy float64 greedy k-centre (one start point) on features that
    were projected with the Python port of the Swift generator (SplitMix64 start index, then Box-Muller
    Gaussian projection), the projection matrix stored so Swift can reuse it exactly;
      case "proj":   N=240, D=160 -> projected to 128, ratio 0.25 (60 picks)
      case "noproj": N=256, D=48 (D <= 128: no projection), ratio 0.2 (51 picks)
  * a k-NN case: torch.cdist + topk (k=3) of 20 queries against a 256 x 48 bank.
Every greedy step's relative gap between the best and second-best candidate is checked, so the picks are
far from ties and float32-vs-float64 rounding cannot change them.
"""
import json
import math
import pathlib

import numpy as np
import torch
from safetensors.numpy import save_file

MASK = (1 << 64) - 1
OUT = pathlib.Path("Tests/PatchCoreTests/Fixtures")


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def next_unit(self):
        return (self.next() >> 11) * 2.0 ** -53


def gaussian_projection(rng, d_in, d_out):
    """Mirror of RandomProjection.gaussian (row-major, Box-Muller pairs, scaled by 1/sqrt(d_out))."""
    count = d_in * d_out
    vals = np.zeros(count, dtype=np.float32)
    scale = 1.0 / math.sqrt(d_out)
    i = 0
    while i < count:
        u1 = 1.0 - rng.next_unit()
        u2 = rng.next_unit()
        rho = math.sqrt(-2.0 * math.log(u1))
        vals[i] = np.float32(rho * math.cos(2.0 * math.pi * u2) * scale)
        if i + 1 < count:
            vals[i + 1] = np.float32(rho * math.sin(2.0 * math.pi * u2) * scale)
        i += 2
    return vals.reshape(d_in, d_out)


def greedy(x, start, count):
    """Plain greedy k-centre in float64; selected points get delta -1; argmax = first max."""
    x = x.astype(np.float64)
    delta = np.full(len(x), np.inf)
    picks, p, min_gap = [start], start, np.inf
    while True:
        delta[p] = -1.0
        delta = np.minimum(delta, ((x - x[p]) ** 2).sum(1))
        if len(picks) == count:
            break
        top2 = np.sort(delta)[-2:]
        min_gap = min(min_gap, (top2[1] - top2[0]) / top2[1])
        p = int(np.argmax(delta))
        picks.append(p)
    return picks, min_gap


def coreset_case(name, seed, n, d, ratio, data_rng, tensors, meta):
    # Clustered data (like patch features): 12 Gaussian blobs with different spreads.
    centres = data_rng.normal(0, 3, size=(12, d))
    labels = data_rng.integers(0, 12, size=n)
    spread = data_rng.uniform(0.3, 1.5, size=12)[labels][:, None]
    x = (centres[labels] + spread * data_rng.normal(size=(n, d))).astype(np.float32)
    rng = SplitMix64(seed)
    start = rng.next() % n
    count = min(n, max(1, int(n * ratio)))
    if d > 128:
        p = gaussian_projection(rng, d, 128)
        reduced = (torch.from_numpy(x) @ torch.from_numpy(p)).numpy()
        tensors[f"{name}_projection"] = p
    else:
        reduced = x
    picks, gap = greedy(reduced, start, count)
    assert gap > 1e-4, f"{name}: near-tie in greedy picks (gap {gap}); change the seed"
    tensors[f"{name}_features"] = x
    meta[name] = {"seed": seed, "ratio": ratio, "start": int(start), "count": count,
                  "picks": [int(i) for i in picks], "min_relative_gap": float(gap)}


def main():
    data_rng = np.random.default_rng(20240611)
    tensors, meta = {}, {}
    coreset_case("proj", 6, 240, 160, 0.25, data_rng, tensors, meta)
    coreset_case("noproj", 3, 256, 48, 0.2, data_rng, tensors, meta)

    bank = data_rng.normal(size=(256, 48)).astype(np.float32)
    queries = data_rng.normal(size=(20, 48)).astype(np.float32)
    queries[:5] = bank[[3, 17, 100, 200, 255]]  # bank members: distance 0
    dist = torch.cdist(torch.from_numpy(queries).double(), torch.from_numpy(bank).double())
    values, indices = torch.topk(dist, 3, dim=1, largest=False, sorted=True)
    tensors.update({"knn_bank": bank, "knn_queries": queries,
                    "knn_distances": values.float().numpy(), "knn_indices": indices.int().numpy()})

    OUT.mkdir(parents=True, exist_ok=True)
    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, OUT / "memorybank_v1.safetensors")
    (OUT / "memorybank_v1.json").write_text(json.dumps(meta, indent=1) + "\n")
    for k, v in meta.items():
        print(k, "start", v["start"], "count", v["count"], "min gap", v["min_relative_gap"])


if __name__ == "__main__":
    main()
