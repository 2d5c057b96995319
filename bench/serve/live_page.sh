#!/usr/bin/env bash
# Does the Live page keep up with the server's full inspection rate (issue 13)? A server with the demo model
# (default 224x224 input) active; clients inspect a demo PNG back to back on as many connections as the server has
# inference workers, while headless Chromium (Debian's, via Selenium) shows the Live page for DURATION seconds.
# Recorded: first page load on loopback, inspections answered vs events the page received, the page's JS heap
# (after a forced GC) and DOM size over time. Writes bench/out/serve_live_page.json (or $OUT).
# Usage: bash bench/serve/live_page.sh [DURATION_S]
set -euo pipefail
cd "$(dirname "$0")/../.."
duration="${1:-600}"
bin="$(swift build -c release --show-bin-path)/patchcore"
[ -x "$bin" ] || { echo "build first: swift build -c release" >&2; exit 1; }
work="$(mktemp -d /tmp/patchcore-livepage-XXXXXX)"
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
source bench/serve/common.sh

"$bin" demo --out "$work/demo" >/dev/null
model="$work/demo/model.safetensors"
start_server "$work/data" ""
result=$(/usr/bin/python3 bench/serve/live_page.py "$port" "$key" "$work/demo/data/test" "$duration" "$(nproc)")
machine=$(cat bench/out/machine.json 2>/dev/null || echo '{}')
python3 - > "${OUT:-bench/out/serve_live_page.json}" <<PY
import json
print(json.dumps({"command": "bash bench/serve/live_page.sh $duration", "date": "$(date -u +%FT%TZ)",
                  "commit": "$(git rev-parse --short HEAD)", "cores": $(nproc), "machine": $machine,
                  **json.loads('''$result''')}, indent=2))
PY
cat "${OUT:-bench/out/serve_live_page.json}"
