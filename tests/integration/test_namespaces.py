"""Several namespaces in one `hookd run` (docs/operations.md, "Several
namespaces"): --prefix a,b,c and --shards N against a real redis-server and
a real receiver.

- every event reaches the webhook of the namespace the producer rule names
  (the rule computed here with Python's hashlib, not with hookd's code), and
  no other; `enqueue` routes by workspace;
- `stats --json` shows each namespace and their total; /metrics shows each
  namespace's depths, labelled, and their sum;
- a flood in one namespace does not hold back another: the other's events,
  pushed after the flood, are all delivered while the flood is still being
  delivered (one namespace would deliver them after it, FIFO);
- commands that act on one namespace refuse a list, saying so.
"""

import hashlib
import json
import os
import sys
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import FAST, HookdCase, free_port, wait_for  # noqa: E402


def rule(namespaces, workspace):
    """docs/producers.md: the first 4 bytes of SHA-256, big-endian, mod n."""
    if not workspace:
        return namespaces[0]
    h = int.from_bytes(hashlib.sha256(workspace.encode()).digest()[:4], "big")
    return namespaces[h % len(namespaces)]


def metrics(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        return r.read().decode()


class NamespacesTest(HookdCase):

    def names(self, n=3):
        return ["%s-%s" % (self.h.prefix, c) for c in "abcdefgh"[:n]]

    def add_webhooks(self, names, route="ok"):
        """One webhook per namespace, its path naming the namespace."""
        for ns in names:
            rc, out, err = self.h.cli("webhook", "add", "--url", self.recv.url("/%s/%s" % (route, ns)),
                                      "--events", "*.*", env={"HOOKD_PREFIX": ns})
            self.assertEqual(rc, 0, err)

    def test_each_event_reaches_its_namespace(self):
        names = self.names(3)
        listed = ",".join(names)
        self.add_webhooks(names)
        workspaces = ["ws-%d" % i for i in range(30)] + [""]
        lines = [json.dumps({"event": "person.created", "data": {"w": w},
                             "id": "evt_%s_%d" % (self.h.prefix, i),
                             **({"workspace": w} if w else {})})
                 for i, w in enumerate(workspaces)]
        out = self.h.cli_json("enqueue", "-", input="\n".join(lines) + "\n",
                              env={"HOOKD_PREFIX": listed})
        self.assertEqual(out["pushed"], len(lines))
        want = {}
        for w in workspaces:
            ns = rule(names, w)
            want[ns] = want.get(ns, 0) + 1
        self.assertEqual(out["namespaces"], want, "enqueue routed as the rule says")
        self.assertGreaterEqual(len(want), 3, "the workspaces reach every namespace")
        for ns in names:
            self.assertEqual(self.r.llen("{%s}:events" % ns), want.get(ns, 0))

        port = free_port()
        env = dict(FAST, HOOKD_PREFIX=listed, HOOKD_THREADS="2",
                   HOOKD_METRICS_ADDR="127.0.0.1:%d" % port)
        w = self.h.start_worker(env=env)
        ok = wait_for(lambda: sum(self.recv.count("/ok/" + ns) for ns in names) >= len(lines), 30)
        self.assertTrue(ok, "delivered %d of %d" % (
            sum(self.recv.count("/ok/" + ns) for ns in names), len(lines)))
        for wsp in workspaces:
            got = [ns for ns in names
                   if any(r.json()["data"]["w"] == wsp for r in self.recv.deliveries("/ok/" + ns))]
            self.assertEqual(got, [rule(names, wsp)], "workspace %r went to %r" % (wsp, got))
        log = w.log()
        self.assertIn("namespaces " + ",".join("{%s}" % n for n in names), log)
        for ns in names:
            self.assertIn("serves namespace {%s}" % ns, log)
            self.assertIn("loaded 1 webhooks, 0 of them invalid, in {%s}" % ns, log)

        # stats: each namespace and the total
        def settled():
            s = self.h.cli_json("stats", "--json", env={"HOOKD_PREFIX": listed})
            return s if s["total"]["counters"].get("delivered") == len(lines) else None
        self.assertTrue(wait_for(lambda: settled() is not None, 15), "stats never added up")
        s = settled()
        self.assertEqual(sorted(s["namespaces"]), sorted(names))
        for ns in names:
            self.assertEqual(s["namespaces"][ns]["counters"].get("delivered", 0), want.get(ns, 0))
            self.assertEqual(s["namespaces"][ns]["webhooks"], 1)
        self.assertEqual(s["total"]["webhooks"], 3)
        self.assertEqual(s["total"]["events"], 0)
        rc, text, err = self.h.cli("stats", env={"HOOKD_PREFIX": listed})
        self.assertEqual(rc, 0, err)
        self.assertIn("total of 3 namespaces", text)
        for ns in names:
            self.assertIn("namespace {%s}" % ns, text)

        # /metrics: labelled depths and their sum
        self.r.lpush("{%s}:dead" % names[2], "x")

        def depth_lines():
            try:
                text = metrics(port)
            except OSError:
                return None
            lines = [l for l in text.splitlines() if l.startswith("hookd_queue_depth{")]
            want = 'hookd_queue_depth{namespace="%s",queue="dead"} 1' % names[2]
            return lines if want in lines else None
        self.assertTrue(wait_for(lambda: depth_lines() is not None, 10), w.log())
        lines = depth_lines()
        for ns in names:
            self.assertTrue(any(l.startswith('hookd_queue_depth{namespace="%s",queue="events"}' % ns)
                                for l in lines), lines)
        text = metrics(port)
        for ns in names:
            self.assertIn('hookd_webhooks{namespace="%s",state="enabled"} 1\n' % ns, text)
        self.assertIn('hookd_webhooks{state="enabled"} 3\n', text)
        dead = {l.split()[0]: int(l.split()[1]) for l in lines if 'queue="dead"' in l}
        self.assertEqual(dead['hookd_queue_depth{namespace="%s",queue="dead"}' % names[2]], 1)
        self.assertEqual(dead['hookd_queue_depth{queue="dead"}'],
                         sum(self.r.llen("{%s}:dead" % ns) for ns in names))

    def test_a_flood_does_not_hold_back_another_namespace(self):
        """3,000 events in namespace a, then 20 in b: b's are all delivered
        while a's are still being delivered. In one namespace the 20 would
        come after the 3,000 (the events list is FIFO)."""
        a, b = self.names(2)
        self.add_webhooks([a, b])
        flood = 3000
        self.r.lpush("{%s}:events" % a, *[json.dumps({"event": "person.created", "data": {"n": i}})
                                          for i in range(flood)])
        w = self.h.start_worker(env=dict(FAST, HOOKD_PREFIX="%s,%s" % (a, b), HOOKD_THREADS="2",
                                         HOOKD_LEASE="60s"))
        self.assertTrue(wait_for(lambda: self.recv.count("/ok/" + a) >= 50, 30), w.log())
        self.r.lpush("{%s}:events" % b, *[json.dumps({"event": "person.created", "data": {"n": i}})
                                          for i in range(20)])
        self.assertTrue(wait_for(lambda: self.recv.count("/ok/" + b) >= 20, 30), w.log())
        a_then = self.recv.count("/ok/" + a)
        print("\nnamespaces: b's 20 events all delivered when a had %d of %d" % (a_then, flood))
        self.assertLess(a_then, flood, "b waited for a's flood")
        self.assertTrue(wait_for(lambda: self.recv.count("/ok/" + a) >= flood, 120),
                        "a delivered %d of %d" % (self.recv.count("/ok/" + a), flood))

    def test_shards_name_the_namespaces(self):
        base = self.h.prefix
        names = ["%s:%d" % (base, i) for i in range(4)]
        self.add_webhooks(names)
        out = self.h.cli_json("enqueue", "person.created", '{"n":1}', "--workspace", "acme",
                              env={"HOOKD_SHARDS": "4"})
        self.assertEqual(out["namespaces"], {rule(names, "acme"): 1})
        s = self.h.cli_json("stats", "--json", env={"HOOKD_SHARDS": "4"})
        self.assertEqual(sorted(s["namespaces"]), sorted(names))
        self.assertEqual(s["total"]["events"], 1)

    def test_one_namespace_commands_refuse_a_list(self):
        listed = ",".join(self.names(2))
        for args in (["webhook", "list"], ["dead", "list"], ["retry", "list"]):
            rc, out, err = self.h.cli(*args, env={"HOOKD_PREFIX": listed})
            self.assertEqual(rc, 2, (args, out, err))
            self.assertIn("acts on one namespace", err)
            self.assertIn("--prefix NAME", err)
        rc, out, err = self.h.cli("stats", "--watch", env={"HOOKD_PREFIX": listed})
        self.assertEqual(rc, 2)
        self.assertIn("one namespace", err)
        rc, out, err = self.h.cli("stats", env={"HOOKD_PREFIX": listed, "HOOKD_SHARDS": "2"})
        self.assertEqual(rc, 2)
        self.assertIn("one or the other", err)
        for bad in ("a,a", "a,,b", "a,b{"):
            rc, out, err = self.h.cli("stats", env={"HOOKD_PREFIX": bad})
            self.assertEqual(rc, 2, (bad, out, err))
            self.assertIn("HOOKD_PREFIX", err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
