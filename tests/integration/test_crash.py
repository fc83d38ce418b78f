"""Nothing lost: workers killed with SIGKILL over and over while draining
10,000 events, Redis shut down and started again under a worker, Redis not
there yet when a worker starts, SIGINT drains like SIGTERM, and the lease
guard at start-up (DESIGN.md sections 4 and 5)."""

import json
import os
import random
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Hookd, HookdCase, Receiver, RedisServer, free_port, wait_for  # noqa: E402

N = 10000

CHAOS = {
    "HOOKD_LEASE": "3s",
    "HOOKD_TIMEOUT": "1s",
    "HOOKD_CONNECT_TIMEOUT": "500ms",
    "HOOKD_THREADS": "2",
    "HOOKD_DRAIN_TIMEOUT": "2s",
    # 16 attempts of 10 ms at a time per worker: the drain lasts well over
    # the 5 kills (7.5 s) even with a fast build, and work is always in flight
    "HOOKD_HOST_CONCURRENCY": "16",
    # the down host's deliveries retry soon, and its probe comes every 2 s
    "HOOKD_RETRY_BASE": "500ms",
    "HOOKD_RETRY_MAX_DELAY": "2s",
    "HOOKD_MAX_ATTEMPTS": "50",
    "HOOKD_PROBE_MAX": "2s",
}


def envelopes(n, **extra):
    """n JSON lines, data.n = 0..n-1, with distinct ids."""
    tag = extra.pop("tag", "e")
    return "".join(json.dumps(dict({"event": "person.created", "data": {"n": i},
                                    "id": "%s-%d" % (tag, i)}, **extra),
                              separators=(",", ":")) + "\n" for i in range(n))


class Chaos(HookdCase):

    def test_sigkill_chaos_10k(self):
        # two workers; one of them is killed with SIGKILL every ~1.5 s and
        # replaced, while 10,000 events drain: every event arrives. A second
        # webhook on another host answers 500 throughout, so that its
        # circuit is open and its deliveries parked while the kills go on;
        # once it answers 200, every one of its deliveries arrives too.
        prefix = self.path("slow", "chaos")
        self.h.add_webhook(self.url("slow", "chaos", "ms=10"))
        down = Receiver().start()
        self.addCleanup(down.stop)
        down_route = self.path("switch", "chaos")
        self.h.add_webhook(down.url(down_route))
        down_host = "http://127.0.0.1:%d" % down.port
        rc, out, err = self.h.cli("enqueue", "-", input=envelopes(N), timeout=60)
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["pushed"], N)

        def seen():
            return {r.json()["data"]["n"] for r in self.recv.deliveries(prefix)}

        rng = random.Random(os.getpid())
        t0 = time.monotonic()
        deadline = t0 + 70
        workers = [self.h.start_worker(env=CHAOS) for _ in range(2)]
        kills = 0
        died = []  # workers that exited by themselves
        next_kill = t0 + 1.5
        while time.monotonic() < deadline:
            if self.recv.count(prefix) >= N and len(seen()) >= N:
                break
            for w in workers:
                if not w.alive():
                    died.append((w.pid, w.proc.returncode))
            if time.monotonic() >= next_kill:
                victim = rng.choice(workers)
                self.h.kill_worker(victim)
                kills += 1
                workers[workers.index(victim)] = self.h.start_worker(env=CHAOS)
                next_kill = time.monotonic() + 1.5
            time.sleep(0.05)
        seconds = time.monotonic() - t0
        got = seen()
        missing = set(range(N)) - got
        was_open = self.r.hexists(self.k("circuit"), down_host)
        parked_at_end = self.parked()
        down_attempts = down.count(down_route)
        down.set_switch(down_route, 200)
        t1 = time.monotonic()
        recovered = wait_for(lambda: len(down.ok_ids(down_route)) >= N, 60, interval=0.2)
        print("\ndown host: circuit open %s, %d attempts while down, %d parked; "
              "%d of %d delivered %.1f s after it came back"
              % (was_open, down_attempts, parked_at_end, len(down.ok_ids(down_route)), N,
                 time.monotonic() - t1))
        # leases of killed workers expire after 3 s and may be delivered again
        empty = wait_for(self.queues_empty, 15, interval=0.2)
        time.sleep(0.5)
        deliveries = self.recv.count(prefix)
        distinct = len(self.recv.distinct_ids(prefix))
        print("\nkills=%d events=%d lost=%d duplicates=%d seconds=%.1f"
              % (kills, N, len(missing), deliveries - distinct, seconds))
        sys.stdout.flush()

        self.assertEqual(died, [], "workers exited by themselves (pid, rc)")
        self.assertGreaterEqual(kills, 5, "the drain ended before 5 kills: the test proved "
                                "little (%.1f s)" % seconds)
        self.assertEqual(missing, set(), "%d events lost after %d SIGKILLs, e.g. %r"
                         % (len(missing), kills, sorted(missing)[:10]))
        self.assertEqual(distinct, N, "distinct webhook-ids")
        self.assertTrue(was_open, "the down host's circuit was not open during the kills")
        self.assertGreater(parked_at_end, 0, "nothing parked for the down host")
        self.assertTrue(recovered, "down host: %d of %d delivered after it came back"
                        % (len(down.ok_ids(down_route)), N))
        self.assertTrue(empty, "events=%d retry=%d leases=%d parked=%d" % (
            self.r.llen(self.k("events")), self.r.zcard(self.k("retry")),
            self.r.zcard(self.k("leases")), self.parked()))
        self.assertEqual(self.r.llen(self.k("dead")), 0, self.dead()[:3])
        for w in workers:
            self.assertTrue(w.alive())
            rc, secs = self.h.stop_worker(w, timeout=10)
            self.assertEqual(rc, 0, "a surviving worker after SIGTERM: rc=%r" % rc)


