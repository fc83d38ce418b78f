#!/usr/bin/env python3
"""The benchmark's bookkeeping, called by bench/run.sh (python3 stdlib only).

  report.py record RUNS key=value...   derives one run's figures, appends them
                                       to RUNS (JSON lines), prints one line
  report.py check RUNS                 quick mode: exit 1 unless every run
                                       delivered every event, signed right
  report.py summary RUNS --results F --readme F --n N --repeats R
                                       medians, ratios and targets; writes F and
                                       the table between the README's markers

Endpoint-health scenarios (bench/scenarios.sh):

  report.py health RUNS scenario=S key=value...
                                       one scenario's figures (slow, capacity,
                                       hang, down), appended to RUNS; one line
  report.py health-check RUNS [--only LIST]
                                       quick mode: exit 1 unless every scenario
                                       asked for ran and printed its line
  report.py health-summary RUNS [--results F] [--readme F] [--hookd BIN]
                                       the scenarios' table and targets; writes F
                                       and the table between the README's
                                       health markers
"""

import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys

TICK = os.sysconf("SC_CLK_TCK")
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
HBEGIN, HEND = "<!-- health:begin -->", "<!-- health:end -->"


def fnum(x, digits=0):
    if x is None:
        return "-"
    return f"{x:,.{digits}f}"


# ---------------------------------------------------------------- record

def derive_worker(a):
    r = json.loads(a["receiver"])
    deliveries = int(a["deliveries"])
    secs = r["done_ms"] / 1000.0 if r["done"] else None
    worker_s = int(a["worker_ticks"]) / TICK
    redis_s = int(a["redis_ticks"]) / TICK
    recv_s = (r["cpu_done_us"] - r["cpu_mark_us"]) / 1e6 if r["done"] else None
    rec = {
        "label": a["label"], "kind": a.get("kind", "drain"), "rep": int(a["rep"]),
        "threads": int(a["threads"]), "size": int(a["size"]), "webhooks": int(a["webhooks"]),
        "events": int(a["events"]), "deliveries": deliveries,
        "ok": bool(r["done"] and r["distinct"] == deliveries and r["bad_sig"] == 0),
        "distinct": r["distinct"], "posts": r["posts"], "dups": r["dups"],
        "bad_sig": r["bad_sig"], "failed": r["failed"],
        "body_avg": r["body_bytes"] / r["posts"] if r["posts"] else 0,
        "secs": secs, "rate": deliveries / secs if secs else None,
        "worker_cpu_s": worker_s, "worker_us": worker_s * 1e6 / deliveries,
        "event_us": worker_s * 1e6 / int(a["events"]),
        "redis_cpu_s": redis_s, "redis_us": redis_s * 1e6 / deliveries,
        "receiver_cpu_s": recv_s,
        "receiver_us": recv_s * 1e6 / deliveries if recv_s is not None else None,
        "rss_mb": int(a["hwm_kb"] or 0) / 1024.0,
    }
    if rec["kind"] == "latency":
        rec["p50_ms"] = r["lat_p50_us"] / 1000.0
        rec["p90_ms"] = r["lat_p90_us"] / 1000.0
        rec["p99_ms"] = r["lat_p99_us"] / 1000.0
        rec["max_ms"] = r["lat_max_us"] / 1000.0
        rec["lat_n"] = r["lat_n"]
    return rec


def line_worker(rec):
    head = f"{rec['label']:<22} #{rec['rep']}: "
    if not rec["ok"]:
        return (head + f"FAILED: {rec['distinct']}/{rec['deliveries']} distinct, "
                f"bad signatures {rec['bad_sig']}")
    s = (f"{rec['deliveries']} deliveries ({rec['body_avg']:.0f} B) in {rec['secs']:.3f} s = "
         f"{fnum(rec['rate'])}/s | worker {rec['worker_cpu_s']:.2f} s CPU = "
         f"{rec['worker_us']:.1f} us/delivery, peak RSS {rec['rss_mb']:.1f} MB | "
         f"redis {rec['redis_cpu_s']:.2f} s, receiver {rec['receiver_cpu_s']:.2f} s | "
         f"dups {rec['dups']}")
    if rec["kind"] == "latency":
        s += (f" | latency p50 {rec['p50_ms']:.2f} ms, p99 {rec['p99_ms']:.2f} ms, "
              f"max {rec['max_ms']:.2f} ms")
    return head + s


