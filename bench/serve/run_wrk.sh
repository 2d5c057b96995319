#!/usr/bin/env bash
# `patchcore serve` under wrk (Debian's), beside the library's own per-image time, in one invocation:
#   1. the library: `patchcore predict` on N copies of a 224x224 demo PNG (heatmaps written, as the service renders
#      its heatmap and overlay), per image = (time for N - time for 1) / (N - 1), so start-up is left out;
#   2. the service on SQLite and on PostgreSQL: POST .../inspect with that PNG for SECONDS, 1 and 10 connections,
#      default workers (cores) and queue (32); then 10 connections with --inference-queue 2 (503s expected, no other
#      error). After each run the server is started again on the same data and timed to its first /readyz 200.
# Writes bench/out/serve_wrk.json (or $OUT) and prints it. Usage: bash bench/serve/run_wrk.sh [SECONDS]  (default 60)
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-60}"
bin="$(swift build -c release --show-bin-path)/patchcore"
[ -x "$bin" ] || { echo "build first: swift build -c release" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk missing: apt-get install wrk" >&2; exit 1; }
work="$(mktemp -d /tmp/patchcore-wrk-XXXXXX)"
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

echo "== demo data and model" >&2
"$bin" demo --out "$work/demo" >/dev/null
model="$work/demo/model.safetensors"
image="$work/demo/data/test/good/000.png"

echo "== library: patchcore predict" >&2
n=100
mkdir -p "$work/many"
for i in $(seq 1 $n); do cp "$image" "$work/many/$(printf %03d "$i").png"; done
t0=$(date +%s.%N); "$bin" predict --model "$model" --out "$work/p1" --exit-zero "$image" >/dev/null; t1=$(date +%s.%N)
"$bin" predict --model "$model" --out "$work/pn" --exit-zero "$work/many" >/dev/null; t2=$(date +%s.%N)
library_ms=$(python3 -c "print(round(((($t2)-($t1)) - (($t1)-($t0))) / ($n - 1) * 1000, 2))")
echo "library per image: $library_ms ms" >&2

source bench/serve/common.sh

results=()
run() {   # name engine connections [serve options...]
    local name="$1" engine="$2" connections="$3"; shift 3
    local db=""
    if [ "$engine" = postgres ]; then
        local url; url=$(bash scripts/test-postgres.sh start)
        local dbname="bench_$$_$RANDOM"
        psql -h 127.0.0.1 -p 55432 -U patchcore -d postgres -qc "CREATE DATABASE $dbname" >/dev/null
        db="postgres://patchcore@127.0.0.1:55432/$dbname?sslmode=disable"
    fi
    start_server "$work/$name" "$db" "$@"
    # A short warm-up (first allocations, page cache), not counted.
    IMAGE="$image" KEY="$key" wrk -t1 -c1 -d3s -s bench/serve/inspect.lua "http://127.0.0.1:$port/api/v1/products/bottle/inspect" >/dev/null
    echo "== $name: $engine, $connections connection(s), ${seconds}s" >&2
    local out
    out=$(IMAGE="$image" KEY="$key" wrk -t1 -c"$connections" -d"${seconds}s" --timeout 30s --latency -s bench/serve/inspect.lua \
        "http://127.0.0.1:$port/api/v1/products/bottle/inspect")
    local json; json=$(echo "$out" | sed -n 's/^WRK_JSON //p')
    local rss; rss=$(ps -o rss= -p "$server_pid" | tr -d ' ')
    echo "$json" >&2
    stop_server
    # Startup to ready with the model active: the same data again, timed from launch to the first /readyz 200.
    local store=(--data-dir "$work/$name"); [ -n "$db" ] && store+=(--database "$db")
    local t0; t0=$(date +%s.%N)
    "$bin" serve "${store[@]}" --port "$port" "$@" >"$work/serve.log" 2>&1 &
    server_pid=$!
    wait_ready "$port"
    local ready; ready=$(python3 -c "print(round($(date +%s.%N) - $t0, 3))")
    stop_server
    results+=("{\"name\": \"$name\", \"engine\": \"$engine\", \"connections\": $connections, \"options\": \"$*\", \"server_rss_kb\": $rss, \"restart_to_ready_s\": $ready, \"wrk\": $json}")
}

want() { [ -z "${ONLY:-}" ] || [[ "$1" =~ $ONLY ]]; }   # ONLY=regex picks runs (a quick look; the record runs all)
want sqlite_c1 && run sqlite_c1 sqlite 1
want sqlite_c10 && run sqlite_c10 sqlite 10
want postgres_c1 && run postgres_c1 postgres 1
want postgres_c10 && run postgres_c10 postgres 10
want sqlite_c10_queue2 && run sqlite_c10_queue2 sqlite 10 --inference-queue 2

machine=$(cat bench/out/machine.json 2>/dev/null || echo '{}')
{
    echo "{\"command\": \"bash bench/serve/run_wrk.sh $seconds\", \"date\": \"$(date -u +%FT%TZ)\", \"commit\": \"$(git rev-parse --short HEAD)\","
    echo " \"cores\": $(nproc), \"machine\": $machine, \"library_ms_per_image\": $library_ms, \"runs\": ["
    (IFS=,; echo "${results[*]}")
    echo "]}"
} | python3 -m json.tool > "${OUT:-bench/out/serve_wrk.json}"
cat "${OUT:-bench/out/serve_wrk.json}"
