"""The metrics endpoint of `hookd run --metrics-addr` (docs/metrics.md):
/healthz, /readyz (Redis down, draining), /metrics checked by promtool,
counters that follow deliveries, and queue depth gauges equal to what Redis
holds."""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HookdCase, Hookd, RedisServer, free_port, now_ms, wait_for  # noqa: E402

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$')
PROM_TYPE = "text/plain; version=0.0.4"


def fetch(port, path, method="GET", timeout=5):
    """(status, body text, headers) of one request, or (None, reason, {})."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path)
        r = c.getresponse()
        return r.status, r.read().decode(errors="replace"), {k.lower(): v for k, v in
                                                             r.getheaders()}
    except (OSError, http.client.HTTPException) as e:
        return None, repr(e), {}
    finally:
        c.close()


def samples(text):
    """{'name{labels}': float} of an exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


class MetricsCase(HookdCase):

    def start_with_metrics(self, h=None, env=None):
        """Starts `hookd run` with --metrics-addr on a spare port and waits
        for /healthz; fails (never skips) when the endpoint does not come up."""
        h = h or self.h
        self.mport = free_port()
        w = h.start_worker(env=env, args=["--metrics-addr", "127.0.0.1:%d" % self.mport])
        up = wait_for(lambda: fetch(self.mport, "/healthz")[0] == 200 or not w.alive(), 10)
        if not w.alive() or fetch(self.mport, "/healthz")[0] != 200:
            self.fail("`hookd run --metrics-addr 127.0.0.1:%d` serves no /healthz (alive=%s, "
                      "up=%r): is hookd_metrics_serve() wired into `hookd run`?\n%s"
                      % (self.mport, w.alive(), up, w.log()[-3000:]))
        return w

    def scrape(self):
        st, body, hd = fetch(self.mport, "/metrics")
        self.assertEqual(st, 200, body)
        return body, hd

    def metric(self, key):
        return samples(self.scrape()[0]).get(key)

    def wait_metric(self, key, want, timeout=10):
        got = wait_for(lambda: self.metric(key) == want, timeout)
        self.assertTrue(got, "%s: want %r, have %r" % (key, want, self.metric(key)))

    def promtool(self, text):
        tool = shutil.which("promtool") or ("/usr/bin/promtool"
                                             if os.path.exists("/usr/bin/promtool") else None)
        if not tool:
            self.fail("promtool is missing: apt-get install -y prometheus (scripts/deps.sh)")
        p = subprocess.run([tool, "check", "metrics"], input=text.encode(),
                           capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, "promtool check metrics:\n%s%s\n--- exposition ---\n%s"
                         % (p.stdout.decode(), p.stderr.decode(), text))


