#!/usr/bin/env bash
# Installs what hookd needs to build, run and test, from Debian's packages.
# Idempotent; uses sudo when not root.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
PKGS=(build-essential cmake pkg-config
      libhiredis-dev libcurl4-openssl-dev libssl-dev libjansson-dev libuv1-dev libhttp-parser-dev
      redis-server redis-tools python3 python3-redis openssl curl prometheus
      python3-yaml systemd strace docker-compose)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
