#!/usr/bin/env bash
# hookd's endpoint-health scenarios: receivers that are slow, full, hanging or
# down, hookd with its default settings (and BullMQ against the same slow
# receiver), one line per scenario.
#
#   bench/scenarios.sh            slow, capacity, hang, down (about 4-6 minutes);
#                                 writes bench/results/health.txt and the table in
#                                 bench/README.md ("Endpoint health scenarios")
#   bench/scenarios.sh --quick    a short version of each, hookd alone; checks only
#                                 that each scenario ran and printed its line
#                                 (ctest bench.health_quick)
#
# Options: --build-dir DIR (hookd and the bench tools; default build-bench,
# configured and built Release when missing), --only LIST (comma-separated:
# slow, capacity, hang, down; a partial run prints, writes nothing),
# --bullmq LIST (BullMQ concurrencies to try in "slow", each with as many
# sockets; default 1000,2000; "none" skips it), --no-peers, --out DIR,
# --slow-cap S (longest a slow drain may run, default 45), --recover-cap S
# (longest "down" waits after recovery, default 120).
# HOOKD_BIN=/path/to/hookd runs that binary instead of DIR/hookd (to measure
# another build with the same receiver). hookd runs with its defaults: every
# other HOOKD_* variable of the caller is unset.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
REPO=$(dirname "$HERE")
QUICK=0
PEERS=1
BUILD=""
OUT=""
ONLY=all
BULL_LIST=1000,2000
SLOW_CAP=45
RECOVER_CAP=120
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) QUICK=1 ;;
    --no-peers) PEERS=0 ;;
    --only) ONLY=$2; shift ;;
    --bullmq) BULL_LIST=$2; shift ;;
    --build-dir) BUILD=$2; shift ;;
    --out) OUT=$2; shift ;;
    --slow-cap) SLOW_CAP=$2; shift ;;
    --recover-cap) RECOVER_CAP=$2; shift ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "scenarios.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
case "$SLOW_CAP$RECOVER_CAP" in *[!0-9]*) echo "scenarios.sh: caps take seconds" >&2; exit 2 ;; esac
[ "$BULL_LIST" = none ] && BULL_LIST=""
case "$BULL_LIST" in *[!0-9,]*) echo "scenarios.sh: --bullmq takes numbers" >&2; exit 2 ;; esac

# The scenarios' sizes (issue 10); --quick shrinks each.
SLOW_N=60000; SLOW_DELAY=200
CAP_N=100000; CAP_C=200; CAP_DELAY=50; CAP_WARM=5; CAP_WINDOW=15
HANG_HOOKS=20; HANG_RATE=10; HANG_SECS=30; HANG_WAIT=20
DOWN_N=2000; DOWN_SECS=60
if [ "$QUICK" = 1 ]; then
    SLOW_N=3000; SLOW_CAP=10
    CAP_N=10000; CAP_WARM=1; CAP_WINDOW=3
    HANG_SECS=5; HANG_WAIT=10
    DOWN_N=200; DOWN_SECS=5; RECOVER_CAP=10
    PEERS=0
fi
SECRET=bench-secret-0123456789abcdef

die() { echo "scenarios.sh: $*" >&2; exit 1; }
for t in redis-server redis-cli curl python3; do
    command -v "$t" >/dev/null || die "$t is missing (bash scripts/deps.sh; bash bench/deps.sh)"
done

# ---- build ----
bench_build scenarios
HOOKD=${HOOKD_BIN:-$HOOKD}
grep -q -- --delay-ms "$RECEIVER" || die "$RECEIVER has no --delay-ms: rebuild bench_receiver"

# hookd's defaults, whatever the caller's environment says
for v in $(compgen -e); do
    case "$v" in HOOKD_BIN) ;; HOOKD_*) unset "$v" ;; esac
done

# ---- processes: everything started here is stopped here ----
bench_start scenarios
RUNS=$OUT/health.jsonl
: > "$RUNS"

hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
now_ms() { local t=$EPOCHREALTIME; echo $(( ${t%.*} * 1000 + 10#${t#*.} / 1000 )); }
sleep_until() { # wall ms
    local left=$(( $1 - $(now_ms) ))
    [ "$left" -gt 0 ] && sleep "$(printf '%d.%03d' $((left / 1000)) $((left % 1000)))"
    return 0
}

RPORT=$(free_port)
mkdir -p "$WORK/redis"
redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK/redis" \
    --daemonize no > "$WORK/redis.log" 2>&1 &
REDIS_PID=$!
PIDS+=("$REDIS_PID")
RCLI=(redis-cli -p "$RPORT")
wait_until 10 "${RCLI[@]}" ping >/dev/null 2>&1 || die "redis-server did not start ($WORK/redis.log)"

export HOOKD_REDIS_URL=redis://127.0.0.1:$RPORT/0 HOOKD_PREFIX=bench HOOKD_ALLOW_NET=127.0.0.0/8
export HOOKD_LOG_LEVEL=info

# receiver_start name args... -> RECV_PID, RECV_PORTS (every port it bound)
receiver_start() {
    local name=$1
    shift
    "$RECEIVER" --port-file "$WORK/$name.port" --secret "$SECRET" "$@" 2> "$WORK/$name.log" &
    RECV_PID=$!
    PIDS+=("$RECV_PID")
    wait_until 10 test -s "$WORK/$name.port" || die "receiver $name did not start ($WORK/$name.log)"
    mapfile -t RECV_PORTS < "$WORK/$name.port"
}
ctl() { # port path [max seconds]
    curl -sf --max-time "${3:-30}" "http://127.0.0.1:$1/$2"
}
record() { python3 "$HERE/report.py" health "$RUNS" "$@"; }

# Every hookd run starts from an empty Redis and its own webhooks.
fresh() { "${RCLI[@]}" flushall >/dev/null; }
webhook() { # id url
    "$HOOKD" webhook add --url "$2" --secret "$SECRET" --id "$1" >/dev/null
}
hookd_start() { # logfile -> HOOKD_PID; no flags: the defaults
    "$HOOKD" run 2> "$1" &
    HOOKD_PID=$!
    PIDS+=("$HOOKD_PID")
    wait_until 20 grep -qs "loaded [0-9]* webhooks" "$1" || die "hookd did not start ($1)"
}
hookd_stop() { # logfile: TERM, 5 s, KILL (work left behind is flushed with Redis)
    stop_pid "$HOOKD_PID" 5
    grep -E " (ERROR|WARN) " "$1" | sort | uniq -c | sort -rn | head -3 | cut -c1-200 >&2 || true
}
release() { "${RCLI[@]}" rename '{bench}:staging' '{bench}:events' >/dev/null; }

# ---- 1. slow: one receiver answering 200 ms late ----
bullmq_slow() { # port concurrency: appends its figures to BULL (key=value)
    local port=$1 c=$2 dir=$HERE/peers/bullmq out=$WORK/bullmq.slow.$2.out pid t0 st hwm
    fresh
    ctl "$port" "_reset?target=$SLOW_N" >/dev/null
    node "$dir/producer.js" --redis-port "$RPORT" --n "$SLOW_N" --size 237 \
        --url "http://127.0.0.1:$port/h/0" --secret "$SECRET" >/dev/null
    node "$dir/worker.js" --redis-port "$RPORT" --concurrency "$c" --max-sockets "$c" \
        > "$out" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    wait_until 30 grep -qs '^ready' "$out" || die "BullMQ worker did not start ($out)"
    t0=$(now_ms)
    ctl "$port" _mark >/dev/null
    kill -USR2 "$pid"
    st=$(ctl "$port" "_wait?timeout_ms=$((SLOW_CAP * 1000))" $((SLOW_CAP + 30)))
    BULL+=("bull.$c.elapsed_ms=$(( $(now_ms) - t0 ))" "bull.$c.hwm_kb=$(hwm_kb "$pid")" \
        "bull.$c.receiver=$st")
    stop_pid "$pid" 10
}
scenario_slow() {
    local log=$WORK/hookd.slow.log port t0 st hwm c
    BULL=()
    receiver_start slow --port 0 --delay-ms "$SLOW_DELAY" --max-n $((SLOW_N + 1))
    port=${RECV_PORTS[0]}
    fresh
    ctl "$port" "_reset?target=$SLOW_N" >/dev/null
    webhook wh_slow "http://127.0.0.1:$port/h/0"
    "$GEN" fill --port "$RPORT" --key '{bench}:staging' --n "$SLOW_N" --size 237 >/dev/null
    hookd_start "$log"
    t0=$(now_ms)
    ctl "$port" _mark >/dev/null
    release
    st=$(ctl "$port" "_wait?timeout_ms=$((SLOW_CAP * 1000))" $((SLOW_CAP + 30)))
    local elapsed=$(( $(now_ms) - t0 ))
    hwm=$(hwm_kb "$HOOKD_PID")
    hookd_stop "$log"
    if [ "$PEERS" = 1 ] && [ "$HAVE_NODE" = 1 ]; then
        for c in ${BULL_LIST//,/ }; do bullmq_slow "$port" "$c"; done
    fi
    stop_pid "$RECV_PID" 5
    record scenario=slow events="$SLOW_N" delay_ms="$SLOW_DELAY" cap_s="$SLOW_CAP" \
        elapsed_ms="$elapsed" hwm_kb="$hwm" receiver="$st" "${BULL[@]}"
}

# ---- 2. capacity: 503 over 200 in flight, 50 ms each ----
scenario_capacity() {
    local log=$WORK/hookd.capacity.log port t0 a b ta tb hwm
    receiver_start capacity --port 0 --capacity "$CAP_C" --delay-ms "$CAP_DELAY" \
        --max-n $((CAP_N + 1))
    port=${RECV_PORTS[0]}
    fresh
    ctl "$port" "_reset?target=$CAP_N" >/dev/null
    webhook wh_capacity "http://127.0.0.1:$port/h/0"
    "$GEN" fill --port "$RPORT" --key '{bench}:staging' --n "$CAP_N" --size 237 >/dev/null
    hookd_start "$log"
    t0=$(now_ms)
    ctl "$port" _mark >/dev/null
    release
    sleep_until $((t0 + CAP_WARM * 1000))
    ta=$(now_ms); a=$(ctl "$port" _stats)
    sleep_until $((ta + CAP_WINDOW * 1000))
    tb=$(now_ms); b=$(ctl "$port" _stats)
    hwm=$(hwm_kb "$HOOKD_PID")
    hookd_stop "$log"
    stop_pid "$RECV_PID" 5
    record scenario=capacity events="$CAP_N" capacity="$CAP_C" delay_ms="$CAP_DELAY" \
        warm_s="$CAP_WARM" window_ms=$((tb - ta)) hwm_kb="$hwm" before="$a" after="$b"
}

# ---- 3. hang: 20 webhooks whose receivers never answer, one healthy ----
scenario_hang() {
    local log=$WORK/hookd.hang.log hport hang_pid k ports=() n=$((HANG_RATE * HANG_SECS)) st hs hwm
    local args=()
    for ((k = 0; k < HANG_HOOKS; k++)); do args+=(--port 0); done
    receiver_start hang "${args[@]}" --hang
    hang_pid=$RECV_PID
    ports=("${RECV_PORTS[@]}")
    receiver_start healthy --port 0
    hport=${RECV_PORTS[0]}
    fresh
    ctl "${ports[0]}" "_reset?target=0" >/dev/null
    ctl "$hport" "_reset?target=$n" >/dev/null
    for ((k = 0; k < HANG_HOOKS; k++)); do
        webhook "wh_hang_$k" "http://127.0.0.1:${ports[k]}/h/$k"
    done
    webhook wh_healthy "http://127.0.0.1:$hport/h/0"
    hookd_start "$log"
    ctl "$hport" _mark >/dev/null
    ctl "${ports[0]}" _mark >/dev/null
    "$GEN" pace --port "$RPORT" --key '{bench}:events' --rate "$HANG_RATE" \
        --seconds "$HANG_SECS" --size 237 >/dev/null
    st=$(ctl "$hport" "_wait?timeout_ms=$((HANG_WAIT * 1000))" $((HANG_WAIT + 30)))
    hs=$(ctl "${ports[0]}" _stats)
    hwm=$(hwm_kb "$HOOKD_PID")
    hookd_stop "$log"
    stop_pid "$RECV_PID" 5
    stop_pid "$hang_pid" 5
    record scenario=hang events="$n" hanging="$HANG_HOOKS" rate="$HANG_RATE" secs="$HANG_SECS" \
        wait_s="$HANG_WAIT" hwm_kb="$hwm" receiver="$st" hang_receiver="$hs"
}

# ---- 4. down: 500 to everything for 60 s, then healthy ----
scenario_down() {
    local log=$WORK/hookd.down.log port t0 tf flip st hwm
    receiver_start down --port 0 --status 500 --max-n $((DOWN_N + 1))
    port=${RECV_PORTS[0]}
    fresh
    ctl "$port" "_reset?target=$DOWN_N" >/dev/null
    webhook wh_down "http://127.0.0.1:$port/h/0"
    "$GEN" fill --port "$RPORT" --key '{bench}:staging' --n "$DOWN_N" --size 237 >/dev/null
    hookd_start "$log"
    t0=$(now_ms)
    ctl "$port" _mark >/dev/null
    release
    sleep_until $((t0 + DOWN_SECS * 1000))
    tf=$(now_ms)
    flip=$(ctl "$port" "_status?code=200")
    st=$(ctl "$port" "_wait?timeout_ms=$((RECOVER_CAP * 1000))" $((RECOVER_CAP + 30)))
    local waited=$(( $(now_ms) - tf ))
    hwm=$(hwm_kb "$HOOKD_PID")
    hookd_stop "$log"
    stop_pid "$RECV_PID" 5
    record scenario=down events="$DOWN_N" down_s="$DOWN_SECS" recover_cap_s="$RECOVER_CAP" \
        flip_ms=$((tf - t0)) waited_ms="$waited" hwm_kb="$hwm" flip="$flip" receiver="$st"
}

# ---- the runs ----
HAVE_NODE=0
if [ "$PEERS" = 1 ] && [ -n "$BULL_LIST" ]; then
    if command -v node >/dev/null && command -v npm >/dev/null; then
        (cd "$HERE/peers/bullmq" && npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>&1) \
            && HAVE_NODE=1 || echo "scenarios.sh: npm ci failed in bench/peers/bullmq: BullMQ skipped" >&2
    else
        echo "scenarios.sh: node/npm missing: BullMQ skipped (bash bench/deps.sh)" >&2
    fi
fi

want() { [ "$ONLY" = all ] || [[ ",$ONLY," == *",$1,"* ]]; }
echo "hookd endpoint-health scenarios$([ "$QUICK" = 1 ] && echo " (quick)"): $HOOKD, redis :$RPORT"
want slow && scenario_slow
want capacity && scenario_capacity
want hang && scenario_hang
want down && scenario_down

if [ "$QUICK" = 1 ]; then
    python3 "$HERE/report.py" health-check "$RUNS" --only "$ONLY"
elif [ "$ONLY" = all ]; then
    python3 "$HERE/report.py" health-summary "$RUNS" --results "$HERE/results/health.txt" \
        --readme "$HERE/README.md" --hookd "$HOOKD"
    cp "$RUNS" "$HERE/results/health.jsonl"
else
    python3 "$HERE/report.py" health-summary "$RUNS" --hookd "$HOOKD"
fi
