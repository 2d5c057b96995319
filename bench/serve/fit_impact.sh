#!/usr/bin/env bash
# What a fit job costs the inspections beside it (issue 12: fits "never stall inspections beyond the CPU they
# share"): a server with the demo model active and the MVTec AD bottle train/good images (209, read-only from
# ../shared/datasets) uploaded as its good set; one connection inspects a 224x224 PNG back to back for 30 s, then a
# fit job (default configuration) is started and inspection goes on until 10 s after it ends (fit_impact.py).
# Default --inference-workers (cores) and --job-workers 1. Writes bench/out/serve_fit_impact.json (or $OUT).
# Usage: bash bench/serve/fit_impact.sh [DATASET_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
data="${1:-../shared/datasets/mvtec_ad/bottle/train/good}"
bin="$(swift build -c release --show-bin-path)/patchcore"
[ -x "$bin" ] || { echo "build first: swift build -c release" >&2; exit 1; }
[ -d "$data" ] || { echo "no dataset folder $data" >&2; exit 1; }
work="$(mktemp -d /tmp/patchcore-fitimpact-XXXXXX)"
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
source bench/serve/common.sh

"$bin" demo --out "$work/demo" >/dev/null
model="$work/demo/model.safetensors"
image="$work/demo/data/test/good/000.png"
start_server "$work/data" "" --max-batch-mb 2048
(cd "$data" && python3 -c 'import sys, zipfile, os
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_STORED) as z:
    for f in sorted(os.listdir(".")):
        if f.lower().endswith((".png", ".jpg", ".jpeg")): z.write(f)' "$work/good.zip")
curl -sf -H "Authorization: Bearer $key" -H 'Content-Type: application/zip' --data-binary @"$work/good.zip" \
    "http://127.0.0.1:$port/api/v1/products/bottle/datasets/good/batch" >/dev/null
count=$(curl -sf -H "Authorization: Bearer $key" "http://127.0.0.1:$port/api/v1/products/bottle/datasets?kind=good" |
    python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')
echo "good set: $count images from $data" >&2
result=$(python3 bench/serve/fit_impact.py "$port" "$key" "$image" "${BASELINE:-30}" 10)
machine=$(cat bench/out/machine.json 2>/dev/null || echo '{}')
python3 - > "${OUT:-bench/out/serve_fit_impact.json}" <<PY
import json
print(json.dumps({"command": "bash bench/serve/fit_impact.sh $data", "date": "$(date -u +%FT%TZ)",
                  "commit": "$(git rev-parse --short HEAD)", "cores": $(nproc), "machine": $machine,
                  "good_images": $count, **json.loads('''$result''')}, indent=2))
PY
cat "${OUT:-bench/out/serve_fit_impact.json}"
