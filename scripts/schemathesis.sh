#!/usr/bin/env bash
# schemathesis (PyPI) against `patchcore serve`'s own OpenAPI document: a server on loopback over a fresh SQLite data
# folder, the demo model deployed as product "bottle", an admin key, every phase (examples, coverage, fuzzing,
# stateful), EXAMPLES examples per operation (default 25). Prints the summary; 0 server errors is the bar
# (`not_a_server_error` among the checks). Not part of `make test` (about 13 minutes on 2 cores).
#   pip install schemathesis && bash scripts/schemathesis.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(swift build -c release --show-bin-path)/patchcore"
command -v st >/dev/null || { echo "schemathesis missing: pip install schemathesis" >&2; exit 1; }
work="$(mktemp -d /tmp/patchcore-schemathesis-XXXXXX)"
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work/d"' EXIT
"$bin" demo --out "$work/demo" >/dev/null
key=$("$bin" serve keys create --data-dir "$work/d" --name admin --role admin 2>/dev/null | head -1)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" serve --data-dir "$work/d" --port "$port" >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.05; done
auth="Authorization: Bearer $key"
curl -sf -H "$auth" -H 'Content-Type: application/json' -d '{"name":"bottle"}' "http://127.0.0.1:$port/api/v1/products" >/dev/null
curl -sf -H "$auth" --data-binary @"$work/demo/model.safetensors" "http://127.0.0.1:$port/api/v1/products/bottle/models" >/dev/null
curl -sf -H "$auth" -X POST "http://127.0.0.1:$port/api/v1/products/bottle/models/1/activate" >/dev/null
status=0
st run "http://127.0.0.1:$port/api/v1/openapi.json" -H "$auth" --max-examples "${EXAMPLES:-25}" --request-timeout 30 \
    --seed "${SEED:-1}" --report junit --report-dir "$work/report" "$@" >"$work/st.log" 2>&1 || status=$?
curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && echo "server still up" || { echo "server DOWN"; status=1; }
grep -c '"status": *5[0-9][0-9]\|\[5[0-9][0-9]\]' "$work/st.log" | sed 's/^/5xx answers in the log: /' || true
sed -n '/SUMMARY/,$p' "$work/st.log"
echo "full log: $work/st.log"
exit $status
