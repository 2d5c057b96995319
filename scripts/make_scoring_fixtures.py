"""Parity fixtures for TensorCore avgPool2d/resizeBilinear/gaussianBlur, PatchFeatureAggregator and Scoring.

References: torch.nn.AvgPool2d, F.interpolate(mode="bilinear", align_corners=False),
scipy.ndimage.gaussian_filter(sigma, truncate=4, mode="reflect"), anomalib PatchcoreModel
(generate_embedding, compute_anomaly_score; ported below), patchcore-inspection RescaleSegmentor
and Preprocessing/Aggregator (adaptive_avg_pool1d).

Run from the repository root: python3 scripts/make_scoring_fixtures.py
Writes Tests/TensorCoreTests/Fixtures/resize_blur.safetensors and
Tests/PatchCoreTests/Fixtures/scoring.safetensors (+ scoring.json with the case lists).
"""
import json
import os

import numpy as np
import scipy.ndimage as ndimage
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

torch.manual_seed(0)
rng = np.random.default_rng(0)
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def randn(*shape):
    return torch.from_numpy(rng.standard_normal(shape).astype(np.float32))


# ---------------------------------------------------------------- TensorCore ops
core = {}
core_cases = {"avgpool": [], "resize": [], "blur": []}

for i, (shape, k, s, p, cip) in enumerate([
    ((2, 3, 7, 9), 3, 1, 1, True),
    ((1, 2, 8, 8), 3, 2, 1, True),
    ((1, 2, 9, 7), 2, 2, 0, True),
    ((1, 1, 6, 5), 3, 1, 1, False),
    ((1, 2, 10, 11), 5, 3, 2, True),
]):
    x = randn(*shape)
    y = torch.nn.AvgPool2d(k, s, p, count_include_pad=cip)(x)
    core[f"avgpool_{i}_x"], core[f"avgpool_{i}_y"] = x, y.contiguous()
    core_cases["avgpool"].append({"name": f"avgpool_{i}", "kernel": k, "stride": s, "padding": p,
                                  "count_include_pad": cip})

for i, (shape, size) in enumerate([
    ((1, 2, 7, 5), (14, 10)),     # x2 up
    ((1, 3, 14, 14), (28, 28)),   # the aggregator's case
    ((1, 1, 28, 28), (112, 112)), # patch grid -> map
    ((1, 2, 20, 17), (7, 9)),     # down, non-integer
    ((2, 1, 5, 6), (13, 11)),     # up, non-integer
    ((1, 1, 1, 4), (3, 8)),       # single row
]):
    x = randn(*shape)
    y = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    core[f"resize_{i}_x"], core[f"resize_{i}_y"] = x, y.contiguous()
    core_cases["resize"].append({"name": f"resize_{i}", "height": size[0], "width": size[1]})

for i, (shape, sigma) in enumerate([
    ((1, 40, 37), 4.0),
    ((2, 9, 11), 4.0),     # radius 16 > size: reflections of reflections
    ((1, 64, 48), 2.0),
    ((1, 1, 7), 4.0),      # single row
    ((1, 96, 96), 4.0),
]):
    x = rng.standard_normal(shape).astype(np.float32)
    y = np.stack([ndimage.gaussian_filter(plane, sigma=sigma) for plane in x])
    core[f"blur_{i}_x"], core[f"blur_{i}_y"] = torch.from_numpy(x), torch.from_numpy(y)
    core_cases["blur"].append({"name": f"blur_{i}", "sigma": sigma})

os.makedirs(os.path.join(ROOT, "Tests/TensorCoreTests/Fixtures"), exist_ok=True)
save_file(core, os.path.join(ROOT, "Tests/TensorCoreTests/Fixtures/resize_blur.safetensors"),
          metadata={"cases": json.dumps(core_cases)})

# ---------------------------------------------------------------- Patch features
fix = {}
cases = {"aggregate": [], "reweight": [], "map": []}


def aggregate_anomalib(taps):
    """anomalib generate_embedding + reshape_embedding with AvgPool2d(3, 1, 1)."""
    pool = torch.nn.AvgPool2d(3, 1, 1)
    emb = pool(taps[0])
    for t in taps[1:]:
        t = F.interpolate(pool(t), size=emb.shape[-2:], mode="bilinear", align_corners=False)
        emb = torch.cat((emb, t), 1)
    return emb.permute(0, 2, 3, 1).reshape(-1, emb.shape[1])


def reduce_inspection_style(taps, features, pretrain, target):
    """Per tap adaptive_avg_pool1d(C_i -> pretrain) of the pooled channels, stack, then -> target
    (patchcore-inspection MeanMapper + Aggregator, applied to the 3x3-averaged channels)."""
    parts, offset = [], 0
    for t in taps:
        c = t.shape[1]
        part = features[:, offset:offset + c].reshape(len(features), 1, -1)
        parts.append(F.adaptive_avg_pool1d(part, pretrain).squeeze(1))
        offset += c
    stacked = torch.stack(parts, dim=1).reshape(len(features), 1, -1)
    return F.adaptive_avg_pool1d(stacked, target).reshape(len(features), -1)


