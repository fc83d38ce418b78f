"""The wake connection (docs/design.md, "Waking up"): an idle worker blocks in
BLMOVE {P}:events {P}:events RIGHT RIGHT on a second connection instead of
polling, takes as soon as an event arrives, keeps the events list as it was,
and goes back to polling, without losing or stalling work, when that
connection is killed or the server refuses BLMOVE.

No assertion here is about time: the counts of Redis commands show which
path did the work, and the latencies are printed for the reader."""

import json
import os
import signal
import statistics
import sys
import threading
import time
import unittest

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import FAST, HookdCase, RedisServer, Receiver, uid, wait_for  # noqa: E402

THREADS = 2
IDLE_TAKE_MS = 250  # src/worker.c IDLE_WAKE_MS


def calls(r, command):
    """Calls of command since the server started, from INFO commandstats."""
    return int(r.info("commandstats").get("cmdstat_" + command, {}).get("calls", 0))


def clients(r, name):
    """Ids of the connections named name (CLIENT SETNAME)."""
    return [c["id"] for c in r.client_list() if c.get("name") == name]


def envelope(i, tag):
    return json.dumps({"event": "person.created", "data": {"n": i, "tag": tag},
                       "id": "evt-%s-%d" % (tag, i)}, separators=(",", ":"))


class WakeCase(HookdCase):

    def start(self, threads=THREADS, wake=True, **extra):
        env = dict(FAST)
        env["HOOKD_THREADS"] = str(threads)
        env.update(extra)
        w = self.h.start_worker(env=env)
        ok = wait_for(lambda: len(clients(self.r, "hookd-take")) >= threads
                      and (not wake or len(clients(self.r, "hookd-wake")) >= threads), 10)
        self.assertTrue(ok, "the worker's connections are not named hookd-take and "
                        "hookd-wake: %r" % self.r.client_list())
        return w

    def wait_idle_blocked(self):
        """Waits until every loop of the worker is blocked in BLMOVE."""
        def blocked():
            return sum(1 for c in self.r.client_list()
                       if c.get("name") == "hookd-wake" and c.get("cmd") == "blmove"
                       and "b" in c.get("flags", "")) >= THREADS
        self.assertTrue(wait_for(blocked, 10), "no loop waits in BLMOVE: %r"
                        % self.r.client_list())

    def push_one_by_one(self, name, n, tag, blocked_first=False):
        """LPUSHes n events for the webhook at path("ok", name), each once the
        one before has arrived (and, when blocked_first, once every loop
        waits in BLMOVE again); returns the latencies in ms (LPUSH to
        receipt) of those that arrived."""
        prefix = self.path("ok", name)

        def arrived(i):
            return [r for r in self.recv.deliveries(prefix)
                    if r.json()["data"] == {"n": i, "tag": tag}]
        lat = []
        for i in range(n):
            if blocked_first:
                self.wait_idle_blocked()
            t0 = time.time()
            self.push_raw(envelope(i, tag))
            if not wait_for(lambda: arrived(i), 10, interval=0.001):
                break
            lat.append((arrived(i)[0].t - t0) * 1000.0)
        return lat


