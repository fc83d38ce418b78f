#!/usr/bin/env bash
# Installs what hookd needs to build, run and test, from Debian's packages.
# Idempotent; uses sudo when not root.
#   deps.sh          everything CI's tests use
#   deps.sh --build  what the build and the Redis tests need only (the
#                    Docker image's build stage, the Debian 13 root of
#                    scripts/trixie.sh)
set -euo pipefail
BUILD=(build-essential cmake pkg-config
       libhiredis-dev libcurl4-openssl-dev libssl-dev libjansson-dev libuv1-dev libmicrohttpd-dev
       redis-server redis-tools python3 python3-redis python3-jsonschema openssl)
REST=(curl prometheus python3-yaml systemd strace docker-compose)
case "${1:-}" in
--build) PKGS=("${BUILD[@]}") ;;
"") PKGS=("${BUILD[@]}" "${REST[@]}") ;;
*) echo "usage: $0 [--build]" >&2; exit 2 ;;
esac
bash "$(dirname "$0")/apt-install.sh" "${PKGS[@]}"
