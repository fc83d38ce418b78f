#!/usr/bin/env bash
# Installs what the benchmark needs beyond hookd's own dependencies
# (scripts/deps.sh), from Debian's packages: the receiver's HTTP parser, wrk,
# redis-benchmark, Node and npm for the BullMQ peer (BullMQ itself comes from
# the npm registry: run.sh runs `npm ci` in bench/peers/bullmq), Debian's
# Sidekiq, and valgrind and perf for bench/callgrind.sh. Idempotent; uses sudo
# when not root.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
PKGS=(libhttp-parser-dev wrk redis-tools ruby ruby-sidekiq valgrind linux-perf openssl)
command -v node >/dev/null && command -v npm >/dev/null || PKGS+=(nodejs npm)
bash scripts/apt-install.sh "${PKGS[@]}"
