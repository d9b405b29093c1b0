#!/usr/bin/env bash
# Make sure a PostgreSQL server answers for the test suite, and print its URL.
# Uses HEXAGONE_TEST_PG_URL when given; otherwise starts a private cluster under /tmp (port 55432)
# owned by the postgres system user. Never touches a system cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${HEXAGONE_TEST_PG_URL:-}" ]; then echo "$HEXAGONE_TEST_PG_URL"; exit 0; fi
PORT=${HEXAGONE_TEST_PG_PORT:-55432}
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$BIN" ] || { echo "pg-start: PostgreSQL binaries not found (scripts/setup.sh installs them)" >&2; exit 1; }
# Outside the checkout: the postgres system user must be able to reach it whatever the checkout's
# parent directories allow (CI may clone under /root, mode 0700).
DIR=${HEXAGONE_TEST_PG_DIR:-/tmp/hexagone-pg-$PORT/data}
SOCK=/tmp/hexagone-pg-$PORT
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
mkdir -p "$DIR" "$SOCK"
if [ "$(id -u)" = 0 ]; then chown postgres "$DIR" "$SOCK"; chmod 700 "$DIR"; fi
if ! "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then
  if [ ! -f "$DIR/PG_VERSION" ]; then
    as_pg "$BIN/initdb" -D "$DIR" -U postgres -A trust --no-sync >/dev/null
  fi
  as_pg "$BIN/pg_ctl" -D "$DIR" -l "$DIR/server.log" -w -t 60 \
    -o "-p $PORT -k $SOCK -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null
fi
echo "postgresql+psycopg://postgres@127.0.0.1:$PORT/postgres"
