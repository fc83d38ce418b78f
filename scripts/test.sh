#!/usr/bin/env bash
# Installs what the tests need, builds hookd with AddressSanitizer and
# UndefinedBehaviorSanitizer, and runs every test (unit and integration,
# each integration test against its own redis-server and HTTP receiver).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/examples-deps.sh  # runtimes of examples/ (tests/integration/test_examples.py)
bash scripts/npm-deps.sh       # the npm verifiers of tests/npm (tests/integration/test_verifiers.py)
bash scripts/browser-deps.sh   # chromium and playwright-core (tests/integration/test_console.py)
bash scripts/check-format.sh
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
bash scripts/build.sh build-test -DCMAKE_BUILD_TYPE=Debug -DHOOKD_SANITIZE=ON -DHOOKD_WERROR=ON
ctest --test-dir build-test --output-on-failure -j2 --timeout 300
# test_console leaves a screenshot of every console page here.
ls build-test/screenshots 2>/dev/null | sed 's|^|screenshot: build-test/screenshots/|' || true
# Every parser of outside input, fuzzed for a bounded time; a crash fails.
bash scripts/fuzz.sh "${HOOKD_FUZZ_SECONDS:-20}"
# The TLS build (rediss://) and the Docker image's Debian 13 checks, in a
# Debian 13 root: Debian 12's hiredis has no TLS.
bash scripts/trixie.sh
