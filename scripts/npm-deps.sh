#!/usr/bin/env bash
# Installs tests/npm's packages (the Standard Webhooks verifiers that
# tests/integration/test_verifiers.py runs) from the npm registry with
# `npm ci`, exactly as package-lock.json pins them. Idempotent: when
# node_modules was installed from these very package.json and
# package-lock.json, it does nothing.
# Node.js and npm come from scripts/examples-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/../tests/npm"
for tool in node npm; do
    command -v "$tool" >/dev/null 2>&1 ||
        { echo "npm-deps.sh: $tool is missing (scripts/examples-deps.sh installs it)" >&2; exit 1; }
done
want=$(cat package.json package-lock.json | sha256sum | cut -d" " -f1)
stamp=node_modules/.hookd-lock-sha256
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
echo "$want" > "$stamp"
