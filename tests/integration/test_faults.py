"""Receivers that misbehave (down, slow, hanging, trickling, huge bodies, huge
headers, redirects) and producers that push garbage (deep nesting, floods of
bad envelopes); memory stays bounded (DESIGN.md sections 1, 2 and 5)."""

import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (FAST, HookdCase, free_port, hosts_alias_for_loopback, proc_mem_kb,  # noqa: E402
                     wait_for)


MB = 1024  # KiB


def memory_env(extra=None):
    """Worker environment for memory measurements: when hookd is built with
    AddressSanitizer, its quarantine of freed blocks (256 MB by default)
    would be measured as hookd's memory; keep it small. Ignored otherwise."""
    env = dict(extra or {})
    asan = os.environ.get("ASAN_OPTIONS", "")
    env["ASAN_OPTIONS"] = (asan + ":" if asan else "") + "quarantine_size_mb=16"
    return env


class Receivers(HookdCase):

    def start(self, **extra):
        env = dict(FAST)
        env.update(extra)
        return self.h.start_worker(env=env)

    def attempts(self, webhook_id, n, timeout):
        """Waits for n entries in the attempt log; returns them oldest first
        as `hookd webhook log` prints them."""
        wait_for(lambda: self.r.xlen(self.k("log:" + webhook_id)) >= n, timeout)
        return list(reversed(self.h.cli_lines("webhook", "log", webhook_id)))

    def test_down_retried_with_error_in_log(self):
        port = free_port()
        wh = self.h.add_webhook("http://127.0.0.1:%d/down" % port)
        w = self.start()
        self.enqueue("person.created", {"id": "1"})
        log = self.attempts(wh["id"], 2, 10)
        self.assertGreaterEqual(len(log), 2, "a refused connection was not retried: %r" % log)
        self.assertEqual([int(e["attempt"]) for e in log[:2]], [1, 2])
        for e in log:
            self.assertRegex(e.get("error", "").lower(), r"refused|connect",
                             "the attempt log must say why: %r" % e)
            self.assertNotEqual(str(e.get("status")), "200")
        self.assertTrue(w.alive())

    def test_hanging_receiver_does_not_starve_another(self):
        # Two receivers on two host keys (127.0.0.1 and localhost reach the
        # same test server). Every event goes to both. The hanging one's
        # deliveries pile up in its host queue; once that queue is older
        # than two seconds it is handed back to the retry set, so the slots
        # serve the healthy receiver. Without that, the healthy one got about
        # 4 events per timeout (3 s) and these 200 took minutes.
        self.h.add_webhook(self.url("hang", "stuck"))
        ok_url = self.url("ok", "fine").replace("127.0.0.1", "localhost")
        self.h.add_webhook(ok_url)
        w = self.start(HOOKD_TIMEOUT="3s", HOOKD_LEASE="20s", HOOKD_MAX_ATTEMPTS="10",
                       HOOKD_THREADS="1", HOOKD_CONCURRENCY="100", HOOKD_HOST_CONCURRENCY="4")
        lines = "\n".join(json.dumps({"event": "person.created", "data": {"n": i}})
                           for i in range(200))
        rc, out, err = self.h.cli("enqueue", "-", input=lines + "\n")
        self.assertEqual(rc, 0, err)
        t0 = time.time()

        def fine():
            return {json.loads(r.body)["data"]["n"]
                    for r in self.recv.deliveries(self.path("ok", "fine"))}
        wait_for(lambda: len(fine()) >= 200, 40)
        self.assertEqual(len(fine()), 200, "the healthy receiver starved behind the hanging one "
                         "(%d of 200 after %.0f s)" % (len(fine()), time.time() - t0))
        self.assertTrue(w.alive())

    def test_slow_under_timeout_delivered(self):
        wh = self.h.add_webhook(self.url("slow", "s", "ms=700"))
        self.start()
        self.enqueue("person.created", {"id": "1"})
        self.assertTrue(self.recv.wait_count(self.path("slow", "s"), 1, 5))
        log = self.attempts(wh["id"], 1, 5)
        time.sleep(1.5)
        self.assertEqual(self.recv.count(self.path("slow", "s")), 1, "a slow 200 was retried")
        self.assertEqual(str(log[0]["status"]), "200")
        self.assertGreaterEqual(int(log[0]["ms"]), 650, "the attempt's duration: %r" % log[0])
        self.assertEqual(self.r.llen(self.k("dead")), 0)

    def test_hang_ends_at_timeout(self):
        wh = self.h.add_webhook(self.url("hang", "h"))
        self.start()
        self.enqueue("person.created", {"id": "1"})
        got = self.recv.wait_count(self.path("hang", "h"), 2, 10)
        self.assertGreaterEqual(len(got), 2, "a hanging receiver was not retried")
        log = self.attempts(wh["id"], 1, 5)
        e = log[0]
        self.assertRegex(e.get("error", "").lower(), r"time", "error of a timeout: %r" % e)
        self.assertGreaterEqual(int(e["ms"]), 900, "ended before HOOKD_TIMEOUT=1s: %r" % e)
        self.assertLess(int(e["ms"]), 2000, "HOOKD_TIMEOUT=1s not enforced: %r" % e)

    def test_drip_times_out(self):
        # one byte every 100 ms: the status line alone takes 1.7 s, the
        # whole response 6.6 s; the 1 s timeout covers the whole attempt
        wh = self.h.add_webhook(self.url("drip", "d", "ms=100"))
        w = self.start()
        self.enqueue("person.created", {"id": "1"})
        got = self.recv.wait_count(self.path("drip", "d"), 2, 12)
        self.assertGreaterEqual(len(got), 2, "a trickling receiver was not retried")
        log = self.attempts(wh["id"], 1, 5)
        e = log[0]
        self.assertNotEqual(str(e.get("status")), "200", "a trickled response counted: %r" % e)
        self.assertRegex(e.get("error", "").lower(), r"time", "error of a timeout: %r" % e)
        self.assertLess(int(e["ms"]), 2000, "the attempt outlived HOOKD_TIMEOUT=1s: %r" % e)
        # the receiver was cut off long before it finished
        wait_for(lambda: all(s["t_end"] for s in self.recv.stream_results(self.path("drip", "d"))
                             [:1]), 5)
        first = self.recv.stream_results(self.path("drip", "d"))[0]
        self.assertFalse(first["complete"], "hookd read the trickle to its end: %r" % first)
        self.assertLess(first["t_end"] - first["t0"], 3.0, first)
        self.assertTrue(w.alive())

    def test_huge_body_capped(self):
        # a 200 with 50 MB: delivered, read only to the cap, memory bounded
        wh = self.h.add_webhook(self.url("huge", "b"))
        w = self.h.start_worker(env=memory_env(dict(FAST, HOOKD_TIMEOUT="5s",
                                                    HOOKD_LEASE="10s")))
        self.enqueue("person.created", {"id": "1"})
        self.assertTrue(self.recv.wait_count(self.path("huge", "b"), 1, 10))
        log = self.attempts(wh["id"], 1, 10)
        wait_for(lambda: all(s["t_end"] for s in self.recv.stream_results(self.path("huge", "b"))),
                 10)
        time.sleep(1.0)
        rss, hwm = proc_mem_kb(w.pid)
        streams = self.recv.stream_results(self.path("huge", "b"))
        print("\nhuge_body: rss_kb=%s hwm_kb=%s receiver_sent=%s of %d"
              % (rss, hwm, [s["sent"] for s in streams], streams[0]["total"]))
        sys.stdout.flush()
        self.assertTrue(w.alive())
        self.assertEqual(self.recv.count(self.path("huge", "b")), 1, "retried")
        self.assertEqual(str(log[0]["status"]), "200")
        self.assertEqual(self.r.llen(self.k("dead")), 0)
        self.assertLess(hwm, 200 * MB, "peak RSS %d KiB reading a 50 MB body" % hwm)
        self.assertFalse(streams[0]["complete"],
                         "hookd read all 50 MB (the receiver finished sending): %r" % streams[0])
        self.assertLess(streams[0]["sent"], 40 * 1024 * 1024, streams[0])

    def test_huge_headers_fail_cleanly(self):
        wh = self.h.add_webhook(self.url("bigheaders", "hh", "kb=200"))
        w = self.start(HOOKD_MAX_ATTEMPTS="2")
        self.enqueue("person.created", {"id": "1"})
        dead = self.wait_dead(1, 10)
        self.assertEqual(len(dead), 1, "200 KiB of headers did not fail: %r"
                         % self.h.cli_lines("webhook", "log", wh["id"]))
        log = self.attempts(wh["id"], 2, 5)
        self.assertEqual(len(log), 2, log)
        for e in log:
            self.assertRegex(e.get("error", "").lower(), r"header",
                             "the error must name the headers: %r" % e)
        self.assertRegex(dead[0]["reason"].lower(), r"header")
        self.assertEqual(self.recv.count(self.path("bigheaders", "hh")), 2)
        self.assertTrue(w.alive(), "the worker died on huge headers")

    def test_receiver_named_by_hostname(self):
        # receivers are usually named, not numbered: curl resolves the name
        # (in its resolver thread here, from /etc/hosts: no DNS traffic);
        # the worker keeps running and still exits cleanly on SIGTERM
        alias = hosts_alias_for_loopback()
        if not alias:
            self.skipTest("no name other than localhost for 127.x in /etc/hosts")
        n = 300
        port = self.recv.port
        ok = "/ok/%s-named" % self.token
        flaky = "/flaky/%s-named" % self.token
        self.h.add_webhook("http://%s:%d%s" % (alias, port, ok))
        self.h.add_webhook("http://%s:%d%s?n=1" % (alias, port, flaky))
        w = self.start(HOOKD_ALLOW_NET="127.0.0.0/8")
        lines = "".join(json.dumps({"event": "a.b", "data": {"n": i}}) + "\n" for i in range(n))
        rc, out, err = self.h.cli("enqueue", "-", input=lines)
        self.assertEqual(rc, 0, err)
        wait_for(lambda: len(self.recv.distinct_ids(ok)) >= n
                 and len(self.recv.distinct_ids(flaky)) >= n or not w.alive(), 30, interval=0.2)
        self.assertTrue(w.alive(), "the worker died (rc %r) delivering to %s:\n%s"
                        % (w.proc.poll(), alias, w.log()[-3000:]))
        self.assertEqual(len(self.recv.distinct_ids(ok)), n)
        self.assertEqual(len(self.recv.distinct_ids(flaky)), n)
        self.assertTrue(wait_for(self.queues_empty, 10))
        rc, secs = self.h.stop_worker(w, timeout=8)
        self.assertEqual(rc, 0, "SIGTERM after delivering to %s: rc=%r after %.1f s "
                         "(None: had to be killed)\n%s" % (alias, rc, secs, w.log()[-3000:]))

    def test_redirect_not_followed(self):
        wh = self.h.add_webhook(self.url("redirect", "r"))
        self.start(HOOKD_MAX_ATTEMPTS="2")
        self.enqueue("person.created", {"id": "1"})
        self.wait_dead(1, 10)
        log = self.attempts(wh["id"], 2, 5)
        self.assertEqual([str(e["status"]) for e in log], ["302", "302"])
        self.assertEqual(self.recv.count("/ok/redirected/"), 0, "a redirect was followed")


