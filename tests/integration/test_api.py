"""The HTTP API on --api-addr (docs/api.md): bearer-token auth compared in
constant time, webhooks, events, attempts, stats and hosts, and their errors
as RFC 9457 problems, against a real worker and a real redis-server."""

import json
import os
import statistics
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HookdCase, api_request, uid, wait_for  # noqa: E402

TOKEN = "test-token-" + "t" * 24  # a fixture, not a credential


class Api(HookdCase):
    def setUp(self):
        super().setUp()
        self.w, self.port = self.start_api(TOKEN)

    def call(self, method, path, body=None, token=TOKEN):
        """(status, JSON or None, headers) of one request."""
        st, raw, hs = api_request(self.port, method, path, body, token)
        return st, (json.loads(raw) if raw else None), hs

    def assertProblem(self, res, status, detail=None):
        st, body, hs = res
        self.assertEqual(st, status, body)
        self.assertEqual(hs.get("content-type"), "application/problem+json")
        self.assertEqual(body["status"], status)
        self.assertIn("title", body)
        if detail:
            self.assertIn(detail, body.get("detail", ""))

    def test_auth(self):
        self.assertProblem(self.call("GET", "/v1/webhooks", token=None), 401)
        self.assertProblem(self.call("GET", "/v1/webhooks", token=TOKEN[:-1] + "x"), 401)
        self.assertProblem(self.call("GET", "/v1/webhooks", token="short"), 401)
        self.assertEqual(self.call("GET", "/v1/webhooks")[0], 200)

    def test_wrong_token_takes_constant_time(self):
        # A token wrong in its first byte and one wrong in its last byte (and
        # one of another length) are refused in the same time: the medians of
        # 200 tries each differ by less than the noise of one loopback request.
        cases = {"first": "X" + TOKEN[1:], "last": TOKEN[:-1] + "X", "length": TOKEN + "XYZ"}
        times = {k: [] for k in cases}
        for _ in range(200):
            for k, tok in cases.items():
                t0 = time.perf_counter()
                st = self.call("GET", "/v1/stats", token=tok)[0]
                times[k].append(time.perf_counter() - t0)
                self.assertEqual(st, 401)
        med = {k: statistics.median(v) for k, v in times.items()}
        print("median 401 time (ms): %s" % {k: round(v * 1000, 3) for k, v in med.items()})
        spread = max(med.values()) - min(med.values())
        self.assertLess(spread, 0.5 * min(med.values()) + 0.0005, med)

    def test_webhooks(self):
        st, wh, hs = self.call("POST", "/v1/webhooks",
                               {"url": self.url("ok", "a"), "events": ["person.*"]})
        self.assertEqual(st, 201, wh)
        self.assertTrue(wh["id"].startswith("wh_"))
        self.assertNotEqual(wh["secret"], "<hidden>")
        self.assertTrue(wh["valid"])
        wid = wh["id"]
        st, got, _ = self.call("GET", "/v1/webhooks/" + wid)
        self.assertEqual((st, got["secret"], got["events"]), (200, "<hidden>", ["person.*"]))
        st, page, _ = self.call("GET", "/v1/webhooks?limit=10")
        self.assertEqual(st, 200)
        self.assertEqual([w["id"] for w in page["data"]], [wid])
        st, upd, _ = self.call("PATCH", "/v1/webhooks/" + wid, {"events": ["company.created"]})
        self.assertEqual((st, upd["events"]), (200, ["company.created"]))
        # the one judge of a record: the worker's reason, as the CLI gives it
        self.assertProblem(self.call("PATCH", "/v1/webhooks/" + wid, {"events": []}), 422,
                           "events")
        self.assertProblem(self.call("POST", "/v1/webhooks", {"url": "ftp://x/"}), 422)
        self.assertProblem(self.call("POST", "/v1/webhooks", b"{not json"), 400)
        self.assertProblem(self.call("POST", "/v1/webhooks", {"id": wid, "url": self.url("ok")}),
                           409)
        st, dis, _ = self.call("POST", "/v1/webhooks/%s/disable" % wid)
        self.assertEqual((st, dis["enabled"]), (200, False))
        st, en, _ = self.call("POST", "/v1/webhooks/%s/enable" % wid)
        self.assertEqual((st, en["enabled"]), (200, True))
        st, rot, _ = self.call("POST", "/v1/webhooks/%s/rotate-secret" % wid)
        self.assertEqual(st, 200, rot)
        self.assertNotIn(rot["secret"], ("<hidden>", wh["secret"]))
        self.assertEqual(self.call("DELETE", "/v1/webhooks/" + wid)[0], 204)
        self.assertProblem(self.call("GET", "/v1/webhooks/" + wid), 404)
        self.assertProblem(self.call("DELETE", "/v1/webhooks/" + wid), 404)
        self.assertProblem(self.call("GET", "/v1/nothing"), 404)
        self.assertProblem(self.call("PUT", "/v1/webhooks"), 405)

    def test_events_are_delivered_and_attempts_listed(self):
        st, wh, _ = self.call("POST", "/v1/webhooks", {"url": self.url("ok", "ev")})
        self.assertEqual(st, 201, wh)
        env = {"event": "person.created", "data": {"record": {"id": uid()}}}
        st, out, _ = self.call("POST", "/v1/events", env)
        self.assertEqual(st, 202, out)
        self.assertEqual(len(out["ids"]), 1)
        st, out, _ = self.call("POST", "/v1/events", [env, env])
        self.assertEqual((st, len(out["ids"])), (202, 2))
        self.assertTrue(self.recv.wait_count(self.path("ok", "ev"), 3, 15))
        # what the worker refuses, the API refuses, with the worker's reason
        self.assertProblem(self.call("POST", "/v1/events", {"event": "nodot", "data": {}}), 422,
                           "event")
        self.assertProblem(self.call("POST", "/v1/events", {"data": {}}), 422, "event")
        self.assertProblem(self.call("POST", "/v1/events", b"[1,"), 400)
        self.assertEqual(self.r.llen(self.k("events")), 0)
        self.assertTrue(wait_for(lambda: len(self.call(
            "GET", "/v1/webhooks/%s/attempts" % wh["id"])[1]["data"]) == 3, 10))
        st, att, _ = self.call("GET", "/v1/webhooks/%s/attempts?limit=2" % wh["id"])
        self.assertEqual((st, len(att["data"])), (200, 2))
        self.assertEqual(att["data"][0]["status"], "200")  # the attempt log's text, as the CLI
        self.assertTrue(att["next_cursor"])
        self.assertProblem(self.call("GET", "/v1/webhooks/nope/attempts"), 404)

    def test_stats_and_hosts(self):
        self.call("POST", "/v1/webhooks", {"url": self.url("ok", "s")})
        self.enqueue("person.created", {"record": {"id": "1"}})
        self.assertTrue(self.recv.wait_count(self.path("ok", "s"), 1, 15))
        st, stats, _ = self.call("GET", "/v1/stats")
        self.assertEqual(st, 200)
        self.assertEqual(stats["webhooks"], 1)
        self.assertEqual(stats["counters"]["delivered"], 1)
        st, hosts, _ = self.call("GET", "/v1/hosts")
        self.assertEqual(st, 200)
        self.assertIsInstance(hosts["data"], list)


if __name__ == "__main__":
    unittest.main(verbosity=2)
