#!/usr/bin/env bash
# The run command: installs the C libraries jobsd links (libsqlite3, libpq, libcurl, libcrypto) when
# missing, then builds and runs it: `scripts/run.sh [FLAGS…]` is `swift run jobsd
# [FLAGS…]` on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-missing.sh libsqlite3-dev libpq-dev libcurl4-openssl-dev libssl-dev
exec swift run jobsd "$@"
