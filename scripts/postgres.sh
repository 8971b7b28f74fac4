#!/usr/bin/env bash
# Start (or reuse) a throwaway PostgreSQL 15 for tests and benchmarks on a loopback port.
# Usage: scripts/postgres.sh start|stop|url   (PGPORT, PGDATA_DIR override the defaults)
set -euo pipefail
PORT="${SIYU_PG_PORT:-54329}"
DIR="${SIYU_PG_DIR:-/tmp/siyu-pg-$PORT}"
BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
URL="postgresql://siyu@127.0.0.1:$PORT/siyu"

case "${1:-start}" in
  start)
    [ -x "$BIN/initdb" ] || { echo "PostgreSQL server binaries not found; run: make pg-deps" >&2; exit 1; }
    if [ ! -f "$DIR/PG_VERSION" ]; then
      mkdir -p "$DIR" && chown postgres:postgres "$DIR"
      runuser -u postgres -- "$BIN/initdb" -D "$DIR" -U siyu --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    if ! runuser -u postgres -- "$BIN/pg_ctl" -D "$DIR" status >/dev/null 2>&1; then
      runuser -u postgres -- "$BIN/pg_ctl" -D "$DIR" -l "$DIR/server.log" -w \
        -o "-p $PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$DIR -c fsync=on -c max_connections=200 -c shared_buffers=512MB -c max_wal_size=4GB -c checkpoint_timeout=15min -c wal_compression=on" start >/dev/null
    fi
    runuser -u postgres -- psql -h 127.0.0.1 -p "$PORT" -U siyu -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='siyu'" | grep -q 1 \
      || runuser -u postgres -- psql -h 127.0.0.1 -p "$PORT" -U siyu -d postgres -qc "CREATE DATABASE siyu"
    echo "$URL"
    ;;
  stop)
    runuser -u postgres -- "$BIN/pg_ctl" -D "$DIR" -m fast stop >/dev/null 2>&1 || true
    ;;
  url)
    echo "$URL"
    ;;
esac
