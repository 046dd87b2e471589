#!/usr/bin/env bash
# The test command: installs the C libraries the package links and the PostgreSQL server (when
# missing), then runs every test target (unit, server and integration tests) against real
# processes, sockets, files and a throwaway PostgreSQL (scripts/with-postgres.sh starts it on a free
# loopback port and stops it at the end; the PostgreSQL tests are never skipped), then the web
# UI's browser tests (scripts/browser-test.sh: headless Chromium against a real jobsd; it installs
# chromium, chromium-driver and selenium when missing). In between, the process-containment tests
# run a second time with JOBSD_TEST_CONTAINMENT=proc (the per-job subreaper). Arguments go to
# `swift test` (e.g. --filter X), and then the second run and the browser tests are left out.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-missing.sh libcurl4-openssl-dev libssl-dev libsqlite3-dev libpq-dev postgresql faketime fiu-utils util-linux
swift build --build-tests
scripts/with-postgres.sh swift test --skip-build "$@"
if [ $# -eq 0 ]; then
  # The tests of process containment once more with the fallback forced (a per-job subreaper
  # instead of a cgroup per job), so both ways jobsd contains a job's processes are exercised.
  JOBSD_TEST_CONTAINMENT=proc swift test --skip-build \
    --filter 'ContainmentTests|EngineTests|CrashRecoveryTests|SignalTests|JobLifecycleTests|PIDOneTests'
  scripts/browser-test.sh
  # The memory tests once more, against the release jobsd that operators run: issue 21's leak was
  # in code the optimizer got wrong and showed only there.
  swift build -c release --product jobsd
  JOBSD_TEST_BINARY="$(swift build -c release --show-bin-path)/jobsd" swift test --skip-build --filter MemoryTests
fi
