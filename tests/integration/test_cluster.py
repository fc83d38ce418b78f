"""hookd against Redis Cluster (redis-cluster://): three primaries with one
replica each (topology.Cluster). `hookd run --prefix X,Y,Z` serves three
namespaces whose slots lie on three different primaries; each namespace's
keys stay in its one slot; a primary SIGKILLed while events stream into its
namespace fails over to its replica with nothing acknowledged lost."""

import hashlib
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import free_port, wait_for  # noqa: E402
from topology import TOPO_ENV, Cluster, Producer, TopoCase, delivered_eids, slot_of  # noqa: E402


def cluster():
    return Cluster(primaries=3, replicas=1).start()


class ClusterCase(TopoCase):
    make_topo = staticmethod(cluster)

    def setUp(self):
        super().setUp()
        # namespaces unique to this test, on three different primaries
        base = "t%s-" % self.token[:6]
        self.names = self.topo.prefixes_on_distinct_shards(
            3, names=[base + "%d" % i for i in range(200)])
        self.prefixes = ",".join(self.names)
        self.h.prefix = self.names[0]  # HOOKD_PREFIX; every command below says --prefix
        self.slots = {ns: slot_of("{%s}:events" % ns) for ns in self.names}

    def ns_cli(self, ns, *args, **kw):
        return self.h.cli("--prefix", ns, *args, **kw)

    def ns_need(self, ns, what, *args):
        return self.need(what, "--prefix", ns, *args)

    def add_webhooks(self):
        """One webhook per namespace, each to its own receiver path; {ns: path}."""
        paths = {}
        for ns in self.names:
            out = self.ns_need(ns, "redis-cluster:// URLs", "webhook", "add", "--url",
                               self.url("ok", ns))
            wh = json.loads(out)
            c = self.topo.client_for(self.slots[ns])
            try:
                self.assertTrue(c.sismember("{%s}:webhooks" % ns, wh["id"]),
                                "webhook add in %s did not write to its primary" % ns)
            finally:
                c.close()
            paths[ns] = self.path("ok", ns)
        return paths

    def need_support(self):
        """Fails at once, saying what is missing, unless hookd takes the
        cluster URL and the list of namespaces."""
        self.ns_need(self.names[0], "redis-cluster:// URLs", "stats")
        self.need("several namespaces (--prefix a,b,c)", "--prefix", self.prefixes, "stats")

    def start_run(self):
        w = self.h.start_worker(env=TOPO_ENV, args=["--prefix", self.prefixes])
        if wait_for(lambda: not w.alive(), 1.0):
            self.fail("hookd run --prefix %s exited %r: %s" % (self.prefixes, w.proc.poll(),
                                                                w.log()[-2000:]))
        return w

    def lpush(self, ns, eid):
        c = self.topo.client_for(self.slots[ns])
        try:
            c.lpush("{%s}:events" % ns, json.dumps(
                {"event": "person.created", "id": eid, "data": {"eid": eid}}))
        finally:
            c.close()