def derive_wrk(a):
    out, r = a["wrk"], json.loads(a["receiver"])
    m = re.search(r"Requests/sec:\s*([\d.]+)", out)
    n = re.search(r"(\d+) requests in", out)
    t = re.findall(r"^([\d.]+) ([\d.]+)\s*$", out, re.M)
    rate = float(m.group(1)) if m else None
    reqs = int(n.group(1)) if n else 0
    cpu = float(t[-1][0]) + float(t[-1][1]) if t else None
    recv_s = (r["cpu_us"] - r["cpu_mark_us"]) / 1e6
    return {"label": a["label"], "kind": "wrk", "rep": int(a["rep"]), "ok": rate is not None,
            "rate": rate, "requests": reqs, "bad_sig": r["bad_sig"],
            "client_us": cpu * 1e6 / reqs if cpu is not None and reqs else None,
            "receiver_us": recv_s * 1e6 / r["posts"] if r["posts"] else None}


def line_wrk(rec):
    return (f"{rec['label']:<22} #{rec['rep']}: {fnum(rec['rate'])} requests/s | wrk "
            f"{fnum(rec['client_us'], 1)} us/request, receiver {fnum(rec['receiver_us'], 1)} "
            f"us/request, bad signatures {rec['bad_sig']}")


def parse_rb_csv(text):
    out = {}
    for row in text.splitlines():
        cells = [c.strip('"') for c in row.split(",")]
        if len(cells) >= 2 and cells[0] in ("LPUSH", "RPOP"):
            try:
                out[cells[0].lower()] = float(cells[1])
            except ValueError:
                pass
    return out


def derive_redis(a):
    p1, p100 = parse_rb_csv(a["p1"]), parse_rb_csv(a["p100"])
    return {"label": a["label"], "kind": "redis", "rep": int(a["rep"]), "ok": bool(p1),
            "lpush": p1.get("lpush"), "rpop": p1.get("rpop"),
            "lpush_p100": p100.get("lpush"), "rpop_p100": p100.get("rpop")}


def line_redis(rec):
    return (f"{rec['label']:<22} #{rec['rep']}: LPUSH {fnum(rec['lpush'])}/s, RPOP "
            f"{fnum(rec['rpop'])}/s (one command a round trip); pipelined 100: LPUSH "
            f"{fnum(rec['lpush_p100'])}/s, RPOP {fnum(rec['rpop_p100'])}/s")


def cmd_record(path, pairs):
    a = dict(p.split("=", 1) for p in pairs)
    kind = a.get("kind", "drain")
    if kind == "wrk":
        rec, line = derive_wrk(a), line_wrk
    elif kind == "redis":
        rec, line = derive_redis(a), line_redis
    else:
        rec, line = derive_worker(a), line_worker
    with open(path, "a") as f:
        f.write(json.dumps(rec) + "\n")
    print(line(rec), flush=True)


# ---------------------------------------------------------------- check

def load(path):
    with open(path) as f:
        return [json.loads(x) for x in f if x.strip()]


def cmd_check(path):
    runs = load(path)
    bad = [r for r in runs if not r["ok"]]
    print(f"bench quick: {len(runs) - len(bad)} passed, {len(bad)} failed")
    return 1 if bad or not runs else 0


# ---------------------------------------------------------------- summary

def med(runs, label, key):
    vals = [r[key] for r in runs if r["label"] == label and r.get("ok") and r.get(key) is not None]
    return statistics.median(vals) if vals else None


def ratio(a, b):
    return a / b if a is not None and b else None


def version(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "-"


def machine():
    cpu = "-"
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.*)", f.read())
            cpu = m.group(1) if m else cpu
    except OSError:
        pass
    return (f"{os.cpu_count()} cores ({cpu}), "
            f"{os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / 2**30:.0f} GiB, "
            f"Linux {platform.release()}")


