#!/usr/bin/env bash
# One invocation: Swift and the PyTorch reference side by side on this machine, then bench/RESULTS.md.
# Needs: the real data in ../shared/datasets (PATCHCORE_DATASETS to override), pip torch==2.13.0 torchvision
# efficientnet-lite-pytorch==0.1.0 scipy scikit-learn for the reference side. Run on an idle machine.
# BENCH_QUICK=1 skips the slower accuracy runs (keeps speed and the two bottle runs that time inference).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out
mkdir -p "$OUT"
DATA=${PATCHCORE_DATASETS:-$(cd .. && pwd)/shared/datasets}
THREADS=${THREADS:-2}
CACHE=${PATCHCORE_CACHE:-$HOME/.cache/patchcore}
MNV2=$CACHE/weights/mobilenet_v2-b0353104.pth
LITE2=$CACHE/weights/efficientnet-lite2-9656183e.pth
FLAGS="-c release -Xswiftc -enable-testing"   # the same build as `make test`
for p in patchcore BackboneBench CoresetBench; do swift build $FLAGS --product $p >/dev/null; done
BIN=$(swift build $FLAGS --show-bin-path)
TORCH="python3 bench/torch_reference.py --threads $THREADS"
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

{
  echo "{\"date\": \"$(date -u +%FT%TZ)\", \"cpu\": \"$(lscpu | sed -n 's/^Model name: *//p')\", \"cores\": $(nproc),"
  echo " \"memory_gib\": $(free -g | awk '/Mem:/{print $2}'), \"threads\": $THREADS, \"swift\": \"$(swift --version 2>&1 | head -1)\","
  echo " \"torch\": \"$(python3 -c 'import torch; print(torch.__version__)')\", \"commit\": \"$(git rev-parse --short HEAD)\"}"
} > "$OUT/machine.json"

# 1. Backbone forward at 224, batch 1 and 8, alternating Swift and PyTorch.
for arch in mobilenet_v2 resnet50 wide_resnet50_2 efficientnet_lite2; do
  for b in 1 8; do
    log "backbone $arch batch $b"
    "$BIN/BackboneBench" "$arch" --batch $b --repeats 20 --threads "$THREADS" > "$OUT/swift_backbone_${arch}_b$b.json"
    $TORCH backbone --arch "$arch" --batch $b --repeats 20 2>/dev/null > "$OUT/torch_backbone_${arch}_b$b.json"
  done
done

# 2. Coreset on the same synthetic bank sizes (PyTorch extrapolated from its first picks; it is linear in picks).
log "coreset torch (bottle size)"
$TORCH coreset --n 163856 --dim 128 --ratio 0.1 --max-picks 300 --seed 0 2>/dev/null > "$OUT/torch_coreset_bottle.json"

# 3. Per-image inference at the bottle bank sizes.
for m in 16385 1638; do
  log "inference torch bank $m"
  $TORCH inference --bank-size $m --dim 128 --repeats 20 --weights "$MNV2" 2>/dev/null > "$OUT/torch_inference_$m.json"
done

# 4. Accuracy and end-to-end timing of the Swift tool on the real data (peak RSS from /usr/bin/time). Every good
# training image builds the bank (--calibration-split 0), as in the reference rows; bench/run_thresholds.sh measures
# the held-out calibration.
run_eval() {  # name, args...
  local name=$1; shift
  log "swift evaluate $name"
  /usr/bin/time -f '%M' -o "$OUT/swift_${name}.rss" "$BIN/patchcore" evaluate --threads "$THREADS" --calibration-split 0 --json "$OUT/swift_${name}.json" "$@" \
    > "$OUT/swift_${name}.txt" 2> "$OUT/swift_${name}.log"
}
run_eval bottle_blocks_10 --data "$DATA/mvtec_ad/bottle" --coreset-ratio 0.1
run_eval bottle_blocks_1  --data "$DATA/mvtec_ad/bottle" --coreset-ratio 0.01
if [ "${BENCH_QUICK:-0}" != 1 ]; then
  run_eval bottle_expand_10 --data "$DATA/mvtec_ad/bottle" --coreset-ratio 0.1 --taps features.7.conv.0,features.14.conv.0
  run_eval bottle_lite2_10  --data "$DATA/mvtec_ad/bottle" --coreset-ratio 0.1 --backbone efficientnet_lite2
  run_eval mt_blocks_resize_1 --manifest "$DATA/magnetic_tile/split.csv" --size 224x224 --coreset-ratio 0.01
  run_eval mt_expand_resize_1 --manifest "$DATA/magnetic_tile/split.csv" --size 224x224 --coreset-ratio 0.01 --taps features.7.conv.0,features.14.conv.0
  run_eval mt_lite2_resize_1  --manifest "$DATA/magnetic_tile/split.csv" --size 224x224 --coreset-ratio 0.01 --backbone efficientnet_lite2
fi

python3 bench/make_results.py "$OUT" > bench/RESULTS.md
log "wrote bench/RESULTS.md"