class Wake(WakeCase):

    def test_idle_worker_blocks_instead_of_polling(self):
        self.h.add_webhook(self.url("ok", "idle"))
        w = self.start()
        self.wait_idle_blocked()
        e0, b0, t0 = calls(self.r, "evalsha"), calls(self.r, "blmove"), time.monotonic()
        time.sleep(1.0)
        e1, b1, t1 = calls(self.r, "evalsha"), calls(self.r, "blmove"), time.monotonic()
        per_loop_s = (e1 - e0) / THREADS / (t1 - t0)
        print("\nidle: %.1f EVALSHA per loop per second (takes and webhook checks), "
              "%d BLMOVE" % (per_loop_s, b1 - b0))
        # Polling took every 10 ms: about 100 takes per loop per second. The
        # waiting loop takes every 250 ms, checks its webhooks twice a second,
        # and takes once more when a BLMOVE times out (every second).
        self.assertLess(per_loop_s, 10, "the idle worker still polls Redis")
        self.assertGreater(per_loop_s, 0, "the idle worker stopped taking altogether: "
                           "due retries and expired leases would wait forever")

        # 20 events one by one, each pushed while every loop waits: each is
        # picked up by the BLMOVEs that answer, then by a take, and all
        # arrive. (Right after a take a loop polls for 3 ms before it waits
        # again.)
        b0 = calls(self.r, "blmove")
        lat = self.push_one_by_one("idle", 20, "wake", blocked_first=True)
        self.wait_idle_blocked()
        b1 = calls(self.r, "blmove")
        print("wake-up to receipt over 20 events: median %.1f ms, max %.1f ms "
              "(the idle take runs every %d ms)" % (statistics.median(lat) if lat else -1,
                                                   max(lat) if lat else -1, IDLE_TAKE_MS))
        self.assertEqual(len(lat), 20, "events pushed to an idle worker did not all arrive")
        # Redis counts a BLMOVE when it is sent: each event ended one per
        # loop, and each loop sent another.
        self.assertGreaterEqual(b1 - b0, 20 * THREADS,
                                "the events were not picked up through BLMOVE")
        self.assertEqual(self.recv.count(self.path("ok", "idle")), 20, "duplicates")
        self.assertTrue(wait_for(self.queues_empty, 10))
        rc, _ = self.h.stop_worker(w)
        self.assertEqual(rc, 0, "SIGTERM while blocked in BLMOVE: rc %r" % rc)

    def test_blmove_keeps_the_list(self):
        # The exact command hookd sends, on a list holding binary payloads
        # and duplicates: answered at once, then after blocking.
        key = self.k("events")
        items = [b"a", b"\x00\xffb\r\n", b"a", b"{\"event\":\"x.y\"}", b"z" * 10000]
        self.r.lpush(key, *items)
        before = self.r.lrange(key, 0, -1)
        self.assertEqual(self.r.blmove(key, key, 1, "RIGHT", "RIGHT"), items[0])
        self.assertEqual(self.r.lrange(key, 0, -1), before)
        self.r.delete(key)
        blocked = redis.Redis(host="127.0.0.1", port=self.redis_server.port, socket_timeout=10)
        try:
            got = []
            t = threading.Thread(target=lambda: got.append(
                blocked.blmove(key, key, 5, "RIGHT", "RIGHT")))
            t.start()
            wait_for(lambda: any(c.get("cmd") == "blmove" for c in self.r.client_list()), 5)
            self.r.lpush(key, *items)
            t.join(10)
            self.assertEqual(got, [items[0]])
            self.assertEqual(self.r.lrange(key, 0, -1), before)
        finally:
            blocked.close()
        self.r.delete(key)

    def test_order_and_content_through_hookd(self):
        # One loop, one delivery at a time: hookd takes the oldest event
        # first, so the receiver sees them in the order they were pushed,
        # each once and as pushed, although the BLMOVE blocked on the empty
        # list was served by the LPUSH: it popped the oldest of the 30 and
        # pushed it back before the first take.
        self.h.add_webhook(self.url("ok", "order"))
        self.start(threads=1, HOOKD_CONCURRENCY="1")
        n = 30
        prefix = self.path("ok", "order")
        for k in range(3):
            raws = [envelope(i, "order%d" % k) for i in range(n)]
            self.wait_idle_blocked_one()
            self.r.lpush(self.k("events"), *raws)
            done = wait_for(lambda: self.recv.count(prefix) >= n * (k + 1), 30)
            self.assertTrue(done, "%d of %d arrived" % (self.recv.count(prefix), n * (k + 1)))
            got = self.recv.deliveries(prefix)[n * k:]
            self.assertEqual([r.json()["data"] for r in got],
                             [json.loads(x)["data"] for x in raws])
            self.assertTrue(wait_for(self.queues_empty, 10))

    def wait_idle_blocked_one(self):
        """Waits until the one loop is blocked in BLMOVE: the LPUSH that
        follows is then served to it (the oldest popped and pushed back)."""
        self.assertTrue(wait_for(lambda: any(
            c.get("name") == "hookd-wake" and c.get("cmd") == "blmove"
            and "b" in c.get("flags", "") for c in self.r.client_list()), 10))

    def test_killed_wake_connection_loses_nothing(self):
        self.h.add_webhook(self.url("ok", "kill"))
        w = self.start()
        self.wait_idle_blocked()
        prefix = self.path("ok", "kill")
        total = 0
        for round_ in range(4):
            for cid in clients(self.r, "hookd-wake"):
                self.r.client_kill_filter(_id=cid)
            # Right after the kill the loops poll; pushed meanwhile or after
            # the reconnect, every event arrives once.
            lat = self.push_one_by_one("kill", 10, "kill%d" % round_)
            total += 10
            self.assertEqual(len(lat), 10, "events stalled after the wake connection was killed")
            self.assertTrue(wait_for(lambda: len(clients(self.r, "hookd-wake")) >= THREADS, 10),
                            "the wake connection did not come back")
        self.assertTrue(wait_for(self.queues_empty, 10))
        got = self.recv.deliveries(self.path("ok", "kill"))
        self.assertEqual(len({r.headers.get("webhook-id") for r in got}), total)
        self.assertTrue(w.alive())
        self.wait_idle_blocked()  # waiting again, not polling
        e0, t0 = calls(self.r, "evalsha"), time.monotonic()
        time.sleep(1.0)
        per_loop_s = (calls(self.r, "evalsha") - e0) / THREADS / (time.monotonic() - t0)
        self.assertLess(per_loop_s, 10, "after reconnecting the worker still polls")
        log = w.log()
        self.assertIn("wake connection", log)
        self.assertNotIn(prefix, log)
        rc, _ = self.h.stop_worker(w)
        self.assertEqual(rc, 0)

    def test_sigterm_while_blocked(self):
        self.h.add_webhook(self.url("ok", "term"))
        w = self.start()
        self.wait_idle_blocked()
        rc, seconds = self.h.stop_worker(w, sig=signal.SIGTERM)
        print("\nSIGTERM while blocked in BLMOVE: exit %r after %.2f s" % (rc, seconds))
        self.assertEqual(rc, 0)
        self.assertIn("stopped", w.log())
        self.assertFalse(clients(self.r, "hookd-wake"), "the wake connection outlived hookd")


