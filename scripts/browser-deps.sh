#!/usr/bin/env bash
# Installs what the console's browser test needs: Debian's chromium,
# node and npm, and playwright-core as pinned in tests/browser/package-lock.json
# (npm ci, no browser download). Idempotent; uses sudo when not root.
#   scripts/browser-deps.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
bash "$ROOT/scripts/apt-install.sh" chromium
# node and npm: Debian's, unless a node of its own is there already (it brings npm).
command -v npm >/dev/null || bash "$ROOT/scripts/apt-install.sh" nodejs npm
cd "$ROOT/tests/browser"
want="$(node -e 'console.log(require("./package-lock.json").packages["node_modules/playwright-core"].version)')"
have="$(node -e 'try{console.log(require("./node_modules/playwright-core/package.json").version)}catch(e){}')"
if [ "$want" != "$have" ]; then
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
fi
