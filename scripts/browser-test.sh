#!/usr/bin/env bash
# The web UI's browser tests (Tests/Browser): headless Chromium and chromedriver from Debian,
# Selenium from PyPI, against a real jobsd (the debug build the test command just made, or
# JOBSD_BIN). Installs chromium, chromium-driver and selenium when missing; nothing downloads a
# browser or a driver at run time (the driver path is given explicitly, Selenium Manager never runs).
# Usage: scripts/browser-test.sh [unittest arguments, e.g. test_ui.JobPageTests]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-missing.sh chromium chromium-driver
if ! python3 -c 'import selenium' 2>/dev/null; then
  echo "installing selenium" >&2
  python3 -m pip install -q --disable-pip-version-check selenium 2>&1 | grep -v "WARNING: Running pip as" || true
fi
if [ -z "${JOBSD_BIN:-}" ]; then
  swift build --product jobsd >/dev/null
  JOBSD_BIN="$(swift build --show-bin-path)/jobsd"
fi
export JOBSD_BIN
cd Tests/Browser
if [ $# -eq 0 ]; then
  exec python3 -m unittest discover -s . -p 'test_*.py' -v
fi
exec python3 -m unittest -v "$@"
