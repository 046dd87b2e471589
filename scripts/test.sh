#!/usr/bin/env bash
# The test command: installs the two C libraries the package links (when missing), then runs every
# test target (unit, server and integration tests) against real processes, sockets and files, then
# the web UI's browser tests (scripts/browser-test.sh: headless Chromium against a real jobsd; it
# installs chromium, chromium-driver and selenium when missing). Arguments go to `swift test`
# (e.g. --filter X), and then the browser tests are left out.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
for pkg in libcurl4-openssl-dev libsqlite3-dev; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
swift build --build-tests
swift test --skip-build "$@"
if [ $# -eq 0 ]; then
  scripts/browser-test.sh
fi
