#!/usr/bin/env bash
# bench/cluster.sh - does hookd's throughput add up across shards? One
# namespace against three on a Redis Cluster of three primaries, and one
# namespace on a plain redis-server (what a single-Redis install has today).
#
#   bench/cluster.sh             runs A, B, C and D, then A, B and C again with
#                                each redis-server held to 5% of a core, 3 repeats
#                                (about 4 minutes); writes bench/results/shards.txt
#                                and shards.jsonl and the table in bench/README.md
#   bench/cluster.sh --quick     3,000 events, one repeat, writes nothing
#
# Run A: cluster, hookd --prefix X --threads 3, N events in X.
# Run B: cluster, hookd --prefix X,Y,Z --threads 3 (one loop each), N/3 events
#        in each; X, Y and Z hash to slots on three different primaries.
# Run C: one plain redis-server, hookd --prefix X --threads 3, N events.
# Each namespace has one webhook to the bench receiver; every namespace's
# events are pre-filled into {NS}:staging (same slot, same node) and released
# at once by RENAME onto {NS}:events, on its own node. Measured from the
# receiver's mark to its N-th distinct delivery: deliveries/s, the CPU of
# hookd, of the receiver and of EACH redis-server (/proc/PID/stat utime +
# stime over the same interval).
#
# Options: --n N (total events per run, default 60000), --repeats R (3),
# --threads T (3), --only LIST (default a,b,c,direct,throttle), --build-dir DIR
# (default build-bench-shards, configured and built Release when missing),
# --out DIR (keep the raw runs there), --no-write (print only).
# Runs beyond A, B and C (names for --only):
#   direct    D: A's namespace on its cluster node through a plain redis:// URL
#             (hookd's cluster client out of the way, the node still in cluster mode)
#   throttle  A, B and C with every redis-server held to --budget PCT of one
#             core (default 5): a CPU quota of its own (cgroup v1 cpu.cfs_quota_us,
#             20 ms period) where /sys/fs/cgroup/cpu is writable, else a helper
#             that SIGSTOPs a redis-server over its share and SIGCONTs it once it
#             is back within it. Redis becomes the bound, on a machine whose 2
#             cores cannot hold three saturated redis-servers next to hookd
# Needs redis-server and redis-cli (7.0+: --cluster-port, --json), curl, python3.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
REPO=$(dirname "$HERE")
N=60000
REPEATS=3
THREADS=3
ONLY=a,b,c,direct,throttle
BUILD=""
OUT=""
WRITE=1
SIZE=237
BUDGET=5
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) N=3000; REPEATS=1; WRITE=0 ;;
    --n) N=$2; shift ;;
    --repeats) REPEATS=$2; shift ;;
    --threads) THREADS=$2; shift ;;
    --only) ONLY=$2; shift ;;
    --build-dir) BUILD=$2; shift ;;
    --out) OUT=$2; shift ;;
    --no-write) WRITE=0 ;;
    --budget) BUDGET=$2; shift ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "cluster.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
case "$N$REPEATS$THREADS$BUDGET" in *[!0-9]*) echo "cluster.sh: --n, --repeats, --threads, --budget take whole numbers" >&2; exit 2 ;; esac
N=$(( N / 3 * 3 ))            # B splits N evenly
SECRET=bench-secret-0123456789abcdef
WAIT_MS=180000

die() { echo "cluster.sh: $*" >&2; exit 1; }
for t in redis-server redis-cli curl python3; do
    command -v "$t" >/dev/null || die "$t is missing (bash scripts/deps.sh; bash bench/deps.sh)"
done

# ---- build ----
bench_build bench-shards "$REPO/build-bench-shards"

