#!/usr/bin/env bash
# PatchCore vs PatchCoreDual ablation (issue 3, "The experiment") on the real data, MobileNetV2 default taps:
#   (a) Magnetic Tile split (118 real training defects), --size 224x224 as bench/run_all.sh, + 0/50/100/150 classical
#       synthetic positives;
#   (b) MVTec AD bottle (no training defects): 50/100/150 classical synthetic positives (Perlin methods only).
# Writes bench/out/ablation_{mt,bottle}/ablation.{json,md} (+ synthetic/, the generated positives, reused on rerun).
# ABLATION_ONLY=mt|bottle runs one of them; extra arguments are passed to both runs. NEGATIVE sets the negative
# coreset ratio (default 0.02, the tables of bench/ABLATION.md; `NEGATIVE=0.1` is `fit --dual`'s default since 8cc56a9
# and writes to bench/out/ablation_<name>_negative0.1).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${PATCHCORE_DATASETS:-$(cd .. && pwd)/shared/datasets}
[ -d "$DATA/magnetic_tile" ] || DATA=/work/shared/datasets
THREADS=${THREADS:-2}
FLAGS="-c release -Xswiftc -enable-testing"   # the same build as `make test`
swift build $FLAGS --product patchcore >/dev/null
BIN=$(swift build $FLAGS --show-bin-path)
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

NEGATIVE=${NEGATIVE:-0.02}
run() {  # name, args...
  local name=$1; shift
  [ "$NEGATIVE" = 0.02 ] || name="${name}_negative$NEGATIVE"
  mkdir -p "bench/out/ablation_$name"
  echo "synthetic/" > "bench/out/ablation_$name/.gitignore"   # generated positives: large, reproducible (seeded)
  log "ablation $name"
  /usr/bin/time -f '%e s, %M KiB' -o "bench/out/ablation_$name/time.txt" \
    "$BIN/patchcore" ablation --threads "$THREADS" --negative-coreset-ratio "$NEGATIVE" --out "bench/out/ablation_$name" "$@" \
    > "bench/out/ablation_$name/stdout.md" 2> "bench/out/ablation_$name/log.txt"
  log "done $name: $(cat "bench/out/ablation_$name/time.txt")"
}

ONLY=${ABLATION_ONLY:-all}
if [ "$ONLY" = all ] || [ "$ONLY" = mt ]; then
  run mt --manifest "$DATA/magnetic_tile/split.csv" --size 224x224 --synthetic-counts 0,50,100,150 --timing-images 16 "$@"
fi
if [ "$ONLY" = all ] || [ "$ONLY" = bottle ]; then
  run bottle --data "$DATA/mvtec_ad/bottle" --synthetic-counts 50,100,150 --timing-images 16 "$@"
fi
