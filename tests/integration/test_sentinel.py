"""hookd against Redis Sentinel (redis-sentinel://): one master, one replica,
three sentinels (topology.SentinelSet). The commands find the master through
the sentinels; `hookd run` follows a failover with nothing acknowledged lost;
an unknown master name and a malformed URL are refused plainly."""

import json
import os
import sys
import unittest

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import free_port, wait_for  # noqa: E402
from topology import TOPO_ENV, Producer, SentinelSet, TopoCase, delivered_eids  # noqa: E402


def sentinel_set():
    return SentinelSet(replicas=1, sentinels=3, down_after_ms=1000).start()


class SentinelCommands(TopoCase):
    """The CLI with a sentinel URL (no failover here)."""

    make_topo = staticmethod(sentinel_set)

    def test_cli_finds_the_master(self):
        # a dead sentinel first: hookd asks them in order
        dead = "127.0.0.1:%d" % free_port()
        self.h.redis_url = self.topo.url(dead)
        out = self.need("redis-sentinel:// URLs", "stats", "--json")
        stats = json.loads(out)
        self.assertEqual((stats["events"], stats["webhooks"]), (0, 0), stats)

        wh = self.h.add_webhook(self.url("ok", "cli"))
        m = self.topo.master_client()
        try:
            self.assertTrue(m.sismember(self.k("webhooks"), wh["id"]),
                            "webhook add did not write to the master")
            self.enqueue("person.created", {"eid": "cli-1"})
            self.assertEqual(m.llen(self.k("events")), 1, "enqueue did not reach the master")
            raw = json.loads(m.lindex(self.k("events"), 0))
            self.assertEqual(raw["data"], {"eid": "cli-1"})
            self.assertGreaterEqual(m.execute_command("WAIT", 1, 2000), 1)
        finally:
            m.close()
        # and what the master holds, stats reads back through the sentinels
        stats = json.loads(self.need("redis-sentinel:// URLs", "stats", "--json"))
        self.assertEqual((stats["events"], stats["webhooks"]), (1, 1), stats)
        rc, out, err = self.h.cli("webhook", "list")
        self.assertEqual(rc, 0, err)
        self.assertIn(wh["id"], out)

    def test_db_in_url(self):
        self.h.redis_url = self.topo.url(db=3)
        self.need("redis-sentinel:// URLs", "stats")
        self.enqueue("person.created", {"eid": "db3"})
        m = self.topo.master.client()
        m3 = redis.Redis(host="127.0.0.1", port=self.topo.master_port(), db=3)
        try:
            self.assertEqual(m3.llen(self.k("events")), 1, "the event is not in db 3")
            self.assertEqual(m.llen(self.k("events")), 0, "the event went to db 0")
        finally:
            m.close()
            m3.close()

    def test_unknown_master_is_named(self):
        self.need("redis-sentinel:// URLs", "stats")
        for args in (["stats"], ["webhook", "add", "--url", self.url("ok", "unk")],
                     ["enqueue", "person.created", "{}"]):
            with self.subTest(args=args):
                self.h.redis_url = self.topo.url(name="no-such-master")
                rc, out, err = self.h.cli(*args, timeout=20)
                self.assertEqual(rc, 1, "hookd %s with an unknown master: rc=%r err=%r"
                                 % (" ".join(args), rc, err))
                self.assertIn("no-such-master", err, "the error must name the master")
                line = self.assertOneLineError(err)
                self.assertNotIn("Traceback", line)
        # nothing was written anywhere
        m = self.topo.master_client()
        try:
            self.assertEqual(m.scard(self.k("webhooks")), 0)
            self.assertEqual(m.llen(self.k("events")), 0)
        finally:
            m.close()

    def test_bad_sentinel_urls_exit_2(self):
        # first the good URL works, so that the refusals below mean something
        self.need("redis-sentinel:// URLs", "stats")
        p = self.topo.sentinels[0].port
        bad = [
            "redis-sentinel://127.0.0.1:%d" % p,                   # no master name
            "redis-sentinel://127.0.0.1:%d/" % p,                  # empty master name
            "redis-sentinel:///hookd-test",                        # no sentinel
            "redis-sentinel://127.0.0.1:99999/hookd-test",         # port out of range
            "redis-sentinel://127.0.0.1:%d/hookd-test/x" % p,      # db not a number
            "redis-sentinel://127.0.0.1:%d/hookd-test/0/1" % p,    # a path after the db
        ]
        self.assertRefusedUrls(bad)


PASSWORD = "pw-s3cret"