# ---- bookkeeping (python3 stdlib only) ----
# report record RUNS key=value...  one run's figures, appended to RUNS, one line printed
# report summary RUNS [--results F] --n N --repeats R --threads T
#                                  medians per run label; writes F and the table
#                                  between the README's shards markers
REPORT_PY=$(cat <<'EOF'
import datetime, json, os, platform, statistics, subprocess, sys

TICK = os.sysconf("SC_CLK_TCK")
HERE = os.environ["BENCH_HERE"]
BEGIN, END = "<!-- shards:begin -->", "<!-- shards:end -->"


def record(path, pairs):
    a = dict(p.split("=", 1) for p in pairs)
    r = json.loads(a["receiver"])
    n = int(a["events"])
    secs = r["done_ms"] / 1000.0 if r["done"] else None
    nodes = [(k, int(v) / TICK) for k, v in (x.split("=") for x in a["redis_ticks"].split())]
    redis_s = sum(v for _, v in nodes)
    hookd_s = int(a["hookd_ticks"]) / TICK
    recv_s = (r["cpu_done_us"] - r["cpu_mark_us"]) / 1e6 if r["done"] else None
    rec = {
        "label": a["label"], "mode": a["mode"], "namespaces": a["namespaces"].split(","),
        "rep": int(a["rep"]), "threads": int(a["threads"]), "budget": a["budget"] or None,
        "load1": float(a["load"]), "deliveries": n,
        "ok": bool(r["done"] and r["distinct"] == n and r["bad_sig"] == 0),
        "distinct": r["distinct"], "posts": r["posts"], "dups": r["dups"], "bad_sig": r["bad_sig"],
        "secs": secs, "rate": n / secs if secs else None,
        "hookd_cpu_s": hookd_s, "hookd_us": hookd_s * 1e6 / n,
        "receiver_cpu_s": recv_s, "receiver_us": recv_s * 1e6 / n if recv_s is not None else None,
        "redis_nodes": [{"node": k, "cpu_s": v, "share": v / redis_s if redis_s else None}
                        for k, v in nodes],
        "redis_cpu_s": redis_s, "redis_us": redis_s * 1e6 / n,
        # deliveries/s if each redis-server had a core of its own and nothing
        # else were the bound: the busiest node at 100% of a core
        "redis_ceiling": n / max(v for _, v in nodes) if redis_s else None,
        "cores_busy": (hookd_s + redis_s + (recv_s or 0)) / secs if secs else None,
        # the busiest redis-server's CPU over the drain, as a part of one core
        "busiest_core": max(v for _, v in nodes) / secs if secs else None,
    }
    if rec["budget"]:
        rec["throttle"] = a["throttle"]
        rec["throttled"] = {}
        for x in a.get("throttled", "").split():
            k, v = x.split("=")
            periods, thr, ms = (int(y) for y in v.split("/"))
            rec["throttled"][k] = {"periods": periods, "throttled": thr, "throttled_ms": ms}
    # INFO commandstats of every node over the run (CONFIG RESETSTAT at the
    # mark): calls and the usec Redis spent in each command
    cmds = {}
    for line in open(a["commandstats"]):
        node, rest = line.split(" ", 1)
        name, fields = rest.strip().split(":", 1)
        kv = dict(x.split("=") for x in fields.split(","))
        c = cmds.setdefault(node, {})
        c[name] = {"calls": int(kv["calls"]), "usec": int(kv["usec"]),
                   "failed": int(kv.get("failed_calls", 0)) + int(kv.get("rejected_calls", 0))}
    rec["commands"] = cmds
    # a script's own calls are counted too (and its usec in both), so only
    # EVALSHA is summed: hookd's round trips that carry work
    ev = [c.get("evalsha", {"calls": 0, "usec": 0}) for c in cmds.values()]
    rec["evalsha_calls"] = sum(e["calls"] for e in ev)
    rec["evalsha_usec_per_dlv"] = sum(e["usec"] for e in ev) / n
    with open(path, "a") as f:
        f.write(json.dumps(rec) + "\n")
    per = " ".join(f"{x['node']} {x['cpu_s']:.2f}" for x in rec["redis_nodes"])
    rate = f"{rec['rate']:,.0f}/s" if rec["rate"] else "DID NOT FINISH"
    print(f"{rec['label']:<28} #{rec['rep']}: {rate} in {secs or 0:.2f} s | hookd "
          f"{hookd_s:.2f} s CPU ({rec['hookd_us']:.1f} us/dlv) | receiver {recv_s or 0:.2f} s | "
          f"redis {per} = {redis_s:.2f} s ({rec['redis_us']:.1f} us/dlv; {rec['evalsha_calls']} EVALSHA, "
          f"{rec['evalsha_usec_per_dlv']:.1f} us/dlv in them) | load {rec['load1']}"
          + "".join(f" | {k} throttled {v['throttled']}/{v['periods']} periods"
                    for k, v in rec.get("throttled", {}).items())
          + ("" if rec["ok"] else f" | NOT OK: {r['distinct']} distinct"))


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def f(x, d=0):
    return "-" if x is None else f"{x:,.{d}f}"


def version(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=5).stdout.strip()
    except Exception:
        return "?"


def summary(path, results, n, repeats, threads):
    runs = [json.loads(l) for l in open(path) if l.strip()]
    labels = list(dict.fromkeys(r["label"] for r in runs))
    out = []
    p = out.append
    cpu = "?"
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except Exception:
        pass
    loads = [r["load1"] for r in runs]
    rev = version(["git", "-C", os.path.dirname(HERE), "rev-parse", "--short", "HEAD"])
    p(f"hookd {rev}. N = {n:,} deliveries per run (B: {n // 3:,} per namespace), one webhook per namespace, "
      f"237 B bodies, hookd --threads {threads}; medians of {repeats}.")
    p(f"{datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores ({cpu}), "
      f"{version(['redis-server', '--version']).split(' sha=')[0]}, {platform.release()}; "
      f"1-minute load at the runs' starts {min(loads):.2f} to {max(loads):.2f}, the machine shared "
      f"by hookd, the receiver and the redis-servers (and another engineer's tests).")
    p("")
    p("| run | deliveries/s | hookd µs/dlv | receiver µs/dlv | Redis CPU s per node | "
      "Redis µs/dlv | busiest node: share, of a core | Redis-bound ceiling | cores busy |")
    p("|---|---:|---:|---:|---|---:|---:|---:|---:|")
    for lb in labels:
        rs = [r for r in runs if r["label"] == lb]
        bad = sum(1 for r in rs if not r["ok"])
        k = len(rs[0]["redis_nodes"])
        nodes = [med([r["redis_nodes"][i]["cpu_s"] for r in rs]) for i in range(k)]
        share = med([max(x["share"] or 0 for x in r["redis_nodes"]) for r in rs])
        p(f"| {lb}{' (' + str(bad) + ' failed)' if bad else ''} | {f(med([r['rate'] for r in rs]))} | "
          f"{f(med([r['hookd_us'] for r in rs]), 1)} | {f(med([r['receiver_us'] for r in rs]), 1)} | "
          f"{' / '.join(f(x, 2) for x in nodes)} | {f(med([r['redis_us'] for r in rs]), 1)} | "
          f"{f(share * 100 if share is not None else None)}%, "
          f"{f(100 * med([r['busiest_core'] for r in rs]))}% | "
          f"{f(med([r['redis_ceiling'] for r in rs]))}/s | {f(med([r['cores_busy'] for r in rs]), 2)} |")
    thr = [lb for lb in labels if any(r.get("throttled") for r in runs if r["label"] == lb)]
    if thr:
        p("")
        parts = []
        for lb in thr:
            fr = []
            for r in (r for r in runs if r["label"] == lb):
                busy = {x["node"] for x in r["redis_nodes"] if (x["share"] or 0) > 0.1}
                fr += [v["throttled"] / v["periods"] for k, v in r["throttled"].items()
                       if k in busy and v["periods"]]
            parts.append(f"{lb.split(',')[0]} {100 * min(fr):.0f}–{100 * max(fr):.0f}%")
        b = runs[[r["label"] for r in runs].index(thr[0])]
        how = ("a CPU quota of its own (cgroup v1 cpu.cfs_quota_us, "
               f"{int(b['budget']) * 200} of 20,000 µs)" if b.get("throttle") == "cgroup"
               else "the SIGSTOP/SIGCONT helper")
        p(f"Throttled runs: each redis-server held to {b['budget']}% of a core by {how}; the "
          f"nodes doing the work were throttled in this part of their periods: {', '.join(parts)}.")
    text = "\n".join(out) + "\n"
    print(text)
    if results:
        with open(results, "w") as fh:
            fh.write(text)
        readme = os.path.join(HERE, "README.md")
        s = open(readme).read()
        if BEGIN in s and END in s:
            a, rest = s.split(BEGIN, 1)
            _, b = rest.split(END, 1)
            open(readme, "w").write(a + BEGIN + "\n" + text + END + b)


cmd = sys.argv[1]
if cmd == "record":
    record(sys.argv[2], sys.argv[3:])
elif cmd == "summary":
    args = sys.argv[3:]
    opt = dict(zip(args[::2], args[1::2]))
    summary(sys.argv[2], opt.get("--results"), int(opt["--n"]), int(opt["--repeats"]),
            int(opt["--threads"]))
EOF
)
report() { BENCH_HERE=$HERE python3 -c "$REPORT_PY" "$@"; }

