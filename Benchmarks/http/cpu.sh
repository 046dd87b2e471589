#!/usr/bin/env bash
# CPU cost per request of GET /v1/jobs/{id} (a finished job) on jobsd and of nginx's fixed 200,
# measured with perf stat on the server's process over a wrk run: task-clock ÷ requests. CPU
# spent, unlike throughput, is what a shared, loaded machine steals least from.
#
# Usage: Benchmarks/http/cpu.sh [JOBSD_BINARY…]      (default: .build/release/jobsd, built first)
#   CONNECTIONS  wrk connections (default 64)      DURATION  seconds per wrk run (default 5)
#   REPEATS      rounds (default 3); each round measures nginx, then every binary, alternating
#
# Prints one line per run: server, round, requests, req/s, CPU µs per request, context switches
# per request, 1-minute load average; then the medians. Both servers are stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
connections="${CONNECTIONS:-64}"
seconds="${DURATION:-5}"
repeats="${REPEATS:-3}"
binaries=("$@")
if ((${#binaries[@]} == 0)); then
    swift build -c release --product jobsd >/dev/null
    binaries=(.build/release/jobsd)
fi
command -v wrk >/dev/null && command -v nginx >/dev/null || apt-get install -y wrk nginx-light >/dev/null
command -v perf >/dev/null || apt-get install -y linux-perf >/dev/null
ulimit -n "$(ulimit -Hn)"

work="$(mktemp -d)"
pids=()
cleanup() {
    set +e
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# curl retries refused connections and 503s (jobsd's /readyz before it is ready) for up to 20 s.
wait_ready() { curl -fsS -o /dev/null --retry 40 --retry-delay 1 --retry-connrefused --retry-max-time 20 "$1"; }

nginx_port=$(free_port)
mkdir -p "$work/nginx"
sed -e "s#__PORT__#$nginx_port#" -e "s#__PREFIX__#$work/nginx#g" Benchmarks/http/nginx.conf >"$work/nginx/nginx.conf"
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" &
nginx_pid=$!
pids+=("$nginx_pid")
wait_ready "http://127.0.0.1:$nginx_port/healthz"

names=(nginx)
urls=("http://127.0.0.1:$nginx_port/healthz")
server_pids=("$nginx_pid")
for i in "${!binaries[@]}"; do
    port=$(free_port)
    mkdir -p "$work/jobsd$i"
    "${binaries[$i]}" --host 127.0.0.1 --port "$port" --data-dir "$work/jobsd$i" --log-level warning 2>"$work/jobsd$i.log" &
    pids+=("$!")
    server_pids+=("$!")
    wait_ready "http://127.0.0.1:$port/readyz"
    id=$(curl -fsS -d '{"command":["true"]}' "http://127.0.0.1:$port/v1/jobs" | sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
    curl -fsS -o /dev/null "http://127.0.0.1:$port/v1/jobs/$id?wait=10"
    names+=("jobsd$i")
    urls+=("http://127.0.0.1:$port/v1/jobs/$id")
done
for i in "${!binaries[@]}"; do echo "jobsd$i = ${binaries[$i]}"; done

# nginx's workers are children of its master: perf stat follows the master's threads only, so
# every worker is named.
targets() { local pid=$1; echo "$pid$(pgrep -P "$pid" | sed 's/^/,/' | tr -d '\n')"; }

printf '%-8s %5s %9s %9s %10s %10s %6s\n' server round requests "req/s" "CPU µs/req" "cs/req" load
for ((round = 1; round <= repeats; round++)); do
    for s in "${!names[@]}"; do
        out="$work/${names[$s]}.$round"
        perf stat -x, -e task-clock,context-switches -p "$(targets "${server_pids[$s]}")" -o "$out.perf" -- \
            wrk -t2 -c"$connections" -d"${seconds}s" "${urls[$s]}" >"$out.wrk"
        requests=$(awk '/requests in/ { print $1 }' "$out.wrk")
        rps=$(awk '/Requests\/sec/ { print $2 }' "$out.wrk")
        awk -F, -v n="$requests" -v name="${names[$s]}" -v round="$round" -v rps="$rps" -v load="$(cut -d' ' -f1 /proc/loadavg)" '
            $3 == "task-clock" { ms = $1 } $3 == "context-switches" { cs = $1 }
            END { printf "%-8s %5d %9d %9.0f %10.2f %10.3f %6s\n", name, round, n, rps, ms * 1000 / n, cs / n, load }' "$out.perf" \
            | tee -a "$work/results"
    done
done
echo "medians:"
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
for name in "${names[@]}"; do
    printf '%-8s CPU µs/req %s  req/s %s\n' "$name" \
        "$(awk -v name="$name" '$1 == name { print $5 }' "$work/results" | median)" \
        "$(awk -v name="$name" '$1 == name { print $4 }' "$work/results" | median)"
done
