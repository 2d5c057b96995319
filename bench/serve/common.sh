# Shared by the serve benchmarks (sourced): wait_ready, start_server, stop_server.
# Needs: $bin (the patchcore binary), $work (a scratch folder), $model (a model file to deploy as product "bottle").

wait_ready() {
    for _ in $(seq 1 1000); do
        curl -sf "http://127.0.0.1:$1/readyz" >/dev/null && return 0
        sleep 0.02
    done
    echo "the server on port $1 did not become ready" >&2; cat "$work/serve.log" >&2; return 1
}

# Starts a server on data dir $1 (database URL $2 or empty) with extra options, deploys the model, sets $port/$key.
start_server() {
    local dir="$1" db="$2"; shift 2
    local store=(--data-dir "$dir"); [ -n "$db" ] && store+=(--database "$db")
    mkdir -p "$dir"
    key=$("$bin" serve keys create "${store[@]}" --name "bench-$RANDOM" --role admin | grep -o 'pc_[A-Za-z0-9_-]*' | head -1)
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$bin" serve "${store[@]}" --port "$port" "$@" >"$work/serve.log" 2>&1 &
    server_pid=$!
    wait_ready "$port"
    local auth=(-H "Authorization: Bearer $key")
    curl -sf "${auth[@]}" -H 'Content-Type: application/json' -d '{"name":"bottle"}' "http://127.0.0.1:$port/api/v1/products" >/dev/null || true
    local version
    version=$(curl -sf "${auth[@]}" -H 'Content-Type: application/octet-stream' --data-binary @"$model" \
        "http://127.0.0.1:$port/api/v1/products/bottle/models" | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')
    curl -sf "${auth[@]}" -X POST "http://127.0.0.1:$port/api/v1/products/bottle/models/$version/activate" >/dev/null
}

stop_server() { kill -TERM "$server_pid"; wait "$server_pid" || true; server_pid=""; }
