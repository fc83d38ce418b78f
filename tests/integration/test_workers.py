"""Several workers on one Redis: 10,000 events delivered exactly once each,
queues empty afterwards, clean SIGTERM; drain and at-least-once after SIGKILL
(DESIGN.md sections 4 and 5)."""

import json
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HookdCase, wait_for  # noqa: E402

N = 10000


class Workers(HookdCase):

    def test_two_workers_10k_events(self):
        self.h.add_webhook(self.url("ok", "bulk"))
        env = {"HOOKD_THREADS": "2", "HOOKD_DRAIN_TIMEOUT": "5s"}
        workers = [self.h.start_worker(env=env) for _ in range(2)]
        lines = "".join(json.dumps({"event": "person.created", "data": {"n": i},
                                    "id": "evt-%d" % i}, separators=(",", ":")) + "\n"
                        for i in range(N))
        prefix = self.path("ok", "bulk")
        t0 = time.monotonic()
        rc, out, err = self.h.cli("enqueue", "-", input=lines, timeout=60)
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["pushed"], N)
        wait_for(lambda: len(self.recv.distinct_ids(prefix)) >= N, 90, interval=0.2)
        seconds = time.monotonic() - t0
        for w in workers:
            self.assertTrue(w.alive(), "a worker died")
        got = self.recv.deliveries(prefix)
        distinct = len({r.headers.get("webhook-id") for r in got})
        ns = [r.json()["data"]["n"] for r in got]
        missing = set(range(N)) - set(ns)
        # acknowledgements may trail the last delivery a little
        empty = wait_for(self.queues_empty, 10)
        time.sleep(0.5)
        got = self.recv.deliveries(prefix)
        duplicates = len(got) - len({r.headers.get("webhook-id") for r in got})
        rc, stats, err = self.h.cli("stats", "--json")
        print("\ndeliveries=%d distinct=%d duplicates=%d seconds=%.2f"
              % (len(got), distinct, duplicates, seconds))
        print("stats: %s" % stats.strip())
        sys.stdout.flush()

        self.assertEqual(missing, set(), "%d events never arrived" % len(missing))
        self.assertEqual(distinct, N)
        self.assertEqual(duplicates, 0, "deliveries repeated without any failure")
        self.assertTrue(empty, "events=%d retry=%d leases=%d" % (
            self.r.llen(self.k("events")), self.r.zcard(self.k("retry")),
            self.r.zcard(self.k("leases"))))
        self.assertEqual(self.r.llen(self.k("dead")), 0)

        for w in workers:
            w.proc.send_signal(signal.SIGTERM)
        for i, w in enumerate(workers):
            rc, secs = self.h.stop_worker(w, timeout=8, sig=None)
            self.assertEqual(rc, 0, "worker %d after SIGTERM: rc=%r after %.1f s" % (i, rc, secs))

    def test_sigterm_drains_in_flight(self):
        # deliveries in flight when SIGTERM arrives are finished, then it exits 0
        self.h.add_webhook(self.url("slow", "drain", "ms=1500"))
        w = self.h.start_worker(env={"HOOKD_DRAIN_TIMEOUT": "5s"})
        for i in range(4):
            self.enqueue("person.created", {"n": i})
        self.assertTrue(self.recv.wait_count(self.path("slow", "drain"), 1, 10))
        rc, secs = self.h.stop_worker(w, timeout=9)
        self.assertEqual(rc, 0, "rc=%r after %.1f s" % (rc, secs))
        self.assertLess(secs, 7.5, "drain took %.1f s with a 5 s drain timeout" % secs)
        self.assertEqual(self.r.zcard(self.k("leases")), 0,
                         "work still leased by a worker that exited")
        # whatever was not delivered is back in the queue: a new worker finishes it
        self.h.start_worker()
        self.assertTrue(wait_for(lambda: len(self.recv.distinct_ids(self.path("slow", "drain")))
                                 >= 4, 20), "events lost across a SIGTERM")
        self.assertTrue(wait_for(self.queues_empty, 10))

    def test_sigterm_gives_back_after_drain_timeout(self):
        # an attempt still running at the drain timeout is given back, not lost
        wh = self.h.add_webhook(self.url("hang", "back"))
        w = self.h.start_worker(env={"HOOKD_DRAIN_TIMEOUT": "1s"})
        self.enqueue("person.created", {"n": 1})
        first = self.recv.wait_count(self.path("hang", "back"), 1, 10)
        self.assertTrue(first)
        rc, secs = self.h.stop_worker(w, timeout=8)
        self.assertEqual(rc, 0, "rc=%r after %.1f s" % (rc, secs))
        self.assertLess(secs, 4.0, "drain timeout 1 s, exit took %.1f s" % secs)
        self.assertEqual(self.r.zcard(self.k("leases")), 0, "the in-flight work stayed leased")
        self.assertGreaterEqual(self.r.llen(self.k("events")) + self.r.zcard(self.k("retry")), 1,
                                "the in-flight work was not given back")
        # and it is delivered by the next worker with the same delivery id
        rc, out, err = self.h.cli("webhook", "update", wh["id"], "--url", self.url("ok", "back"))
        self.assertEqual(rc, 0, err)
        self.h.start_worker()
        got = self.recv.wait_count(self.path("ok", "back"), 1, 15)
        self.assertTrue(got, "given-back work was never delivered")
        self.assertEqual(got[0].headers["webhook-id"], first[0].headers["webhook-id"])

    def test_sigkill_redelivered_after_lease(self):
        # at-least-once: a worker killed mid-attempt loses nothing
        wh = self.h.add_webhook(self.url("hang", "kill"))
        env = {"HOOKD_TIMEOUT": "2s", "HOOKD_CONNECT_TIMEOUT": "1s", "HOOKD_LEASE": "3s"}
        w = self.h.start_worker(env=env)
        self.enqueue("person.created", {"n": 1})
        first = self.recv.wait_count(self.path("hang", "kill"), 1, 10)
        self.assertTrue(first)
        self.h.kill_worker(w)
        t_kill = time.monotonic()
        rc, out, err = self.h.cli("webhook", "update", wh["id"], "--url", self.url("ok", "kill"))
        self.assertEqual(rc, 0, err)
        self.h.start_worker(env=env)
        got = self.recv.wait_count(self.path("ok", "kill"), 1, 15)
        self.assertTrue(got, "work taken by a killed worker was never delivered")
        self.assertEqual(got[0].headers["webhook-id"], first[0].headers["webhook-id"])
        self.assertLess(time.monotonic() - t_kill, 10)
        self.assertTrue(wait_for(self.queues_empty, 10))

    def test_second_signal_ends_at_once(self):
        self.h.add_webhook(self.url("hang", "twice"))
        w = self.h.start_worker(env={"HOOKD_DRAIN_TIMEOUT": "20s"})
        self.enqueue("person.created", {"n": 1})
        self.assertTrue(self.recv.wait_count(self.path("hang", "twice"), 1, 10))
        w.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        self.assertTrue(w.alive(), "exited before the drain timeout with an attempt in flight")
        rc, secs = self.h.stop_worker(w, timeout=5)
        self.assertIsNotNone(rc, "a second SIGTERM did not end the process")

    def test_leases_renewed_while_queued(self):
        # work waiting in one worker's per-host queue longer than the lease is
        # not taken over by another worker (docs/design.md: lease renewal)
        self.h.add_webhook(self.url("slow", "renew", "ms=800"))
        env = {"HOOKD_THREADS": "1", "HOOKD_HOST_CONCURRENCY": "1", "HOOKD_TIMEOUT": "2s",
               "HOOKD_CONNECT_TIMEOUT": "1s", "HOOKD_LEASE": "3s"}
        self.h.start_worker(env=env)
        lines = "".join(json.dumps({"event": "a.b", "data": {"n": i}}) + "\n" for i in range(8))
        rc, out, err = self.h.cli("enqueue", "-", input=lines)
        self.assertEqual(rc, 0, err)
        self.assertTrue(self.recv.wait_count(self.path("slow", "renew"), 1, 10))
        self.h.start_worker(env=env)
        prefix = self.path("slow", "renew")
        self.assertTrue(wait_for(lambda: len(self.recv.distinct_ids(prefix)) >= 8, 25))
        self.assertTrue(wait_for(self.queues_empty, 10))
        got = self.recv.deliveries(prefix)
        self.assertEqual(len(got), 8, "deliveries repeated: %d for 8 events" % len(got))

    def test_host_concurrency_cap(self):
        # deliveries in flight per receiver host are capped by hookd
        self.h.add_webhook(self.url("slow", "cap", "ms=600"))
        self.h.start_worker(env={"HOOKD_THREADS": "2", "HOOKD_HOST_CONCURRENCY": "4"})
        lines = "".join(json.dumps({"event": "a.b", "data": {"n": i}}) + "\n" for i in range(16))
        rc, out, err = self.h.cli("enqueue", "-", input=lines)
        self.assertEqual(rc, 0, err)
        self.assertTrue(wait_for(lambda: len(self.recv.distinct_ids(self.path("slow", "cap")))
                                 >= 16, 20), "not all delivered")
        peak = self.recv.max_inflight(self.path("slow", "cap"))
        self.assertLessEqual(peak, 4, "HOOKD_HOST_CONCURRENCY=4 but %d at once" % peak)
        self.assertGreaterEqual(peak, 2, "no parallel deliveries at all")

    def test_concurrency_cap(self):
        self.h.add_webhook(self.url("slow", "conc", "ms=600"))
        self.h.start_worker(env={"HOOKD_THREADS": "2", "HOOKD_CONCURRENCY": "2"})
        lines = "".join(json.dumps({"event": "a.b", "data": {"n": i}}) + "\n" for i in range(8))
        rc, out, err = self.h.cli("enqueue", "-", input=lines)
        self.assertEqual(rc, 0, err)
        self.assertTrue(wait_for(lambda: len(self.recv.distinct_ids(self.path("slow", "conc")))
                                 >= 8, 20), "not all delivered")
        peak = self.recv.max_inflight(self.path("slow", "conc"))
        self.assertLessEqual(peak, 2, "HOOKD_CONCURRENCY=2 but %d at once" % peak)