def run_stamp(here):
    """(the time now as "YYYY-MM-DD HH:MM UTC", the BullMQ version installed
    under peers/bullmq, or "-")."""
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    try:
        with open(os.path.join(here, "peers/bullmq/node_modules/bullmq/package.json")) as f:
            return date, json.load(f)["version"]
    except (OSError, ValueError, KeyError):
        return date, "-"


def cmd_summary(path, results, readme, n, repeats):
    runs = load(path)
    here = os.path.dirname(os.path.abspath(__file__))
    lines = []
    p = lines.append
    date, bull_ver = run_stamp(here)
    p(f"Run {date} on {machine()}.")
    p(f"N = {n} events per drain, medians of {repeats} run(s). {version(['redis-server', '--version'])}; "
      f"node {version(['node', '--version'])} with BullMQ {bull_ver}; "
      f"{version(['ruby', '--version'])}, Debian's sidekiq "
      f"{version(['ruby', '-e', 'require %q(sidekiq); print Sidekiq::VERSION'])}.")
    p("")
    p("| run | deliveries/s | worker CPU s | CPU µs/delivery | peak RSS MB | Redis CPU µs/delivery "
      "| receiver CPU µs/delivery |")
    p("|---|---:|---:|---:|---:|---:|---:|")
    labels = []
    for r in runs:
        if r["kind"] in ("drain", "latency") and r["label"] not in labels:
            labels.append(r["label"])
    for lb in labels:
        p(f"| {lb} | {fnum(med(runs, lb, 'rate'))} | {fnum(med(runs, lb, 'worker_cpu_s'), 2)} | "
          f"{fnum(med(runs, lb, 'worker_us'), 1)} | {fnum(med(runs, lb, 'rss_mb'), 1)} | "
          f"{fnum(med(runs, lb, 'redis_us'), 1)} | {fnum(med(runs, lb, 'receiver_us'), 1)} |")
    p("")
    lat = [x for x in labels if "latency" in x]
    for lb in lat:
        p(f"Latency ({lb}, LPUSH to receipt): p50 {fnum(med(runs, lb, 'p50_ms'), 2)} ms, "
          f"p90 {fnum(med(runs, lb, 'p90_ms'), 2)} ms, p99 {fnum(med(runs, lb, 'p99_ms'), 2)} ms, "
          f"max {fnum(med(runs, lb, 'max_ms'), 2)} ms.")
    wrk = med(runs, "wrk -t1 -c64", "rate")
    if wrk:
        p(f"Ceiling, wrk -t1 -c64 on the same receiver and body: {fnum(wrk)} requests/s "
          f"(wrk {fnum(med(runs, 'wrk -t1 -c64', 'client_us'), 1)} µs/request, receiver "
          f"{fnum(med(runs, 'wrk -t1 -c64', 'receiver_us'), 1)} µs/request).")
    if med(runs, "redis-benchmark", "lpush"):
        p(f"Ceiling, redis-benchmark -c 50: LPUSH {fnum(med(runs, 'redis-benchmark', 'lpush'))}/s, "
          f"RPOP {fnum(med(runs, 'redis-benchmark', 'rpop'))}/s one per round trip; "
          f"pipelined 100: LPUSH {fnum(med(runs, 'redis-benchmark', 'lpush_p100'))}/s, "
          f"RPOP {fnum(med(runs, 'redis-benchmark', 'rpop_p100'))}/s.")
    p("")

    t1, t2 = med(runs, "hookd t1", "rate"), med(runs, "hookd t2", "rate")
    bull, sq = med(runs, "BullMQ", "rate"), med(runs, "Sidekiq", "rate")
    c1 = med(runs, "hookd t1", "worker_us")
    fan_lb = next((x for x in labels if "fan-out" in x), None)
    fan_cost = ratio(med(runs, fan_lb, "event_us"), med(runs, "hookd t1", "event_us")) \
        if fan_lb else None
    fan_wall = None
    if fan_lb and t1 and med(runs, fan_lb, "rate"):
        # seconds per event with 10 webhooks over seconds per event with one
        fan_wall = (10 / med(runs, fan_lb, "rate")) / (1 / t1)

    def x(v):
        return "-" if v is None else f"{v:.1f}×"

    def pct(v):
        return "-" if v is None else f"{100 * v:.0f}%"
    p("| ratio | value |")
    p("|---|---:|")
    p(f"| drain rate, hookd t1 ÷ BullMQ | {x(ratio(t1, bull))} |")
    p(f"| drain rate, hookd t2 ÷ BullMQ | {x(ratio(t2, bull))} |")
    p(f"| drain rate, hookd t1 ÷ Sidekiq | {x(ratio(t1, sq))} |")
    p(f"| drain rate, hookd t2 ÷ Sidekiq | {x(ratio(t2, sq))} |")
    p(f"| CPU per delivery, BullMQ ÷ hookd t1 | {x(ratio(med(runs, 'BullMQ', 'worker_us'), c1))} |")
    p(f"| CPU per delivery, Sidekiq ÷ hookd t1 | {x(ratio(med(runs, 'Sidekiq', 'worker_us'), c1))} |")
    p(f"| hookd t1 ÷ wrk ceiling | {pct(ratio(t1, wrk))} |")
    p(f"| hookd t2 ÷ wrk ceiling | {pct(ratio(t2, wrk))} |")
    p(f"| fan-out 10: hookd CPU per event ÷ single delivery | {x(fan_cost)} |")
    p(f"| fan-out 10: wall time per event ÷ single delivery | {x(fan_wall)} |")
    p("")

    best = max([v for v in (t1, t2) if v], default=None)
    rss = max([v for v in (med(runs, "hookd t1", "rss_mb"), med(runs, "hookd t2", "rss_mb")) if v],
              default=None)
    p99 = med(runs, lat[0], "p99_ms") if lat else None

    def mark(ok):
        return "-" if ok is None else ("met" if ok else "NOT met")
    p("| target | measured | |")
    p("|---|---:|---|")
    p(f"| drain ≥ 10× BullMQ (best of t1, t2) | {x(ratio(best, bull))} | "
      f"{mark(None if ratio(best, bull) is None else ratio(best, bull) >= 10)} |")
    p(f"| drain ≥ 10× Sidekiq (best of t1, t2) | {x(ratio(best, sq))} | "
      f"{mark(None if ratio(best, sq) is None else ratio(best, sq) >= 10)} |")
    p(f"| peak RSS < 32 MB in the 20,000-event drain | {fnum(rss, 1)} MB | "
      f"{mark(None if rss is None else rss < 32)} |")
    p(f"| p99 < 5 ms at {LAT_RATE_TEXT} | {fnum(p99, 2)} ms | "
      f"{mark(None if p99 is None else p99 < 5)} |")
    p(f"| fan-out 10 < 10× a single delivery (CPU) | {x(fan_cost)} | "
      f"{mark(None if fan_cost is None else fan_cost < 10)} |")
    failed = [r for r in runs if not r["ok"]]
    if failed:
        p("")
        p(f"{len(failed)} run(s) failed and are left out of the medians: "
          + ", ".join(f"{r['label']} #{r['rep']}" for r in failed))
    text = "\n".join(lines) + "\n"
    print()
    print(text, end="")
    if results:
        os.makedirs(os.path.dirname(results), exist_ok=True)
        with open(results, "w") as f:
            f.write(text)
    if readme and os.path.exists(readme):
        with open(readme) as f:
            doc = f.read()
        if BEGIN in doc and END in doc:
            head, rest = doc.split(BEGIN, 1)
            _, tail = rest.split(END, 1)
            with open(readme, "w") as f:
                f.write(head + BEGIN + "\n" + text + END + tail)
    return 0


