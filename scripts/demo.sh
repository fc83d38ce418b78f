#!/usr/bin/env bash
# The README's first command: installs what hookd needs, builds it, starts a
# local redis-server on a spare port (unless HOOKD_REDIS_URL is set), a sample
# receiver that verifies signatures, and hookd; registers a webhook, pushes an
# event, and shows the signed delivery arriving. Stops everything it started
# when done (or on Ctrl-C with --keep).
set -euo pipefail
cd "$(dirname "$0")/.."
keep=0
[ "${1:-}" = "--keep" ] && keep=1

bash scripts/deps.sh
bash scripts/build.sh build
HOOKD=$PWD/build/hookd
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

spare_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

if [ -z "${HOOKD_REDIS_URL:-}" ]; then
    port=$(spare_port)
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
        >"$work/redis.log" 2>&1 &
    pids+=($!)
    export HOOKD_REDIS_URL="redis://127.0.0.1:$port/0"
    for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    echo "== redis-server on port $port"
fi
export HOOKD_PREFIX=${HOOKD_PREFIX:-hookd-demo}
# The sample receiver listens on loopback, which hookd refuses by default
# (SSRF protection); open it for this demo only.
export HOOKD_ALLOW_NET=127.0.0.0/8

rport=$(spare_port)
echo "== registering a webhook for person.* at http://127.0.0.1:$rport/hooks"
webhook=$("$HOOKD" webhook add --url "http://127.0.0.1:$rport/hooks" --events 'person.*' \
          --description demo)
echo "$webhook" | sed 's/"secret":"[0-9a-f]*"/"secret":"<hidden>"/'
secret=$(printf '%s' "$webhook" | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')

HOOKD_SECRET=$secret python3 examples/receivers/python/receiver.py "$rport" >"$work/receiver.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $rport), 0.2)" 2>/dev/null && break
    sleep 0.1
done
"$HOOKD" run --threads 2 2>"$work/hookd.log" &
hookd_pid=$!
pids+=($hookd_pid)

echo "== pushing person.created"
"$HOOKD" enqueue person.created '{"id":"abc12345","firstName":"Alice","email":"alice@example.com"}'

for _ in $(seq 100); do grep -q VERIFIED "$work/receiver.log" && break; sleep 0.1; done
echo "== the receiver says:"
cat "$work/receiver.log"
echo "== hookd stats:"
"$HOOKD" stats
grep -q VERIFIED "$work/receiver.log" || { echo "no verified delivery; hookd log:"; cat "$work/hookd.log"; exit 1; }
if [ "$keep" = 1 ]; then
    echo "== running; push more with: HOOKD_REDIS_URL=$HOOKD_REDIS_URL HOOKD_PREFIX=$HOOKD_PREFIX $HOOKD enqueue person.updated '{\"id\":\"1\"}'"
    echo "== Ctrl-C to stop"
    tail -f "$work/receiver.log" &
    pids+=($!)
    wait "$hookd_pid"
fi
kill -TERM "$hookd_pid"
wait "$hookd_pid" && echo "== hookd drained and exited 0"
