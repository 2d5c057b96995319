#!/usr/bin/env bash
# Per-image latency at 1,000 x 1,000 with a 50,000-row bank (issue 14's "under 300 ms on 2 cores"): four bottle
# train images at --native --scale 1.11112 (900 -> 1,000 px, 15,625 patches each), coreset ratio 0.8 (50,000 of
# 62,500 rows), then `predict --json -` on five test images at the same geometry, exact search and the
# same with `--warm-up` (one blank image scored at load, as `serve` does), and the inverted file at 8 probes; prints
# each record's latency and stage_ms. Work files in ${WORK:-/tmp/large_predict}.
#   bash bench/run_large_image_predict.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${PATCHCORE_DATASETS:-$(cd .. && pwd)/shared/datasets}/mvtec_ad/bottle
WORK=${WORK:-/tmp/large_predict}
BIN=$(swift build -c release -Xswiftc -enable-testing --show-bin-path)/patchcore
mkdir -p "$WORK/train"
for i in 000 001 002 003; do ln -sf "$DATA/train/good/$i.png" "$WORK/train/$i.png"; done
[ -f "$WORK/model.safetensors" ] || "$BIN" fit --images "$WORK/train" --native --scale 1.11112 --coreset-ratio 0.8 \
    --threads 2 --model "$WORK/model.safetensors" > "$WORK/fit.log" 2>&1
IMAGES=("$DATA/test/broken_large/000.png" "$DATA/test/broken_small/000.png" "$DATA/test/contamination/000.png"
        "$DATA/test/good/000.png" "$DATA/test/good/001.png")
for search in "exact" "exact --warm-up" "ivf --probes 8"; do
  echo "== search $search (commit $(git rev-parse --short HEAD))"
  # shellcheck disable=SC2086  # the search options are several words
  # (predict exits 1 when an image is anomalous, as most of these are: not a failure here)
  { "$BIN" predict --model "$WORK/model.safetensors" --threads 2 --search $search --json - "${IMAGES[@]}" 2> "$WORK/predict.log" |
    python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    s = r.get("stage_ms", {})
    print(str(r.get("source") or r.get("image") or "?").split("/test/")[-1], "score %.4f" % r["score"], "latency %.0f ms" % sum(s.values()),
          " ".join("%s %.0f" % kv for kv in s.items()))'; } || true
  grep -h "warm-up:" "$WORK/predict.log" || true
done