# ---------------------------------------------------------------- health

HEALTH_ORDER = ("slow", "capacity", "hang", "down")


def secs_text(ms):
    return f"{ms / 1000:.1f} s" if ms >= 1000 else f"{ms:.0f} ms"


def drain_figures(events, r, elapsed_ms, hwm_kb):
    """A drain to one receiver that may have been cut off at its cap."""
    done = bool(r["done"])
    ms = r["done_ms"] if done else elapsed_ms
    return {"events": events, "done": done, "distinct": r["distinct"], "ms": ms,
            "rate": r["distinct"] * 1000.0 / ms if ms else None,
            "attempts": r["attempts"], "dups": r["dups"], "bad_sig": r["bad_sig"],
            "max_inflight": r["max_inflight"], "rss_mb": int(hwm_kb or 0) / 1024.0}


def drain_text(f):
    if f["done"]:
        head = f"{f['events']:,} in {secs_text(f['ms'])}"
    else:
        head = f"{f['distinct']:,} of {f['events']:,} in {secs_text(f['ms'])} (cap)"
    return f"{fnum(f['rate'])}/s ({head}, peak {f['max_inflight']:,} in flight)"


def derive_slow(a):
    events = int(a["events"])
    rec = {"scenario": "slow", "delay_ms": int(a["delay_ms"]), "cap_s": int(a["cap_s"]),
           "hookd": drain_figures(events, json.loads(a["receiver"]), int(a["elapsed_ms"]),
                                  a["hwm_kb"]),
           "bullmq": {}}
    for k, v in a.items():
        m = re.match(r"bull\.(\d+)\.receiver$", k)
        if m:
            c = m.group(1)
            rec["bullmq"][c] = drain_figures(events, json.loads(v),
                                             int(a[f"bull.{c}.elapsed_ms"]),
                                             a[f"bull.{c}.hwm_kb"])
    best = max(rec["bullmq"].items(), key=lambda kv: kv[1]["rate"] or 0, default=None)
    rec["bullmq_best"] = best[0] if best else None
    rec["ratio"] = ratio(rec["hookd"]["rate"], best[1]["rate"]) if best else None
    return rec


