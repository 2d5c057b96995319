#!/usr/bin/env bash
# A throw-away PostgreSQL server for the tests, on loopback, its data in a temporary folder.
#   test-postgres.sh start    initialises (first time) and starts it; prints its URL. Idempotent.
#   test-postgres.sh stop     stops it and removes its data.
#   test-postgres.sh restart  stops and starts it again, keeping the data (the store-outage tests).
# Debian's postgresql package provides the server (`make deps` installs it). As root, the server runs as the
# `postgres` user, which initdb requires.
set -euo pipefail
cmd="${1:?usage: test-postgres.sh start|stop|restart}"
port="${PATCHCORE_TEST_POSTGRES_PORT:-55432}"
dir="${PATCHCORE_TEST_POSTGRES_DIR:-/tmp/patchcore-test-postgres-$(id -u)}"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
[ -n "$bin" ] || { echo "test-postgres.sh: no PostgreSQL server found (apt-get install postgresql)" >&2; exit 2; }
as_server() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
url="postgres://patchcore@127.0.0.1:$port/patchcore?sslmode=disable"
running() { as_server "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; }
start() {
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        mkdir -p "$dir"
        [ "$(id -u)" = 0 ] && chown postgres "$dir"
        as_server "$bin/initdb" -D "$dir/data" -U patchcore -A trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
            { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    if ! running; then
        # fsync stays on: the tests check that committed rows survive a kill -9 of the service, not of the server.
        as_server "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
            -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null ||
            { tail -20 "$dir/server.log" >&2; exit 1; }
        as_server "$bin/psql" -h 127.0.0.1 -p "$port" -U patchcore -d postgres -qtAc \
            "SELECT 1 FROM pg_database WHERE datname = 'patchcore'" | grep -q 1 ||
            as_server "$bin/createdb" -h 127.0.0.1 -p "$port" -U patchcore patchcore
    fi
    echo "$url"
}
stop() {
    if running; then as_server "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null; fi
}
case "$cmd" in
    start) start ;;
    stop) stop; rm -rf "$dir" ;;
    restart) stop; start ;;
    pause) stop ;;
    *) echo "usage: test-postgres.sh start|stop|restart|pause" >&2; exit 2 ;;
esac
