"""Requests/s and latency of the HTTP API with 1,000 webhooks, against a real
hookd (--api-addr) and a real redis-server, driven by wrk (bench/deps.sh).

    HOOKD_BIN=build-rel/hookd /usr/bin/python3 bench/api.py [--seconds 10]
        [--connections 1,4,16,64] [--webhooks 1000]

Each row is one wrk run (2 threads, or 1 for one connection; keep-alive). /healthz, which
answers without Redis, is the server's ceiling on this machine; the API's
rows are read against it in the same run."""

import argparse
import http.client
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
from harness import Hookd, RedisServer, free_port, wait_for  # noqa: E402

TOKEN = "bench-token-" + "b" * 24
PATHS = ["/healthz", "/v1/webhooks?limit=50", "/v1/webhooks?limit=1000"]
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(port, path, seconds, conns):
    """(requests/s, p50 ms, p99 ms, non-2xx count) of one wrk run."""
    out = subprocess.run(
        ["wrk", "-t", str(min(2, conns)), "-c", str(conns), "-d", "%ds" % seconds, "--latency",
         "-H", "Authorization: Bearer " + TOKEN, "http://127.0.0.1:%d%s" % (port, path)],
        check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {p: float(v) * UNITS[u] for p, v, u in
           re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)}
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rps, lat["50"], lat["99"], int(bad.group(1)) if bad else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", default="1,4,16,64")
    ap.add_argument("--webhooks", type=int, default=1000)
    a = ap.parse_args()
    with RedisServer() as rs:
        h = Hookd(rs.port)
        port = free_port()
        w = h.start_worker(env={"HOOKD_API_TOKEN": TOKEN},
                           args=["--api-addr", "127.0.0.1:%d" % port,
                                 "--metrics-addr", "127.0.0.1:%d" % port])
        try:
            wait_for(lambda: _ok(port), 10)
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            auth = {"Authorization": "Bearer " + TOKEN}
            for i in range(a.webhooks):
                c.request("POST", "/v1/webhooks", body=json.dumps(
                    {"url": "http://127.0.0.1:9/h%d" % i, "events": ["person.*"]}), headers=auth)
                r = c.getresponse()
                r.read()
                assert r.status == 201, r.status
            print("| path | connections | req/s | p50 ms | p99 ms | of /healthz |")
            print("|---|---|---|---|---|---|")
            for conns in [int(x) for x in a.connections.split(",")]:
                ceiling = None
                for path in PATHS:
                    rps, p50, p99, bad = wrk(port, path, a.seconds, conns)
                    if bad:
                        raise SystemExit("%s: %d answers were not 2xx" % (path, bad))
                    ceiling = ceiling or rps
                    print("| %s | %d | %.0f | %.2f | %.2f | %.0f%% |" %
                          (path, conns, rps, p50, p99, 100 * rps / ceiling), flush=True)
        finally:
            h.stop_worker(w)
            h.close()


def _ok(port):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        c.request("GET", "/v1/stats", headers={"Authorization": "Bearer " + TOKEN})
        return c.getresponse().status == 200
    except OSError:
        return False


if __name__ == "__main__":
    main()
