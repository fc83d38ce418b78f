#!/usr/bin/env bash
# The repeatable figure: instructions per delivery of `hookd run --threads 1`
# under valgrind's callgrind, start-up and shutdown excluded.
#
#   bench/callgrind.sh [--n 2000] [--size 237] [--webhooks 1] [--build-dir DIR] [--out DIR]
#                      [--save]   (also writes the report to bench/results/callgrind.txt)
#
# hookd starts with instrumentation off (--instr-atstart=no). Once it has
# loaded its webhooks, instrumentation is switched on (callgrind_control -i on),
# the N pre-filled events are released (RENAME onto {bench}:events), and when
# the receiver has counted every delivery it is switched off again. So the
# count covers exactly the drain: taking, parsing, fan-out, signing, HTTP,
# settling, and the idle polls in between. Ir / N is the figure to compare
# from one change to the next: it does not move with machine noise (batch
# sizes can still shift it by a percent or so).
#
# Prints Ir per delivery, instructions by shared object, and the top 15
# functions inclusive and exclusive; the raw profile is left in --out (default
# a temporary directory) for callgrind_annotate or kcachegrind. Also tries
# `perf stat -e instructions` on an uninstrumented run, where the machine has
# hardware counters.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
stop_pid() { # pid: TERM, up to 60 s for valgrind to finish, then KILL
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 600; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
REPO=$(dirname "$HERE")
N=2000
SIZE=237
HOOKS=1
BUILD=""
OUT=""
SAVE=0
while [ $# -gt 0 ]; do
    case "$1" in
    --n) N=$2; shift ;;
    --size) SIZE=$2; shift ;;
    --webhooks) HOOKS=$2; shift ;;
    --build-dir) BUILD=$2; shift ;;
    --out) OUT=$2; shift ;;
    --save) SAVE=1 ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "callgrind.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
case "$N$SIZE$HOOKS" in *[!0-9]*) echo "callgrind.sh: numbers expected" >&2; exit 2 ;; esac
[ "$N" -gt 0 ] && [ "$HOOKS" -gt 0 ] || { echo "callgrind.sh: --n, --webhooks > 0" >&2; exit 2; }

die() { echo "callgrind.sh: $*" >&2; exit 1; }
for t in valgrind callgrind_control callgrind_annotate redis-server redis-cli curl python3; do
    command -v "$t" >/dev/null || die "$t is missing (bash bench/deps.sh)"
done
if [ -z "$BUILD" ]; then
    BUILD=$REPO/build-bench
    [ -f "$BUILD/CMakeCache.txt" ] ||
        cmake -S "$REPO" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DHOOKD_WERROR=OFF >/dev/null
    cmake --build "$BUILD" -j"$(nproc)" --target hookd bench_receiver bench_gen >/dev/null 2>&1 ||
        die "build failed (cmake --build $BUILD)"
