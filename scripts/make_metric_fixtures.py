#!/usr/bin/env python3
"""Reference values for the Evaluation metrics (sklearn + a plain numpy/scipy AUPRO).

Writes Tests/EvaluationTests/Fixtures/metric_cases.json. Deterministic (seeded).
Scores are float32 (the Swift side uses Float); labels are booleans.
"""
import json
import os

import numpy as np
from scipy import ndimage
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "EvaluationTests", "Fixtures", "metric_cases.json")


def f1_max(y, s):
    """Max F1 over sklearn's PR curve; threshold = lowest threshold reaching it (argmax over ascending thresholds)."""
    p, r, t = precision_recall_curve(y, s)
    p, r = p[:-1], r[:-1]  # the final (P=1, R=0) point has no threshold
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(p + r > 0, 2 * p * r / (p + r), 0.0)
    # exact F1 = 2TP/(TP+FP+P) to pick the lowest threshold among exact ties
    P = int(np.sum(y))
    exact = [(2 * int(np.sum(y & (s >= th))), int(np.sum(s >= th)) + P) for th in t]
    best = max(range(len(t)), key=lambda i: (exact[i][0] / exact[i][1], -i))
    # argmax with ties -> first (lowest threshold) among exact equals
    bnum, bden = exact[best]
    first = next(i for i in range(len(t)) if exact[i][0] * bden == bnum * exact[i][1])
    return float(np.max(f1)), float(t[first])


def case(name, s, y):
    s = np.asarray(s, dtype=np.float32)
    y = np.asarray(y, dtype=bool)
    s64 = s.astype(np.float64)
    fpr, tpr, thr = roc_curve(y, s64, drop_intermediate=False)
    f1, th = f1_max(y, s64)
    precision, recall, _ = precision_recall_curve(y, s64)
    return {
        "name": name,
        "scores": [float(v) for v in s],
        "labels": [bool(v) for v in y],
        "auroc": float(roc_auc_score(y, s64)),
        "average_precision": float(average_precision_score(y, s64)),
        "f1_max": f1,
        "f1_threshold": th,
        "roc_fpr": [float(v) for v in fpr],
        "roc_tpr": [float(v) for v in tpr],
        # from the highest threshold down, without sklearn's final (P=1, R=0) point
        "pr_precision": [float(v) for v in precision[-2::-1]],
        "pr_recall": [float(v) for v in recall[-2::-1]],
    }


def aupro_reference(maps, masks, limit=0.3):
    """Straightforward PRO definition: 8-connected GT regions; at each distinct threshold t (score >= t),
    PRO = mean over regions of the covered fraction, FPR over all good pixels; trapezoid up to `limit`
    with linear interpolation at `limit`, divided by `limit`."""
    regions, good = [], []
    for m, g in zip(maps, masks):
        lab, n = ndimage.label(g > 0, structure=np.ones((3, 3), dtype=int))
        good.append(m[lab == 0])
        for r in range(1, n + 1):
            regions.append(m[lab == r])
    good = np.concatenate(good).astype(np.float64)
    allv = np.concatenate([good] + [r.astype(np.float64) for r in regions])
    pts = [(0.0, 0.0)]
    for t in np.unique(allv)[::-1]:
        fpr = np.mean(good >= t)
        pro = np.mean([np.mean(r >= t) for r in regions])
        pts.append((float(fpr), float(pro)))
    area = 0.0
    for (f0, p0), (f1, p1) in zip(pts[:-1], pts[1:]):
        if f1 >= limit:
            pat = p0 + (p1 - p0) * (limit - f0) / (f1 - f0) if f1 > f0 else p1
            area += (limit - f0) * (p0 + pat) / 2
            break
        area += (f1 - f0) * (p0 + p1) / 2
    return area / limit, len(regions)


def main():
    rng = np.random.default_rng(20261129)
    cases = []
    for n, npos in [(10, 4), (57, 20), (200, 31), (1000, 500)]:
        y = np.zeros(n, dtype=bool)
        y[rng.choice(n, npos, replace=False)] = True
        s = rng.normal(size=n) + 1.2 * y
        cases.append(case(f"gaussian_{n}", s, y))
    for levels in [2, 3, 7]:
        n = 150
        y = rng.random(n) < 0.4
        s = np.floor(rng.random(n) * levels + 0.8 * y) / levels  # heavy ties
        cases.append(case(f"ties_{levels}_levels", s, y))
    y = rng.random(40) < 0.5
    cases.append(case("all_equal", np.full(40, 0.25), y))
    y = np.array([False] * 6 + [True] * 4)
    cases.append(case("perfect", np.arange(10) / 10.0, y))
    cases.append(case("reversed", -np.arange(10) / 10.0, y))
    cases.append(case("with_negatives_and_zeros", [-0.0, 0.0, -1.5, 2.0, 0.0, -1.5, 3.25, 0.5], [True, False, False, True, True, False, False, True]))
    cases.append(case("doc_example", [0.1, 0.4, 0.35, 0.8], [False, False, True, True]))

    # AUPRO: a few small maps with several regions, one diagonal-only region, ties in scores
    aupro_cases = []
    for k, (h, w, nimg) in enumerate([(12, 10, 3), (16, 16, 4)]):
        maps, masks = [], []
        for i in range(nimg):
            g = np.zeros((h, w), dtype=np.uint8)
            if i > 0:  # image 0 is defect-free
                for _ in range(1 + i % 3):
                    y0, x0 = rng.integers(0, h - 3), rng.integers(0, w - 3)
                    g[y0:y0 + rng.integers(1, 4), x0:x0 + rng.integers(1, 4)] = 255
            if i == 1:  # two pixels touching only at a corner: one region under 8-connectivity
                g[h - 2, 0] = 255
                g[h - 1, 1] = 255
            m = rng.random((h, w)) + 0.6 * (g > 0)
            if k == 1:
                m = np.round(m * 6) / 6  # heavy ties
            maps.append(m.astype(np.float32))
            masks.append(g)
        value, nreg = aupro_reference([m.astype(np.float64) for m in maps], masks)
        value_lim1, _ = aupro_reference([m.astype(np.float64) for m in maps], masks, limit=1.0)
        flat_s = np.concatenate([m.ravel() for m in maps]).astype(np.float64)
        flat_y = np.concatenate([g.ravel() > 0 for g in masks])
        aupro_cases.append({
            "name": f"aupro_{k}",
            "height": h, "width": w,
            "maps": [[float(v) for v in m.ravel()] for m in maps],
            "masks": [[int(v) for v in g.ravel()] if g.any() else None for g in masks],
            "regions": nreg,
            "aupro_0_3": value,
            "aupro_1_0": value_lim1,
            "pixel_auroc": float(roc_auc_score(flat_y, flat_s)),
        })

    with open(OUT, "w") as f:
        json.dump({"generator": "scripts/make_metric_fixtures.py", "cases": cases, "aupro_cases": aupro_cases}, f)
    print(f"wrote {OUT}: {len(cases)} score cases, {len(aupro_cases)} AUPRO cases")


if __name__ == "__main__":
    main()