# The throttle: PCT PID...: holds each pid to PCT% of one core, as a CPU
# quota would (cgroups are not writable here). Every 0.5 ms it reads each
# pid's CPU time (/proc/PID/schedstat, ns); a pid earns PCT% of the elapsed
# time as credit (at most 2 ms banked), spends what it ran, is SIGSTOPped
# when it is in debt and SIGCONTinued when it is not. A pid that is idle is
# never stopped: only a pid that wants more than its share waits.
THROTTLE_PY=$(cat <<'EOF'
import os, signal, sys, time
share = float(sys.argv[1]) / 100.0          # of one core, for each pid
burst = 2e-3                                # seconds of CPU a pid may run ahead
pids = [int(p) for p in sys.argv[2:]]
run = True
def stop(*_):
    global run
    run = False
signal.signal(signal.SIGTERM, stop)
def used(p):                                # CPU time of the pid's main thread, s
    with open(f"/proc/{p}/schedstat") as f:
        return int(f.read().split()[0]) / 1e9
last = {p: used(p) for p in pids}
credit = {p: burst for p in pids}
stopped = {p: False for p in pids}
t = time.monotonic()
try:
    while run:
        time.sleep(0.0005)
        now = time.monotonic()
        dt, t = now - t, now
        for p in pids:
            u = used(p)
            credit[p] = min(credit[p] + share * dt, burst) - (u - last[p])
            last[p] = u
            if credit[p] < 0 and not stopped[p]:
                os.kill(p, signal.SIGSTOP); stopped[p] = True
            elif credit[p] >= 0 and stopped[p]:
                os.kill(p, signal.SIGCONT); stopped[p] = False
finally:
    for p in pids:
        os.kill(p, signal.SIGCONT)
EOF
)

