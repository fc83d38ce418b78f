#!/usr/bin/env bash
# Installs the runtimes and Redis clients that examples/ uses, from Debian's
# packages: Node.js and npm (unless a node/npm is already on PATH, such as
# NodeSource's, which bundles npm and conflicts with Debian's npm package), Go
# with go-redis (Debian ships it as golang-gopkg-redis.v5-dev, import path
# gopkg.in/redis.v5; there is no newer go-redis in Debian 12), Ruby with
# redis-rb, PHP with phpredis, Python with redis-py, and redis-cli with jq.
# The Node examples' own dependency (node-redis) comes from the npm registry,
# installed by `npm ci` in examples/producers/node, not here.
# Idempotent; uses sudo when not root. Kept apart from scripts/deps.sh so that
# building and testing hookd itself needs none of this.
set -euo pipefail
PKGS=(redis-server redis-tools jq python3 python3-redis
      golang-go golang-gopkg-redis.v5-dev
      ruby ruby-redis
      php-cli php-redis)
command -v node >/dev/null 2>&1 || PKGS+=(nodejs)
command -v npm >/dev/null 2>&1 || PKGS+=(npm)
bash "$(dirname "$0")/apt-install.sh" "${PKGS[@]}"