def line_slow(rec):
    h = rec["hookd"]
    s = (f"slow     : {h['events']:,} events, one receiver at {rec['delay_ms']} ms | hookd "
         f"(defaults) {drain_text(h)}, peak RSS {h['rss_mb']:.1f} MB")
    b = rec["bullmq"]
    if b:
        best = b[rec["bullmq_best"]]
        tried = ", ".join(f"{c}: {fnum(f['rate'])}/s{'' if f['done'] else ' (cap)'}"
                          for c, f in b.items())
        s += (f" | BullMQ best {fnum(best['rate'])}/s at concurrency = maxSockets = "
              f"{rec['bullmq_best']}, peak RSS {best['rss_mb']:.1f} MB (tried {tried}) | "
              f"hookd ÷ BullMQ {rec['ratio']:.2f}×")
    return s


def derive_capacity(a):
    x, y = json.loads(a["before"]), json.loads(a["after"])
    ms = int(a["window_ms"])
    att = y["attempts"] - x["attempts"]
    s503 = y["status_503"] - x["status_503"]
    good = y["distinct"] - x["distinct"]
    cap, delay = int(a["capacity"]), int(a["delay_ms"])
    return {"scenario": "capacity", "events": int(a["events"]), "capacity": cap,
            "delay_ms": delay, "warm_s": int(a["warm_s"]), "window_ms": ms,
            "ideal": cap * 1000.0 / delay, "delivered": good, "attempts": att,
            "status_503": s503, "other_5xx": y["status_5xx"] - x["status_5xx"],
            "goodput": good * 1000.0 / ms if ms else None,
            "share_503": s503 / att if att else None,
            "dry": y["distinct"] >= int(a["events"]), "max_inflight": y["max_inflight"],
            "bad_sig": y["bad_sig"], "rss_mb": int(a["hwm_kb"] or 0) / 1024.0}


def line_capacity(rec):
    share = "-" if rec["share_503"] is None else f"{100 * rec['share_503']:.1f}%"
    s = (f"capacity : one receiver, 503 above {rec['capacity']} in flight, {rec['delay_ms']} ms "
         f"| goodput {fnum(rec['goodput'])}/s over {secs_text(rec['window_ms'])} after "
         f"{rec['warm_s']} s ({100 * rec['goodput'] / rec['ideal']:.0f}% of "
         f"{fnum(rec['ideal'])}/s), 503s {share} of {rec['attempts']:,} attempts, receiver "
         f"peak {rec['max_inflight']:,} in flight, hookd peak RSS {rec['rss_mb']:.1f} MB")
    if rec["dry"]:
        s += " | the queue ran dry inside the window: raise the events"
    return s


