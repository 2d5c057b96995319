#!/usr/bin/env bash
# `patchcore serve` soak: SECONDS of wrk on loopback mixing valid inspections (80%) with client mistakes (truncated
# and corrupt PNGs, a body over --max-upload-mb, text, an unknown key, an unknown product, an empty body), and beside
# it abuse.py's slow clients, bodies cut short and connections reset. Every 15 s the server's RSS, open file
# descriptors and inspections so far are sampled. Afterwards: the descriptors must come back to the warm baseline,
# /readyz must answer 200, no 5xx but 503, and SIGTERM must end the server with status 0.
# The model is a small one (--size, default 64x64, MobileNetV2 taps) so that a soak reaches ~100k inspections
# in an hour on 2 cores; the claims here are about the service (memory, descriptors, survival), not the model.
# Writes bench/out/serve_soak.json (or $OUT) and the samples beside it.
# Usage: bash bench/serve/soak.sh [SECONDS] [SIZE] [CONNECTIONS]   (defaults 3600 64x64 4; ENGINE=postgres for PG)
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-3600}" size="${2:-64x64}" connections="${3:-4}" engine="${ENGINE:-sqlite}"
bin="$(swift build -c release --show-bin-path)/patchcore"
[ -x "$bin" ] || { echo "build first: swift build -c release" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk missing: apt-get install wrk" >&2; exit 1; }
work="$(mktemp -d /tmp/patchcore-soak-XXXXXX)"
server_pid="" abuse_pid="" sampler_pid=""
cleanup() {
    for p in $abuse_pid $sampler_pid $server_pid; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null; rm -rf "$work"
}
trap cleanup EXIT
source bench/serve/common.sh
out="${OUT:-bench/out/serve_soak.json}"
samples="${out%.json}_samples.jsonl"
mkdir -p "$(dirname "$out")"

echo "== demo data, a ${size} model" >&2
"$bin" demo --out "$work/demo" >/dev/null 2>&1 || true   # only its data is needed
model="$work/model.safetensors"
"$bin" fit --images "$work/demo/data/train/good" --size "$size" --model "$model" >/dev/null

echo "== request bodies" >&2
bodies="$work/bodies"; mkdir -p "$bodies"
i=0
for f in "$work"/demo/data/test/good/00[0-3].png "$work"/demo/data/test/*/00[0-1].png; do
    cp "$f" "$bodies/valid_$i.png"; i=$((i + 1))
done
python3 - "$bodies" <<'PY'
import os, sys
d = sys.argv[1]
png = open(os.path.join(d, "valid_0.png"), "rb").read()
open(os.path.join(d, "truncated.png"), "wb").write(png[: len(png) // 2])
corrupt = bytearray(png); mid = len(corrupt) // 2
corrupt[mid:mid + 64] = os.urandom(64)
open(os.path.join(d, "corrupt.bin"), "wb").write(bytes(corrupt))
open(os.path.join(d, "text.txt"), "w").write("this is not an image\n" * 50)
open(os.path.join(d, "oversized.bin"), "wb").write(os.urandom(1536 * 1024))   # over --max-upload-mb 1
PY

db=""
if [ "$engine" = postgres ]; then
    bash scripts/test-postgres.sh start >/dev/null
    dbname="soak_$$_$RANDOM"
    psql -h 127.0.0.1 -p 55432 -U patchcore -d postgres -qc "CREATE DATABASE $dbname" >/dev/null
    db="postgres://patchcore@127.0.0.1:55432/$dbname?sslmode=disable"
fi
start_server "$work/data" "$db" --max-upload-mb 1
echo "server pid $server_pid on port $port ($engine)" >&2

metric() {   # sum of a counter's series: metric NAME [python condition on the labels string]
    curl -sf "http://127.0.0.1:$port/metrics" | python3 -c '
import re, sys
name, cond = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "True"
total = 0
for line in sys.stdin:
    m = re.match(r"(\w+)(\{[^}]*\})? ([0-9.e+]+)$", line.strip())
    if m and m.group(1) == name and eval(cond, {"re": re, "labels": m.group(2) or ""}):
        total += float(m.group(3))
print(int(total))' "$@"
}
fds() { ls "/proc/$server_pid/fd" | wc -l; }
rss() { ps -o rss= -p "$server_pid" | tr -d ' '; }
server_errors() { metric patchcore_http_requests_total 're.search(r"status=\"5\d\d\"", labels) and "503" not in labels' 2>/dev/null || echo -1; }

# Warm-up (allocations, page cache, pools), then the baseline.
DIR="$bodies" KEY="$key" wrk -t1 -c"$connections" -d5s -s bench/serve/soak.lua "http://127.0.0.1:$port/api/v1/products/bottle/inspect" >/dev/null
base_fds=$(fds); base_rss=$(rss)
echo "baseline: $base_fds descriptors, RSS $base_rss KiB" >&2

: > "$samples"
start=$(date +%s)
(
    while kill -0 "$server_pid" 2>/dev/null; do
        echo "{\"t_s\": $(( $(date +%s) - start )), \"rss_kb\": $(rss), \"fds\": $(fds), \"inspections\": $(metric patchcore_inspections_total), \"server_errors\": $(server_errors)}" >> "$samples"
        sleep 15
    done
) &
sampler_pid=$!

python3 bench/serve/abuse.py "$port" "$key" "$seconds" 20 120 > "$work/abuse.out" &
abuse_pid=$!
echo "== soak: ${seconds}s, $connections wrk connections + abuse.py" >&2
wrk_json=$(DIR="$bodies" KEY="$key" wrk -t1 -c"$connections" -d"${seconds}s" --timeout 30s --latency -s bench/serve/soak.lua \
    "http://127.0.0.1:$port/api/v1/products/bottle/inspect" | sed -n 's/^WRK_JSON //p')
wait "$abuse_pid"; abuse_pid=""
abuse_json=$(sed -n 's/^ABUSE_JSON //p' "$work/abuse.out")
peak_fds=$(python3 -c "import json,sys; print(max(json.loads(l)['fds'] for l in open(sys.argv[1])))" "$samples")
peak_rss=$(python3 -c "import json,sys; print(max(json.loads(l)['rss_kb'] for l in open(sys.argv[1])))" "$samples")

# Clients are gone: the descriptors must come back (polled for up to 60 s: closes are asynchronous).
after_fds=$(fds)
for _ in $(seq 1 120); do [ "$after_fds" -le "$base_fds" ] && break; sleep 0.5; after_fds=$(fds); done
ready=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")
inspections=$(metric patchcore_inspections_total); errors5xx=$(server_errors); end_rss=$(rss)
kill "$sampler_pid" 2>/dev/null || true; wait "$sampler_pid" 2>/dev/null || true; sampler_pid=""
sqlite_bytes=$(stat -c %s "$work/data/patchcore.sqlite" 2>/dev/null || echo 0)
blob_bytes=$(du -sb "$work/data/blobs" 2>/dev/null | cut -f1 || echo 0)
kill -TERM "$server_pid"; set +e; wait "$server_pid"; exit_status=$?; set -e; server_pid=""
crash_lines=$(grep -ciE 'fatal error|precondition|segmentation|abort' "$work/serve.log" || true)

machine=$(cat bench/out/machine.json 2>/dev/null || echo '{}')
python3 - "$samples" > "$out" <<PY
import json, sys
samples = [json.loads(l) for l in open(sys.argv[1])]
at_1k = next((s for s in samples if s["inspections"] >= 1000), None)
print(json.dumps({
    "command": "bash bench/serve/soak.sh $seconds $size $connections", "engine": "$engine",
    "date": "$(date -u +%FT%TZ)", "commit": "$(git rev-parse --short HEAD)", "cores": $(nproc), "machine": $machine,
    "model_size": "$size", "wrk": $wrk_json, "abuse": ${abuse_json:-null},
    "inspections": $inspections, "server_5xx_but_503": $errors5xx,
    "fds": {"baseline": $base_fds, "peak": $peak_fds, "after_clients_closed": $after_fds},
    "rss_kb": {"baseline": $base_rss, "at_first_1k_inspections": at_1k and at_1k["rss_kb"],
               "inspections_at_that_sample": at_1k and at_1k["inspections"], "peak": $peak_rss, "end": $end_rss},
    "readyz_after": $ready, "sigterm_exit_status": $exit_status, "crash_lines_in_log": $crash_lines,
    "store_bytes": {"sqlite": $sqlite_bytes, "blobs": $blob_bytes},
    "samples_file": sys.argv[1],
}, indent=2))
PY
cat "$out"
[ "$exit_status" -eq 0 ] && [ "$errors5xx" -eq 0 ] && [ "$ready" = 200 ] && [ "$after_fds" -le "$base_fds" ]