class RedisAOFRestart(HookdCase):
    """redis-server with appendonly yes, appendfsync always."""

    appendonly = True

    def test_redis_shutdown_mid_run(self):
        n = 2000
        prefix = self.path("slow", "aof")
        self.h.add_webhook(self.url("slow", "aof", "ms=40"))
        rc, out, err = self.h.cli("enqueue", "-", input=envelopes(n), timeout=30)
        self.assertEqual(rc, 0, err)
        w = self.h.start_worker(env={"HOOKD_THREADS": "2", "HOOKD_TIMEOUT": "2s",
                                     "HOOKD_CONNECT_TIMEOUT": "1s", "HOOKD_LEASE": "5s"})
        self.assertTrue(self.recv.wait_count(prefix, 200, 20), "no deliveries at all")
        before = len(self.recv.distinct_ids(prefix))
        self.redis_server.shutdown()
        self.assertLess(before, n, "all delivered before Redis went down: nothing tested")
        lost_seen = wait_for(lambda: "redis connection lost" in w.log(), 10)
        down_log = w.log()
        time.sleep(1.0)
        self.assertTrue(w.alive(), "the worker exited while Redis was down")
        self.redis_server.start()
        self.r = self.redis_server.client
        wait_for(lambda: len(self.recv.distinct_ids(prefix)) >= n, 45, interval=0.2)
        got = {r.json()["data"]["n"] for r in self.recv.deliveries(prefix)}
        missing = set(range(n)) - got
        empty = wait_for(self.queues_empty, 15, interval=0.2)
        log = w.log()
        print("\nredis_restart events=%d delivered_before_shutdown=%d lost=%d duplicates=%d"
              % (n, before, len(missing), self.recv.count(prefix)
                 - len(self.recv.distinct_ids(prefix))))
        sys.stdout.flush()
        self.assertTrue(lost_seen, "the worker's log does not say Redis is down:\n" + down_log)
        i_lost = log.find("redis connection lost")
        self.assertNotEqual(log.find("redis connected", i_lost), -1,
                            "no 'redis connected' after Redis came back:\n" + log[-3000:])
        self.assertEqual(missing, set(), "%d events lost across a Redis restart" % len(missing))
        self.assertTrue(w.alive(), "the worker died")
        self.assertTrue(empty, "work left behind: events=%d retry=%d leases=%d" % (
            self.r.llen(self.k("events")), self.r.zcard(self.k("retry")),
            self.r.zcard(self.k("leases"))))
        self.assertEqual(self.r.llen(self.k("dead")), 0, self.dead()[:3])