def bad_envelope(i, size=2048):
    """One of several kinds of bad envelope, about size bytes, different
    each time."""
    pad = "p%d-" % i + "x" * size
    kind = i % 5
    if kind == 0:  # not JSON
        raw = ("{\"event\":\"person.created\",\"data\":{\"x\":\"%s\"" % pad)[:size]
        return raw.encode()
    if kind == 1:  # data of the wrong type
        return json.dumps({"event": "person.created", "data": [pad[:size - 40]]}).encode()
    if kind == 2:  # event of the wrong type
        return json.dumps({"event": i, "data": {"x": pad[:size - 40]}}).encode()
    if kind == 3:  # invalid UTF-8
        return b'{"event":"person.created","data":{"x":"\xff\xfe' + \
            pad[:size - 40].encode() + b'"}}'
    return json.dumps({"data": {"x": pad[:size - 30]}}).encode()  # no event


class Envelopes(HookdCase):

    def test_deeply_nested(self):
        self.h.add_webhook(self.url("ok", "deep"))
        depth = 10000
        bad = [
            b'{"event":"person.created","data":' + b'{"a":' * depth + b'1' + b'}' * depth + b'}',
            b'{"event":"person.created","data":{"x":' + b'[' * depth + b']' * depth + b'}}',
            b'{"event":"person.created","data":{},"ignored":' + b'[' * depth + b']' * depth + b'}',
            b'[' * depth,
            b'{"a":' * depth,
        ]
        for raw in bad:
            self.push_raw(raw)
        self.push_raw(json.dumps({"event": "person.created", "data": {"ok": 1}}))
        w = self.h.start_worker()
        self.assertTrue(self.recv.wait_count(self.path("ok", "deep"), 1, 10),
                        "a good envelope after deeply nested ones was not delivered")
        dead = self.wait_dead(len(bad), 10)
        self.assertTrue(w.alive(), "the worker died on deep nesting:\n" + w.log()[-3000:])
        self.assertEqual(len(dead), len(bad), [d.get("reason") for d in dead])
        for rec in dead:
            self.assertEqual(rec["kind"], "envelope")
            self.assertTrue(rec.get("reason"))
        self.assertEqual(self.recv.count(self.path("ok", "deep")), 1)
        self.assertTrue(wait_for(self.queues_empty, 5))

    def test_default_size_limit_boundary(self):
        # 1 MiB exactly is accepted, one byte more goes to the dead list
        self.h.add_webhook(self.url("ok", "limit"))
        head = b'{"event":"person.created","data":{"n":%d,"pad":"'
        tail = b'"}}'

        def sized(n, size):
            h = head % n
            return h + b"x" * (size - len(h) - len(tail)) + tail
        at, over = sized(1, 1 << 20), sized(2, (1 << 20) + 1)
        self.assertEqual((len(at), len(over)), (1 << 20, (1 << 20) + 1))
        self.push_raw(at)
        self.push_raw(over)
        w = self.h.start_worker()
        got = self.recv.wait_count(self.path("ok", "limit"), 1, 10)
        self.assertTrue(got, "an envelope of exactly 1 MiB was not delivered")
        dead = self.wait_dead(1, 10)
        self.assertEqual(len(dead), 1, dead)
        self.assertEqual(got[0].json()["data"]["n"], 1)
        self.assertRegex(dead[0]["reason"].lower(), r"large|big|size|limit|exceed|bytes")
        # an envelope over the cap never leaves Redis whole: the record keeps
        # its size and its first KiB
        self.assertEqual(dead[0]["size"], len(over))
        self.assertEqual(dead[0]["envelope_prefix"], over[:1024].decode())
        time.sleep(0.5)
        self.assertEqual(self.recv.count(self.path("ok", "limit")), 1)
        self.assertTrue(w.alive())

    def test_flood_of_bad_envelopes_memory(self):
        # 20,000 bad envelopes of ~2 KB: memory after all of them is not
        # much above memory after the first 1,000
        self.h.add_webhook(self.url("ok", "flood"))
        w = self.h.start_worker(env=memory_env())
        first, total = 1000, 20000
        pipe = self.r.pipeline(transaction=False)
        for i in range(first):
            pipe.lpush(self.k("events"), bad_envelope(i))
        pipe.execute()
        self.assertTrue(wait_for(self.queues_empty, 30),
                        "the first %d bad envelopes were not processed" % first)
        time.sleep(0.5)
        rss1, hwm1 = proc_mem_kb(w.pid)
        t0 = time.monotonic()
        for start in range(first, total, 1000):
            pipe = self.r.pipeline(transaction=False)
            for i in range(start, min(total, start + 1000)):
                pipe.lpush(self.k("events"), bad_envelope(i))
            pipe.execute()
        ok = wait_for(self.queues_empty, 60, interval=0.2)
        secs = time.monotonic() - t0
        time.sleep(0.5)
        rss2, hwm2 = proc_mem_kb(w.pid)
        print("\nbad_envelopes: rss_after_%d_kb=%s rss_after_%d_kb=%s hwm_kb=%s seconds=%.1f"
              % (first, rss1, total, rss2, hwm2, secs))
        sys.stdout.flush()
        self.assertTrue(ok, "bad envelopes left: events=%d leases=%d" % (
            self.r.llen(self.k("events")), self.r.zcard(self.k("leases"))))
        self.assertTrue(w.alive())
        self.assertLessEqual(rss2 - rss1, 50 * MB, "RSS grew by %d KiB over %d bad envelopes"
                             % (rss2 - rss1, total - first))
        self.assertEqual(self.recv.count(self.path("ok", "flood")), 0)
        # the dead list holds them, up to --dead-max (10,000)
        self.assertEqual(self.r.llen(self.k("dead")), 10000)
        # a clean exit (under AddressSanitizer: no leak reported at exit)
        rc, _ = self.h.stop_worker(w, timeout=15)
        self.assertEqual(rc, 0, w.log()[-3000:])

    def test_stuck_deliveries_memory(self):
        # 10,000 events to a receiver that never answers
        n = 10000
        self.h.add_webhook(self.url("hang", "stuck"))
        lines = "".join(json.dumps({"event": "person.created", "data": {"n": i, "pad": "x" * 200}},
                                   separators=(",", ":")) + "\n" for i in range(n))
        rc, out, err = self.h.cli("enqueue", "-", input=lines, timeout=60)
        self.assertEqual(rc, 0, err)
        w = self.h.start_worker(env=memory_env({"HOOKD_TIMEOUT": "10s", "HOOKD_LEASE": "60s",
                                                "HOOKD_CONNECT_TIMEOUT": "5s"}))
        time.sleep(5.0)
        rss, hwm = proc_mem_kb(w.pid)
        taken = self.r.zcard(self.k("leases"))
        print("\nrss_stuck_10000_kb=%s hwm_kb=%s leased=%d waiting=%d at_receiver=%d"
              % (rss, hwm, taken, self.r.llen(self.k("events")),
                 self.recv.count(self.path("hang", "stuck"))))
        sys.stdout.flush()
        self.assertTrue(w.alive())
        self.assertGreater(self.recv.count(self.path("hang", "stuck")), 0, "nothing attempted")
        self.assertLess(rss, 128 * MB, "RSS %d KiB with stuck deliveries" % rss)
        self.assertLess(hwm, 128 * MB, "peak RSS %d KiB with stuck deliveries" % hwm)
        # SIGTERM gives the stuck work back and exits cleanly, nothing leaked
        rc, secs = self.h.stop_worker(w, timeout=15)
        self.assertEqual(rc, 0, w.log()[-3000:])
        self.assertEqual(self.r.zcard(self.k("leases")), 0)
        self.assertEqual(self.r.llen(self.k("events")) + self.r.zcard(self.k("retry")), n,
                         "stuck work was not all given back")


if __name__ == "__main__":
    unittest.main()