class Endpoints(MetricsCase):

    def test_health_ready_metrics_promtool(self):
        self.start_with_metrics()
        st, body, _ = fetch(self.mport, "/healthz")
        self.assertEqual((st, body), (200, "ok\n"))
        self.assertTrue(wait_for(lambda: fetch(self.mport, "/readyz")[0] == 200, 10),
                        "/readyz never 200 with Redis up: %r" % (fetch(self.mport, "/readyz"),))
        self.assertEqual(fetch(self.mport, "/readyz")[1], "ready\n")

        text, hd = self.scrape()
        self.assertTrue(hd.get("content-type", "").startswith(PROM_TYPE), hd)
        self.promtool(text)
        s = samples(text)
        for key in ('hookd_events_total{result="fanned_out"}',
                    'hookd_deliveries_total{outcome="delivered"}',
                    'hookd_http_responses_total{class="2xx"}',
                    "hookd_redis_reconnects_total",
                    'hookd_attempt_duration_seconds_bucket{le="+Inf"}',
                    "hookd_delivery_duration_seconds_count",
                    "hookd_redis_up", "hookd_draining"):
            self.assertIn(key, s, "missing sample %s" % key)
        self.assertEqual(s["hookd_redis_up"], 1)
        self.assertEqual(s["hookd_draining"], 0)
        self.assertTrue(any(k.startswith("hookd_build_info{version=") for k in s), s)

        self.assertEqual(fetch(self.mport, "/nope")[0], 404)
        self.assertEqual(fetch(self.mport, "/metrics", method="POST")[0], 405)
        # keep-alive: several requests on one connection
        c = http.client.HTTPConnection("127.0.0.1", self.mport, timeout=5)
        try:
            for path in ("/healthz", "/metrics", "/readyz"):
                c.request("GET", path)
                r = c.getresponse()
                r.read()
                self.assertEqual(r.status, 200, path)
        finally:
            c.close()

    def test_per_host_gauges_name_the_busiest_and_sum_the_rest(self):
        # 22 hosts that refuse connections and one that works: /metrics names
        # 20 hosts, sums the rest as host="other", counts hosts by circuit
        # state, and promtool accepts it.
        dead_ports = [free_port() for _ in range(22)]
        for p in dead_ports:
            self.h.add_webhook("http://127.0.0.1:%d/x" % p)
        self.h.add_webhook(self.url("ok", "hosts"))
        self.start_with_metrics(env={"HOOKD_RETRY_BASE": "200ms", "HOOKD_MAX_ATTEMPTS": "20"})
        self.enqueue("person.created", {"id": "1"})
        self.enqueue("person.created", {"id": "2"})

        def hosts_total():
            s = samples(self.scrape()[0])
            return sum(v for k, v in s.items() if k.startswith("hookd_hosts{"))
        self.assertTrue(wait_for(lambda: hosts_total() == 23, 15),
                        "hookd_hosts sums to %r, want 23" % hosts_total())
        self.assertTrue(wait_for(lambda: samples(self.scrape()[0]).get(
            'hookd_hosts{state="open"}', 0) >= 1, 15), "no circuit opened")
        text, _ = self.scrape()
        self.promtool(text)
        s = samples(text)
        named = [k for k in s if k.startswith("hookd_host_limit{") and 'host="other"' not in k]
        self.assertEqual(len(named), 20, named)
        self.assertIn('hookd_host_limit{host="other"}', s)
        self.assertNotIn('hookd_host_circuit_open{host="other"}', s)
        opened = [k for k, v in s.items() if k.startswith("hookd_host_circuit_open{") and v == 1]
        self.assertTrue(opened, "no named host shows its circuit open")

    def test_oversized_head_is_refused(self):
        self.start_with_metrics()
        s = socket.create_connection(("127.0.0.1", self.mport), timeout=5)
        try:
            s.sendall(b"GET /metrics HTTP/1.1\r\nX-Pad: " + b"p" * 70000 + b"\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        finally:
            s.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 431 "), data[:200])
        self.assertEqual(fetch(self.mport, "/healthz")[0], 200, "server still serves")

    def test_delivery_moves_counters(self):
        wh = self.h.add_webhook(self.url("ok", "count"), "--events", "person.*")
        self.start_with_metrics()
        self.wait_metric('hookd_webhooks{state="enabled"}', 1)
        before = samples(self.scrape()[0])
        self.assertEqual(before['hookd_deliveries_total{outcome="delivered"}'], 0)
        self.enqueue("person.created", {"id": "1"})
        got = self.recv.wait_count(self.path("ok", "count"), 1, 10)
        self.assertEqual(len(got), 1, "nothing delivered")
        self.wait_metric('hookd_deliveries_total{outcome="delivered"}', 1)
        s = samples(self.scrape()[0])
        self.assertEqual(s['hookd_events_total{result="fanned_out"}'], 1)
        self.assertEqual(s['hookd_http_responses_total{class="2xx"}'], 1)
        self.assertEqual(s['hookd_attempt_duration_seconds_count'], 1)
        self.assertEqual(s['hookd_delivery_duration_seconds_count'], 1)
        self.assertGreater(s['hookd_attempt_duration_seconds_sum'], 0)
        # an event nobody subscribed to, and one that is not JSON
        self.enqueue("company.created", {"id": "2"})
        self.push_raw(b"{not json")
        self.wait_metric('hookd_events_total{result="unrouted"}', 1)
        self.wait_metric('hookd_events_total{result="invalid"}', 1)
        self.assertEqual(wh["url"], self.url("ok", "count"))


class Depths(MetricsCase):

    def test_queue_depth_gauges_match_redis(self):
        # One loop that may hold 2 deliveries: with a receiver that never
        # answers, 2 events stay leased and the rest wait in the list.
        self.h.add_webhook(self.url("hang", "depth"))
        self.r.lpush(self.k("dead"), *[json.dumps({"n": i}) for i in range(3)])
        far = now_ms() + 86400000
        self.r.zadd(self.k("retry"), {"d:msg_depth%d" % i: far + i for i in range(4)})
        self.start_with_metrics(env={"HOOKD_THREADS": "1", "HOOKD_CONCURRENCY": "2",
                                     "HOOKD_TIMEOUT": "30s", "HOOKD_LEASE": "60s"})
        for i in range(7):
            self.enqueue("person.created", {"n": i})
        self.recv.wait_count(self.path("hang", "depth"), 2, 10)

        def redis_depths():
            return {"events": self.r.llen(self.k("events")),
                    "retry": self.r.zcard(self.k("retry")),
                    "dead": self.r.llen(self.k("dead")),
                    "inflight": self.r.zcard(self.k("leases"))}

        def gauges():
            s = samples(self.scrape()[0])
            return {q: s.get('hookd_queue_depth{queue="%s"}' % q)
                    for q in ("events", "retry", "dead", "inflight")}

        want = redis_depths()
        self.assertEqual(want["events"], 5, want)
        self.assertEqual(want["retry"], 4, want)
        self.assertEqual(want["dead"], 3, want)
        self.assertGreaterEqual(want["inflight"], 1, want)
        ok = wait_for(lambda: gauges() == redis_depths(), 5)
        self.assertTrue(ok, "gauges %r, Redis %r" % (gauges(), redis_depths()))
        self.promtool(self.scrape()[0])


class RedisDown(MetricsCase):
    """Uses its own redis-server, which it stops and starts again."""

    def test_readyz_follows_redis(self):
        red = RedisServer().start()
        try:
            h = Hookd(red.port)
            try:
                self._run(red, h)
            finally:
                for w in h.workers:
                    if w.alive():
                        h.stop_worker(w, timeout=15)
                if self._failed():
                    sys.stderr.write(h.logs())
                h.close()
        finally:
            red.cleanup()

    def _run(self, red, h):
        self.start_with_metrics(h=h)
        self.assertTrue(wait_for(lambda: fetch(self.mport, "/readyz")[0] == 200, 10))
        self.wait_metric('hookd_queue_depth{queue="events"}', 0)
        red.stop()
        down = wait_for(lambda: fetch(self.mport, "/readyz")[:2] == (503, "redis down\n"), 15)
        self.assertTrue(down, "/readyz with Redis stopped: %r" % (fetch(self.mport, "/readyz"),))
        self.assertEqual(fetch(self.mport, "/healthz")[:2], (200, "ok\n"),
                         "liveness does not depend on Redis")
        self.wait_metric("hookd_redis_up", 0)
        # depths cannot be read: their samples go away, the rest stays valid
        gone = wait_for(lambda: not any(k.startswith("hookd_queue_depth{")
                                        for k in samples(self.scrape()[0])), 10)
        self.assertTrue(gone, self.scrape()[0])
        self.promtool(self.scrape()[0])
        reconnects = self.metric("hookd_redis_reconnects_total")
        red.start()
        self.assertTrue(wait_for(lambda: fetch(self.mport, "/readyz")[0] == 200, 30),
                        "/readyz after Redis came back: %r" % (fetch(self.mport, "/readyz"),))
        self.wait_metric("hookd_redis_up", 1)
        self.assertTrue(wait_for(lambda: self.metric('hookd_queue_depth{queue="events"}') == 0,
                                 10), "depths are read again")
        self.assertGreater(self.metric("hookd_redis_reconnects_total"), reconnects)


class Draining(MetricsCase):

    def test_readyz_503_while_draining(self):
        self.h.add_webhook(self.url("hang", "drain"))
        w = self.start_with_metrics(env={"HOOKD_DRAIN_TIMEOUT": "4s"})
        self.assertTrue(wait_for(lambda: fetch(self.mport, "/readyz")[0] == 200, 10))
        self.enqueue("person.created", {"id": "1"})
        self.recv.wait_count(self.path("hang", "drain"), 1, 10)
        w.proc.send_signal(signal.SIGTERM)
        drained = wait_for(lambda: fetch(self.mport, "/readyz")[:2] == (503, "draining\n"), 3)
        self.assertTrue(drained, "/readyz while draining: %r" % (fetch(self.mport, "/readyz"),))
        self.assertEqual(fetch(self.mport, "/healthz")[0], 200)
        self.assertEqual(self.metric("hookd_draining"), 1)
        rc, _ = self.h.stop_worker(w, sig=None, timeout=15)
        self.assertEqual(rc, 0, w.log()[-2000:])


class BadAddress(MetricsCase):

    def test_port_in_use_fails_fast(self):
        blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        try:
            w = self.h.start_worker(args=["--metrics-addr", "127.0.0.1:%d" % port])
            rc, _ = self.h.stop_worker(w, sig=None, timeout=10)
        finally:
            blocker.close()
        self.assertIsNotNone(rc, "hookd kept running without its metrics endpoint")
        self.assertNotEqual(rc, 0)
        self.assertIn("cannot listen on 127.0.0.1:%d" % port, w.log())

    def test_malformed_address_is_a_usage_error(self):
        w = self.h.start_worker(args=["--metrics-addr", "::1:9464"])
        rc, _ = self.h.stop_worker(w, sig=None, timeout=10)
        self.assertEqual(rc, 2, w.log())
        self.assertIn("metrics-addr", w.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