fi
HOOKD=$BUILD/hookd
RECEIVER=$BUILD/bench/bench_receiver
GEN=$BUILD/bench/bench_gen

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hookd-callgrind.XXXXXX")
[ -n "$OUT" ] || OUT=$WORK
mkdir -p "$OUT"
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do stop_pid "$p"; done
    [ "$OUT" = "$WORK" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

RPORT=$(free_port)
mkdir -p "$WORK/redis"
redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK/redis" \
    --daemonize no > "$WORK/redis.log" 2>&1 &
PIDS+=($!)
wait_until 10 redis-cli -p "$RPORT" ping >/dev/null 2>&1 || die "redis-server did not start"
"$RECEIVER" --port 0 --port-file "$WORK/receiver.port" --secret bench-secret --max-n $((N + 1)) \
    2> "$WORK/receiver.log" &
PIDS+=($!)
wait_until 10 test -s "$WORK/receiver.port" || die "receiver did not start"
RURL=http://127.0.0.1:$(cat "$WORK/receiver.port")
export HOOKD_REDIS_URL=redis://127.0.0.1:$RPORT/0 HOOKD_PREFIX=bench HOOKD_ALLOW_NET=127.0.0.0/8

prepare() {
    local k
    redis-cli -p "$RPORT" flushall >/dev/null
    curl -sf "$RURL/_reset?target=$((N * HOOKS))" >/dev/null
    for ((k = 0; k < HOOKS; k++)); do
        "$HOOKD" webhook add --url "$RURL/h/$k" --secret bench-secret --id "wh_bench_$k" >/dev/null
    done
    "$GEN" fill --port "$RPORT" --key '{bench}:staging' --n "$N" --size "$SIZE" >/dev/null
}
release_and_wait() {
    curl -sf "$RURL/_mark" >/dev/null
    redis-cli -p "$RPORT" rename '{bench}:staging' '{bench}:events' >/dev/null
    curl -sf "$RURL/_wait?timeout_ms=600000"
}

# ---- callgrind ----
prepare
PROF=$OUT/callgrind.out
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$PROF" \
    "$HOOKD" run --threads 1 2> "$WORK/hookd.log" &
VG=$!
PIDS+=("$VG")
wait_until 120 grep -qs "loaded [0-9]* webhooks" "$WORK/hookd.log" || die "hookd did not start"
callgrind_control -i on "$VG" >/dev/null 2>&1 || die "callgrind_control -i on failed"
stats=$(release_and_wait)
callgrind_control -i off "$VG" >/dev/null 2>&1 || die "callgrind_control -i off failed"
echo "$stats" | grep -q '"done":true' || die "not every delivery arrived: $stats"
stop_pid "$VG"
[ -s "$PROF" ] || die "no profile written ($WORK/hookd.log)"

callgrind_annotate --inclusive=no "$PROF" > "$OUT/exclusive.txt" 2>/dev/null
callgrind_annotate --inclusive=yes "$PROF" > "$OUT/inclusive.txt" 2>/dev/null
python3 - "$OUT" "$N" "$HOOKS" "$SIZE" > "$OUT/report.txt" <<'EOF'
import re, sys, collections
out, n, hooks, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
deliveries = n * hooks

def rows(path):
    text = open(path).read()
    total = int(re.search(r"^([\d,]+) .*PROGRAM TOTALS", text, re.M).group(1).replace(",", ""))
    fns = []
    for m in re.finditer(r"^\s*([\d,]+) \([^)]*\)\s+(\S.*?)(?: \[(.*)\])?$", text, re.M):
        fns.append((int(m.group(1).replace(",", "")), m.group(2), m.group(3) or ""))
    if not fns:  # older callgrind_annotate: no percentage column
        for m in re.finditer(r"^\s*([\d,]+)\s+(\S+:\S.*?)(?: \[(.*)\])?$", text, re.M):
            fns.append((int(m.group(1).replace(",", "")), m.group(2), m.group(3) or ""))
    return total, fns

total, excl = rows(f"{out}/exclusive.txt")
_, incl = rows(f"{out}/inclusive.txt")
print(f"callgrind: {n} events x {hooks} webhook(s), {size} B bodies: {total:,} instructions")
print(f"instructions per delivery: {total / deliveries:,.0f}")
by_obj = collections.Counter()
for ir, fn, obj in excl:
    if "PROGRAM TOTALS" in fn:
        continue
    by_obj[obj.rsplit("/", 1)[-1] or "?"] += ir
print("\nby shared object (exclusive):")
for obj, ir in by_obj.most_common(10):
    print(f"  {100 * ir / total:5.1f}%  {ir / deliveries:9,.0f} Ir/delivery  {obj}")
def name(fn):
    return fn.split(":", 1)[1] if ":" in fn else fn
print("\ntop 15 functions, exclusive:")
excl = [r for r in excl if "PROGRAM TOTALS" not in r[1]]
incl = [r for r in incl if "PROGRAM TOTALS" not in r[1]]
for ir, fn, obj in excl[:15]:
    print(f"  {100 * ir / total:5.1f}%  {ir / deliveries:9,.0f}  {name(fn)}  [{obj.rsplit('/', 1)[-1]}]")
print("\ntop 15 functions, inclusive:")
for ir, fn, obj in incl[:15]:
    print(f"  {100 * ir / total:5.1f}%  {ir / deliveries:9,.0f}  {name(fn)}  [{obj.rsplit('/', 1)[-1]}]")
EOF
cat "$OUT/report.txt"
if [ "$SAVE" = 1 ]; then
    mkdir -p "$HERE/results"
    { echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')"
      echo "(plus uncommitted changes, if any), bench/callgrind.sh --n $N --size $SIZE --webhooks $HOOKS"
      cat "$OUT/report.txt"; } > "$HERE/results/callgrind.txt"
fi
echo
echo "profile: $PROF (callgrind_annotate --inclusive=yes $PROF)"

# ---- perf stat, where hardware counters exist ----
if command -v perf >/dev/null; then
    prepare
    "$HOOKD" run --threads 1 2> "$WORK/hookd-perf.log" &
    HP=$!
    PIDS+=("$HP")
    wait_until 20 grep -qs "loaded [0-9]* webhooks" "$WORK/hookd-perf.log" || die "hookd did not start"
    perf stat -e instructions,task-clock -p "$HP" -o "$WORK/perf.txt" &
    PP=$!
    sleep 0.2
    release_and_wait >/dev/null
    kill -INT "$PP" 2>/dev/null || true
    wait "$PP" 2>/dev/null || true
    stop_pid "$HP"
    if grep -q "not supported" "$WORK/perf.txt"; then
        echo "perf stat: instructions not supported on this machine (no hardware counters);"
        echo "  task-clock: $(awk '/task-clock/ {print $1, $2}' "$WORK/perf.txt") for $((N * HOOKS)) deliveries"
    else
        awk -v d=$((N * HOOKS)) '/instructions/ {gsub(",", "", $1);
            printf "perf stat: %.0f instructions per delivery (whole process, idle polls included)\n", $1 / d}' \
            "$WORK/perf.txt"
    fi
fi
