#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL server: installs Debian's postgresql when missing,
# initdb into a temp dir (as the `postgres` user when run as root: the server refuses to run as
# root), starts it with pg_ctl on a free loopback port (TCP on 127.0.0.1 and a unix socket in the
# temp dir, trust authentication, fsync off: it only ever holds test data), exports
# JOBSD_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:PORT/postgres, runs the command, then
# stops the server and removes the temp dir on every exit (trap). Exits with the command's status.
# Usage: scripts/with-postgres.sh COMMAND ARGS…
set -euo pipefail
"$(dirname "$0")/install-missing.sh" postgresql
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
DIR=$(mktemp -d /tmp/jobsd-pg-XXXXXX)
chmod 755 "$DIR"
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
[ "$(id -u)" -ne 0 ] || chown postgres "$DIR"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
stop() {
  as_pg "$BIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap stop EXIT
trap 'exit 130' INT TERM
as_pg "$BIN/initdb" -D "$DIR/data" -U postgres --auth=trust --no-sync -E UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 \
  || { cat "$DIR/initdb.log" >&2; exit 1; }
as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -c unix_socket_directories=$DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=1000" \
  start >/dev/null || { cat "$DIR/server.log" >&2; exit 1; }
export JOBSD_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$PORT/postgres"
export JOBSD_TEST_POSTGRES_DATA="$DIR/data" JOBSD_TEST_POSTGRES_BIN="$BIN" JOBSD_TEST_POSTGRES_SOCKET_DIR="$DIR"
echo "with-postgres: PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT" >&2
set +e
"$@"
rc=$?
set -e
exit $rc
