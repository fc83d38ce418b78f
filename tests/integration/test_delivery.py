"""What receivers get: one signed POST per (event, webhook), with Twenty's body
and headers; event filters, workspaces, targeting, reload, disabled webhooks
and Standard Webhooks signing (DESIGN.md sections 1 to 3)."""

import calendar
import collections
import hashlib
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (HEX32, MSG_ID, RFC3339_UTC, HookdCase, delivery_id,  # noqa: E402
                     openssl_sig, standard_sig, twenty_sig, wait_for)

QUIET = 1.0  # seconds to watch for extra deliveries after the expected ones arrived


def ordered(body):
    return json.loads(body, object_pairs_hook=collections.OrderedDict)


class Delivery(HookdCase):

    def ns(self, prefix):
        """data.n of every request on prefix, as a sorted list."""
        return sorted(r.json()["data"]["n"] for r in self.recv.deliveries(prefix))

    def test_one_delivery_body_headers_signature(self):
        wh = self.h.add_webhook(self.url("ok", "basic"))
        self.h.start_worker()
        data = {"id": "1", "firstName": "Alice"}
        t_enq = time.time()
        self.enqueue("person.created", data)
        got = self.recv.wait_count(self.path("ok", "basic"), 1, 10)
        self.assertEqual(len(got), 1, "nothing delivered")
        time.sleep(QUIET)
        got = self.recv.deliveries(self.path("ok", "basic"))
        self.assertEqual(len(got), 1, "exactly one POST per (event, webhook): %r" % got)
        req = got[0]
        self.assertEqual(req.method, "POST")

        # body: exactly Twenty's payload, compact
        body = ordered(req.body)
        self.assertEqual(list(body.keys()), ["event", "data", "timestamp"])
        self.assertEqual(body["event"], "person.created")
        self.assertEqual(body["data"], data)
        self.assertRegex(body["timestamp"], RFC3339_UTC)
        ts_event = calendar.timegm(time.strptime(body["timestamp"][:19], "%Y-%m-%dT%H:%M:%S"))
        self.assertLess(abs(ts_event - t_enq), 60, "default timestamp is when hookd read it")
        self.assertEqual(req.body, json.dumps(body, separators=(",", ":"),
                                              ensure_ascii=False).encode(),
                         "body must be compact JSON")

        # headers
        hd = req.headers
        self.assertTrue(hd.get("content-type", "").startswith("application/json"), hd)
        self.assertTrue(hd.get("user-agent", "").startswith("hookd/"), hd)
        ts = hd.get("x-twenty-webhook-timestamp", "")
        self.assertRegex(ts, r"^\d+$")
        self.assertLess(abs(int(ts) - req.t * 1000), 60000, "timestamp in ms near now")
        sig = hd.get("x-twenty-webhook-signature", "")
        self.assertEqual(sig, twenty_sig(wh["secret"], ts, req.body), "python hmac")
        self.assertEqual(sig, openssl_sig(wh["secret"], ts, req.body), "openssl dgst -hmac")
        self.assertRegex(hd.get("x-twenty-webhook-nonce", ""), HEX32)
        self.assertRegex(hd.get("webhook-id", ""), MSG_ID)
        # and nothing else but what HTTP/1.1 itself needs
        self.assertEqual(sorted(hd), ["content-length", "content-type", "host", "user-agent",
                                      "webhook-id", "x-twenty-webhook-nonce",
                                      "x-twenty-webhook-signature",
                                      "x-twenty-webhook-timestamp"])

        # hookd verify agrees with what it sent
        rc, out, err = self.h.cli("verify", "--secret", wh["secret"], "--timestamp", ts,
                                  "--signature", sig, input=req.body)
        self.assertEqual(rc, 0, err)

        # and the delivery is acknowledged: nothing left behind
        self.assertTrue(wait_for(self.queues_empty, 5), "queues not empty after a 2xx")
        self.assertEqual(self.r.llen(self.k("dead")), 0)

    def test_given_timestamp_and_id_kept(self):
        wh = self.h.add_webhook(self.url("ok", "given"))
        env = {"event": "company.updated", "data": {"id": "c1", "name": "Acme"},
               "timestamp": "2025-02-10T15:30:50Z", "id": "evt_01"}
        self.push_raw(json.dumps(env))
        self.h.start_worker()
        got = self.recv.wait_count(self.path("ok", "given"), 1, 10)
        self.assertEqual(len(got), 1)
        body = got[0].json()
        self.assertEqual(body, {"event": "company.updated", "data": {"id": "c1", "name": "Acme"},
                                "timestamp": "2025-02-10T15:30:50Z"})
        self.assertEqual(got[0].headers["webhook-id"], delivery_id("evt_01", wh["id"]),
                         "webhook-id = msg_ + sha256(event_id \\n webhook_id)[:32]")

    def test_derived_id_is_stable(self):
        # an envelope without id gets one derived from its bytes: the same
        # bytes read twice give the same delivery id; other bytes another.
        self.h.add_webhook(self.url("ok", "stable"))
        same = json.dumps({"event": "person.created", "data": {"id": "s"}})
        other = json.dumps({"event": "person.created", "data": {"id": "t"}})
        self.push_raw(same)
        self.push_raw(same)
        self.push_raw(other)
        self.h.start_worker()
        wait_for(lambda: self.recv.count(self.path("ok", "stable")) >= 3, 5)
        got = self.recv.deliveries(self.path("ok", "stable"))
        by_data = collections.defaultdict(set)
        for r in got:
            by_data[r.json()["data"]["id"]].add(r.headers["webhook-id"])
        self.assertIn("s", by_data)
        self.assertIn("t", by_data)
        self.assertEqual(len(by_data["s"]), 1, "same envelope bytes, other delivery ids")
        self.assertNotEqual(by_data["s"], by_data["t"])

    def test_data_sent_unchanged(self):
        data = {"id": "u1", "name": "Zoë “quoted” 🎉 \\ \"x\"", "nested": {"a": [1, 2.5, None,
                True, False, {"b": "c"}]}, "empty": {}, "list": [], "big": 9007199254740991,
                "neg": -42, "ctrl": "tab\there\nnewline", "html": "</script><b>&amp;"}
        data["long"] = "x" * 20000
        wh = self.h.add_webhook(self.url("ok", "data"))
        self.push_raw(json.dumps({"event": "person.updated", "data": data}, ensure_ascii=False)
                      .encode())
        self.h.start_worker()
        got = self.recv.wait_count(self.path("ok", "data"), 1, 10)
        self.assertEqual(len(got), 1)
        self.assertEqual(got[0].json()["data"], data)
        # the signature covers every byte of a large, non-ASCII body
        hd = got[0].headers
        self.assertEqual(hd.get("x-twenty-webhook-signature"),
                         twenty_sig(wh["secret"], hd.get("x-twenty-webhook-timestamp", ""),
                                    got[0].body))
        self.assertEqual(int(hd.get("content-length", "-1")), len(got[0].body))

    def test_data_bytes_as_written(self):
        # docs/producers.md: data is sent as written, whitespace outside
        # strings removed; numbers are not re-serialised
        raw = (b'{ "event" : "person.updated", "data" : { "f" : 0.1, '
               b'"big" : 123456789012345678901234567890, "e" : 1E3, "s" : "a  b" ,'
               b' "arr" : [ 1 , { } ] } }')
        self.h.add_webhook(self.url("ok", "bytes"))
        self.push_raw(raw)
        self.h.start_worker()
        got = self.recv.wait_count(self.path("ok", "bytes"), 1, 10)
        self.assertEqual(len(got), 1, "envelope refused? dead=%r" % self.dead())
        want = b'"data":{"f":0.1,"big":123456789012345678901234567890,"e":1E3,"s":"a  b","arr":[1,{}]}'
        self.assertIn(want, got[0].body)

    def test_null_optional_fields_are_absent(self):
        self.h.add_webhook(self.url("ok", "null"))
        self.push_raw(json.dumps({"event": "person.created", "data": {"n": 1}, "workspace": None,
                                  "webhook": None, "id": None, "timestamp": None}))
        self.h.start_worker()
        got = self.recv.wait_count(self.path("ok", "null"), 1, 10)
        self.assertEqual(len(got), 1, "dead=%r" % self.dead())
        self.assertRegex(got[0].json()["timestamp"], RFC3339_UTC)

    def test_unrouted_event_acknowledged(self):
        self.h.add_webhook(self.url("ok", "unr"), "--events", "company.*")
        self.h.start_worker()
        self.enqueue("person.created", {"n": 1})
        self.assertTrue(wait_for(self.queues_empty, 10), "an event nobody wants stayed queued")
        self.assertEqual(self.r.hlen(self.k("jobs")), 0)
        self.assertEqual(self.recv.count(self.path("ok", "unr")), 0)
        self.assertEqual(self.r.llen(self.k("dead")), 0)

    def test_event_filters(self):
        hooks = {}
        for name, events in [("p-star", "person.*"), ("star-created", "*.created"),
                             ("p-created", "person.created"), ("c-updated", "company.updated"),
                             ("all", "*.*"), ("multi", "company.updated,note.*")]:
            hooks[name] = self.h.add_webhook(self.url("ok", name), "--events", events)
        self.h.start_worker()
        self.enqueue("person.created", {"n": 1})
        self.enqueue("company.deleted", {"n": 2})
        self.enqueue("note.deleted", {"n": 3})
        expected = {"p-star": [1], "star-created": [1], "p-created": [1], "c-updated": [],
                    "all": [1, 2, 3], "multi": [3]}
        total = sum(len(v) for v in expected.values())
        wait_for(lambda: self.recv.count(self.path("ok", "")) >= total, 10)
        time.sleep(QUIET)
        got = {name: self.ns(self.path("ok", name)) for name in expected}
        self.assertEqual(got, expected)

    def test_workspaces(self):
        self.h.add_webhook(self.url("ok", "ws-a"), "--workspace", "A")
        self.h.add_webhook(self.url("ok", "ws-none"))
        self.h.start_worker()
        self.enqueue("person.created", {"n": 1}, "--workspace", "A")
        self.enqueue("person.created", {"n": 2})
        self.enqueue("person.created", {"n": 3}, "--workspace", "B")
        wait_for(lambda: self.recv.count(self.path("ok", "")) >= 4, 10)
        time.sleep(QUIET)
        self.assertEqual(self.ns(self.path("ok", "ws-a")), [1],
                         "a workspace webhook gets only its workspace's events")
        self.assertEqual(self.ns(self.path("ok", "ws-none")), [1, 2, 3],
                         "a webhook without workspace gets every event")

    def test_webhook_field_targets_one(self):
        w1 = self.h.add_webhook(self.url("ok", "t1"))
        self.h.add_webhook(self.url("ok", "t2"))
        w3 = self.h.add_webhook(self.url("ok", "t3"), "--events", "company.*")
        self.h.start_worker()
        self.enqueue("person.created", {"n": 1}, "--webhook", w1["id"])
        self.enqueue("person.created", {"n": 2}, "--webhook", w3["id"])  # filter still applies
        # an envelope naming a webhook that does not exist goes to the dead list
        self.push_raw(json.dumps({"event": "person.created", "data": {"n": 3},
                                  "webhook": "wh_ffffffffffffffff"}))
        self.enqueue("person.created", {"n": 4})
        wait_for(lambda: self.recv.count(self.path("ok", "")) >= 3, 10)
        time.sleep(QUIET)
        self.assertEqual(self.ns(self.path("ok", "t1")), [1, 4])
        self.assertEqual(self.ns(self.path("ok", "t2")), [4])
        self.assertEqual(self.ns(self.path("ok", "t3")), [])

    def test_reload_while_running(self):
        w1 = self.h.add_webhook(self.url("ok", "ra"))
        self.h.start_worker()
        self.enqueue("person.created", {"n": 1})
        self.assertTrue(self.recv.wait_count(self.path("ok", "ra"), 1, 10), "worker not running")

        # a new webhook is seen within a second
        w2 = self.h.add_webhook(self.url("ok", "rb"))
        time.sleep(1.5)
        self.enqueue("person.created", {"n": 2})
        self.assertEqual(len(self.recv.wait_count(self.path("ok", "rb"), 1, 10)), 1,
                         "a webhook added to a running worker did not receive")

        # a changed URL is seen within a second
        rc, out, err = self.h.cli("webhook", "update", w2["id"], "--url", self.url("ok", "rc"))
        self.assertEqual(rc, 0, err)
        # a deleted webhook stops receiving within a second
        rc, out, err = self.h.cli("webhook", "delete", w1["id"])
        self.assertEqual(rc, 0, err)
        time.sleep(1.5)
        self.enqueue("person.created", {"n": 3})
        self.assertEqual(len(self.recv.wait_count(self.path("ok", "rc"), 1, 10)), 1,
                         "an updated URL was not used")
        time.sleep(QUIET)
        self.assertEqual(self.ns(self.path("ok", "ra")), [1, 2], "deleted webhook received")
        self.assertEqual(self.ns(self.path("ok", "rb")), [2], "old URL used after update")

    def test_webhook_added_then_event_pushed_at_once(self):
        # No waiting between the two: an event is judged against the webhooks
        # as they were when it was taken, never against an older snapshot.
        self.h.add_webhook(self.url("ok", "ia"))
        self.h.start_worker()
        self.enqueue("person.created", {"n": 0})
        self.assertTrue(self.recv.wait_count(self.path("ok", "ia"), 1, 10), "worker not running")
        for i in range(1, 6):
            self.h.add_webhook(self.url("ok", "ib%d" % i))
            self.enqueue("person.created", {"n": i})
            self.assertEqual(len(self.recv.wait_count(self.path("ok", "ib%d" % i), 1, 10)), 1,
                             "event pushed right after its webhook was added was not delivered")

    def test_disabled_webhook(self):
        off = self.h.add_webhook(self.url("ok", "off"))
        self.h.add_webhook(self.url("ok", "on"))
        rc, out, err = self.h.cli("webhook", "update", off["id"], "--enabled", "false")
        self.assertEqual(rc, 0, err)
        self.h.start_worker()
        self.enqueue("person.created", {"n": 1})
        self.assertTrue(self.recv.wait_count(self.path("ok", "on"), 1, 10))
        time.sleep(QUIET)
        self.assertEqual(self.ns(self.path("ok", "off")), [], "a disabled webhook received")

        rc, out, err = self.h.cli("webhook", "update", off["id"], "--enabled", "true")
        self.assertEqual(rc, 0, err)
        time.sleep(1.5)
        self.enqueue("person.created", {"n": 2})
        self.assertTrue(self.recv.wait_count(self.path("ok", "off"), 1, 10),
                        "re-enabled webhook did not receive")
        time.sleep(QUIET / 2)
        self.assertEqual(self.ns(self.path("ok", "off")), [2])

    def test_standard_signing(self):
        wh = self.h.add_webhook(self.url("ok", "std"), "--signing", "standard")
        self.h.start_worker()
        self.enqueue("person.created", {"id": "1"})
        got = self.recv.wait_count(self.path("ok", "std"), 1, 10)
        self.assertEqual(len(got), 1)
        req = got[0]
        hd = req.headers
        msg_id = hd.get("webhook-id", "")
        self.assertRegex(msg_id, MSG_ID)
        ts = hd.get("webhook-timestamp", "")
        self.assertRegex(ts, r"^\d+$")
        self.assertLess(abs(int(ts) - req.t), 60, "webhook-timestamp is in seconds, near now")
        sig = hd.get("webhook-signature", "")
        self.assertTrue(sig.startswith("v1,"), sig)
        self.assertEqual(sig, standard_sig(wh["secret"], msg_id, ts, req.body))
        # Twenty's headers are sent as well, and valid
        tts = hd.get("x-twenty-webhook-timestamp", "")
        self.assertEqual(hd.get("x-twenty-webhook-signature"),
                         twenty_sig(wh["secret"], tts, req.body))

    def test_twenty_signing_sends_no_standard_headers(self):
        self.h.add_webhook(self.url("ok", "tw"))
        self.h.start_worker()
        self.enqueue("person.created", {"id": "1"})
        got = self.recv.wait_count(self.path("ok", "tw"), 1, 10)
        self.assertEqual(len(got), 1)
        self.assertNotIn("webhook-signature", got[0].headers)

    def test_fan_out_many_webhooks_one_event(self):
        hooks = [self.h.add_webhook(self.url("ok", "fan%02d" % i)) for i in range(12)]
        self.h.start_worker()
        self.enqueue("person.created", {"n": 1})
        wait_for(lambda: self.recv.count(self.path("ok", "fan")) >= 12, 10)
        time.sleep(QUIET / 2)
        got = self.recv.deliveries(self.path("ok", "fan"))
        self.assertEqual(len(got), 12)
        ids = {r.headers["webhook-id"] for r in got}
        self.assertEqual(len(ids), 12, "each (event, webhook) has its own delivery id")
        bodies = {r.body for r in got}
        self.assertEqual(len(bodies), 1, "one event, one body for every webhook")
        for wh in hooks:
            r = [x for x in got if x.path.endswith("fan%02d" % hooks.index(wh))][0]
            self.assertEqual(r.headers["x-twenty-webhook-signature"],
                             twenty_sig(wh["secret"], r.headers["x-twenty-webhook-timestamp"],
                                        r.body), "signed with each webhook's own secret")

    def test_connections_kept_alive(self):
        # ten deliveries one after the other reuse connections: at most one
        # per event loop (HOOKD_THREADS=2), not one per delivery
        self.h.add_webhook(self.url("ok", "ka"))
        self.h.start_worker(env={"HOOKD_THREADS": "2"})
        for i in range(10):
            self.enqueue("person.created", {"n": i})
            self.assertTrue(self.recv.wait_count(self.path("ok", "ka"), i + 1, 10))
            # the receiver records a request before it answers: let the
            # answer reach hookd and the connection go back to its cache
            self.assertTrue(wait_for(self.queues_empty, 5))
            time.sleep(0.1)
        peers = {r.peer for r in self.recv.deliveries(self.path("ok", "ka"))}
        self.assertLessEqual(len(peers), 2, "%d connections for 10 sequential deliveries"
                             % len(peers))


if __name__ == "__main__":
    unittest.main()
