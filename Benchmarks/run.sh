#!/usr/bin/env bash
# Benchmarks/run.sh [--quick | --http | --containment]
#
# Builds release, starts jobsd on temp data dirs on 127.0.0.1 (a fresh instance per measure, so
# no measure inherits another's heap or database), runs every measure of issue 7 with its
# reference in the same run, prints the table and writes Benchmarks/results/latest.json (and
# latest.md, the same table in Markdown).
#
#   --quick   a few seconds per measure and smaller counts (CI runs this so the harness cannot
#             rot). Missed targets never fail the script; a measure that could not run does
#             (exit 3), as does a build or set-up error.
#   --containment
#             only jobs/s and start/cancel latency (cancel also of a job with a descendant outside
#             its process group: cancel-latency --escaped), once per containment method (cgroup, proc)
#             and, when JOBSD_BASE_BIN names a jobsd binary built from an earlier commit, for that
#             binary too; alternating, REPEATS times; prints one JSON line per measure (no report).
#   --http    only the HTTP measures (1: GET vs nginx, with CPU µs per request of each; 6: RSS
#             with idle connections), full length; prints their JSON lines, writes no report.
#             With JOBSD_BASE_BIN=<another jobsd binary>, measure 1 also runs it (base_c*),
#             alternating with this build, to compare two HTTP loops in the same run.
#
# All load goes to 127.0.0.1 and is bounded in time and count; every process started here is
# stopped on exit (trap). Needs root or sudo only to install wrk and nginx-light when missing.
set -euo pipefail

QUICK=0
HTTP_ONLY=0
CONTAINMENT=0
case "${1:-}" in
  --quick) QUICK=1 ;;
  --http) HTTP_ONLY=1 ;;
  --containment) CONTAINMENT=1 ;;
  "") ;;
  *) echo "usage: Benchmarks/run.sh [--quick | --http | --containment]" >&2; exit 2 ;;
esac

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

# REPEATS: the ratio measures (GET vs nginx, durable vs memory) alternate with their reference
# this many times; the report takes medians (and the worst of failure counts).
# The growth measures (issue 14): BACKLOG_SMALL/LARGE queued jobs drained; HISTORY finished jobs
# in the store against EMPTY_HISTORY (request cost) and MID_HISTORY (memory: both beyond the
# record cache's 16 384); SWEEP_JOBS expired jobs purged by a retention sweep of
# SWEEP_RETENTION seconds that falls due SWEEP_DUE seconds after they are written, inside a probe
# window of SWEEP_WINDOW seconds.
if ((QUICK)); then
  SECONDS_PER=2; LATENCY_COUNT=40; CONNECTIONS=1000; RUNNING_JOBS=100; REPEATS=1
  BACKLOG_SMALL=1000; BACKLOG_LARGE=5000; HISTORY=40000; MID_HISTORY=20000; EMPTY_HISTORY=1000
  SWEEP_JOBS=5000; SWEEP_RETENTION=20; SWEEP_DUE=4; SWEEP_WINDOW=8
else
  SECONDS_PER=10; LATENCY_COUNT=300; CONNECTIONS=10000; RUNNING_JOBS=1000; REPEATS=3
  BACKLOG_SMALL=10000; BACKLOG_LARGE=100000; HISTORY=1000000; MID_HISTORY=100000; EMPTY_HISTORY=1000
  SWEEP_JOBS=100000; SWEEP_RETENTION=120; SWEEP_DUE=25; SWEEP_WINDOW=45
fi
GROWTH_CLIENTS=(1 4 16 64 256)

log() { printf '\n== %s\n' "$*" >&2; }

# MARK: - Tools