def derive_hang(a):
    r, h = json.loads(a["receiver"]), json.loads(a["hang_receiver"])
    events = int(a["events"])
    return {"scenario": "hang", "events": events, "hanging": int(a["hanging"]),
            "rate": int(a["rate"]), "secs": int(a["secs"]), "wait_s": int(a["wait_s"]),
            "delivered": r["distinct"], "all": r["distinct"] == events,
            "p50_ms": r["lat_p50_us"] / 1000.0, "p99_ms": r["lat_p99_us"] / 1000.0,
            "max_ms": r["lat_max_us"] / 1000.0, "lat_n": r["lat_n"],
            "hang_attempts": h["attempts"], "hang_peak": h["max_inflight"],
            "bad_sig": r["bad_sig"] + h["bad_sig"], "rss_mb": int(a["hwm_kb"] or 0) / 1024.0}


def ms_text(ms):
    return f"{ms / 1000:.2f} s" if ms >= 1000 else f"{ms:.1f} ms"


def line_hang(rec):
    lat = (f"p50 {ms_text(rec['p50_ms'])}, p99 {ms_text(rec['p99_ms'])}, "
           f"max {ms_text(rec['max_ms'])}") if rec["lat_n"] else "nothing arrived"
    return (f"hang     : {rec['hanging']} hanging webhooks + 1 healthy, {rec['rate']} events/s "
            f"for {rec['secs']} s | healthy receiver {lat}; {rec['delivered']:,} of "
            f"{rec['events']:,} delivered ({'all' if rec['all'] else 'NOT all'}, waited up to "
            f"{rec['wait_s']} s after pacing) | hanging receivers got {rec['hang_attempts']:,} "
            f"attempts, peak {rec['hang_peak']:,} held, hookd peak RSS {rec['rss_mb']:.1f} MB")


def derive_down(a):
    f, r = json.loads(a["flip"]), json.loads(a["receiver"])
    events = int(a["events"])
    flip_ms = int(a["flip_ms"])
    done = bool(r["done"])
    return {"scenario": "down", "events": events, "down_s": int(a["down_s"]),
            "cap_s": int(a["recover_cap_s"]), "flip_ms": flip_ms,
            "down_attempts": f["attempts"], "down_delivered": f["distinct"],
            "up_attempts": r["attempts"] - f["attempts"], "delivered": r["distinct"],
            "done": done,
            "recovery_ms": max(0.0, r["done_ms"] - flip_ms) if done else None,
            "waited_ms": int(a["waited_ms"]),
            "lost": events - r["distinct"] if done else None,
            "dups": r["dups"], "bad_sig": r["bad_sig"], "rss_mb": int(a["hwm_kb"] or 0) / 1024.0}


def line_down(rec):
    s = (f"down     : {rec['events']:,} events to a receiver answering 500 for "
         f"{rec['down_s']} s, then 200 | {rec['down_attempts']:,} attempts while down "
         f"({rec['down_attempts'] / rec['events']:.2f} per queued delivery, "
         f"{rec['down_attempts'] / (rec['flip_ms'] / 1000):.1f}/s) | ")
    if rec["done"]:
        s += (f"all {rec['events']:,} delivered {secs_text(rec['recovery_ms'])} after recovery "
              f"({rec['up_attempts']:,} attempts), {rec['lost']} lost, {rec['dups']} dups")
    else:
        s += (f"NOT all delivered: {rec['delivered']:,} of {rec['events']:,} "
              f"{secs_text(rec['waited_ms'])} after recovery (cap), "
              f"{rec['up_attempts']:,} attempts")
    return s


HEALTH = {"slow": (derive_slow, line_slow), "capacity": (derive_capacity, line_capacity),
          "hang": (derive_hang, line_hang), "down": (derive_down, line_down)}


