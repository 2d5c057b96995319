#!/usr/bin/env bash
# Input geometry on the real data (issue 14): the reference geometry of each data set beside the aspect-keeping ones
# (`--short-side N`, `--native [--scale S]`), same backbone, taps, coreset ratio and calibration as the reference rows
# of bench/RESULTS.md (every good training image in the bank: --calibration-split 0). One line per run in
# bench/out/geometry/<name>.{json,log,rss}; bench/geometry_table.py makes the table.
#   bash bench/run_geometry.sh [name...]     (default: all rows below; GEOMETRY_THREADS, default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${PATCHCORE_DATASETS:-$(cd .. && pwd)/shared/datasets}
THREADS=${GEOMETRY_THREADS:-2}
OUT=bench/out/geometry
mkdir -p "$OUT"
BIN=$(swift build -c release -Xswiftc -enable-testing --show-bin-path)/patchcore
[ -x "$BIN" ] || { echo "build first: swift build -c release -Xswiftc -enable-testing" >&2; exit 1; }
MT=(--manifest "$DATA/magnetic_tile/split.csv")
BOTTLE=(--data "$DATA/mvtec_ad/bottle")
declare -A ROWS=(
  [mt_resize224_1]="${MT[*]} --size 224x224 --coreset-ratio 0.01"
  [mt_short224_1]="${MT[*]} --short-side 224 --coreset-ratio 0.01"
  [mt_native_1]="${MT[*]} --native --coreset-ratio 0.01"
  [mt_native075_1]="${MT[*]} --native --scale 0.75 --coreset-ratio 0.01"
  [mt_default_1]="${MT[*]} --coreset-ratio 0.01"
  [mt_default_dual_1]="${MT[*]} --coreset-ratio 0.01 --dual"
  [mt_native_dual_1]="${MT[*]} --native --coreset-ratio 0.01 --dual"
  [bottle_crop224_1]="${BOTTLE[*]} --coreset-ratio 0.01"
  [bottle_short320_1]="${BOTTLE[*]} --short-side 320 --coreset-ratio 0.01"
  [bottle_short448_1]="${BOTTLE[*]} --short-side 448 --coreset-ratio 0.01"
  [bottle_short448_10]="${BOTTLE[*]} --short-side 448 --coreset-ratio 0.1"
  [bottle_short512_1]="${BOTTLE[*]} --short-side 512 --coreset-ratio 0.01"
  [bottle_native_tiled_1]="${BOTTLE[*]} --native --tile 448x448 --coreset-ratio 0.01"
  [mt_resize320_1]="${MT[*]} --size 320x320 --coreset-ratio 0.01"
  [mt_defaults]="${MT[*]}"
  [bottle_crop224_1_streamed]="${BOTTLE[*]} --coreset-ratio 0.01 --feature-memory 16"
  [mt_resize224_1_streamed]="${MT[*]} --size 224x224 --coreset-ratio 0.01 --feature-memory 64"
  [bottle_defaults]="${BOTTLE[*]}"
  [bottle_defaults_streamed]="${BOTTLE[*]} --feature-memory 16"
  [mt_defaults_dual]="${MT[*]} --dual"
)
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(mt_resize224_1 mt_short224_1 mt_native_1 bottle_crop224_1 bottle_short320_1 bottle_short448_1)
for name in "${names[@]}"; do
  args=${ROWS[$name]:?unknown row $name}
  echo "[$(date +%H:%M:%S)] $name: patchcore evaluate $args" >&2
  # shellcheck disable=SC2086  # the row is a word list
  /usr/bin/time -f '%M %e' -o "$OUT/$name.rss" "$BIN" evaluate --threads "$THREADS" --calibration-split 0 \
      --json "$OUT/$name.json" $args > "$OUT/$name.txt" 2> "$OUT/$name.log"
  { echo "command: patchcore evaluate --threads $THREADS --calibration-split 0 $args"; echo "commit: $(git rev-parse --short HEAD)";
    grep -h "input geometry" "$OUT/$name.log" || true; } > "$OUT/$name.meta"
  grep -E "image AUROC  |pixel AUROC|AUPRO|inference / image" "$OUT/$name.txt" | tr -s ' ' | paste -sd';' >&2
done