class ClusterNamespaces(ClusterCase):

    def test_namespaces_on_three_primaries(self):
        owners = {self.topo.owner_of(s) for s in self.slots.values()}
        self.assertEqual(len(owners), 3, "the rig did not find three primaries")
        # a dead seed first: hookd tries the next
        self.h.redis_url = self.topo.url("127.0.0.1:%d" % free_port())
        self.need_support()
        paths = self.add_webhooks()
        w = self.start_run()
        want = {}
        for ns in self.names:
            want[ns] = set()
            for i in range(3):
                eid = "%s-cli-%d" % (ns, i)
                rc, out, err = self.ns_cli(ns, "enqueue", "person.created",
                                           json.dumps({"eid": eid}), "--id", eid)
                self.assertEqual(rc, 0, "enqueue in %s: %s" % (ns, err))
                want[ns].add(eid)
            for i in range(3):
                eid = "%s-push-%d" % (ns, i)
                self.lpush(ns, eid)
                want[ns].add(eid)
        # enqueue with the whole list: the producer rule picks the namespace
        # (two workspaces for each)
        def rule(ws):
            return self.names[int.from_bytes(hashlib.sha256(ws.encode()).digest()[:4], "big")
                              % len(self.names)]
        workspaces = []
        for ns in self.names:
            workspaces += [x for x in ("ws-%d" % i for i in range(100)) if rule(x) == ns][:2]
        for ws in workspaces:
            ns = rule(ws)
            eid = "rule-%s" % ws
            rc, out, err = self.h.cli("--prefix", self.prefixes, "enqueue", "person.created",
                                      json.dumps({"eid": eid}), "--id", eid, "--workspace", ws)
            self.assertEqual(rc, 0, "enqueue --workspace %s: %s" % (ws, err))
            want[ns].add(eid)

        def done():
            return all(want[ns] <= set(delivered_eids(self.recv, paths[ns]))
                       for ns in self.names)
        wait_for(done, 30, 0.1)
        self.assertTrue(w.alive(), "hookd run died: rc=%r" % w.proc.poll())
        for ns in self.names:
            got = set(delivered_eids(self.recv, paths[ns]))
            self.assertEqual(want[ns] - got, set(), "not delivered in %s" % ns)
            self.assertEqual(got - want[ns], set(), "%s's webhook got other namespaces' events"
                             % ns)

        # every key hookd made for a namespace is in that namespace's slot,
        # on the primary that owns it, and no other node holds one
        for ns in self.names:
            where = self.topo.keys_matching("{%s}*" % ns)
            self.assertEqual(list(where), [self.topo.owner_of(self.slots[ns])],
                             "keys of %s on %s" % (ns, where))
            keys = next(iter(where.values()))
            self.assertIn("{%s}:webhooks" % ns, keys)
            for k in keys:
                self.assertEqual(self.topo.keyslot(k), self.slots[ns],
                                 "CLUSTER KEYSLOT %s is not %s's slot" % (k, ns))
        # and stats over the three namespaces, each read from its own primary
        rc, out, err = self.h.cli("--prefix", self.prefixes, "stats", "--json")
        self.assertEqual(rc, 0, err)
        stats = json.loads(out)
        self.assertEqual(sorted(stats.get("namespaces", {})), sorted(self.names), stats)
        self.assertIn("total", stats)
        for ns in self.names:
            self.assertEqual(stats["namespaces"][ns]["webhooks"], 1, stats)


    def test_shards_on_three_primaries(self):
        # --shards 3 with one base: namespaces BASE:0..2, here on three primaries
        base = self.topo.shard_bases_on_distinct_shards(
            3, bases=["s%s%d" % (self.token[:6], i) for i in range(300)])
        shards = ["%s:%d" % (base, i) for i in range(3)]
        self.h.prefix = base
        self.need("--shards with a redis-cluster:// URL", "--shards", "3", "stats")
        paths = {}
        for ns in shards:
            self.ns_need(ns, "redis-cluster:// URLs", "webhook", "add", "--url",
                         self.url("ok", ns))
            paths[ns] = self.path("ok", ns)
        w = self.h.start_worker(env=TOPO_ENV, args=["--prefix", base, "--shards", "3"])

        def rule(ws):
            return shards[int.from_bytes(hashlib.sha256(ws.encode()).digest()[:4], "big") % 3]
        want = {ns: set() for ns in shards}
        for ns in shards:
            for ws in [x for x in ("ws-%d" % i for i in range(100)) if rule(x) == ns][:2]:
                eid = "shard-%s" % ws
                rc, out, err = self.h.cli("--prefix", base, "--shards", "3", "enqueue",
                                          "person.created", json.dumps({"eid": eid}),
                                          "--id", eid, "--workspace", ws)
                self.assertEqual(rc, 0, "enqueue --workspace %s: %s" % (ws, err))
                want[ns].add(eid)
        wait_for(lambda: all(want[ns] <= set(delivered_eids(self.recv, paths[ns]))
                             for ns in shards), 30, 0.1)
        self.assertTrue(w.alive(), "hookd run died: rc=%r" % w.proc.poll())
        for ns in shards:
            got = set(delivered_eids(self.recv, paths[ns]))
            self.assertEqual(want[ns] ^ got, set(), "shard %s: want %s, got %s"
                             % (ns, sorted(want[ns]), sorted(got)))
            where = self.topo.keys_matching("{%s}*" % ns)
            self.assertEqual(list(where), [self.topo.owner_of(slot_of("{%s}" % ns))],
                             "keys of %s on %s" % (ns, where))

    def test_bad_cluster_urls_exit_2(self):
        self.need_support()
        p = self.topo.nodes[0].port
        self.assertRefusedUrls(("redis-cluster://127.0.0.1:%d/0" % p,  # a cluster has no db
                                "redis-cluster://",                    # no seed
                                "redis-cluster://127.0.0.1:99999",     # port out of range
                                "redis-cluster://127.0.0.1:%d," % p))  # an empty seed


