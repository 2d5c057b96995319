#!/usr/bin/env bash
# Where classical synthetic defects land on MVTec AD bottle (issue 13: "2 of 6 classical bottle samples put the
# defect on the white background"): `synthesize classical` with --placement none and with the default (auto, the
# good images' foreground), same seed and count; bench/placement_share.py measures, per sample, the share of defect
# pixels off the part, with the part taken independently here (numpy: the mean of 16 train/good images differing from
# the border's median level by more than 24). Needs numpy and Pillow (pip). Writes bench/out/placement_bottle.json.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${PATCHCORE_DATASETS:-$(cd .. && pwd)/shared/datasets}
COUNT=${COUNT:-24}
BIN=$(swift build -c release -Xswiftc -enable-testing --show-bin-path)/patchcore
[ -x "$BIN" ] || { echo "build first: swift build -c release -Xswiftc -enable-testing" >&2; exit 1; }
work=$(mktemp -d /tmp/patchcore-placement-XXXXXX); trap 'rm -rf "$work"' EXIT
bottle="$DATA/mvtec_ad/bottle"
for placement in none auto; do
  "$BIN" synthesize classical --data "$bottle" --defect-masks-from "$bottle" --include-test-defects --count "$COUNT" \
      --seed 1 --placement "$placement" --out "$work/$placement" >/dev/null 2>"$work/$placement.log"
done
python3 bench/placement_share.py "$bottle/train/good" "$work/none/masks" "$work/auto/masks" \
    "bash bench/run_placement.sh (COUNT=$COUNT)" "$(git rev-parse --short HEAD)" > bench/out/placement_bottle.json
cat bench/out/placement_bottle.json
