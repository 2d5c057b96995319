#!/usr/bin/env bash
# Runs the libFuzzer targets built by `make fuzz-build` (see bench/FUZZ.md).
#   run.sh smoke [targets...]   replay bench/fuzz/regressions/<T>/ then fuzz each target FUZZ_SMOKE_SECONDS (10) on
#                               its seeds; exits non-zero on the first finding (crash, ASan report, timeout, OOM).
#   run.sh long  [targets...]   fuzz each target FUZZ_SECONDS (3600), FUZZ_JOBS (2) at a time, in fork mode so one
#                               finding does not end the campaign; growing corpus in bench/fuzz/corpus/<T>/,
#                               findings and logs in bench/fuzz/logs/<T>/, a summary in bench/fuzz/logs/summary.md.
# Temp files go to a folder under /dev/shm (FUZZ_TMPDIR to choose another), removed at the end.
set -uo pipefail
# Swift's own crash handler clashes with ASan (a bogus stack-buffer-underflow in memserver_read hides the trap);
# libFuzzer's handler prints the real stack.
export SWIFT_BACKTRACE=enable=no
export LSAN_OPTIONS="suppressions=$(cd "$(dirname "$0")" && pwd)/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
mode="${1:?usage: run.sh smoke|long [targets...]}"; shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(FuzzImageDecode FuzzUnpickler FuzzTorchCheckpoint FuzzSafeTensors FuzzModelFile FuzzManifest FuzzDiffusersConfig FuzzServiceRequest)
bin="${FUZZ_BIN:-$root/.build-fuzz/release}"
logs="$root/bench/fuzz/logs"
corpus="$root/bench/fuzz/corpus"
rss="${FUZZ_RSS_MB:-2048}"
timeout="${FUZZ_TIMEOUT:-10}"
mkdir -p "$logs"
# The targets that read from a path write each input to a temp file, and libFuzzer's fork mode keeps its job
# corpora in temp folders. On disk, ext4 flushes a truncated and rewritten file on close, so those targets spent
# most of their time waiting (a quarter of the CPU of the others); a tmpfs removes the wait. Every temp file of
# this run goes into one folder that is removed at the end (FUZZ_TMPDIR: where that folder is made).
tmp_base="${FUZZ_TMPDIR:-}"
if [ -z "$tmp_base" ]; then
    if [ -d /dev/shm ] && [ -w /dev/shm ]; then tmp_base=/dev/shm; else tmp_base="${TMPDIR:-/tmp}"; fi
fi
run_tmp="$(mktemp -d "$tmp_base/patchcore-fuzz.XXXXXX")"
trap 'rm -rf "$run_tmp"' EXIT
export TMPDIR="$run_tmp"
# Seeds once, under a lock: several run.sh started together (one per target) must not start fuzzing from a corpus
# another is still writing (libFuzzer reads its corpus only at start).
( flock 9; [ -f "$corpus/.seeded" ] || { bash bench/fuzz/make_seeds.sh "$corpus" >/dev/null && touch "$corpus/.seeded"; } ) 9>"$logs/.seeds.lock"

dict_for() {
    case "$1" in
        FuzzImageDecode) echo bench/fuzz/dict/image.dict ;;
        FuzzUnpickler|FuzzTorchCheckpoint) echo bench/fuzz/dict/pickle.dict ;;
        FuzzSafeTensors|FuzzModelFile) echo bench/fuzz/dict/safetensors.dict ;;
        FuzzManifest) echo bench/fuzz/dict/csv.dict ;;
        FuzzDiffusersConfig) echo bench/fuzz/dict/json.dict ;;
        FuzzServiceRequest) echo bench/fuzz/dict/service.dict ;;
    esac
}

