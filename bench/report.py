#!/usr/bin/env python3
"""The benchmark's bookkeeping, called by bench/run.sh (python3 stdlib only).

  report.py record RUNS key=value...   derives one run's figures, appends them
                                       to RUNS (JSON lines), prints one line
  report.py check RUNS                 quick mode: exit 1 unless every run
                                       delivered every event, signed right
  report.py summary RUNS --results F --readme F --n N --repeats R
                                       medians, ratios and targets; writes F and
                                       the table between the README's markers
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


def cmd_summary(path, results, readme, n, repeats):
    runs = load(path)
    here = os.path.dirname(os.path.abspath(__file__))
    lines = []
    p = lines.append
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    bull_ver = "-"
    try:
        with open(os.path.join(here, "peers/bullmq/node_modules/bullmq/package.json")) as f:
            bull_ver = json.load(f)["version"]
    except (OSError, ValueError, KeyError):
        pass
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
    if cmd == "summary":
        opts = dict(zip(argv[3::2], argv[4::2]))
        return cmd_summary(path, opts.get("--results"), opts.get("--readme"),
                           opts.get("--n", "?"), opts.get("--repeats", "?"))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
