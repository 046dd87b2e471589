#!/usr/bin/env bash
# Reproduces the container's entrypoint and environment without Docker: the release jobsd as PID 1
# of a new PID namespace (unshare), JOBSD_HOST=0.0.0.0, the data dir on a temp volume, no token
# (so it must generate one), a job that leaves an orphan behind, then SIGTERM: jobsd must exit 0,
# leave no process behind, and have reaped the orphan (no zombie).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product jobsd >/dev/null
BIN="$(swift build -c release --show-bin-path)/jobsd"
DATA=$(mktemp -d); LOG="$DATA/jobsd.log"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() { [ -n "${NSPID:-}" ] && kill -9 "$NSPID" 2>/dev/null || true; rm -rf "$DATA"; }
trap cleanup EXIT

if ! unshare --pid --fork --mount-proc true 2>/dev/null; then
  echo "container-smoke: SKIPPED: this machine does not permit PID namespaces (unshare --pid)"; exit 0
fi
env -i PATH=/usr/bin:/bin JOBSD_HOST=0.0.0.0 JOBSD_PORT="$PORT" JOBSD_DATA_DIR="$DATA/data" JOBSD_SHUTDOWN_TIMEOUT=5s \
  unshare --pid --fork --mount-proc "$BIN" 2>"$LOG" &
NSPID=$!
for _ in $(seq 1 200); do curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.05; done
curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null || { cat "$LOG"; echo "container-smoke: jobsd did not come up"; exit 1; }
TOKEN=$(sed -n 's/.*token=\([0-9a-f]*\).*/\1/p' "$LOG" | head -1)
[ -n "$TOKEN" ] || { cat "$LOG"; echo "container-smoke: no generated token printed on a 0.0.0.0 bind"; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/v1/jobs")
[ "$code" = 401 ] || { echo "container-smoke: expected 401 without token, got $code"; exit 1; }
# The jobs sleep for an odd number of seconds of their own, so that the check at the end finds
# only their processes, not a `sleep 300` of anything else on the machine (a CI run once failed so).
NAP=$((300000 + RANDOM))
# A job that double-forks an orphan and exits: the orphan is re-parented to PID 1 (jobsd).
ID=$(curl -fsS -H "Authorization: Bearer $TOKEN" -d '{"command":["sh","-c","(sleep '"$NAP"' &) ; echo started"]}' \
  "http://127.0.0.1:$PORT/v1/jobs" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
STATE=$(curl -fsS -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/v1/jobs/$ID?wait=30" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
[ "$STATE" = succeeded ] || { echo "container-smoke: job ended $STATE"; exit 1; }
# A long job that the drain must cancel.
curl -fsS -H "Authorization: Bearer $TOKEN" -d '{"command":["sleep","'"$NAP"'"],"grace_seconds":1}' "http://127.0.0.1:$PORT/v1/jobs" >/dev/null
INNER=$(pgrep -P "$NSPID" -f "$BIN" | head -1 || true)
[ -n "$INNER" ] || INNER=$(pgrep -f "^$BIN" | head -1)
kill -TERM "$INNER"
set +e; wait "$NSPID"; rc=$?; set -e
NSPID=""
cat "$LOG" | tail -5
[ "$rc" = 0 ] || { echo "container-smoke: jobsd exited $rc, expected 0"; exit 1; }
if pgrep -af "sleep $NAP"; then echo "container-smoke: a job process outlived jobsd"; exit 1; fi
echo "container-smoke: OK (PID 1, generated token, orphan reaped, SIGTERM -> exit 0, nothing left)"