need_packages=()
command -v wrk >/dev/null || need_packages+=(wrk)
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || need_packages+=(nginx-light)
command -v curl >/dev/null || need_packages+=(curl)
command -v cc >/dev/null || need_packages+=(gcc libc6-dev)
command -v webhook >/dev/null || need_packages+=(webhook)      # adnanh/webhook, the peer of measure 9
command -v gnuplot >/dev/null || need_packages+=(gnuplot-nox)  # the growth curves (PNG)
if ((${#need_packages[@]})); then
  log "installing ${need_packages[*]}"
  SUDO=""; [[ $(id -u) == 0 ]] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_packages[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

# 10 000 idle connections need that many descriptors in jobsd and in the load generator.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if (($(ulimit -n) < CONNECTIONS + 1000)); then
  echo "run.sh: ulimit -n is $(ulimit -n); $((CONNECTIONS + 1000)) descriptors are needed" >&2
  exit 1
fi

# MARK: - Build

log "building release"
swift build -c release 2>&1 | tail -n 3
BIN=$(swift build -c release --show-bin-path)
LOADGEN=$BIN/jobsd-loadgen

TMP=$(mktemp -d /tmp/jobsd-bench.XXXXXX)
RES=$TMP/results
mkdir -p "$RES" Benchmarks/results
cat /proc/loadavg >"$RES/loadavg_start"
if ! cc -O2 -static -pthread -o "$TMP/spawnloop" Benchmarks/spawnloop.c 2>/dev/null; then
  cc -O2 -pthread -o "$TMP/spawnloop" Benchmarks/spawnloop.c  # no static libc: stamps include ld.so
fi

# MARK: - Processes (every one started here is stopped on exit)

JOBSD_PID=""
NGINX_PID=""
BASE_PID=""
WEBHOOK_PID=""

# Sends SIGTERM to a process we started, waits up to $2 seconds, then SIGKILL; reaps it.
stop_process() {
  local pid=$1 limit=${2:-15}
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < limit * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "run.sh: pid $pid did not stop in ${limit}s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  stop_process "$JOBSD_PID"
  stop_process "$BASE_PID"
  stop_process "$NGINX_PID" 5
  stop_process "$WEBHOOK_PID" 5
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_jobsd NAME [FLAG…]: a fresh jobsd (this build's, or $JOBSD_EXE) on a free port with its own
# data dir ($TMP/NAME/data, which may hold a store already); sets JOBSD_PID and PORT once /readyz
# answers 200, and STARTUP_SECONDS to the time from its start until then (polled every 10 ms).
start_jobsd() {
  local name=$1; shift
  PORT=$("$LOADGEN" free-port)
  mkdir -p "$TMP/$name"
  local t0
  t0=$(date +%s%N)
  "${JOBSD_EXE:-$BIN/jobsd}" --host 127.0.0.1 --port "$PORT" --data-dir "$TMP/$name/data" --log-level warning \
    --shutdown-timeout 2s --default-grace 1s "$@" 2>"$TMP/$name/stderr" &
  JOBSD_PID=$!
  for ((i = 0; i < 1500; i++)); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$PORT/readyz" 2>/dev/null; then
      STARTUP_SECONDS=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
      return 0
    fi
    kill -0 "$JOBSD_PID" 2>/dev/null || break
    sleep 0.01
  done
  echo "run.sh: jobsd ($name) did not become ready:" >&2
  tail -n 5 "$TMP/$name/stderr" >&2
  stop_jobsd
  return 1
}

stop_jobsd() {
  stop_process "$JOBSD_PID"
  JOBSD_PID=""
}

# start_nginx: the HTTP reference, Benchmarks/http/nginx.conf (a fixed 200 at /healthz, in the
# foreground), on a free port; sets NGINX_PID and NGINX_PORT.
start_nginx() {
  NGINX_PORT=$("$LOADGEN" free-port)
  mkdir -p "$TMP/nginx"
  sed -e "s|__PORT__|$NGINX_PORT|g" -e "s|__PREFIX__|$TMP/nginx|g" Benchmarks/http/nginx.conf >"$TMP/nginx/nginx.conf"
  "$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" 2>"$TMP/nginx/stderr" &
  NGINX_PID=$!
  for ((i = 0; i < 100; i++)); do
    curl -fsS -o /dev/null "http://127.0.0.1:$NGINX_PORT/healthz" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "run.sh: nginx did not start:" >&2
  cat "$TMP/nginx/stderr" >&2
  return 1
}

# MARK: - Measures

# record NAME COMMAND…: runs a measure (bounded by `timeout`) and keeps the last JSON line of its
# output as $RES/NAME.json, or an {"error"} object when it printed none.
record() {
  local name=$1; shift
  log "$name"
  local out status=0
  if [[ $(type -t "$1") == function ]]; then  # wrk_json: bounded by wrk's own -d and --timeout
    out=$("$@" 2>"$TMP/$name.stderr") || status=$?
  else
    out=$(timeout --kill-after=10 $((SECONDS_PER * 4 + 300)) "$@" 2>"$TMP/$name.stderr") || status=$?
  fi
  local json
  json=$(grep '^{' <<<"$out" | tail -n 1 || true)
  if [[ -z $json ]]; then
    local why="exit status $status"
    ((status == 124)) && why="timed out"
    json="{\"error\":\"$why: $(tail -n 1 "$TMP/$name.stderr" | tr -d '"\\' | cut -c1-200)\"}"
  fi
  printf '%s\n' "$json" | tee "$RES/$name.json" >&2
}

# TcpExt ListenDrops and ListenOverflows of this network namespace, "drops overflows".
listen_counters() {
  awk '/^TcpExt:/ { if (!h) { for (i = 1; i <= NF; i++) n[i] = $i; h = 1 } else { for (i = 1; i <= NF; i++) v[n[i]] = $i } }
       END { print v["ListenDrops"] + 0, v["ListenOverflows"] + 0 }' /proc/net/netstat
}

# cpu_ticks PID: user + system clock ticks of PID and its children (nginx's workers).
cpu_ticks() {
  local total=0 pid fields
  for pid in "$1" $(pgrep -P "$1" || true); do
    read -r -a fields <"/proc/$pid/stat" 2>/dev/null || continue
    total=$((total + fields[13] + fields[14]))  # utime, stime (the command name has no spaces here)
  done
  echo "$total"
}

# wrk_json CONNECTIONS URL SERVER_PID: wrk keep-alive load, its JSON summary plus the listen-queue
# deltas and the server's CPU per request (µs, from its clock ticks over the run).
wrk_json() {
  local before after cpu0 cpu1
  before=$(listen_counters)
  cpu0=$(cpu_ticks "$3")
  local json
  json=$(wrk -t2 -c"$1" -d"${SECONDS_PER}s" --timeout 2s --latency -s Benchmarks/wrk-json.lua "$2" | grep '^{' | tail -n 1)
  cpu1=$(cpu_ticks "$3")
  after=$(listen_counters)
  read -r d0 o0 <<<"$before"
  read -r d1 o1 <<<"$after"
  local requests=${json#*\"requests\":}
  requests=${requests%%,*}
  local hz
  hz=$(getconf CLK_TCK)
  printf '%s,"listen_drops":%d,"listen_overflows":%d,"connections":%d,"server_cpu_us_per_request":%.2f,"loadavg_1m":%s}\n' \
    "${json%\}}" $((d1 - d0)) $((o1 - o0)) "$1" "$(awk -v t=$((cpu1 - cpu0)) -v hz="$hz" -v n="$requests" 'BEGIN { print (n > 0 ? t * 1e6 / hz / n : 0) }')" \
    "$(cut -d' ' -f1 /proc/loadavg)"
}

# json_number FILE KEY: the number KEY holds in the one-line JSON object in FILE (empty if none).
json_number() {
  sed -n "s/.*\"$2\":\([-0-9.e+]*\).*/\1/p" "$1" 2>/dev/null | head -n 1
}

# context_switches PID: voluntary + involuntary context switches of all of PID's threads so far.
context_switches() {
  cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches:/ { n += $2 } END { print n + 0 }'
}

# start_webhook: adnanh/webhook with one hook, `true` run synchronously with its output in the
# response (the way its users wait for a command), on a free port; sets WEBHOOK_PID and WEBHOOK_PORT.
start_webhook() {
  WEBHOOK_PORT=$("$LOADGEN" free-port)
  mkdir -p "$TMP/webhook"
  printf '[{"id":"true","execute-command":"%s","include-command-output-in-response":true}]\n' "$(command -v true)" >"$TMP/webhook/hooks.json"
  webhook -hooks "$TMP/webhook/hooks.json" -ip 127.0.0.1 -port "$WEBHOOK_PORT" 2>"$TMP/webhook/stderr" &
  WEBHOOK_PID=$!
  for ((i = 0; i < 100; i++)); do
    curl -fsS -o /dev/null -X POST "http://127.0.0.1:$WEBHOOK_PORT/hooks/true" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "run.sh: webhook did not start:" >&2
  cat "$TMP/webhook/stderr" >&2
  return 1
}

# page_two_cursor: the cursor of the second page of GET /v1/jobs?limit=20 on the jobsd at $PORT.
page_two_cursor() {
  curl -fsS "http://127.0.0.1:$PORT/v1/jobs?limit=20" | sed -n 's/.*"next_cursor":"\([^"]*\)".*/\1/p'
}

# plot_growth: Benchmarks/results/latest-growth-clients.png (jobs/s and start latency p50/p99 against
# clients) and latest-growth-history.png (stored history: GET and list requests/s by store size).
plot_growth() {
  local c
  for c in "${GROWTH_CLIENTS[@]}"; do
    printf '%s %s %s %s\n' "$c" "$(json_number "$RES/growth_c$c.json" per_second)" \
      "$(json_number "$RES/growth_c$c.json" start_p50_ms)" "$(json_number "$RES/growth_c$c.json" start_p99_ms)"
  done >"$TMP/growth_clients.dat"
  local name
  for name in get list_state list_label list_page; do
    printf '"%s" %s %s %s\n' "$name" "$(json_number "$RES/${name}_empty.json" requests_per_second)" \
      "$(json_number "$RES/${name}_mid.json" requests_per_second)" "$(json_number "$RES/${name}_history.json" requests_per_second)"
  done >"$TMP/growth_history.dat"
  gnuplot -e "clients='$TMP/growth_clients.dat'; history='$TMP/growth_history.dat'; history_jobs=$HISTORY; mid_jobs=$MID_HISTORY; empty_jobs=$EMPTY_HISTORY; out='Benchmarks/results/latest-'" \
    Benchmarks/growth.gp
}

# Containment methods side by side (issue 12): per-job cost as jobs/s, start and cancel latency.
if ((CONTAINMENT)); then
  BUILT=$BIN
  for ((r = 1; r <= REPEATS; r++)); do
    for variant in ${JOBSD_BASE_BIN:+base} cgroup proc; do
      method=(--containment "$variant")
      BIN=$BUILT
      if [[ $variant == base ]]; then method=(); BIN=$(dirname "$JOBSD_BASE_BIN"); fi
      if start_jobsd "throughput_${variant}_$r" --max-running 64 "${method[@]}"; then
        record "throughput_${variant}_$r" "$LOADGEN" throughput --port "$PORT" --clients 64 --seconds "$SECONDS_PER"
        stop_jobsd
      fi
      if start_jobsd "latency_${variant}_$r" "${method[@]}"; then
        record "start_latency_${variant}_$r" "$LOADGEN" start-latency --port "$PORT" --count "$LATENCY_COUNT" --stamp "$TMP/spawnloop"
        record "cancel_latency_${variant}_$r" "$LOADGEN" cancel-latency --port "$PORT" --count "$LATENCY_COUNT"
        record "cancel_escaped_${variant}_$r" "$LOADGEN" cancel-latency --port "$PORT" --count "$LATENCY_COUNT" --escaped
        stop_jobsd
      fi
    done
  done
  exit 0
fi

if ((!HTTP_ONLY)); then
  log "references: spawn loop (2 threads), spawn -> main, kill -> waitpid"
  record spawn_rate "$TMP/spawnloop" rate 2 "$SECONDS_PER"
  record spawn_start "$TMP/spawnloop" startlat "$LATENCY_COUNT"
  record spawn_kill "$TMP/spawnloop" killlat "$LATENCY_COUNT"
fi

# finished_job: the id of a job that ran to its end on the jobsd at $PORT.
finished_job() {
  local id
  id=$(curl -fsS -d '{"command":["true"]}' "http://127.0.0.1:$PORT/v1/jobs" | tr ',' '\n' | sed -n 's/.*"id":"\([^"]*\)".*/\1/p' | head -n 1)
  curl -fsS -o /dev/null "http://127.0.0.1:$PORT/v1/jobs/$id?wait=10" || true
  echo "$id"
}

# 1. GET /v1/jobs/{id} of a finished job against nginx's fixed 200 (and the baseline jobsd, when
# given), alternating; all servers are up throughout (the idle ones cost nothing).
if [[ -n ${JOBSD_BASE_BIN:-} ]] && JOBSD_EXE=$JOBSD_BASE_BIN start_jobsd baseline --max-connections 20000; then
  BASE_PID=$JOBSD_PID BASE_PORT=$PORT
  base_id=$(finished_job)
fi
if start_nginx && start_jobsd http --max-connections 20000; then
  id=$(finished_job)
  for ((r = 1; r <= REPEATS; r++)); do
    for c in 64 1000; do
      record "nginx_c${c}_$r" wrk_json "$c" "http://127.0.0.1:$NGINX_PORT/healthz" "$NGINX_PID"
      record "get_c${c}_$r" wrk_json "$c" "http://127.0.0.1:$PORT/v1/jobs/$id" "$JOBSD_PID"
      if [[ -n $BASE_PID ]]; then
        record "base_c${c}_$r" wrk_json "$c" "http://127.0.0.1:$BASE_PORT/v1/jobs/$base_id" "$BASE_PID"
      fi
    done
  done
fi
stop_process "$BASE_PID"
BASE_PID=""
stop_jobsd
stop_process "$NGINX_PID" 5
NGINX_PID=""

if ((HTTP_ONLY)); then
  if start_jobsd connections --max-connections $((CONNECTIONS * 2)); then
    record idle_connections "$LOADGEN" idle-connections --port "$PORT" --count "$CONNECTIONS" --pid "$JOBSD_PID"
    stop_jobsd
  fi
  exit 0
fi

# 2. Jobs completed per second, durable store, with the context switches of jobsd's threads per
# job (the sum of /proc/<pid>/task/*/status's switch counts before and after).
if start_jobsd throughput --max-running 64; then
  switches0=$(context_switches "$JOBSD_PID")
  record throughput "$LOADGEN" throughput --port "$PORT" --clients 64 --seconds "$SECONDS_PER"
  switches1=$(context_switches "$JOBSD_PID")
  completed=$(json_number "$RES/throughput.json" completed)
  printf '{"jobsd_switches":%d,"completed":%s,"per_job":%s}\n' $((switches1 - switches0)) "${completed:-0}" \
    "$(awk -v s=$((switches1 - switches0)) -v n="${completed:-0}" 'BEGIN { print (n > 0 ? s / n : 0) }')" >"$RES/context_switches.json"
  stop_jobsd
fi

# 3. Overload: the runner does 8 / 0.05 s = 160 jobs/s; the clients ask for far more.
if start_jobsd overload --max-running 8 --queue-limit 200; then
  record overload "$LOADGEN" overload --port "$PORT" --clients 64 --seconds "$SECONDS_PER" --command "sleep 0.05"
  stop_jobsd
fi

# 9. The peer: adnanh/webhook's synchronous hook running `true`, 64 clients POSTing without pause.
if start_webhook; then
  WRK_METHOD=POST record webhook wrk_json 64 "http://127.0.0.1:$WEBHOOK_PORT/hooks/true" "$WEBHOOK_PID"
  stop_process "$WEBHOOK_PID" 5
  WEBHOOK_PID=""
fi

# 10. Flood: 64 clients POST `true` without pause against 64 slots and a queue of 8; most answers
# are 429 (with a longer queue the POSTs, each a durable insert, may not outpace the jobs).
if start_jobsd flood --max-running 64 --queue-limit 8; then
  record flood "$LOADGEN" overload --port "$PORT" --clients 64 --seconds "$SECONDS_PER" --command true
  stop_jobsd
fi

# 4, 5. Start and cancel latency on an idle server, one job at a time.
if start_jobsd latency; then
  record start_latency "$LOADGEN" start-latency --port "$PORT" --count "$LATENCY_COUNT" --stamp "$TMP/spawnloop"
  record cancel_latency "$LOADGEN" cancel-latency --port "$PORT" --count "$LATENCY_COUNT"
  stop_jobsd
fi

# 6. RSS with idle keep-alive connections.
if start_jobsd connections --max-connections $((CONNECTIONS * 2)); then
  record idle_connections "$LOADGEN" idle-connections --port "$PORT" --count "$CONNECTIONS" --pid "$JOBSD_PID"
  stop_jobsd
fi

# 7. RSS with running sleep jobs (cancelled by the load generator afterwards).
if start_jobsd running --max-running "$RUNNING_JOBS"; then
  record running_jobs "$LOADGEN" running-jobs --port "$PORT" --count "$RUNNING_JOBS" --pid "$JOBSD_PID"
  stop_jobsd
fi

# 8. Durable vs in-memory POSTs/s, jobs left queued behind one blocker.
for ((r = 1; r <= REPEATS; r++)); do
  for store in sqlite memory; do
    if start_jobsd "submit_${store}_$r" --store "$store" --max-running 1 --queue-limit 10000000; then
      record "submit_${store}_$r" "$LOADGEN" submit-rate --port "$PORT" --clients 64 --seconds "$SECONDS_PER" --blocker
      stop_jobsd
    fi
  done
done

# MARK: - Growth (issue 14): how cost grows with the work

# 11. Jobs/s and start latency (sampled: `spawnloop stamp` jobs) at 1 … 256 clients.
for c in "${GROWTH_CLIENTS[@]}"; do
  if start_jobsd "growth_c$c" --max-running 64 --queue-limit 10000; then
    record "growth_c$c" "$LOADGEN" throughput --port "$PORT" --clients "$c" --seconds "$SECONDS_PER" --stamp "$TMP/spawnloop"
    stop_jobsd
  fi
done

# 12. A small and a large backlog drained by 64 slots, POST latency meanwhile, RSS with it queued.
for size in small large; do
  n=$BACKLOG_SMALL; [[ $size == large ]] && n=$BACKLOG_LARGE
  if start_jobsd "backlog_$size" --max-running 64 --queue-limit $((n * 2)); then
    record "backlog_$size" "$LOADGEN" backlog --port "$PORT" --jobs "$n" --blockers 64 --pid "$JOBSD_PID"
    stop_jobsd
  fi
done

# 13. Stored history: stores of EMPTY_HISTORY, MID_HISTORY and HISTORY finished jobs: start-up,
# GET of random jobs, filtered and paged lists, RSS after that load.
for store in empty mid history; do
  case $store in empty) n=$EMPTY_HISTORY ;; mid) n=$MID_HISTORY ;; *) n=$HISTORY ;; esac
  record "fill_$store" "$LOADGEN" fill-store --db "$TMP/stored_$store/data/jobsd.sqlite" --jobs "$n" --paths "$TMP/paths_$store"
  if start_jobsd "stored_$store"; then
    printf '{"startup_seconds":%s}\n' "$STARTUP_SECONDS" >"$RES/startup_$store.json"
    WRK_PATHS="$TMP/paths_$store" record "get_$store" wrk_json 64 "http://127.0.0.1:$PORT/" "$JOBSD_PID"
    record "list_state_$store" wrk_json 16 "http://127.0.0.1:$PORT/v1/jobs?state=failed&limit=20" "$JOBSD_PID"
    record "list_label_$store" wrk_json 16 "http://127.0.0.1:$PORT/v1/jobs?label=team:t3&limit=20" "$JOBSD_PID"
    record "list_page_$store" wrk_json 16 "http://127.0.0.1:$PORT/v1/jobs?limit=20&cursor=$(page_two_cursor)" "$JOBSD_PID"
    printf '{"rss_mb":%s}\n' "$(awk '/^VmRSS:/ { print $2 / 1024 }' "/proc/$JOBSD_PID/status")" >"$RES/rss_$store.json"
    stop_jobsd
  fi
  rm -rf "$TMP/stored_$store"
done

# 14. Retention sweep: GET and POST latency over a window in which a sweep purges SWEEP_JOBS
# expired jobs (of twice as many stored; the GETs read the others), against the same store and
# window with nothing to purge.
for variant in nosweep sweep; do
  due=(); [[ $variant == sweep ]] && due=(--expiring "$SWEEP_JOBS" --expiring-finished-at $(($(date +%s%3N) - (SWEEP_RETENTION - SWEEP_DUE) * 1000)))
  record "fill_$variant" "$LOADGEN" fill-store --db "$TMP/$variant/data/jobsd.sqlite" --jobs $((SWEEP_JOBS * 2)) "${due[@]}" \
    --paths "$TMP/paths_$variant" --sample 1000
  if start_jobsd "$variant" --retention "${SWEEP_RETENTION}s"; then
    gone=(); [[ $variant == sweep ]] && gone=(--gone "$(sed -n 's/.*"oldest_path":"\([^"]*\)".*/\1/p' "$RES/fill_$variant.json")")
    record "probe_$variant" "$LOADGEN" latency-probe --port "$PORT" --seconds "$SWEEP_WINDOW" --paths "$TMP/paths_$variant" "${gone[@]}"
    stop_jobsd
  fi
  rm -rf "$TMP/$variant"
done

# The growth curves as PNGs beside the report.
plot_growth || echo "run.sh: gnuplot could not draw the growth curves" >&2

# MARK: - Report

log "results"
quick_flag=(); ((QUICK)) && quick_flag=(--quick)
status=0
"$LOADGEN" report --dir "$RES" --out Benchmarks/results/latest.json "${quick_flag[@]}" || status=$?
echo "written: Benchmarks/results/latest.json, Benchmarks/results/latest.md" >&2
exit "$status"