for i, (shapes, reduction) in enumerate([
    ([(2, 8, 8, 8), (2, 12, 4, 4)], None),
    ([(1, 6, 7, 7), (1, 5, 4, 4)], None),
    ([(2, 8, 8, 8), (2, 12, 4, 4)], (7, 5)),
    ([(1, 6, 7, 7), (1, 5, 4, 4)], (10, 13)),
]):
    taps = [randn(*s) for s in shapes]
    out = aggregate_anomalib(taps)
    if reduction:
        out = reduce_inspection_style(taps, out, *reduction)
    for j, t in enumerate(taps):
        fix[f"aggregate_{i}_tap{j}"] = t
    fix[f"aggregate_{i}_out"] = out.contiguous()
    cases["aggregate"].append({"name": f"aggregate_{i}", "taps": len(taps),
                               "reduction": list(reduction) if reduction else None})

# ---------------------------------------------------------------- Anomaly map (patchcore-inspection RescaleSegmentor)
for i, (grid, size) in enumerate([((28, 28), (224, 224)), ((7, 9), (40, 36))]):
    scores = torch.rand(1, *grid)
    up = F.interpolate(scores.unsqueeze(1), size=size, mode="bilinear", align_corners=False).squeeze(1).numpy()
    maps = np.stack([ndimage.gaussian_filter(m, sigma=4) for m in up])
    fix[f"map_{i}_scores"], fix[f"map_{i}_out"] = scores, torch.from_numpy(maps)
    cases["map"].append({"name": f"map_{i}", "height": size[0], "width": size[1]})


# ---------------------------------------------------------------- Reweighted image scores (port of anomalib)
class AnomalibScorer:
    """Faithful port of anomalib PatchcoreModel.euclidean_dist / nearest_neighbors / compute_anomaly_score."""

    def __init__(self, memory_bank, num_neighbors):
        self.memory_bank = memory_bank
        self.num_neighbors = num_neighbors

    @staticmethod
    def euclidean_dist(x, y):
        x_norm = x.pow(2).sum(dim=-1, keepdim=True)
        y_norm = y.pow(2).sum(dim=-1, keepdim=True)
        res = x_norm - 2 * torch.matmul(x, y.transpose(-2, -1)) + y_norm.transpose(-2, -1)
        return res.clamp_min_(0).sqrt_()

    def nearest_neighbors(self, embedding, n_neighbors):
        distances = self.euclidean_dist(embedding, self.memory_bank)
        if n_neighbors == 1:
            return distances.min(1)
        return distances.topk(k=n_neighbors, largest=False, dim=1)

    def compute_anomaly_score(self, patch_scores, locations, embedding):
        if self.num_neighbors == 1:
            return patch_scores.amax(1)
        batch_size, num_patches = patch_scores.shape
        max_patches = torch.argmax(patch_scores, dim=1)
        max_patches_features = embedding.reshape(batch_size, num_patches, -1)[torch.arange(batch_size), max_patches]
        score = patch_scores[torch.arange(batch_size), max_patches]
        nn_index = locations[torch.arange(batch_size), max_patches]
        nn_sample = self.memory_bank[nn_index, :]
        memory_bank_effective_size = self.memory_bank.shape[0]
        _, support_samples = self.nearest_neighbors(nn_sample, n_neighbors=min(self.num_neighbors, memory_bank_effective_size))
        distances = self.euclidean_dist(max_patches_features.unsqueeze(1), self.memory_bank[support_samples])
        weights = (1 - F.softmax(distances.squeeze(1), 1))[..., 0]
        return weights * score

    def __call__(self, embedding, batch_size):
        patch_scores, locations = self.nearest_neighbors(embedding, n_neighbors=1)
        patch_scores = patch_scores.reshape((batch_size, -1))
        locations = locations.reshape((batch_size, -1))
        return patch_scores, self.compute_anomaly_score(patch_scores, locations, embedding)


for i, (bank_size, dim, images, patches, b, scale) in enumerate([
    (60, 16, 3, 20, 9, 1.0),
    (5, 8, 2, 12, 9, 1.0),     # bank smaller than num_neighbors
    (1, 4, 2, 6, 9, 1.0),      # one-row bank: weight 0
    (40, 12, 2, 15, 1, 1.0),   # num_neighbors 1: plain max
    (80, 32, 2, 25, 3, 0.3),   # distances small enough that the softmax weight is far from 1
]):
    bank = randn(bank_size, dim) * scale
    feats = randn(images * patches, dim) * scale
    # float64 so the expanded distance formula's rounding does not change neighbour order.
    scorer = AnomalibScorer(bank.double(), b)
    # One image per call: with a one-row bank anomalib's support search returns shape (B,) instead of
    # (B, 1) and the softmax then runs across the batch (weight 1/B); per image it is softmax([d]) = 1, weight 0.
    results = [scorer(feats[n * patches:(n + 1) * patches].double(), 1) for n in range(images)]
    patch_scores = torch.cat([r[0].reshape(-1) for r in results])
    image_scores = torch.cat([r[1].reshape(-1) for r in results])
    fix[f"reweight_{i}_bank"], fix[f"reweight_{i}_features"] = bank, feats
    fix[f"reweight_{i}_patch_scores"] = patch_scores.float().reshape(-1).contiguous()
    fix[f"reweight_{i}_image_scores"] = image_scores.float().contiguous()
    cases["reweight"].append({"name": f"reweight_{i}", "num_neighbours": b, "patches_per_image": patches})

os.makedirs(os.path.join(ROOT, "Tests/PatchCoreTests/Fixtures"), exist_ok=True)
save_file(fix, os.path.join(ROOT, "Tests/PatchCoreTests/Fixtures/scoring.safetensors"),
          metadata={"cases": json.dumps(cases)})
print("ok", {k: tuple(v.shape) for k, v in list(core.items())[:3]}, len(core), len(fix))