class RedisRestart(HookdCase):
    """Redis with an append-only file, restarted under a running worker."""

    appendonly = True

    def test_worker_survives_redis_restart(self):
        self.h.add_webhook(self.url("ok", "rr"))
        w = self.h.start_worker()
        self.enqueue("person.created", {"n": 1})
        self.assertTrue(self.recv.wait_count(self.path("ok", "rr"), 1, 10))
        self.redis_server.stop()
        time.sleep(1.0)
        self.assertTrue(w.alive(), "the worker exited when Redis went away")
        self.redis_server.start()
        self.r = self.redis_server.client
        self.enqueue("person.created", {"n": 2})
        got = self.recv.wait_count(self.path("ok", "rr"), 2, 20)
        self.assertEqual(sorted(r.json()["data"]["n"] for r in got), [1, 2],
                         "nothing delivered after Redis came back")
        self.assertTrue(w.alive())

    def test_in_flight_survives_redis_restart(self):
        # an event taken before Redis restarts is still delivered (AOF keeps it)
        self.h.add_webhook(self.url("slow", "rf", "ms=1500"))
        w = self.h.start_worker(env={"HOOKD_TIMEOUT": "3s", "HOOKD_CONNECT_TIMEOUT": "1s",
                                            "HOOKD_LEASE": "4s"})
        self.enqueue("person.created", {"n": 1}, "--id", "evt-rf")
        self.assertTrue(self.recv.wait_count(self.path("slow", "rf"), 1, 10))
        self.redis_server.restart()
        self.r = self.redis_server.client
        # acknowledged after the restart, or delivered again after the lease
        self.assertTrue(wait_for(self.queues_empty, 20), "work left behind after a restart")
        self.assertTrue(w.alive())
        self.assertEqual(self.recv.distinct_ids(self.path("slow", "rf")),
                         {self.recv.deliveries(self.path("slow", "rf"))[0].headers["webhook-id"]})
        self.assertEqual(self.r.llen(self.k("dead")), 0)


if __name__ == "__main__":
    unittest.main()
