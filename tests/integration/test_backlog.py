"""The backlog (docs/api.md, docs/cli.md): dead letters listed, replayed and
purged by webhook, reason and time, a webhook's recovery since a time,
waiting retries listed, hurried and dropped, and the test send, through the
HTTP API and the CLI, against a real worker, a real redis-server and a real
receiver."""

import json
import os
import sys
import threading
import time
import unittest
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import FAST, HookdCase, api_request, now_ms, wait_for  # noqa: E402

TOKEN = "test-token-" + "b" * 24  # a fixture, not a credential


class Backlog(HookdCase):
    def start(self, **extra):
        self.w, self.port = self.start_api(TOKEN, env=dict(FAST, **extra))

    def call(self, method, path, body=None, timeout=20):
        """(status, JSON or None) of one request."""
        st, raw, _ = api_request(self.port, method, path, body, TOKEN, timeout)
        return st, (json.loads(raw) if raw else None)

    def hook(self, name, status):
        """A webhook on /switch answering status; (webhook, path)."""
        p = self.path("switch", name)
        self.recv.set_switch(p, status)
        return self.h.add_webhook(self.recv.url(p)), p

    def send(self, wh, n):
        for _ in range(n):
            self.enqueue("person.created", {"n": 1}, "--webhook", wh["id"])

    def api_dead(self, query=""):
        st, body = self.call("GET", "/v1/dead?limit=1000" + query)
        self.assertEqual(st, 200, body)
        self.assertIsNone(body["next_cursor"])
        return body["data"]

    def test_dead_filters_replay_purge(self):
        self.start()
        a, pa = self.hook("a", 400)
        b, pb = self.hook("b", 400)
        self.send(a, 2)
        self.send(b, 1)
        self.push_raw(b"this is not an envelope")
        self.assertEqual(len(self.wait_dead(4, 20)), 4, self.w.log())

        # Each record has the members the console reads.
        for rec in self.api_dead():
            for k in ("id", "at", "kind", "reason", "webhook", "event", "attempts"):
                self.assertIn(k, rec)
        self.assertEqual({r["webhook"] for r in self.api_dead("&webhook=" + a["id"])}, {a["id"]})
        self.assertEqual(len(self.api_dead("&webhook=" + a["id"])), 2)
        self.assertEqual(len(self.h.cli_lines("dead", "list", "--webhook", b["id"])), 1)
        env = [r for r in self.api_dead() if r["kind"] == "envelope"]
        self.assertEqual(len(env), 1)
        by_reason = self.api_dead("&reason=" + quote(env[0]["reason"]))
        self.assertEqual([r["id"] for r in by_reason], [env[0]["id"]])
        cli_reason = self.h.cli_lines("dead", "list", "--reason", env[0]["reason"])
        self.assertEqual([r["id"] for r in cli_reason], [env[0]["id"]])
        # since <= at < until, in ms and in RFC 3339.
        ats = sorted(r["at"] for r in self.api_dead())
        self.assertEqual(len(self.api_dead("&since=%d" % ats[-1])),
                         sum(1 for t in ats if t >= ats[-1]))
        self.assertEqual(len(self.api_dead("&until=%d" % ats[-1])),
                         sum(1 for t in ats if t < ats[-1]))
        self.assertEqual(len(self.api_dead("&since=2000-01-01T00:00:00Z")), 4)
        self.assertEqual(len(self.h.cli_lines("dead", "list", "--until", "2000-01-01T00:00:00Z")),
                         0)

        # Bad filters are problems with the reason.
        st, body = self.call("GET", "/v1/dead?since=yesterday")
        self.assertEqual(st, 422, body)
        self.assertIn("since", body["detail"])
        self.assertEqual(self.call("GET", "/v1/dead?limit=0")[0], 400)
        rc, _, err = self.h.cli("dead", "list", "--since", "yesterday")
        self.assertEqual(rc, 2, err)

        # Replay puts a's records back, and the receiver gets them.
        self.recv.set_switch(pa, 200)
        st, body = self.call("POST", "/v1/dead/replay", {"webhook": a["id"]})
        self.assertEqual((st, body), (200, {"replayed": 2, "skipped": 0}))
        self.assertTrue(wait_for(lambda: len(self.recv.ok_ids(pa)) == 2, 15), self.w.log())
        # Purge removes exactly b's record.
        self.assertEqual(self.h.cli_json("dead", "purge", "--webhook", b["id"]), {"purged": 1})
        left = self.dead()
        self.assertEqual([r["kind"] for r in left], ["envelope"], left)
        # A record that cannot be read is listed as invalid and never replayed.
        self.r.lpush(self.k("dead"), b"\xff not a record")
        bad = [r for r in self.api_dead() if "invalid" in r]
        self.assertEqual(len(bad), 1, self.api_dead())
        st, body = self.call("POST", "/v1/dead/replay", {"id": bad[0]["id"]})
        self.assertEqual((st, body), (200, {"replayed": 0, "skipped": 1}))
        self.assertEqual(self.call("POST", "/v1/dead/purge", {})[1], {"purged": 2})
        self.assertEqual(self.dead(), [])

    def test_recover_since(self):
        self.start()
        a, pa = self.hook("a", 400)
        b, pb = self.hook("b", 400)
        self.send(a, 1)
        self.send(b, 1)
        self.wait_dead(2, 20)
        time.sleep(0.01)
        t = now_ms()
        time.sleep(0.01)
        self.send(a, 1)
        self.send(b, 1)
        self.assertEqual(len(self.wait_dead(4, 20)), 4)
        self.recv.set_switch(pa, 200)
        self.recv.set_switch(pb, 200)
        st, body = self.call("POST", "/v1/webhooks/%s/recover" % a["id"], {"since": str(t)})
        self.assertEqual((st, body), (200, {"replayed": 1, "skipped": 0}))
        self.assertTrue(wait_for(lambda: len(self.recv.ok_ids(pa)) == 1, 15))
        time.sleep(1)
        self.assertEqual(len(self.recv.ok_ids(pa)), 1)
        self.assertEqual(len(self.recv.ok_ids(pb)), 0)
        self.assertEqual(len(self.dead()), 3)
        self.assertEqual(self.call("POST", "/v1/webhooks/wh_nope/recover", {"since": "0"})[0], 404)
        self.assertEqual(self.call("POST", "/v1/webhooks/%s/recover" % a["id"], {})[0], 422)
        st, body = self.call("POST", "/v1/webhooks/%s/recover" % a["id"], {"since": "soon"})
        self.assertEqual(st, 422)
        self.assertIn("since", body["detail"])

    def test_concurrent_replays_replay_once(self):
        self.start()
        a, pa = self.hook("a", 400)
        self.send(a, 30)
        self.assertEqual(len(self.wait_dead(30, 30)), 30)
        self.recv.set_switch(pa, 200)
        got = []

        def replay():
            got.append(self.call("POST", "/v1/dead/replay", {}, timeout=60))

        ts = [threading.Thread(target=replay) for _ in range(2)]
        for th in ts:
            th.start()
        for th in ts:
            th.join()
        self.assertEqual([st for st, _ in got], [200, 200], got)
        self.assertEqual(sum(b["replayed"] for _, b in got), 30, got)
        self.assertTrue(wait_for(lambda: len(self.recv.ok_ids(pa)) == 30, 30))
        time.sleep(1)
        oks = [r for r in self.recv.deliveries(pa) if getattr(r, "status", None) == 200]
        print("replays %s; 200 deliveries %d" % ([b for _, b in got], len(oks)))
        self.assertEqual(len(oks), 30)

    def test_retries(self):
        self.start(HOOKD_RETRY_BASE="1h", HOOKD_RETRY_MAX_DELAY="2h", HOOKD_MAX_ATTEMPTS="5")
        a, pa = self.hook("a", 500)
        self.send(a, 2)
        self.assertTrue(wait_for(lambda: self.r.zcard(self.k("retry")) == 2, 20), self.w.log())
        st, body = self.call("GET", "/v1/retries")
        self.assertEqual(st, 200, body)
        rs = body["data"]
        self.assertEqual(len(rs), 2)
        for r in rs:
            self.assertTrue(r["id"].startswith("d:"), r)
            self.assertGreater(r["due_at"], now_ms() + 30 * 60 * 1000)
            self.assertEqual(r["attempt"], 2)
            self.assertEqual(r["webhook"], a["id"])
            self.assertIn("500", r["last_error"] or "")
        cli = self.h.cli_lines("retry", "list")
        self.assertEqual(sorted(r["id"] for r in cli), sorted(r["id"] for r in rs))

        # retry now: the receiver gets it at once ({id} with ':' percent-encoded).
        self.recv.set_switch(pa, 200)
        first, second = rs[0]["id"], rs[1]["id"]
        st, body = self.call("POST", "/v1/retries/%s/retry" % quote(first, safe=""))
        self.assertEqual((st, body), (200, {"id": first}))
        self.assertTrue(wait_for(lambda: len(self.recv.ok_ids(pa)) == 1, 15), self.w.log())
        # delete: gone, and never delivered.
        self.assertEqual(self.call("DELETE", "/v1/retries/%s" % quote(first, safe=""))[0], 404)
        self.assertEqual(self.call("DELETE", "/v1/retries/%s" % second)[0], 204)
        self.assertEqual(self.r.zcard(self.k("retry")), 0)
        self.assertEqual(self.call("POST", "/v1/retries/%s/retry" % second)[0], 404)
        self.assertEqual(self.call("POST", "/v1/retries/nothing/retry")[0], 404)
        rc, _, err = self.h.cli("retry", "delete", second)
        self.assertEqual(rc, 1, err)
        time.sleep(2)
        self.assertEqual(len(self.recv.ok_ids(pa)), 1)

    def test_retry_now_cli(self):
        self.start(HOOKD_RETRY_BASE="1h", HOOKD_RETRY_MAX_DELAY="2h", HOOKD_MAX_ATTEMPTS="5")
        a, pa = self.hook("a", 500)
        self.send(a, 1)
        self.assertTrue(wait_for(lambda: self.r.zcard(self.k("retry")) == 1, 20), self.w.log())
        rid = self.h.cli_lines("retry", "list")[0]["id"]
        self.recv.set_switch(pa, 200)
        self.assertEqual(self.h.cli_json("retry", "now", rid), {"id": rid, "due": "now"})
        self.assertTrue(wait_for(lambda: len(self.recv.ok_ids(pa)) == 1, 15), self.w.log())

    def test_webhook_test(self):
        self.start()
        a, pa = self.hook("a", 200)
        st, body = self.call("POST", "/v1/webhooks/%s/test" % a["id"])
        self.assertEqual(st, 200, body)
        self.assertEqual((body["delivered"], body["status"]), (True, 200), body)
        self.assertIsInstance(body["duration_ms"], int)
        self.assertIn("attempt", body)
        rc, out, err = self.h.cli("webhook", "test", a["id"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["status"], "200")
        self.recv.set_switch(pa, 500)
        st, body = self.call("POST", "/v1/webhooks/%s/test" % a["id"])
        self.assertEqual(st, 200, body)
        self.assertEqual((body["delivered"], body["status"]), (False, 500), body)
        rc, out, err = self.h.cli("webhook", "test", a["id"])
        self.assertEqual(rc, 1, err)
        self.assertEqual(self.call("POST", "/v1/webhooks/wh_nope/test")[0], 404)
        self.h.cli_json("webhook", "disable", a["id"])
        self.assertEqual(self.call("POST", "/v1/webhooks/%s/test" % a["id"])[0], 409)


if __name__ == "__main__":
    unittest.main()
