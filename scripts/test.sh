#!/usr/bin/env bash
# The test command: installs the C libraries the package links and the PostgreSQL server (when
# missing), then runs every test target (unit, server and integration tests) against real
# processes, sockets, files and a throwaway PostgreSQL (scripts/with-postgres.sh starts it on a free
# loopback port and stops it at the end; the PostgreSQL tests are never skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
for pkg in libcurl4-openssl-dev libsqlite3-dev libpq-dev postgresql; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
swift build --build-tests
exec scripts/with-postgres.sh swift test --skip-build "$@"
