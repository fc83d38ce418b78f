#!/usr/bin/env bash
# Installs what hookd needs to build, run and test, from Debian's packages.
# Idempotent; uses sudo when not root.
set -euo pipefail
PKGS=(build-essential cmake pkg-config
      libhiredis-dev libcurl4-openssl-dev libssl-dev libjansson-dev libuv1-dev libhttp-parser-dev
      redis-server redis-tools python3 python3-redis openssl curl prometheus
      python3-yaml systemd strace docker-compose)
bash "$(dirname "$0")/apt-install.sh" "${PKGS[@]}"
