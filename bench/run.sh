#!/usr/bin/env bash
# hookd's benchmark: hookd against BullMQ and Sidekiq, side by side, on one
# redis-server and one receiver that this script starts (and stops) itself.
#
#   bench/run.sh              the whole comparison (about 3 minutes); writes
#                             bench/results/latest.txt and the table in bench/README.md
#   bench/run.sh --quick      hookd alone, 2,000 events, a few seconds; checks
#                             only that every event arrived (ctest bench.quick)
#   bench/run.sh --health ... the endpoint-health scenarios: runs
#                             bench/scenarios.sh with the options that follow
#
# Options: --build-dir DIR (hookd and the bench tools; default build-bench,
# configured and built Release when missing), --n N (events per drain,
# default 20000), --repeats R (default 3), --no-peers, --out DIR, --only LIST
# (comma-separated: ceiling, hookd, latency, bullmq, sidekiq).
# Needs redis-server, redis-cli and curl; the full run also wrk,
# redis-benchmark, node/npm and sidekiq (bench/deps.sh installs them).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
REPO=$(dirname "$HERE")
QUICK=0
PEERS=1
N=20000
REPEATS=3
BUILD=""
OUT=""
ONLY=all
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) QUICK=1 ;;
    --no-peers) PEERS=0 ;;
    --only) ONLY=$2; shift ;;
    --n) N=$2; shift ;;
    --repeats) REPEATS=$2; shift ;;
    --build-dir) BUILD=$2; shift ;;
    --out) OUT=$2; shift ;;
    --health) shift; exec bash "$HERE/scenarios.sh" "$@" ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
case "$N$REPEATS" in *[!0-9]*) echo "run.sh: --n and --repeats take numbers" >&2; exit 2 ;; esac
if [ "$QUICK" = 1 ]; then
    N=2000
    REPEATS=1
    PEERS=0
fi
FAN=10                       # webhooks in the fan-out run
FAN_EVENTS=$((N / FAN))      # so that it makes N deliveries too
LAT_RATE=2000                # events/s in the latency run
LAT_SECONDS=10
[ "$QUICK" = 1 ] && LAT_SECONDS=1
SECRET=bench-secret-0123456789abcdef
WAIT_MS=180000               # longest a drain may take before it counts as failed

die() { echo "run.sh: $*" >&2; exit 1; }
for t in redis-server redis-cli curl python3; do
    command -v "$t" >/dev/null || die "$t is missing (bash scripts/deps.sh; bash bench/deps.sh)"
done

# ---- build ----
bench_build bench

# ---- processes: everything started here is stopped here ----
bench_start bench
RUNS=$OUT/runs.jsonl
: > "$RUNS"