# ---- processes: everything started here is stopped here ----
bench_start bench-shards

# The budget of the throttle runs: a CPU quota (cgroup v1 cpu controller,
# cpu.cfs_quota_us of a 20 ms period), one group per redis-server, made for
# the drain and removed after it; where that is not writable, the SIGSTOP
# helper above.
CGROOT=/sys/fs/cgroup/cpu
CG=""
CG_PERIOD=20000
if [ -w "$CGROOT/cgroup.procs" ] && [ -e "$CGROOT/cpu.cfs_quota_us" ]; then
    CGHOME=$CGROOT$(awk -F: '$2 ~ /(^|,)cpu(,|$)/ {print $3; exit}' /proc/$$/cgroup)
    CGHOME=${CGHOME%/}
    CG=$CGHOME/hookd-bench-shards.$$
fi
cg_limit() { # pct pid...: each pid into a group of its own, held to pct% of one core
    local pct=$1 p
    shift
    mkdir -p "$CG"
    for p in "$@"; do
        mkdir "$CG/$p"
        echo "$CG_PERIOD" > "$CG/$p/cpu.cfs_period_us"
        echo $(( CG_PERIOD * pct / 100 )) > "$CG/$p/cpu.cfs_quota_us"
        echo "$p" > "$CG/$p/cgroup.procs"
    done
}
cg_stat() { # pid: "periods/throttled/throttled_ms" of its group
    awk '{v[$1] = $2} END {printf "%d/%d/%d", v["nr_periods"], v["nr_throttled"], v["throttled_time"] / 1e6}' \
        "$CG/$1/cpu.stat"
}
cg_release() { # every process back where it was, every group removed
    local d p
    [ -n "$CG" ] && [ -d "$CG" ] || return 0
    for d in "$CG"/*/; do
        [ -d "$d" ] || continue
        while read -r p; do echo "$p" > "$CGHOME/cgroup.procs" 2>/dev/null || true; done < "$d/cgroup.procs"
        rmdir "$d" 2>/dev/null || true
    done
    rmdir "$CG" 2>/dev/null || true
}
# (errexit off: bench_cleanup reads the script's status from $?, handed on
# by the subshell)
cluster_cleanup() { local rc=$?; set +e; cg_release; (exit "$rc"); bench_cleanup; }
trap cluster_cleanup EXIT
RUNS=$OUT/shards.jsonl
: > "$RUNS"

cpu_ticks() { # utime + stime of a process (all its threads), in clock ticks
    local s
    s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
    s=${s##*) }
    # shellcheck disable=SC2086 # split into the stat fields
    set -- $s
    echo $(( ${12} + ${13} ))
}

redis_start() { # name port [extra redis-server args...] -> pid on stdout's variable RPID
    local name=$1 port=$2
    shift 2
    mkdir -p "$WORK/$name"
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK/$name" \
        --daemonize no "$@" > "$WORK/$name.log" 2>&1 &
    RPID=$!
    PIDS+=("$RPID")
    wait_until 10 redis-cli -p "$port" ping >/dev/null 2>&1 || die "redis-server $name did not start ($WORK/$name.log)"
}

# The cluster: three primaries, no replicas, bus ports picked as spare too.
CPORTS=() CPIDS=()
for i in 0 1 2; do
    p=$(free_port); bus=$(free_port)
    redis_start "node$i" "$p" --cluster-enabled yes --cluster-port "$bus" \
        --cluster-config-file "$WORK/node$i/nodes.conf" --cluster-node-timeout 5000
    CPORTS+=("$p"); CPIDS+=("$RPID")
done
redis-cli --cluster create "127.0.0.1:${CPORTS[0]}" "127.0.0.1:${CPORTS[1]}" \
    "127.0.0.1:${CPORTS[2]}" --cluster-replicas 0 --cluster-yes > "$WORK/cluster-create.log" 2>&1 \
    || die "redis-cli --cluster create failed ($WORK/cluster-create.log)"
cluster_ok() {
    local p
    for p in "${CPORTS[@]}"; do
        redis-cli -p "$p" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || return 1
    done
}
wait_until 20 cluster_ok || die "the cluster did not reach cluster_state:ok"
CLUSTER_URL="redis-cluster://127.0.0.1:${CPORTS[0]},127.0.0.1:${CPORTS[1]},127.0.0.1:${CPORTS[2]}"

# Three namespace names whose {NAME}:events slots are on three different
# primaries: the first of s0, s1, ... that each primary owns.
redis-cli -p "${CPORTS[0]}" --json cluster slots > "$WORK/slots.json"
declare -A OWNER=()   # namespace -> port of its primary
NS=()
for ((k = 0; k < 1000 && ${#NS[@]} < 3; k++)); do
    name=s$k
    slot=$(redis-cli -p "${CPORTS[0]}" cluster keyslot "{$name}:events")
    port=$(python3 -c '
import json, sys
slot = int(sys.argv[2])
for r in json.load(open(sys.argv[1])):
    if int(r[0]) <= slot <= int(r[1]):
        print(r[2][1]); break' "$WORK/slots.json" "$slot")
    taken=0
    for n in "${NS[@]}"; do [ "${OWNER[$n]}" = "$port" ] && taken=1; done
    [ "$taken" = 0 ] || continue
    NS+=("$name"); OWNER[$name]=$port
    echo "namespace $name: {$name}:events slot $slot on primary :$port"
done
[ "${#NS[@]}" = 3 ] || die "found no three names on three primaries"
node_pid() { local i; for i in 0 1 2; do [ "${CPORTS[$i]}" = "$1" ] && echo "${CPIDS[$i]}"; done; }

# The plain redis-server of run C.
PPORT=$(free_port)
redis_start plain "$PPORT"
PPID_REDIS=$RPID
PLAIN_URL=redis://127.0.0.1:$PPORT/0

"$RECEIVER" --port 0 --port-file "$WORK/receiver.port" --secret "$SECRET" --max-n $((N + 1)) \
    2> "$WORK/receiver.log" &
RECV_PID=$!
PIDS+=("$RECV_PID")
wait_until 10 test -s "$WORK/receiver.port" || die "receiver did not start ($WORK/receiver.log)"
HPORT=$(cat "$WORK/receiver.port")
RURL=http://127.0.0.1:$HPORT
ctl() { curl -sf --max-time $(( WAIT_MS / 1000 + 10 )) "$RURL/$1"; }

export HOOKD_ALLOW_NET=127.0.0.0/8 HOOKD_LOG_LEVEL=info
unset HOOKD_PREFIX HOOKD_SHARDS HOOKD_REDIS_URL

flush_all() {
    local p
    for p in "${CPORTS[@]}" "$PPORT"; do redis-cli -p "$p" flushall >/dev/null; done
}

# One drain. mode: cluster, direct or plain; nss: the namespaces (comma
# list); budget: "" or the % of a core every redis-server sampled is held to.
drain() { # label mode nss rep budget
    local label=$1 mode=$2 nss=$3 rep=$4 budget=$5 url list per i ns port first log
    local pids=() names=() ports=() t0=() t1=() load thr=""
    IFS=, read -r -a list <<< "$nss"
    per=$(( N / ${#list[@]} ))
    case $mode in
    cluster) url=$CLUSTER_URL ;;
    direct) url=redis://127.0.0.1:${OWNER[${list[0]}]}/0 ;;   # one node, not as a cluster
    *) url=$PLAIN_URL ;;
    esac
    flush_all
    ctl "_reset?target=$N" >/dev/null
    for i in "${!list[@]}"; do
        ns=${list[$i]}
        if [ "$mode" = plain ]; then port=$PPORT; else port=${OWNER[$ns]}; fi
        HOOKD_REDIS_URL=$url "$HOOKD" --prefix "$ns" webhook add --url "$RURL/h/$i" \
            --secret "$SECRET" --id "wh_bench_$ns" >/dev/null
        first=$(( i * per ))
        "$GEN" fill --port "$port" --key "{$ns}:staging" --n "$per" --size "$SIZE" \
            --first "$first" >/dev/null
    done
    # Which redis-servers to sample, in a fixed order: the cluster's three
    # nodes (whether or not this run uses them) or the plain one.
    if [ "$mode" != plain ]; then
        for i in 0 1 2; do pids+=("${CPIDS[$i]}"); names+=(":${CPORTS[$i]}"); ports+=("${CPORTS[$i]}"); done
    else
        pids+=("$PPID_REDIS"); names+=(":$PPORT"); ports+=("$PPORT")
    fi
    local tag=${label//[^A-Za-z0-9]/_}
    log=$WORK/$tag.$rep.log
    HOOKD_REDIS_URL=$url "$HOOKD" run --prefix "$nss" --threads "$THREADS" 2> "$log" &
    HOOKD_PID=$!
    PIDS+=("$HOOKD_PID")
    # hookd logs "loaded N webhooks" once (for the first namespace's loop
    # alone), so every loop's "redis connected" is waited for as well
    ready() {
        grep -qs "loaded [0-9]* webhooks" "$log" &&
            [ "$(grep -c ": redis connected" "$log" 2>/dev/null)" -ge "$THREADS" ]
    }
    wait_until 20 ready || die "hookd did not start ($log)"
    sleep 0.5   # every loop has its webhooks, found its queue empty and waits on it
    load=$(cut -d' ' -f1 /proc/loadavg)
    local h0 h1 r
    if [ -n "$budget" ] && [ -n "$CG" ]; then
        cg_limit "$budget" "${pids[@]}"
    elif [ -n "$budget" ]; then
        python3 -c "$THROTTLE_PY" "$budget" "${pids[@]}" &
        thr=$!
        PIDS+=("$thr")
    fi
    h0=$(cpu_ticks "$HOOKD_PID")
    for i in "${pids[@]}"; do t0+=("$(cpu_ticks "$i")"); done
    for i in "${ports[@]}"; do redis-cli -p "$i" config resetstat >/dev/null; done
    ctl _mark >/dev/null
    local rel=()
    for i in "${!list[@]}"; do
        ns=${list[$i]}
        if [ "$mode" = plain ]; then port=$PPORT; else port=${OWNER[$ns]}; fi
        redis-cli -p "$port" rename "{$ns}:staging" "{$ns}:events" >/dev/null &
        rel+=($!)
    done
    for i in "${rel[@]}"; do wait "$i" || die "RENAME failed"; done
    r=$(ctl "_wait?timeout_ms=$WAIT_MS")
    h1=$(cpu_ticks "$HOOKD_PID")
    for i in "${pids[@]}"; do t1+=("$(cpu_ticks "$i")"); done
    local rt=() j cs=$WORK/$tag.$rep.commandstats
    for j in "${!pids[@]}"; do rt+=("${names[$j]}=$(( ${t1[$j]} - ${t0[$j]} ))"); done
    : > "$cs"
    for i in "${ports[@]}"; do
        redis-cli -p "$i" info commandstats | tr -d '\r' | sed -n "s/^cmdstat_/:$i /p" >> "$cs"
    done
    local thst=()
    if [ -n "$budget" ] && [ -n "$CG" ]; then
        for j in "${!pids[@]}"; do thst+=("${names[$j]}=$(cg_stat "${pids[$j]}")"); done
        cg_release
    fi
    if [ -n "$thr" ]; then
        stop_pid "$thr" 5
        for i in "${pids[@]}"; do kill -CONT "$i"; done
    fi
    stop_pid "$HOOKD_PID" 60
    grep -E " (ERROR|WARN) " "$log" | sort | uniq -c | sort -rn | head -5 >&2 || true
    report record "$RUNS" label="$label" mode="$mode" namespaces="$nss" \
        rep="$rep" events="$N" threads="$THREADS" budget="$budget" load="$load" \
        hookd_ticks=$((h1 - h0)) redis_ticks="${rt[*]}" receiver="$r" commandstats="$cs" \
        throttled="${thst[*]}" throttle="$([ -n "$CG" ] && echo cgroup || echo sigstop)"
}

want() { [[ ",$ONLY," == *",$1,"* ]]; }
BPCT="$BUDGET%"
X=${NS[0]}; XYZ=${NS[0]},${NS[1]},${NS[2]}
echo "hookd shards benchmark: N=$N events, $REPEATS repeat(s), threads $THREADS, namespaces $XYZ," \
    "cluster :${CPORTS[*]}, plain :$PPORT, receiver :$HPORT, load $(cut -d' ' -f1-3 /proc/loadavg)"
for ((rep = 1; rep <= REPEATS; rep++)); do
    want a && drain "A cluster, 1 namespace" cluster "$X" "$rep" ""
    want b && drain "B cluster, 3 namespaces" cluster "$XYZ" "$rep" ""
    want c && drain "C plain, 1 namespace" plain "$X" "$rep" ""
    want direct && drain "D one node as plain redis://" direct "$X" "$rep" ""
    want throttle && drain "A cluster, 1 ns, Redis at $BPCT" cluster "$X" "$rep" "$BUDGET"
    want throttle && drain "B cluster, 3 ns, Redis at $BPCT" cluster "$XYZ" "$rep" "$BUDGET"
    want throttle && drain "C plain, 1 ns, Redis at $BPCT" plain "$X" "$rep" "$BUDGET"
done

if [ "$WRITE" = 1 ]; then
    report summary "$RUNS" --results "$HERE/results/shards.txt" \
        --n "$N" --repeats "$REPEATS" --threads "$THREADS"
    cp "$RUNS" "$HERE/results/shards.jsonl"
else
    report summary "$RUNS" --n "$N" --repeats "$REPEATS" --threads "$THREADS"
fi
