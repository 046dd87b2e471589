#!/usr/bin/env bash
# HTTP throughput of jobsd against nginx serving a fixed 200, both on loopback.
#
# Usage: Benchmarks/http/run.sh [DURATION]        (default 10s per run)
#   SERVER_CMD  command that starts the server under test; __PORT__ and __DATA__ are replaced
#               (default: ".build/release/jobsd --port __PORT__ --data-dir __DATA__", built first)
#   PORT        port of the server under test (default 18080); nginx uses PORT+1
#
# For each of wrk -t2 -c1, -c64, -c1000 on GET /healthz it prints req/s, p50 and p99 latency and
# socket errors for both servers, and the jobsd/nginx ratio. All traffic stays on 127.0.0.1;
# every run is bounded by DURATION and both servers are stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
duration="${1:-10s}"
port="${PORT:-18080}"
nginx_port=$((port + 1))

if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null; then
    apt-get install -y wrk nginx-light >/dev/null
fi
ulimit -n "$(ulimit -Hn)"

work="$(mktemp -d)"
server_pid=""
nginx_pid=""
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

if [ -z "${SERVER_CMD:-}" ]; then
    swift build -c release --product jobsd >/dev/null
    SERVER_CMD=".build/release/jobsd --port __PORT__ --data-dir __DATA__"
fi
mkdir -p "$work/data" "$work/nginx"
cmd="${SERVER_CMD//__PORT__/$port}"
cmd="${cmd//__DATA__/$work/data}"
$cmd >"$work/server.log" 2>&1 &
server_pid=$!

sed -e "s#__PORT__#$nginx_port#" -e "s#__PREFIX__#$work/nginx#g" Benchmarks/http/nginx.conf >"$work/nginx/nginx.conf"
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" &
nginx_pid=$!

wait_ready() {
    for _ in $(seq 1 100); do
        curl -fsS -o /dev/null "http://127.0.0.1:$1/healthz" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "server on port $1 did not become ready" >&2
    exit 1
}
wait_ready "$port"
wait_ready "$nginx_port"

# Prints "req/s p50 p99 errors" for one wrk run.
measure() {
    wrk -t2 -c"$2" -d"$duration" --latency "http://127.0.0.1:$1/healthz" | awk '
        /Requests\/sec/ { rps = $2 }
        /^ +50%/ { p50 = $2 }
        /^ +99%/ { p99 = $2 }
        /Socket errors/ { errors = $0; sub(/.*Socket errors: /, "", errors) }
        /Non-2xx/ { non2xx = $NF }
        END { printf "%s %s %s %s\n", rps, p50, p99, (errors == "" ? "none" : errors) (non2xx == "" ? "" : ", non-2xx " non2xx) }'
}

printf "%-6s %-6s %12s %10s %10s  %s\n" conns server "req/s" p50 p99 errors
for connections in 1 64 1000; do
    read -r j_rps j_p50 j_p99 j_err <<<"$(measure "$port" "$connections")"
    read -r n_rps n_p50 n_p99 n_err <<<"$(measure "$nginx_port" "$connections")"
    printf "%-6s %-6s %12s %10s %10s  %s\n" "$connections" jobsd "$j_rps" "$j_p50" "$j_p99" "$j_err"
    printf "%-6s %-6s %12s %10s %10s  %s\n" "$connections" nginx "$n_rps" "$n_p50" "$n_p99" "$n_err"
    awk -v j="$j_rps" -v n="$n_rps" -v c="$connections" 'BEGIN { printf "c%-5s ratio jobsd/nginx = %.2f\n", c, j / n }'
done
