"""Endpoint health (docs/health.md): the per-host limiter grows and shrinks
and honours Retry-After for the whole host; a failing host's circuit opens,
parks its deliveries in Redis, probes, and closes, with the parked work
surviving SIGKILL; a webhook failing for its whole window is disabled, told
on {P}:ops, and `webhook enable` sends what it parked."""

import json
import os
import re
from re import escape as re_escape
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HookdCase, wait_for  # noqa: E402
from test_crash import envelopes  # noqa: E402
from test_verifiers import new_whsec, npm_verify  # noqa: E402
from test_verifiers import setUpModule as npm_ready  # noqa: E402


def setUpModule():
    npm_ready()  # the pinned standardwebhooks and svix packages, for --ops-url


class Health(HookdCase):

    def push(self, n, tag, **extra):
        rc, out, err = self.h.cli("enqueue", "-", input=envelopes(n, tag=tag, **extra),
                                  timeout=60)
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["pushed"], n)

    def host_records(self):
        """The {P}:health records of the receiver's host, newest state of each loop."""
        host = "http://127.0.0.1:%d" % self.recv.port
        out = []
        for field, value in self.r.hgetall(self.k("health")).items():
            if field.decode().endswith(" " + host):
                out.append(json.loads(value))
        return out

    def circuit(self):
        host = "http://127.0.0.1:%d" % self.recv.port
        v = self.r.hget(self.k("circuit"), host)
        return v.decode() if v else None

    def test_limit_grows_past_its_start_within_the_cap(self):
        # 100 ms answers, 600 events, one loop, cap 64: the limit starts at
        # 10 and must grow, but never past the cap.
        self.h.add_webhook(self.url("slow", "grow", "ms=100"))
        w = self.h.start_worker(env={"HOOKD_THREADS": "1", "HOOKD_HOST_CONCURRENCY": "64"})
        self.push(600, "grow")
        prefix = self.path("slow", "grow")
        self.assertTrue(wait_for(lambda: len(self.recv.distinct_ids(prefix)) >= 600, 60),
                        "delivered %d of 600" % len(self.recv.distinct_ids(prefix)))
        peak = self.recv.max_inflight(self.path("slow", "grow").split("?")[0])
        print("\npeak in flight %d (start 10, cap 64)" % peak)
        self.assertGreater(peak, 20, "the limit did not grow from its start of 10")
        self.assertLessEqual(peak, 64, "the limit passed host-concurrency")
        self.assertTrue(w.alive())

    def test_503_shrinks_the_limit(self):
        self.h.add_webhook(self.url("503", "shrink", "after=0"))
        self.h.start_worker(env={"HOOKD_THREADS": "1", "HOOKD_RETRY_BASE": "100ms",
                                 "HOOKD_RETRY_MAX_DELAY": "200ms", "HOOKD_MAX_ATTEMPTS": "50"})
        self.push(40, "shrink")
        self.assertTrue(wait_for(lambda: self.host_records(), 10), "no {P}:health record")
        self.assertTrue(wait_for(lambda: any(r["limit"] < 10 for r in self.host_records()), 10),
                        "limit after 503s: %r" % self.host_records())

    def test_timeouts_halve_the_limit(self):
        # every attempt hangs past a 500 ms timeout: a timeout holds a slot
        # for nothing, and the limit falls from its start of 10
        self.h.add_webhook(self.url("hang", "cut"))
        self.h.start_worker(env={"HOOKD_THREADS": "1", "HOOKD_TIMEOUT": "500ms",
                                 "HOOKD_CONNECT_TIMEOUT": "500ms", "HOOKD_RETRY_BASE": "100ms",
                                 "HOOKD_RETRY_MAX_DELAY": "200ms", "HOOKD_MAX_ATTEMPTS": "50"})
        self.push(20, "cut")
        self.assertTrue(wait_for(lambda: any(r["limit"] <= 5 for r in self.host_records()), 15),
                        "limit after timeouts: %r" % self.host_records())

    def test_retry_after_pauses_the_whole_host(self):
        # 20 deliveries, limit 10: the first 10 are answered 429 with
        # Retry-After: 2. Without a host pause the other 10 would start at
        # once; with it nothing reaches the host for about 2 s.
        self.h.add_webhook(self.url("429", "pause", "after=2"))
        self.h.start_worker(env={"HOOKD_THREADS": "1", "HOOKD_MAX_ATTEMPTS": "2"})
        self.push(20, "pause")
        prefix = self.path("429", "pause")
        self.assertTrue(wait_for(lambda: self.recv.count(prefix) >= 11, 20),
                        "attempts: %d" % self.recv.count(prefix))
        times = sorted(r.t for r in self.recv.deliveries(prefix))
        first = times[0]
        early = [t - first for t in times if 0.3 < t - first < 1.7]
        seen, marks = set(), []
        for r in sorted(self.recv.deliveries(prefix), key=lambda r: r.t):
            i = r.headers.get("webhook-id")
            marks.append("%.2f%s" % (r.t - first, "r" if i in seen else ""))
            seen.add(i)
        print("\nattempt offsets (r: a retry): %s" % ", ".join(marks[:16]))
        self.assertEqual(early, [], "attempts while Retry-After paused the host")

    def test_circuit_opens_parks_probes_closes_and_parked_survives_sigkill(self):
        n = 300
        route = self.path("switch", "down")
        wh = self.h.add_webhook(self.recv.url(route))
        env = {"HOOKD_THREADS": "2", "HOOKD_PROBE_MAX": "2s", "HOOKD_RETRY_BASE": "500ms",
               "HOOKD_RETRY_MAX_DELAY": "1s", "HOOKD_MAX_ATTEMPTS": "100", "HOOKD_LEASE": "5s",
               "HOOKD_TIMEOUT": "1s", "HOOKD_CONNECT_TIMEOUT": "500ms"}
        w = self.h.start_worker(env=env)
        self.push(n, "down")
        self.assertTrue(wait_for(lambda: self.circuit() is not None, 15), "the circuit never opened")
        opened = self.recv.count(route)
        self.assertTrue(wait_for(lambda: self.parked() > 0, 10), "nothing parked")
        # Every loop reads the circuit within half a second; what it had in
        # flight ends. From then on: one attempt (the probe) per interval,
        # 1 s, then 2 s (--probe-max), for the whole fleet.
        time.sleep(1)
        settled = self.recv.count(route)
        time.sleep(6)
        during = self.recv.count(route) - settled
        print("\nattempts before the circuit opened %d, in its first second %d, in the 6 s "
              "after %d, parked %d" % (opened, settled - opened, during, self.parked()))
        self.assertLessEqual(during, 5, "an open circuit must cost about one probe per interval")
        self.assertLess(opened, n, "every delivery was attempted before the circuit opened")
        # what operators see: stats and webhook show tell the open circuit
        host = "http://127.0.0.1:%d" % self.recv.port

        def stats_host():
            st = self.h.cli_json("stats", "--json")
            return st, [x for x in st["hosts"] if x["host"] == host]
        self.assertTrue(wait_for(lambda: stats_host()[1] and stats_host()[1][0]["state"] == "open",
                                 5), "stats: %r" % (stats_host(),))
        st, (row,) = stats_host()
        self.assertGreater(st["parked"], 0)
        self.assertEqual(row["success_rate"], 0.0, row)
        self.assertGreaterEqual(row["failed"], 5)
        # the circuit is half-open while a probe is out (one a second here),
        # so each view is read until it shows the circuit open between probes
        text = re.compile(r"%s +open" % re_escape(host))
        self.assertTrue(wait_for(lambda: text.search(self.h.cli("stats")[1]), 5),
                        self.h.cli("stats")[1])
        self.assertTrue(wait_for(lambda: self.h.cli_json("webhook", "show", wh["id"])
                                 ["health"]["state"] == "open", 5))
        shown = self.h.cli_json("webhook", "show", wh["id"])
        self.assertEqual(shown["health"]["host"], host)
        # SIGKILL with the work parked; a new worker finds it all
        w.proc.send_signal(signal.SIGKILL)
        w.proc.wait(10)
        self.assertGreater(self.parked() + self.r.zcard(self.k("retry"))
                           + self.r.zcard(self.k("leases")), 0)
        self.recv.set_switch(route, 200)
        t0 = time.monotonic()
        w2 = self.h.start_worker(env=env)
        self.assertTrue(wait_for(lambda: len(self.recv.ok_ids(route)) >= n, 60),
                        "delivered %d of %d after recovery" % (len(self.recv.ok_ids(route)), n))
        print("all %d delivered %.1f s after the host came back" % (n, time.monotonic() - t0))
        self.assertTrue(wait_for(self.queues_empty, 10), "parked %d retry %d leases %d" % (
            self.parked(), self.r.zcard(self.k("retry")), self.r.zcard(self.k("leases"))))
        self.assertTrue(wait_for(lambda: self.circuit() is None, 10), "the circuit stayed open")
        self.assertEqual(self.r.hlen(self.k("jobs")), 0)
        self.assertEqual(self.r.llen(self.k("dead")), 0)
        self.assertTrue(wait_for(lambda: self.h.cli_json("webhook", "show", wh["id"])
                                 ["health"]["state"] == "closed", 12),
                        "the killed worker's record goes stale after 6 s")
        self.assertTrue(w2.alive())

    def test_refused_probe_keeps_the_circuit_open(self):
        """The address policy refusing a probe (the host's address moved
        outside --allow-net, or this worker allows less) says nothing good of
        the host: the circuit stays open and the next probe waits longer.
        The policy is per process, so a second worker that allows less than
        the first plays the moved address."""
        route = self.path("switch", "down")
        self.h.add_webhook(self.recv.url(route))
        env = {"HOOKD_PROBE_MAX": "2s", "HOOKD_RETRY_BASE": "500ms",
               "HOOKD_RETRY_MAX_DELAY": "1s", "HOOKD_MAX_ATTEMPTS": "100",
               "HOOKD_TIMEOUT": "1s", "HOOKD_CONNECT_TIMEOUT": "500ms"}
        w = self.h.start_worker(env=env)
        self.push(50, "refused")
        self.assertTrue(wait_for(lambda: self.circuit() is not None, 15), "the circuit never opened")
        self.assertTrue(wait_for(lambda: self.parked() > 0, 10), "nothing parked")
        self.h.stop_worker(w, timeout=10)
        before = self.recv.count(route)
        w2 = self.h.start_worker(env=dict(env, HOOKD_ALLOW_NET="10.0.0.0/8"))
        # Probes are due after at most 2 s: watch 6 s, at 20 ms.
        closed_at = None
        t0 = time.monotonic()
        while time.monotonic() - t0 < 6 and closed_at is None:
            if self.circuit() is None:
                closed_at = time.monotonic() - t0
            time.sleep(0.02)
        self.assertIsNone(closed_at, "a refused probe closed the circuit after %.2f s" %
                          (closed_at or 0))
        self.assertIn("not public", w2.log(), "no probe was refused")
        self.assertNotIn("answered its probe", w2.log())
        self.assertEqual(self.recv.count(route), before, "the policy let an attempt through")
        self.assertGreater(self.parked(), 0)
        self.assertTrue(w2.alive())

    def test_auto_disable_after_the_window_and_enable_resumes(self):
        n = 20
        route = self.path("switch", "dis")
        wh = self.h.add_webhook(self.recv.url(route), "--workspace", "ws_1")
        ops_route = self.path("ok", "ops")
        ops_secret = new_whsec()
        w = self.h.start_worker(env={"HOOKD_THREADS": "1", "HOOKD_DISABLE_AFTER": "2s",
                                     "HOOKD_PROBE_MAX": "1s", "HOOKD_RETRY_BASE": "300ms",
                                     "HOOKD_RETRY_MAX_DELAY": "1s", "HOOKD_MAX_ATTEMPTS": "100",
                                     "HOOKD_OPS_URL": self.recv.url(ops_route),
                                     "HOOKD_OPS_SECRET": ops_secret})
        self.push(n, "dis", workspace="ws_1")

        def show():
            return self.h.cli_json("webhook", "show", wh["id"])
        self.assertTrue(wait_for(lambda: not show()["enabled"], 20), "not disabled: %r" % show())
        got = show()
        self.assertIn("every attempt failed", got["disabled_reason"])
        ops = self.r.xrange(self.k("ops"))
        self.assertEqual(len(ops), 1, ops)
        rec = {k.decode(): v.decode() for k, v in ops[0][1].items()}
        self.assertEqual(rec["type"], "webhook.disabled")
        self.assertEqual(rec["webhook"], wh["id"])
        self.assertEqual(rec["workspace"], "ws_1")
        self.assertIn("500", rec["last_error"])
        self.assertTrue(wait_for(lambda: "WARN webhook %s disabled" % wh["id"] in w.log(), 5),
                        w.log()[-2000:])
        # the operator's endpoint got it once, signed as Standard Webhooks
        self.assertTrue(wait_for(lambda: self.recv.count(ops_route) >= 1, 5), w.log()[-2000:])
        (post,) = self.recv.deliveries(ops_route)
        self.assertEqual(npm_verify(ops_secret, post.headers, post.body),
                         {"standardwebhooks": True, "svix": True})
        got = post.json()
        self.assertEqual(got["type"], "webhook.disabled")
        self.assertEqual(got["data"]["webhook"], wh["id"])
        self.assertEqual(got["data"]["workspace"], "ws_1")
        self.assertEqual(got["data"]["kind"], "failing")
        self.assertIn("500", got["data"]["last_error"])
        self.assertEqual(str(got["data"]["disabled_at"]), rec["at"])
        self.assertEqual(self.recv.count(route.replace("switch", "ok")), 0)
        # nothing reaches a disabled webhook; its deliveries wait, parked
        self.assertTrue(wait_for(lambda: self.parked() == n, 10),
                        "parked %d of %d (retry %d, leases %d, dead %d)" % (
                            self.parked(), n, self.r.zcard(self.k("retry")),
                            self.r.zcard(self.k("leases")), self.r.llen(self.k("dead"))))
        # parked under the webhook (the rest wait under the host's circuit)
        self.assertGreaterEqual(show()["parked"], 1)
        before = self.recv.count(route)
        time.sleep(1.5)
        self.assertEqual(self.recv.count(route), before, "attempts to a disabled webhook")
        self.recv.set_switch(route, 200)
        rc, out, err = self.h.cli("webhook", "enable", wh["id"])
        self.assertEqual(rc, 0, err)
        self.assertTrue(json.loads(out)["enabled"])
        self.assertEqual(json.loads(out)["disabled_reason"], "")
        self.assertTrue(wait_for(lambda: len(self.recv.ok_ids(route)) >= n, 20),
                        "resumed %d of %d" % (len(self.recv.ok_ids(route)), n))
        self.assertTrue(wait_for(self.queues_empty, 10))
        self.assertEqual(self.r.llen(self.k("dead")), 0)
        self.assertEqual(len(self.r.xrange(self.k("ops"))), 1, "ops events are never repeated")

    def test_ops_url_needs_a_secret(self):
        rc, out, err = self.h.cli("run", env={"HOOKD_OPS_URL": self.recv.url("/ok/x")})
        self.assertEqual(rc, 2, err)
        self.assertIn("ops-url needs ops-secret", err)
        rc, out, err = self.h.cli("run", env={"HOOKD_OPS_URL": "ftp://x", "HOOKD_OPS_SECRET":
                                              new_whsec()})
        self.assertEqual(rc, 2, err)
        self.assertIn("ops-url:", err)

    def test_disable_by_hand_parks_and_enable_resumes(self):
        route = self.path("switch", "hand")
        wh = self.h.add_webhook(self.recv.url(route))
        self.h.start_worker(env={"HOOKD_THREADS": "1", "HOOKD_RETRY_BASE": "300ms",
                                 "HOOKD_RETRY_MAX_DELAY": "500ms", "HOOKD_MAX_ATTEMPTS": "100"})
        self.push(5, "hand")
        self.assertTrue(wait_for(lambda: self.recv.count(route) >= 5, 10))
        rc, out, err = self.h.cli("webhook", "disable", wh["id"], "--reason", "maintenance")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["disabled_reason"], "maintenance")
        self.assertTrue(wait_for(lambda: self.parked() == 5, 10), "parked %d" % self.parked())
        self.assertEqual(self.r.xrange(self.k("ops")), [], "a disable by hand is no ops event")
        self.recv.set_switch(route, 200)
        rc, out, err = self.h.cli("webhook", "enable", wh["id"])
        self.assertEqual(rc, 0, err)
        self.assertTrue(wait_for(lambda: len(self.recv.ok_ids(route)) >= 5, 10),
                        "resumed %d of 5" % len(self.recv.ok_ids(route)))
        rc, out, err = self.h.cli("webhook", "enable", "wh_nosuch")
        self.assertEqual(rc, 1)
        self.assertIn("no webhook", err)


if __name__ == "__main__":
    unittest.main()