cpu_ticks() { # utime + stime of a process, in clock ticks
    local s
    s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
    s=${s##*) }
    set -- $s
    echo $(( ${12} + ${13} ))
}
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

RPORT=$(free_port)
mkdir -p "$WORK/redis"
redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK/redis" \
    --daemonize no > "$WORK/redis.log" 2>&1 &
REDIS_PID=$!
PIDS+=("$REDIS_PID")
RCLI=(redis-cli -p "$RPORT")
wait_until 10 "${RCLI[@]}" ping >/dev/null 2>&1 || die "redis-server did not start ($WORK/redis.log)"

"$RECEIVER" --port 0 --port-file "$WORK/receiver.port" --secret "$SECRET" --max-n $((N + 1)) \
    2> "$WORK/receiver.log" &
RECV_PID=$!
PIDS+=("$RECV_PID")
wait_until 10 test -s "$WORK/receiver.port" || die "receiver did not start ($WORK/receiver.log)"
HPORT=$(cat "$WORK/receiver.port")
RURL=http://127.0.0.1:$HPORT

ctl() { curl -sf --max-time $(( WAIT_MS / 1000 + 10 )) "$RURL/$1"; }
record() { python3 "$HERE/report.py" record "$RUNS" "$@"; }

export HOOKD_REDIS_URL=redis://127.0.0.1:$RPORT/0 HOOKD_PREFIX=bench HOOKD_ALLOW_NET=127.0.0.0/8
export HOOKD_LOG_LEVEL=info BENCH_REDIS_URL=redis://127.0.0.1:$RPORT/0

# The measured interval runs from the receiver's mark (just before the work is
# released) to the receiver's N-th distinct delivery; the worker, Redis and
# the receiver are sampled at both ends. Start-up and pre-fill are outside.
measure() { # name label events deliveries threads size webhooks rep release_cmd...
    local pid=$1 label=$2 events=$3 deliveries=$4 threads=$5 size=$6 hooks=$7 rep=$8
    shift 8
    local w0 r0 w1 r1 hwm stats
    w0=$(cpu_ticks "$pid"); r0=$(cpu_ticks "$REDIS_PID")
    ctl _mark >/dev/null
    "$@" >/dev/null
    stats=$(ctl "_wait?timeout_ms=$WAIT_MS")
    w1=$(cpu_ticks "$pid"); r1=$(cpu_ticks "$REDIS_PID"); hwm=$(hwm_kb "$pid")
    record label="$label" events="$events" deliveries="$deliveries" threads="$threads" \
        size="$size" webhooks="$hooks" rep="$rep" worker_ticks=$((w1 - w0)) \
        redis_ticks=$((r1 - r0)) hwm_kb="$hwm" receiver="$stats"
}

# ---- hookd ----
hookd_webhooks() { # count
    local k
    for ((k = 0; k < $1; k++)); do
        "$HOOKD" webhook add --url "$RURL/h/$k" --secret "$SECRET" --id "wh_bench_$k" >/dev/null
    done
}
hookd_start() { # threads logfile -> HOOKD_PID
    "$HOOKD" run --threads "$1" 2> "$2" &
    HOOKD_PID=$!
    PIDS+=("$HOOKD_PID")
    wait_until 20 grep -qs "loaded [0-9]* webhooks" "$2" || die "hookd did not start ($2)"
}
hookd_stop() {
    stop_pid "$HOOKD_PID" 60
    grep -E " (ERROR|WARN) " "$1" | head -5 >&2 || true
}
hookd_drain() { # label threads size webhooks events rep
    local label=$1 threads=$2 size=$3 hooks=$4 events=$5 rep=$6 log
    log=$WORK/${label// /_}.$rep.log
    "${RCLI[@]}" flushall >/dev/null
    ctl "_reset?target=$((events * hooks))" >/dev/null
    hookd_webhooks "$hooks"
    "$GEN" fill --port "$RPORT" --key '{bench}:staging' --n "$events" --size "$size" >/dev/null
    hookd_start "$threads" "$log"
    measure "$HOOKD_PID" "$label" "$events" $((events * hooks)) "$threads" "$size" "$hooks" "$rep" \
        "${RCLI[@]}" rename '{bench}:staging' '{bench}:events'
    hookd_stop "$log"
}
hookd_latency() { # rep
    local rep=$1 log=$WORK/hookd.latency.$1.log events=$((LAT_RATE * LAT_SECONDS)) w0 r0 w1 r1 stats
    "${RCLI[@]}" flushall >/dev/null
    ctl "_reset?target=$events" >/dev/null
    hookd_webhooks 1
    hookd_start 1 "$log"
    w0=$(cpu_ticks "$HOOKD_PID"); r0=$(cpu_ticks "$REDIS_PID")
    ctl _mark >/dev/null
    "$GEN" pace --port "$RPORT" --key '{bench}:events' --rate "$LAT_RATE" \
        --seconds "$LAT_SECONDS" --size 237 >/dev/null
    stats=$(ctl "_wait?timeout_ms=$WAIT_MS")
    w1=$(cpu_ticks "$HOOKD_PID"); r1=$(cpu_ticks "$REDIS_PID")
    record label="hookd latency ${LAT_RATE}/s" kind=latency events="$events" \
        deliveries="$events" threads=1 size=237 webhooks=1 rep="$rep" \
        worker_ticks=$((w1 - w0)) redis_ticks=$((r1 - r0)) hwm_kb="$(hwm_kb "$HOOKD_PID")" \
        receiver="$stats"
    hookd_stop "$log"
}

# ---- peers ----
bullmq_drain() { # rep
    local rep=$1 dir=$HERE/peers/bullmq out=$WORK/bullmq.$1.out pid
    "${RCLI[@]}" flushall >/dev/null
    ctl "_reset?target=$N" >/dev/null
    node "$dir/producer.js" --redis-port "$RPORT" --n "$N" --size 237 --url "$RURL/h/0" \
        --secret "$SECRET" >/dev/null
    node "$dir/worker.js" --redis-port "$RPORT" --concurrency 100 > "$out" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    wait_until 30 grep -qs '^ready' "$out" || die "BullMQ worker did not start ($out)"
    measure "$pid" "BullMQ" "$N" "$N" 1 237 1 "$rep" kill -USR2 "$pid"
    stop_pid "$pid" 30
}
sidekiq_drain() { # rep
    local rep=$1 dir=$HERE/peers/sidekiq out=$WORK/sidekiq.$1.out pid
    "${RCLI[@]}" flushall >/dev/null
    ctl "_reset?target=$N" >/dev/null
    ruby "$dir/producer.rb" "$N" 237 "$RURL/h/0" "$SECRET" >/dev/null
    "${RCLI[@]}" rename queue:default bench:sidekiq:staging >/dev/null
    rm -f "$WORK/sidekiq.ready"
    BENCH_READY_FILE=$WORK/sidekiq.ready sidekiq -r "$dir/worker.rb" -c 20 -q default \
        > "$out" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    wait_until 30 test -s "$WORK/sidekiq.ready" || die "Sidekiq did not start ($out)"
    measure "$pid" "Sidekiq" "$N" "$N" 1 237 1 "$rep" \
        "${RCLI[@]}" rename bench:sidekiq:staging queue:default
    stop_pid "$pid" 30
}

# ---- ceilings ----
wrk_ceiling() { # rep
    local rep=$1 secs=5 ts sig out t0 t1 stats
    [ "$QUICK" = 1 ] && secs=1
    "$GEN" body --size 237 > "$WORK/body.json"
    ts=$(date +%s%3N)
    sig=$( (printf '%s:' "$ts"; cat "$WORK/body.json") | openssl dgst -sha256 -hmac "$SECRET" -r \
        | cut -d' ' -f1)
    ctl "_reset?target=0" >/dev/null
    ctl _mark >/dev/null
    t0=$(awk '{print $14 + $15}' /proc/self/stat)
    out=$(BENCH_BODY_FILE=$WORK/body.json BENCH_TS=$ts BENCH_SIG=$sig \
        bash -c 'TIMEFORMAT="%U %S"; { time wrk -t1 -c64 -d'"$secs"'s -s "$0" "$1" 2>&1; } 2>&1' \
        "$HERE/post.lua" "$RURL/h/0")
    stats=$(ctl _stats)
    record label="wrk -t1 -c64" kind=wrk rep="$rep" size=237 wrk="$out" receiver="$stats"
}
redis_ceiling() { # rep
    local rep=$1 n=200000 a b
    [ "$QUICK" = 1 ] && n=20000
    a=$(redis-benchmark -p "$RPORT" -t lpush,rpop -n "$n" -c 50 -P 1 --csv 2>/dev/null)
    b=$(redis-benchmark -p "$RPORT" -t lpush,rpop -n $((n * 5)) -c 50 -P 100 --csv 2>/dev/null)
    "${RCLI[@]}" flushall >/dev/null
    record label="redis-benchmark" kind=redis rep="$rep" p1="$a" p100="$b"
}

# ---- the runs ----
HAVE_WRK=0; command -v wrk >/dev/null && HAVE_WRK=1
HAVE_RB=0; command -v redis-benchmark >/dev/null && HAVE_RB=1
HAVE_NODE=0; HAVE_SIDEKIQ=0
if [ "$PEERS" = 1 ]; then
    if command -v node >/dev/null && command -v npm >/dev/null; then
        (cd "$HERE/peers/bullmq" && npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>&1) \
            && HAVE_NODE=1 || echo "run.sh: npm ci failed in bench/peers/bullmq: BullMQ skipped" >&2
    else
        echo "run.sh: node/npm missing: BullMQ skipped (bash bench/deps.sh)" >&2
    fi
    if command -v sidekiq >/dev/null; then HAVE_SIDEKIQ=1
    else echo "run.sh: sidekiq missing: Sidekiq skipped (bash bench/deps.sh)" >&2; fi
fi

want() { [ "$ONLY" = all ] || [[ ",$ONLY," == *",$1,"* ]]; }
echo "hookd benchmark: N=$N events, $REPEATS repeat(s), redis :$RPORT, receiver :$HPORT"
for ((rep = 1; rep <= REPEATS; rep++)); do
    if [ "$QUICK" = 0 ] && want ceiling; then
        [ "$HAVE_WRK" = 1 ] && wrk_ceiling "$rep"
        [ "$HAVE_RB" = 1 ] && redis_ceiling "$rep"
    fi
    if want hookd; then
        hookd_drain "hookd t1" 1 237 1 "$N" "$rep"
        hookd_drain "hookd fan-out $FAN" 1 237 "$FAN" "$FAN_EVENTS" "$rep"
    fi
    want latency && hookd_latency "$rep"
    if [ "$QUICK" = 0 ] && want hookd; then
        hookd_drain "hookd t2" 2 237 1 "$N" "$rep"
        hookd_drain "hookd t1 2KB" 1 2048 1 "$N" "$rep"
        hookd_drain "hookd t1 16KB" 1 16384 1 "$N" "$rep"
    fi
    if [ "$QUICK" = 0 ]; then
        [ "$HAVE_NODE" = 1 ] && want bullmq && bullmq_drain "$rep"
        [ "$HAVE_SIDEKIQ" = 1 ] && want sidekiq && sidekiq_drain "$rep"
    fi
done

if [ "$QUICK" = 1 ]; then
    python3 "$HERE/report.py" check "$RUNS"
elif [ "$ONLY" = all ]; then
    python3 "$HERE/report.py" summary "$RUNS" --results "$HERE/results/latest.txt" \
        --readme "$HERE/README.md" --n "$N" --repeats "$REPEATS"
    cp "$RUNS" "$HERE/results/latest.jsonl"
else
    python3 "$HERE/report.py" summary "$RUNS" --n "$N" --repeats "$REPEATS"
fi