class RedisLate(HookdCase):

    def test_redis_not_up_at_start(self):
        # the worker starts before its Redis exists, keeps trying, and works
        # once Redis is there
        late = RedisServer()
        late.port = free_port()
        self.addCleanup(late.cleanup)
        self.h.close()
        self.h = Hookd(late.port)
        w = self.h.start_worker()
        time.sleep(3.0)
        self.assertTrue(w.alive(), "the worker exited with Redis unreachable:\n" + w.log())
        late.start()
        self.r = late.client
        wh = self.h.add_webhook(self.url("ok", "late"))
        self.enqueue("person.created", {"n": 1})
        got = self.recv.wait_count(self.path("ok", "late"), 1, 15)
        self.assertTrue(got, "no delivery after Redis came up:\n" + w.log())
        self.assertEqual(got[0].json()["data"], {"n": 1})
        self.assertTrue(w.alive())
        self.assertTrue(wh["id"])


class Signals(HookdCase):

    def test_sigint_drains_like_sigterm(self):
        n = 20
        prefix = self.path("slow", "int")
        wh = self.h.add_webhook(self.url("slow", "int", "ms=2000"))
        # 2 attempts at a time: some in flight, the rest queued in hookd
        w = self.h.start_worker(env={"HOOKD_THREADS": "2", "HOOKD_HOST_CONCURRENCY": "2",
                                     "HOOKD_DRAIN_TIMEOUT": "5s", "HOOKD_TIMEOUT": "5s",
                                     "HOOKD_LEASE": "30s"})
        rc, out, err = self.h.cli("enqueue", "-", input=envelopes(n, tag="int"))
        self.assertEqual(rc, 0, err)
        self.assertTrue(self.recv.wait_count(prefix, 1, 10))
        time.sleep(0.3)
        in_flight = self.recv.distinct_ids(prefix)
        rc, secs = self.h.stop_worker(w, timeout=10, sig=signal.SIGINT)
        self.assertEqual(rc, 0, "SIGINT: rc=%r after %.1f s\n%s" % (rc, secs, w.log()[-2000:]))
        self.assertLess(secs, 7.5, "drain timeout 5 s, exit took %.1f s" % secs)
        self.assertEqual(self.r.zcard(self.k("leases")), 0, "work still leased after SIGINT")
        self.assertEqual(self.r.hlen(self.k("jobs")), self.r.zcard(self.k("retry")) + self.parked(),
                         "{P}:jobs holds jobs that are neither retries, parked nor leased")
        first = self.recv.distinct_ids(prefix)
        given_back = (self.r.llen(self.k("events")) + self.r.zcard(self.k("retry"))
                      + self.parked())
        self.assertGreaterEqual(given_back, 1, "nothing was given back (all %d finished?)"
                                % len(first))
        # the attempts in flight when SIGINT came (2 s each, the drain
        # allows 5 s) were finished, not cut off
        done = {e["delivery"] for e in self.h.cli_lines("webhook", "log", wh["id"],
                                                        "--count", "100")
                if str(e.get("status")) == "200"}
        self.assertEqual(in_flight - done, set(), "attempts in flight at SIGINT not finished")
        w2 = self.h.start_worker(env={"HOOKD_HOST_CONCURRENCY": "32", "HOOKD_TIMEOUT": "5s",
                                      "HOOKD_LEASE": "30s"})
        self.assertTrue(wait_for(lambda: len(self.recv.distinct_ids(prefix)) >= n, 20),
                        "events lost across SIGINT: %d of %d"
                        % (len(self.recv.distinct_ids(prefix)), n))
        got = {r.json()["data"]["n"] for r in self.recv.deliveries(prefix)}
        self.assertEqual(got, set(range(n)))
        self.assertTrue(wait_for(self.queues_empty, 10))
        self.assertTrue(w2.alive())
        self.assertEqual(self.r.llen(self.k("dead")), 0)


class StartupGuard(HookdCase):

    def test_lease_shorter_than_timeout_refused(self):
        t0 = time.monotonic()
        rc, out, err = self.h.cli("run", "--lease", "5s", "--timeout", "10s", timeout=10)
        self.assertIsNotNone(rc, "hookd run with lease < timeout did not exit")
        self.assertEqual(rc, 2, "rc=%r err=%r" % (rc, err))
        line = self.assertOneLineError(err)
        self.assertIn("lease", line.lower())
        self.assertIn("timeout", line.lower())
        self.assertEqual(out, "")
        self.assertLess(time.monotonic() - t0, 5)


if __name__ == "__main__":
    unittest.main()