def cmd_health(path, pairs):
    a = dict(p.split("=", 1) for p in pairs)
    derive, line = HEALTH[a["scenario"]]
    rec = derive(a)
    rec["line"] = line(rec)
    with open(path, "a") as f:
        f.write(json.dumps(rec) + "\n")
    print(rec["line"], flush=True)


def cmd_health_check(path, only):
    want = HEALTH_ORDER if only in (None, "all") else only.split(",")
    runs = load(path) if os.path.exists(path) else []
    ran = {r["scenario"] for r in runs if r.get("line")}
    missing = [s for s in want if s not in ran]
    print(f"bench health quick: {len(want) - len(missing)} of {len(want)} scenarios ran"
          + (f"; missing: {', '.join(missing)}" if missing else ""))
    return 1 if missing else 0


def hookd_text(binary):
    if not binary:
        return "hookd"
    ver = version([binary, "--version"])
    d = os.path.dirname(os.path.abspath(binary))
    rev = version(["git", "-C", d, "rev-parse", "--short", "HEAD"])
    try:
        dirty = subprocess.run(["git", "-C", d, "status", "--porcelain", "-uno", "--", ":/src",
                                ":/include"], capture_output=True, text=True,
                               timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        dirty = ""
    return f"{ver} (commit {rev}{' with local changes in src/ or include/' if dirty else ''})"


def cmd_health_summary(path, results, readme, binary):
    runs = {r["scenario"]: r for r in load(path)}
    here = os.path.dirname(os.path.abspath(__file__))
    lines = []
    p = lines.append
    date, bull_ver = run_stamp(here)
    p(f"Run {date} on {machine()}; {hookd_text(binary)} with its default settings; "
      f"node {version(['node', '--version'])} with BullMQ {bull_ver}.")
    p("")
    p("| scenario | hookd (defaults) | BullMQ |")
    p("|---|---|---|")
    sl, ca, ha, do = (runs.get(k) for k in HEALTH_ORDER)
    if sl:
        h = sl["hookd"]
        bull = "not run"
        if sl["bullmq"]:
            b = sl["bullmq"][sl["bullmq_best"]]
            tried = "; ".join(f"{c}: {fnum(f['rate'])}/s" for c, f in sl["bullmq"].items())
            bull = (f"best {fnum(b['rate'])}/s at concurrency = maxSockets = {sl['bullmq_best']}, "
                    f"peak RSS {b['rss_mb']:.1f} MB (tried {tried})")
        p(f"| slow: {h['events']:,} events, one receiver answering {sl['delay_ms']} ms late | "
          f"{drain_text(h)}, peak RSS {h['rss_mb']:.1f} MB | {bull} |")
    if ca:
        share = "-" if ca["share_503"] is None else f"{100 * ca['share_503']:.1f}%"
        p(f"| capacity: 503 above {ca['capacity']} in flight, {ca['delay_ms']} ms | goodput "
          f"{fnum(ca['goodput'])}/s over {secs_text(ca['window_ms'])} after {ca['warm_s']} s, "
          f"503s {share} of {ca['attempts']:,} attempts, receiver peak "
          f"{ca['max_inflight']:,} in flight | - |")
    if ha:
        p(f"| hang: {ha['hanging']} hanging webhooks + 1 healthy, {ha['rate']} events/s for "
          f"{ha['secs']} s | healthy p50 {ms_text(ha['p50_ms'])}, p99 {ms_text(ha['p99_ms'])}, "
          f"max {ms_text(ha['max_ms'])}; {ha['delivered']:,} of {ha['events']:,} delivered "
          f"within {ha['wait_s']} s of the end | - |")
    if do:
        rec = (f"all delivered {secs_text(do['recovery_ms'])} after recovery, {do['lost']} lost"
               if do["done"] else
               f"{do['delivered']:,} of {do['events']:,} delivered "
               f"{secs_text(do['waited_ms'])} after recovery (cap)")
        p(f"| down: {do['events']:,} events, 500 for {do['down_s']} s, then 200 | "
          f"{do['down_attempts']:,} attempts while down; {rec} | - |")
    p("")

    def mark(ok):
        return "-" if ok is None else ("met" if ok else "NOT met")
    p("| target | measured | |")
    p("|---|---:|---|")
    if sl:
        h = sl["hookd"]
        p(f"| slow: ≥ 10,000 deliveries/s with default settings | {fnum(h['rate'])}/s | "
          f"{mark(h['rate'] is not None and h['rate'] >= 10000)} |")
        r = sl["ratio"]
        p(f"| slow: ≥ 4× BullMQ's best in the same run | "
          f"{'-' if r is None else f'{r:.2f}×'} | {mark(None if r is None else r >= 4)} |")
        p(f"| slow: hookd peak RSS ≤ 64 MB | {h['rss_mb']:.1f} MB | "
          f"{mark(h['rss_mb'] <= 64)} |")
    if ca:
        g = ca["goodput"]
        p(f"| capacity: goodput ≥ 80% of {fnum(ca['ideal'])}/s = {fnum(0.8 * ca['ideal'])}/s | "
          f"{fnum(g)}/s | {mark(None if g is None else g >= 0.8 * ca['ideal'])} |")
        sh = ca["share_503"]
        p(f"| capacity: ≤ 5% of attempts answered 503 | "
          f"{'-' if sh is None else f'{100 * sh:.1f}%'} | {mark(None if sh is None else sh <= 0.05)} |")
    if ha:
        p(f"| hang: healthy receiver's p99 < 1 s | {ms_text(ha['p99_ms'])} | "
          f"{mark(ha['lat_n'] > 0 and ha['p99_ms'] < 1000)} |")
        p(f"| hang: every healthy event delivered | {ha['delivered']:,} of {ha['events']:,} | "
          f"{mark(ha['all'])} |")
    if do:
        per_s = do["down_attempts"] / (do["flip_ms"] / 1000)
        p(f"| down: about one attempt per probe interval while down, not one per delivery "
          f"(read as ≤ 1 a second) | {do['down_attempts']:,} in {do['flip_ms'] / 1000:.0f} s | "
          f"{mark(per_s <= 1)} |")
        p(f"| down: all {do['events']:,} delivered within 30 s of recovery | "
          f"{secs_text(do['recovery_ms']) if do['done'] else 'not within ' + secs_text(do['waited_ms'])}"
          f" | {mark(do['done'] and do['recovery_ms'] <= 30000)} |")
        p(f"| down: 0 lost | {'-' if do['lost'] is None else do['lost']} | "
          f"{mark(None if do['lost'] is None else do['lost'] == 0)} |")
    text = "\n".join(lines) + "\n"
    print()
    print(text, end="")
    if results:
        os.makedirs(os.path.dirname(results), exist_ok=True)
        with open(results, "w") as f:
            f.write(text)
            f.write("\n" + "\n".join(runs[k]["line"] for k in HEALTH_ORDER if k in runs) + "\n")
    if readme and os.path.exists(readme):
        with open(readme) as f:
            doc = f.read()
        if HBEGIN in doc and HEND in doc:
            head, rest = doc.split(HBEGIN, 1)
            _, tail = rest.split(HEND, 1)
            with open(readme, "w") as f:
                f.write(head + HBEGIN + "\n" + text + HEND + tail)
    return 0


LAT_RATE_TEXT = "2,000 events/s"


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, path = argv[1], argv[2]
    if cmd == "record":
        cmd_record(path, argv[3:])
        return 0
    if cmd == "check":
        return cmd_check(path)
    if cmd == "health":
        cmd_health(path, argv[3:])
        return 0
    if cmd in ("health-check", "health-summary"):
        opts = dict(zip(argv[3::2], argv[4::2]))
        if cmd == "health-check":
            return cmd_health_check(path, opts.get("--only"))
        return cmd_health_summary(path, opts.get("--results"), opts.get("--readme"),
                                  opts.get("--hookd"))
    if cmd == "summary":
        opts = dict(zip(argv[3::2], argv[4::2]))
        return cmd_summary(path, opts.get("--results"), opts.get("--readme"),
                           opts.get("--n", "?"), opts.get("--repeats", "?"))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