class ClusterFailover(ClusterCase):

    def test_failover_on_sigkill(self):
        # the primary dies: hookd's connection is lost
        def fail(slot):
            return self.topo.kill_primary_of(slot)

        def after(old):
            # the killed node comes back as the new primary's replica, so that
            # WAIT can acknowledge again
            self.topo.node_by_port(old).restart()
        self.stream_through_failover("SIGKILL of the primary", fail, after)

    def test_failover_by_cluster_failover_command(self):
        # CLUSTER FAILOVER on the replica: the old primary lives on as its
        # replica and answers -MOVED for the namespace's slot
        self.stream_through_failover("CLUSTER FAILOVER", self.topo.failover_command,
                                     lambda old: None)

    def stream_through_failover(self, what, fail, after_failover):
        self.need_support()
        self.topo.wait_ok()
        paths = self.add_webhooks()
        w = self.start_run()
        for ns in self.names:
            self.lpush(ns, ns + "-warmup")
        if not wait_for(lambda: all(self.recv.count(paths[ns]) for ns in self.names), 20):
            self.fail("no delivery in every namespace before the failover: %r"
                      % {ns: self.recv.count(paths[ns]) for ns in self.names})

        victim, other = self.names[1], self.names[0]
        vslot = self.slots[victim]
        topo = self.topo
        prods = {
            ns: Producer("{%s}:events" % ns, lambda s=self.slots[ns]: topo.owner_of(s),
                         prefix=ns + "-e", interval=0.01)
            for ns in (victim, other)}
        for p in prods.values():
            p.start()
        vp = prods[victim]
        try:
            wait_for(lambda: vp.acked_count() >= 150, 15)
            self.assertGreaterEqual(vp.acked_count(), 150, "the producer is stuck: %r"
                                    % (vp.snapshot()[2][-5:],))
            old, t_kill = fail(vslot)
            failover_s = topo.wait_failover(vslot, timeout=30)
            new = topo.owner_of(vslot)
            self.assertNotEqual(new, old)
            t_switch = t_kill + failover_s
            after_failover(old)

            def acked_on_new():
                pushed, acked, _errors = vp.snapshot()
                return sum(1 for e in pushed if e[1] == new and e[0] in acked)
            wait_for(lambda: acked_on_new() >= 100, 30)
        finally:
            for p in prods.values():
                p.stop()

        # every acknowledged event, and every event pushed to the new primary
        # (which never failed), is delivered
        must, snaps = {}, {}
        for ns, p in prods.items():
            pushed, acked, errors = snaps[ns] = p.snapshot()
            after = [e for e in pushed if e[1] == new] if ns == victim else []
            if ns == victim:
                self.assertTrue(after, "nothing was pushed to the new primary: %r" % errors[-5:])
                self.assertTrue(acked & {e[0] for e in after},
                                "nothing pushed to the new primary was acknowledged")
            must[ns] = acked | {e[0] for e in after}

        def missing():
            return {ns: must[ns] - set(delivered_eids(self.recv, paths[ns])) for ns in must}
        wait_for(lambda: not any(missing().values()), 45, 0.1)
        lost = missing()
        self.assertTrue(w.alive(), "hookd run died: rc=%r" % w.proc.poll())
        summary = []
        for ns in (victim, other):
            pushed, acked, errors = snaps[ns]
            self.assertFalse(lost[ns], "%s: %s: %d of %d events lost (acknowledged %d, "
                             "pushed %d): %s" % (what, ns, len(lost[ns]), len(must[ns]),
                                                 len(acked), len(pushed), sorted(lost[ns])[:20]))
            got = delivered_eids(self.recv, paths[ns])
            summary.append("%s: pushed %d, acknowledged %d, delivered %d distinct, %d duplicate "
                           "deliveries, %d producer errors"
                           % ("victim" if ns == victim else "other", len(pushed), len(acked),
                              len({e[0] for e in pushed} & set(got)),
                              sum(len(v) - 1 for v in got.values()), len(errors)))
        got = delivered_eids(self.recv, paths[victim])
        first_after = min(min(got[e[0]]) for e in snaps[victim][0] if e[1] == new)
        # hookd follows within the failover plus its backoff: the longest
        # step is 5 s, and a second more covers the locate and the delivery
        self.assertLess(first_after - t_switch, 5 + 1,
                        "hookd took %.1f s after the switch" % (first_after - t_switch))
        self.note("cluster failover by %s (slot %d, :%d -> :%d): failure -> failover %.2f s; "
                  "failure -> first delivery of an event pushed after it %.2f s (failover -> "
                  "that %.2f s); %s" % (what, vslot, old, new, failover_s, first_after - t_kill,
                          first_after - t_switch, "; ".join(summary)))


if __name__ == "__main__":
    unittest.main()
