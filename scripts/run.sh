#!/usr/bin/env bash
# The run command: installs the C libraries jobsd links (libsqlite3, libpq) when missing, then
# builds and runs it: `scripts/run.sh [FLAGS…]` is `swift run jobsd [FLAGS…]` on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
for pkg in libsqlite3-dev libpq-dev libcurl4-openssl-dev; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
exec swift run jobsd "$@"
