#!/usr/bin/env bash
# Benchmarks/soak.sh [JOBS] — issue 21's soak: does a long-running jobsd stay flat?
#
# Builds release (unless JOBSD_BIN names a jobsd binary), then for each store of SOAK_STORES
# (default "sqlite memory"; the memory store runs with --retention 1m, or it would hold every job
# for the default 7 days by design):
#  1. steady load: wrk -t1 -c2 POSTs {"command":["true"]} (no backlog: the default queue limit
#     and 2 connections), in rounds; after the round that passes 10^4, then every 10^5 up to JOBS
#     (default 1000000) accepted jobs, waits until no job is active (and 4 s more: the idle heap
#     trim) and prints jobsd's anonymous memory and RSS (/proc/<pid>/smaps_rollup) with the job count and the 1-minute load average
#     (the machine may be shared);
#  2. a burst on a fresh jobsd: warm-up of 20 000 jobs (fills the record cache), RSS "before";
#     POSTs with 8 connections and --queue-limit 100000 until 100 000 jobs are accepted (the
#     backlog builds: jobs arrive faster than they run), RSS at the peak (sampled every 0.5 s
#     while it drains), RSS after the backlog drained and 10 s idle, and the bound
#     max(1.5 x before, before + 32 MB).
# Prints one line per row (`store=… phase=… jobs=… anon_kib=… rss_kib=…`), in the form
# BENCHMARKS.md's soak table quotes. Every jobsd started here is stopped on exit (trap); all load
# goes to 127.0.0.1.
set -euo pipefail
JOBS=${1:-1000000}
STORES=${SOAK_STORES:-sqlite memory}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
command -v wrk >/dev/null || scripts/install-missing.sh wrk
if [ -z "${JOBSD_BIN:-}" ]; then
  swift build -c release --product jobsd >&2
  JOBSD_BIN="$(swift build -c release --show-bin-path)/jobsd"
fi
WORK=$(mktemp -d /tmp/jobsd-soak.XXXXXX)
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
cat > "$WORK/post.lua" <<'EOF'
wrk.method = "POST"
wrk.body = '{"command":["true"]}'
wrk.headers["Content-Type"] = "application/json"
EOF

start() {  # start STORE NAME [flags...]: a fresh jobsd on a free port; sets PID and URL
  local store=$1 name=$2; shift 2
  "$JOBSD_BIN" --port 0 --data-dir "$WORK/$name" --store "$store" --log-level warning "$@" 2>"$WORK/$name.log" &
  PID=$!
  local port=""
  for _ in $(seq 1 500); do
    port=$(ss -ltnpH 2>/dev/null | awk -v p="pid=$PID," '!f && $0 ~ p {n=split($4,a,":"); print a[n]; f=1}')
    [ -n "$port" ] && break
    sleep 0.02
  done
  [ -n "$port" ] || { echo "jobsd did not start: $(cat "$WORK/$name.log")" >&2; exit 1; }
  URL="http://127.0.0.1:$port"
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""; }
metric() { curl -fsS "$URL/metrics" | awk -v m="$1" '$1 == m {print int($2); f=1} END {if (!f) print 0}'; }
active() { curl -fsS "$URL/metrics" | awk '/^jobsd_jobs\{state="(queued|running|cancelling)"\}/ {s += $2} END {print int(s)}'; }
wait_idle() { while [ "$(active)" -gt 0 ]; do sleep 0.2; done; }
mem() { awk '/^Rss:/ {r=$2} /^Anonymous:/ {a=$2} END {printf "anon_kib=%s rss_kib=%s", a, r}' "/proc/$PID/smaps_rollup"; echo " load=$(cut -d' ' -f1 /proc/loadavg) at=$(date -u +%H:%M)"; }
rss() { awk '/^Rss:/ {print $2}' "/proc/$PID/smaps_rollup"; }
submit() {  # submit N CONNECTIONS: wrk rounds until N more jobs were accepted
  local target=$(( $(metric jobsd_jobs_submitted_total) + $1 ))
  while [ "$(metric jobsd_jobs_submitted_total)" -lt "$target" ]; do
    wrk -t1 -c"$2" -d2s -s "$WORK/post.lua" "$URL/v1/jobs" >/dev/null
  done
}

for store in $STORES; do
  flags=()
  [ "$store" = memory ] && flags=(--retention 1m)
  start "$store" "steady-$store" "${flags[@]}"
  next=10000
  while [ "$next" -le "$JOBS" ]; do
    submit $(( next - $(metric jobsd_jobs_submitted_total) )) 2
    wait_idle
    sleep 4  # jobsd hands freed heap back 2 s after it goes idle: the row shows what it keeps
    echo "store=$store phase=steady jobs=$(metric jobsd_jobs_submitted_total) $(mem)"
    next=$(( next < 100000 ? 100000 : next + 100000 ))
  done
  stop

  start "$store" "burst-$store" --queue-limit 100000 "${flags[@]}"
  submit 20000 2
  wait_idle
  sleep 2
  before=$(rss)
  echo "store=$store phase=burst-before jobs=$(metric jobsd_jobs_submitted_total) $(mem)"
  submit 100000 8 &
  loader=$!
  peak=$before
  while kill -0 "$loader" 2>/dev/null || [ "$(active)" -gt 0 ]; do
    now=$(rss); [ "$now" -gt "$peak" ] && peak=$now
    sleep 0.5
  done
  wait "$loader"
  echo "store=$store phase=burst-peak jobs=$(metric jobsd_jobs_submitted_total) rss_kib=$peak"
  sleep 10
  bound=$(( before * 3 / 2 > before + 32768 ? before * 3 / 2 : before + 32768 ))
  echo "store=$store phase=burst-after-10s-idle jobs=$(metric jobsd_jobs_submitted_total) $(mem) bound_rss_kib=$bound"
  stop
done