class SentinelAuth(TopoCase):
    """Data nodes with requirepass, sentinels without: the URL's credentials
    are the master's, and the sentinels are asked without them."""

    make_topo = staticmethod(lambda: SentinelSet(password=PASSWORD).start())

    def test_credentials_are_the_masters(self):
        self.h.redis_url = self.topo.url(auth=":%s@" % PASSWORD)
        self.need("redis-sentinel:// URLs with a password", "stats")
        self.enqueue("person.created", {"eid": "auth"})
        m = self.topo.master_client()
        try:
            self.assertEqual(m.llen(self.k("events")), 1)
        finally:
            m.close()
        for auth in ("", ":wrong@"):
            with self.subTest(auth=auth):
                self.h.redis_url = self.topo.url(auth=auth)
                rc, out, err = self.h.cli("stats", timeout=20)
                self.assertEqual(rc, 1, "stats with %r: rc=%r err=%r" % (auth, rc, err))
                self.assertOneLineError(err)
                self.assertNotIn("wrong", err, "the password is echoed")


class SentinelFailover(TopoCase):
    """A failover while events stream in: Sentinel promotes the replica, the
    producer and hookd follow, nothing acknowledged is lost."""

    make_topo = staticmethod(sentinel_set)

    def test_failover_on_sigkill(self):
        # the master dies: hookd's connection is lost
        self.stream_through_failover("SIGKILL of the master", self.topo.kill_master,
                                     add_replica=True)

    def test_failover_by_sentinel_command(self):
        # SENTINEL FAILOVER: the old master lives on as a replica, so hookd's
        # connection may stay open and answer -READONLY
        self.stream_through_failover("SENTINEL FAILOVER", self.topo.failover,
                                     add_replica=False)

    def stream_through_failover(self, what, fail, add_replica):
        self.need("redis-sentinel:// URLs", "stats")
        topo = self.topo
        topo.wait_ready(30)
        topo.wait_replicas_synced()
        path = self.path("ok", "fo")
        self.h.add_webhook(self.url("ok", "fo"))
        w = self.h.start_worker(env=TOPO_ENV)
        # hookd runs and delivers before anything fails
        self.enqueue("person.created", {"eid": "warmup"})
        if not self.recv.wait_count(path, 1, 15):
            self.fail("no delivery before the failover")

        prod = Producer(self.k("events"), topo.master_port, interval=0.01)
        prod.start()
        try:
            wait_for(lambda: prod.acked_count() >= 150, 15)
            self.assertGreaterEqual(prod.acked_count(), 150, "the producer is stuck: %r"
                                    % (prod.snapshot()[2][-5:],))
            old = topo.master_port()
            t_fail = fail()
            new, failover_s = topo.wait_promoted(timeout=30)
            self.assertNotEqual(new, old)
            t_switch = t_fail + failover_s
            if add_replica:
                # give the new master a replica again so that WAIT can acknowledge
                topo.add_replica()

            def acked_on_new():
                pushed, acked, _errors = prod.snapshot()
                return sum(1 for e in pushed if e[1] == new and e[0] in acked)
            wait_for(lambda: acked_on_new() >= 100, 20)
        finally:
            prod.stop()
        pushed, acked, errors = prod.snapshot()
        after = [p for p in pushed if p[1] == new]
        self.assertGreater(len(after), 0, "nothing was pushed to the new master: %r"
                           % errors[-5:])
        self.assertTrue(acked & {p[0] for p in after},
                        "nothing pushed to the new master was acknowledged")

        # every acknowledged event, and every event pushed to the new master
        # (which never failed), is delivered
        must = acked | {p[0] for p in after}

        def missing():
            return must - set(delivered_eids(self.recv, path))
        wait_for(lambda: not missing(), 45, 0.1)
        got = delivered_eids(self.recv, path)
        lost = missing()
        self.assertTrue(w.alive(), "hookd run died: rc=%r" % w.proc.poll())
        self.assertFalse(lost, "%s: %d of %d events lost (acknowledged %d, pushed %d): %s"
                         % (what, len(lost), len(must), len(acked), len(pushed),
                            sorted(lost)[:20]))

        first_after = min(min(got[p[0]]) for p in after if p[0] in got)
        # hookd follows within the failover plus its backoff: the longest
        # step is 5 s, and a second more covers the locate and the delivery
        self.assertLess(first_after - t_switch, 5 + 1,
                        "hookd took %.1f s after the switch" % (first_after - t_switch))
        ids = {p[0] for p in pushed}
        self.note("sentinel failover by %s: failure -> switch %.2f s; failure -> first "
                  "delivery of an event pushed after the switch %.2f s (switch -> that %.2f s); "
                  "pushed %d, acknowledged %d, delivered %d distinct, %d duplicate deliveries, "
                  "%d unacknowledged pushes not delivered, %d producer errors"
                  % (what, failover_s, first_after - t_fail, first_after - t_switch,
                     len(pushed), len(acked), len(set(got) & ids),
                     sum(len(v) - 1 for v in got.values()), len(ids - set(got)), len(errors)))


if __name__ == "__main__":
    unittest.main()