# One summary row from a libFuzzer log: executions, exec/s, cov, ft, corpus units, peak RSS, findings.
summarize() {
    local t="$1" log="$2" seconds="$3"
    local last execs rate cov ft corp rss_mb findings
    last="$(grep -aE '^#[0-9]+|cov: [0-9]+' "$log" | grep -a 'cov:' | tail -1)"
    cov="$(sed -nE 's/.*cov: ([0-9]+).*/\1/p' <<<"$last")"
    ft="$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")"
    corp="$(sed -nE 's/.*corp: ([0-9]+).*/\1/p' <<<"$last")"
    execs="$(sed -nE 's/^stat::number_of_executed_units: ([0-9]+)/\1/p' "$log" | tail -1)"
    [ -n "$execs" ] || execs="$(sed -nE 's/^#([0-9]+).*/\1/p' <<<"$last")"
    rate="$(sed -nE 's/^stat::average_exec_per_sec: +([0-9]+)/\1/p' "$log" | tail -1)"
    [ -n "$rate" ] || rate="$(sed -nE 's/.*exec\/s: ([0-9]+).*/\1/p' <<<"$last")"
    rss_mb="$(sed -nE 's/^stat::peak_rss_mb: +([0-9]+)/\1/p' "$log" | tail -1)"
    [ -n "$rss_mb" ] || rss_mb="$(sed -nE 's/.*rss: ([0-9]+)Mb.*/\1/p' <<<"$last")"
    findings="$(ls "$logs/$t" 2>/dev/null | grep -cE '^(crash|leak|timeout|oom|slow-unit)-' || true)"
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$t" "$seconds" "${execs:-?}" "${rate:-?}" \
        "${cov:-?}" "${ft:-?}" "${corp:-?}" "${rss_mb:-?}" "$findings"
}

header='| target | seconds | executions | exec/s | cov | ft | corpus | peak RSS MB | findings |
|---|---|---|---|---|---|---|---|---|'

run_smoke() {
    local seconds="${FUZZ_SMOKE_SECONDS:-10}" failed=0 t
    echo "$header" > "$logs/smoke-summary.md"
    for t in "${targets[@]}"; do
        local exe="$bin/$t" out="$logs/$t" work
        rm -rf "$out"; mkdir -p "$out"   # findings of an earlier run are not this run's
        [ -x "$exe" ] || { echo "missing $exe (run make fuzz-build)"; exit 2; }
        # 1. The committed crashers must all be handled (each file run once).
        if compgen -G "bench/fuzz/regressions/$t/*" >/dev/null; then
            if ! "$exe" -rss_limit_mb="$rss" -timeout="$timeout" -artifact_prefix="$out/" \
                    bench/fuzz/regressions/"$t"/* > "$out/regressions.log" 2>&1; then
                echo "FAIL $t: a committed regression input fails (see $out/regressions.log):"
                grep -aE 'ERROR|Fatal error|Running:|==[0-9]+==' "$out/regressions.log" | head -8
                failed=1
            fi
        fi
        # 2. A short run from the seeds (new units go to a throw-away folder, the seeds stay as generated).
        work="$(mktemp -d)"
        local dict; dict="$(dict_for "$t")"
        "$exe" -max_total_time="$seconds" -rss_limit_mb="$rss" -timeout="$timeout" -print_final_stats=1 \
            -artifact_prefix="$out/" ${dict:+-dict="$dict"} "$work" "$corpus/$t" > "$out/smoke.log" 2>&1
        local rc=$?
        rm -rf "$work"
        summarize "$t" "$out/smoke.log" "$seconds" >> "$logs/smoke-summary.md"
        if [ $rc -ne 0 ]; then
            echo "FAIL $t (exit $rc): see $out/smoke.log"
            grep -aE '^==[0-9]+==ERROR|Fatal error|SUMMARY|Test unit written|#[0-9]+ +in ' "$out/smoke.log" | head -6
            failed=1
        else
            echo "ok   $t"
        fi
    done
    cat "$logs/smoke-summary.md"
    return $failed
}

run_long_one() {
    local t="$1" seconds="${FUZZ_SECONDS:-3600}" out="$logs/$1" dict
    dict="$(dict_for "$t")"
    mkdir -p "$out" "$corpus/$t"
    # Fork mode keeps fuzzing after a crash / OOM / timeout; every finding lands in $out as crash-*/oom-*/timeout-*.
    "$bin/$t" -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 -max_total_time="$seconds" \
        -rss_limit_mb="$rss" -timeout="$timeout" -print_final_stats=1 -artifact_prefix="$out/" \
        ${dict:+-dict="$dict"} "$corpus/$t" > "$out/long.log" 2>&1
    summarize "$t" "$out/long.log" "$seconds" > "$out/summary-row.md"
}

run_long() {
    export -f run_long_one summarize dict_for
    export logs corpus bin rss timeout
    printf '%s\n' "${targets[@]}" | xargs -P "${FUZZ_JOBS:-2}" -I{} bash -c 'run_long_one {}'
    { echo "$header"; for t in "${targets[@]}"; do cat "$logs/$t/summary-row.md"; done; } > "$logs/summary.md"
    cat "$logs/summary.md"
}

case "$mode" in
    smoke) run_smoke ;;
    long) run_long ;;
    *) echo "usage: run.sh smoke|long [targets...]"; exit 2 ;;
esac
