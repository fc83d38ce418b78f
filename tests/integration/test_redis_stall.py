"""A Redis that stops answering without closing its connections (SIGSTOP):
the watchdog declares the connection dead after --redis-timeout, /readyz and
hookd_redis_up say so, and deliveries resume once Redis answers again, with
nothing lost."""

import json
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HookdCase, free_port, wait_for  # noqa: E402
from test_crash import envelopes  # noqa: E402
from test_metrics import fetch, samples  # noqa: E402

N = 400


class Stall(HookdCase):

    def test_sigstop_20s_trips_the_watchdog_and_nothing_is_lost(self):
        prefix = self.path("slow", "stall")
        self.h.add_webhook(self.url("slow", "stall", "ms=20"))
        port = free_port()
        w = self.h.start_worker(env={"HOOKD_REDIS_TIMEOUT": "2s", "HOOKD_HOST_CONCURRENCY": "8",
                                     "HOOKD_LEASE": "60s"},
                                args=["--metrics-addr", "127.0.0.1:%d" % port])
        self.assertTrue(wait_for(lambda: fetch(port, "/readyz")[0] == 200, 10))
        rc, out, err = self.h.cli("enqueue", "-", input=envelopes(N, tag="stall"), timeout=60)
        self.assertEqual(rc, 0, err)
        # 8 at a time of 20 ms: about 1 s of work; stop Redis in the middle
        self.assertTrue(wait_for(lambda: self.recv.count(prefix) >= 50, 10))
        red = self.redis_server.proc
        red.send_signal(signal.SIGSTOP)
        t0 = time.monotonic()
        try:
            ready = wait_for(lambda: fetch(port, "/readyz")[0] == 503, 6, interval=0.1)
            not_ready_after = time.monotonic() - t0
            self.assertTrue(ready, "/readyz still 200 with Redis stopped for %.1f s"
                            % not_ready_after)
            s = samples(fetch(port, "/metrics")[1])
            self.assertEqual(s.get("hookd_redis_up"), 0)
            self.assertGreaterEqual(s.get("hookd_redis_watchdog_trips_total", 0), 1)
            time.sleep(max(0, 20 - (time.monotonic() - t0)))
        finally:
            red.send_signal(signal.SIGCONT)
        t1 = time.monotonic()
        self.assertTrue(wait_for(lambda: fetch(port, "/readyz")[0] == 200, 10, interval=0.1),
                        "/readyz did not come back after SIGCONT")
        ready_again = time.monotonic() - t1
        self.assertTrue(wait_for(lambda: len(self.recv.distinct_ids(prefix)) >= N, 30),
                        "%d of %d delivered after SIGCONT" % (len(self.recv.distinct_ids(prefix)),
                                                             N))
        delivered_after = time.monotonic() - t1
        print("\n/readyz 503 %.1f s after SIGSTOP; ready %.1f s and all %d delivered %.1f s "
              "after SIGCONT" % (not_ready_after, ready_again, N, delivered_after))
        self.assertLess(not_ready_after, 2 + 0.5 + 1, "watchdog 2 s, tick 0.5 s, a second more")
        self.assertLess(ready_again, 2 + 5, "back within the watchdog plus the longest backoff")
        got = {r.json()["data"]["n"] for r in self.recv.deliveries(prefix)}
        self.assertEqual(got, set(range(N)))
        # new events flow again at once
        t2 = time.monotonic()
        rc, out, err = self.h.cli("enqueue", "-", input=envelopes(100, tag="after"), timeout=60)
        self.assertEqual(rc, 0, err)
        after = self.path("slow", "stall")
        self.assertTrue(wait_for(lambda: len(self.recv.distinct_ids(after)) >= N + 100, 10))
        print("100 new events delivered %.1f s after the push" % (time.monotonic() - t2))
        self.assertTrue(wait_for(self.queues_empty, 15))
        self.assertEqual(self.r.llen(self.k("dead")), 0)
        self.assertRegex(w.log(), r"127\.0\.0\.1:%d answered nothing for \d+ ms"
                         % self.redis_server.port)
        self.assertTrue(w.alive())


if __name__ == "__main__":
    unittest.main()
