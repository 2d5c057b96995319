#!/usr/bin/env bash
# End-to-end SDXL inpainting at 1024x1024 on a full-size RANDOM-weight model folder (fp16 files, as the hub ships
# diffusers/stable-diffusion-xl-1.0-inpainting-0.1): `patchcore synthesize diffusion` beside diffusers' pipeline, one
# process each, same image, mask, prompt and settings, 3 steps at strength 0.99 (2 denoising steps with guidance).
# Measures load time, seconds per step, the whole sample and peak RSS (the issue's 16 GiB budget).
# Writes bench/out/sdxl_pipeline_{swift,torch}.json; bench/make_results.py adds them to RESULTS.md.
# PIPELINE_SKIP_TORCH=1 reruns the Swift side only. Needs ~8 GB of disk for the folder (made once by bench/make_random_sdxl_pipeline.py) and an idle machine (~10 min).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out
MODEL=$OUT/sdxl_random
THREADS=${THREADS:-2}
STEPS=3
DATA=../shared/datasets/mvtec_ad/bottle
IMAGE=$DATA/train/good/000.png
MASK=$DATA/ground_truth/broken_large/000_mask.png
FLAGS="-c release -Xswiftc -enable-testing"
[ -f "$MODEL/model_index.json" ] || python3 bench/make_random_sdxl_pipeline.py "$MODEL"
swift build $FLAGS --product patchcore >/dev/null
BIN=$(swift build $FLAGS --show-bin-path)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/good" "$WORK/masks"
cp "$IMAGE" "$WORK/good/000.png"
cp "$MASK" "$WORK/masks/000_mask.png"

echo "[$(date +%H:%M:%S)] swift (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
/usr/bin/time -f '%M' -o "$WORK/swift.rss" "$BIN/patchcore" synthesize diffusion --model "$MODEL" --variant fp16 \
  --good "$WORK/good" --masks "$WORK/masks" --no-mask-augmentation --prompt "copper metal scratches" \
  --negative-prompt "smooth, plain, black, dark, shadow" --per-prompt 1 --steps $STEPS --guidance 20 \
  --strength 0.99 --padding-mask-crop 2 --size 1024x1024 --seed 1 --threads "$THREADS" --out "$WORK/out" \
  > "$WORK/swift.log" 2>&1
python3 - "$WORK/swift.log" "$WORK/swift.rss" > "$OUT/sdxl_pipeline_swift.json" <<'PY'
import json, re, sys
log = open(sys.argv[1]).read()
print(json.dumps({"side": "swift",
                  "load_s": float(re.search(r"loaded in ([\d.]+) s", log).group(1)),
                  "step_s": [float(x) for x in re.findall(r"step \d+/\d+\s+([\d.]+) s/step", log)],
                  "total_s": float(re.search(r"written in ([\d.]+) s", log).group(1)),
                  "peak_rss_gib": int(open(sys.argv[2]).read().split()[-1]) / 2**20}))
PY
cat "$OUT/sdxl_pipeline_swift.json"

[ "${PIPELINE_SKIP_TORCH:-0}" = 1 ] && exit 0   # rerun the Swift side only, keeping the last diffusers figures
echo "[$(date +%H:%M:%S)] diffusers (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
python3 bench/sdxl_pipeline_torch.py "$MODEL" "$IMAGE" "$MASK" $STEPS "$THREADS" 2> "$WORK/torch.log" \
  | tail -1 > "$OUT/sdxl_pipeline_torch.json" || { tail -5 "$WORK/torch.log"; exit 1; }
cat "$OUT/sdxl_pipeline_torch.json"
