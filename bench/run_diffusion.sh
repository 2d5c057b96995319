#!/usr/bin/env bash
# Diffusion components, Swift (bench/DiffusionBench) and diffusers on PyTorch (bench/diffusion_bench.py) alternating,
# same thread count, each component in its own process so /usr/bin/time's peak RSS (%M, KiB) is that component's.
# Writes bench/out/diffusion_{swift,torch}_<model>_<component>.json (the JSON line plus "max_rss_kib" from time);
# bench/make_results.py turns them into the "Diffusion components" section of RESULTS.md.
# Random weights of the real configs on both sides (nothing downloaded). Run on an idle machine.
# DIFFUSION_SKIP_SDXL=1 skips the SDXL rows (minutes each and ~10 GiB per side); DIFFUSION_ONLY=sdxl runs only those;
# DIFFUSION_COMPONENTS (default "unet vae-decode vae-encode text") picks components.
# THREADS (default 2), REPEATS (default 1), ROUNDS (default 1: see merge_rounds), SWIFT_HALF=1 runs Swift with fp16-stored linear weights (--half),
# as a half-precision model folder would load.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out
mkdir -p "$OUT"
THREADS=${THREADS:-2}
REPEATS=${REPEATS:-1}
ROUNDS=${ROUNDS:-1}
FLAGS="-c release -Xswiftc -enable-testing"   # the same build as `make test` and run_all.sh
swift build $FLAGS --product DiffusionBench >/dev/null
BIN=$(swift build $FLAGS --show-bin-path)
HALF=""; [ "${SWIFT_HALF:-0}" = 1 ] && HALF="--half"
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

# Appends "max_rss_kib" (from /usr/bin/time) and the load average at the start to the last JSON line of $1.
finish() {  # json-file rss-file load
  python3 - "$1" "$2" "$3" <<'PY'
import json, sys
path, rss, load = sys.argv[1:]
lines = [l for l in open(path).read().splitlines() if l.startswith("{") and '"profile"' not in l]
d = json.loads(lines[-1]) if lines else {"error": "no output"}
try:
    d["max_rss_kib"] = int(open(rss).read().split()[-1])
except (OSError, ValueError, IndexError):
    pass
d["loadavg_start"] = load
json.dump(d, open(path, "w"))
PY
}

one() {  # side model component json-path: one process, its peak RSS appended
  local side=$1 model=$2 c=$3 path=$4 load
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  log "$side $model $c (load $load)"
  if [ "$side" = swift ]; then
    /usr/bin/time -f '%M' -o "$path.rss" "$BIN/DiffusionBench" --model "$model" --component "$c" --threads "$THREADS" \
      --repeats "$REPEATS" $HALF > "$path.json" 2> "$path.log" || log "swift $model $c failed (see $path.log)"
  else
    /usr/bin/time -f '%M' -o "$path.rss" python3 bench/diffusion_bench.py --model "$model" --component "$c" \
      --threads "$THREADS" --repeats "$REPEATS" > "$path.json" 2> "$path.log" || log "torch $model $c failed (see $path.log)"
  fi
  finish "$path.json" "$path.rss" "$load"
}

# ROUNDS > 1 alternates the two sides that many times; each side's file then holds the median of its round
# medians (median_s), every round's median (round_medians_s) and the largest peak RSS.
merge_rounds() {  # final-path round-paths...
  python3 - "$@" <<'PY'
import json, statistics, sys
final, rounds = sys.argv[1], [json.load(open(p + ".json")) for p in sys.argv[2:]]
d = dict(rounds[-1])
medians = [r["median_s"] for r in rounds if "median_s" in r]
if medians:
    d["median_s"] = statistics.median(medians)
    d["round_medians_s"] = medians
rss = [r["max_rss_kib"] for r in rounds if "max_rss_kib" in r]
if rss:
    d["max_rss_kib"] = max(rss)
json.dump(d, open(final + ".json", "w"))
open(final + ".rss", "w").write(f"{max(rss) if rss else 0}\n")
PY
}

run() {  # model swift-component torch-component
  local model=$1 sc=$2 tc=$3 r
  local s="$OUT/diffusion_swift_${model}_${tc}" t="$OUT/diffusion_torch_${model}_${tc}"
  if [ "$ROUNDS" = 1 ]; then one swift "$model" "$sc" "$s"; one torch "$model" "$tc" "$t"; return; fi
  local sr=() tr=()
  for r in $(seq "$ROUNDS"); do
    one swift "$model" "$sc" "$s.round$r"; sr+=("$s.round$r")
    one torch "$model" "$tc" "$t.round$r"; tr+=("$t.round$r")
  done
  merge_rounds "$s" "${sr[@]}"
  merge_rounds "$t" "${tr[@]}"
  for p in "${sr[@]}" "${tr[@]}"; do rm -f "$p.json" "$p.rss" "$p.log"; done
}

models="sd15"
[ "${DIFFUSION_SKIP_SDXL:-0}" = 1 ] || models="sd15 sdxl"
[ -z "${DIFFUSION_ONLY:-}" ] || models="$DIFFUSION_ONLY"   # e.g. DIFFUSION_ONLY=sdxl
components=${DIFFUSION_COMPONENTS:-"unet vae-decode vae-encode text"}   # e.g. DIFFUSION_COMPONENTS=text
for model in $models; do
  for c in $components; do run "$model" "$c" "${c//-/_}"; done
done
log "done; python3 bench/make_results.py writes RESULTS.md"