class NoBlmove(WakeCase):
    """A server that refuses BLMOVE to hookd's user (as Redis < 6.2 lacks it):
    hookd says so once and polls."""

    @classmethod
    def setUpClass(cls):
        cls.pw = uid(16)
        cls.redis_server = RedisServer(password=cls.pw, users=[
            ["hookd", "on", ">" + cls.pw, "~*", "&*", "+@all", "-blmove"]]).start()
        try:
            cls.recv = Receiver().start()
        except Exception:
            cls.redis_server.cleanup()
            raise

    def setUp(self):
        super().setUp()
        self.h.redis_url = self.redis_server.url_with(user="hookd", password=self.pw)

    def test_polls_and_says_so_once(self):
        self.h.add_webhook(self.url("ok", "poll"))
        w = self.start(wake=False)
        lat = self.push_one_by_one("poll", 20, "poll")
        self.assertEqual(len(lat), 20, "without BLMOVE events must still arrive")
        self.assertEqual(calls(self.r, "blmove"), 0)
        time.sleep(0.5)
        e0, t0 = calls(self.r, "evalsha"), time.monotonic()
        time.sleep(1.0)
        per_loop_s = (calls(self.r, "evalsha") - e0) / THREADS / (time.monotonic() - t0)
        print("\nwithout BLMOVE: %.1f EVALSHA per loop per second" % per_loop_s)
        self.assertGreater(per_loop_s, 10, "without BLMOVE the worker must poll as before")
        log = w.log()
        self.assertEqual(log.count("BLMOVE refused"), THREADS, log)  # once per loop
        self.assertTrue(w.alive())
        rc, _ = self.h.stop_worker(w)
        self.assertEqual(rc, 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
