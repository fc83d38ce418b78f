"""Integrity: no event vanishes, no bad record halts delivery, every drop is
visible.

Each test runs against a real redis-server and a real HTTP receiver (see
harness.py). Records are written by hand with redis-py where the test is
about records hookd did not write itself.
"""

import json
import os
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (FAST, HookdCase, delivery_id, now_ms, proc_mem_kb, twenty_sig,  # noqa: E402
                     uid, wait_for)

SECRET = "it-secret-" + "x" * 16


class IntegrityCase(HookdCase):

    def hand_webhook(self, wid, fields):
        """Writes a webhook record by hand, as another tool or version might,
        and bumps the revision so that workers reload."""
        key = self.k("webhook:" + wid)
        self.r.delete(key)
        if fields:
            self.r.hset(key, mapping=fields)
        self.r.sadd(self.k("webhooks"), wid)
        self.r.incr(self.k("webhooks:rev"))

    def bump(self):
        self.r.incr(self.k("webhooks:rev"))

    def metric(self, w, name):
        """The value of one sample of a worker's /metrics, or None."""
        import urllib.request
        port = w.env["HOOKD_METRICS_ADDR"].rsplit(":", 1)[1]
        body = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % port, timeout=5).read()
        for line in body.decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None

    def start(self, **env):
        from harness import free_port
        e = dict(FAST)
        e["HOOKD_METRICS_ADDR"] = "127.0.0.1:%d" % free_port()
        e.update(env)
        w = self.h.start_worker(env=e)
        self.assertTrue(wait_for(lambda: "redis connected" in w.log(), 10), w.log())
        return w

    def dead_by_reason(self, pattern, n, timeout=15):
        rx = re.compile(pattern)
        got = wait_for(lambda: [d for d in self.dead() if rx.search(d.get("reason", ""))]
                       if len([d for d in self.dead() if rx.search(d.get("reason", ""))]) >= n
                       else None, timeout)
        return got or [d for d in self.dead() if rx.search(d.get("reason", ""))]


class TestInvalidRecords(IntegrityCase):
    """A webhook the worker cannot load never swallows its events."""

    BAD = [
        # (id, fields, what the reason says)
        ("wh_enabled", {"enabled": "yes"}, r"enabled: \"yes\""),
        ("wh_signing", {"signing": "hmac"}, r"signing: \"hmac\""),
        ("wh_events", {"events": "person"}, r"events: \"person\""),
        ("wh_timeout", {"timeout_ms": "10s"}, r"timeout_ms: \"10s\""),
        ("wh_nosecret", {"secret": None}, r"missing field 'secret'"),
        ("wh_bigsecret", {"secret": "k" * 2048}, r"secret: 2048 bytes, over 1024"),
        ("wh_space", {}, r"url: .*space"),
        ("wh_whsec", {"secret": "whsec_@@@@"}, r"after whsec_ must come base64"),
        ("wh_short", {"secret": "whsec_my-secret"}, r"after whsec_ must come base64"),
    ]

    def test_invalid_records_go_to_the_dead_list_and_replay(self):
        ok = self.h.add_webhook(self.url("ok", "good"), "--events", "person.*")
        for wid, extra, _ in self.BAD:
            fields = {"url": self.url("ok", wid), "secret": SECRET, "events": "person.*"}
            if wid == "wh_space":
                fields["url"] = " " + self.url("ok", wid)
            for k, v in extra.items():
                if v is None:
                    fields.pop(k)
                else:
                    fields[k] = v
            self.hand_webhook(wid, fields)
        w = self.start()
        out = self.enqueue("person.created", {"id": "p1"})
        event_id = json.loads(out)["id"]

        # the valid webhook still gets its delivery
        self.assertTrue(self.recv.wait_count(self.path("ok", "good"), 1, 15))
        # and every invalid one's delivery is in the dead list, with its reason
        dead = self.wait_dead(len(self.BAD), 15)
        by_webhook = {d["webhook"]: d for d in dead if d.get("kind") == "delivery"}
        for wid, _, want in self.BAD:
            with self.subTest(webhook=wid):
                self.assertIn(wid, by_webhook, dead)
                d = by_webhook[wid]
                self.assertRegex(d["reason"], r"^webhook %s is invalid: " % wid)
                self.assertRegex(d["reason"], want)
                self.assertEqual(d["delivery"], delivery_id(event_id, wid))
                self.assertEqual(d["attempts"], 0)
                self.assertNotIn(SECRET, json.dumps(d))
                self.assertEqual(self.recv.count(self.path("ok", wid)), 0)
        # `webhook show` and `list` mark them, with the worker's reason
        for wid, _, want in self.BAD:
            shown = self.h.cli_json("webhook", "show", wid)
            self.assertFalse(shown["valid"], shown)
            self.assertRegex(shown["invalid_reason"], want)
            self.assertNotIn("k" * 64, json.dumps(shown))
        listed = {x["id"]: x for x in self.h.cli_lines("webhook", "list")}
        self.assertTrue(listed[ok["id"]]["valid"])
        self.assertEqual(sum(1 for x in listed.values() if not x["valid"]), len(self.BAD))
        # a metric counts them
        self.assertTrue(wait_for(lambda: self.metric(w, 'hookd_webhooks{state="invalid"}')
                                 == len(self.BAD), 5))
        # reloads that change nothing say nothing again
        for _ in range(3):
            self.bump()
            time.sleep(0.6)
        log = w.log()
        for wid, _, _ in self.BAD:
            told = [l for l in log.splitlines()
                    if "webhook %s is invalid" % wid in l and "until it is fixed" in l]
            self.assertEqual(len(told), 1, log[-4000:])

        # fixed by hand, the record is valid again and a replay delivers
        self.r.hset(self.k("webhook:wh_enabled"), "enabled", "1")
        self.bump()
        self.assertTrue(wait_for(lambda: "webhook wh_enabled is valid again" in w.log(), 5))
        self.r.delete(self.k("dead"))
        self.r.lpush(self.k("dead"), json.dumps(by_webhook["wh_enabled"]))
        rc, out, err = self.h.cli("dead", "replay")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["replayed"], 1)
        self.assertTrue(self.recv.wait_count(self.path("ok", "wh_enabled"), 1, 15))
        got = self.recv.deliveries(self.path("ok", "wh_enabled"))[0]
        self.assertEqual(got.headers["webhook-id"], delivery_id(event_id, "wh_enabled"))
        ts = got.headers["x-twenty-webhook-timestamp"]
        self.assertEqual(got.headers["x-twenty-webhook-signature"], twenty_sig(SECRET, ts, got.body))

    def test_bad_events_field_takes_every_event_to_the_dead_list(self):
        """A filter list that cannot be read could have meant anything."""
        self.hand_webhook("wh_ev", {"url": self.url("ok", "ev"), "secret": SECRET,
                                    "events": "person.created,,"})
        self.start()
        self.enqueue("company.deleted", {"id": "c"})
        dead = self.wait_dead(1, 15)
        self.assertEqual(dead[0]["webhook"], "wh_ev")
        self.assertIn("is invalid: events:", dead[0]["reason"])

    def test_wrong_type_key_skips_one_webhook_only(self):
        ok = self.h.add_webhook(self.url("ok", "typed"))
        self.r.set(self.k("webhook:wh_str"), "not a hash")
        self.r.sadd(self.k("webhooks"), "wh_str", "wh_missing")
        self.bump()
        w = self.start()
        for i in range(20):
            self.enqueue("person.created", {"i": i})
        # delivery goes on for the valid webhook
        self.assertTrue(self.recv.wait_count(self.path("ok", "typed"), 20, 20))
        # an event that names the broken one goes dead with the reason
        self.push_raw(json.dumps({"event": "person.created", "data": {}, "webhook": "wh_str"}))
        dead = self.dead_by_reason(r"wh_str is invalid: key is a string, not a hash", 1)
        self.assertEqual(len(dead), 1, self.dead())
        shown = self.h.cli_json("webhook", "show", "wh_str")
        self.assertEqual(shown["invalid_reason"], "key is a string, not a hash")
        missing = self.h.cli_json("webhook", "show", "wh_missing")
        self.assertIn("no record", missing["invalid_reason"])
        # and the log says it once, not a hundred times a second
        time.sleep(1.5)
        self.assertEqual(w.log().count("WRONGTYPE"), 0, w.log()[-3000:])
        told = [l for l in w.log().splitlines()
                if "webhook wh_str is invalid" in l and "until it is fixed" in l]
        self.assertEqual(len(told), 1, w.log()[-3000:])
        self.assertTrue(ok["valid"])


class TestEventsForNobody(IntegrityCase):

    def test_named_missing_or_disabled_webhook_goes_dead(self):
        off = self.h.add_webhook(self.url("ok", "off"))
        self.h.cli_json("webhook", "update", off["id"], "--enabled", "false")
        self.start()
        self.push_raw(json.dumps({"event": "person.created", "data": {},
                                  "webhook": "wh_doesnotexist"}))
        self.push_raw(json.dumps({"event": "person.created", "data": {}, "webhook": off["id"]}))
        dead = self.wait_dead(2, 15)
        reasons = sorted(d["reason"] for d in dead)
        self.assertEqual(reasons, sorted(["webhook wh_doesnotexist does not exist",
                                          "webhook %s is disabled" % off["id"]]))
        self.assertEqual(self.recv.count(self.path("ok", "off")), 0)
        self.assertTrue(wait_for(self.queues_empty, 10))

    def test_unrouted_counted_under_one_name(self):
        self.h.add_webhook(self.url("ok", "co"), "--events", "company.*")
        w = self.start()
        self.enqueue("person.created", {})
        self.assertTrue(wait_for(lambda: self.h.cli_json("stats", "--json")["counters"]
                                 .get("unrouted") == 1, 10))
        self.assertTrue(wait_for(lambda: self.metric(w, 'hookd_events_total{result="unrouted"}')
                                 == 1, 5))
        self.assertEqual(self.dead(), [])


class TestJobs(IntegrityCase):
    """What hookd reads back from Redis is judged like a producer's input."""

    def forge(self, token, job, header_only=False):
        """Puts a job into the retry set, due now."""
        self.r.hset(self.k("jobs"), token, job)
        self.r.zadd(self.k("retry"), {token: now_ms() - 1})

    def header(self, **kw):
        h = {"webhook": kw.get("webhook"), "delivery": kw["delivery"], "event_id": "evt_f",
             "event": "person.created", "attempt": 2, "first_ms": now_ms()}
        return json.dumps(h, separators=(",", ":"))

    def test_forged_crlf_and_wrong_token_never_reach_the_receiver(self):
        wh = self.h.add_webhook(self.url("ok", "forged"))
        good = delivery_id("evt_f", wh["id"])
        body = b'{"event":"person.created","data":{},"timestamp":"2026-01-01T00:00:00Z"}'
        crlf = good + "\r\nX-Injected: yes"
        self.forge("d:" + good, self.header(webhook=wh["id"], delivery=crlf).encode() + b"\n" + body)
        other = delivery_id("evt_other", wh["id"])
        self.forge("d:" + other, self.header(webhook=wh["id"], delivery=good).encode() + b"\n" + body)
        self.start()
        dead = self.wait_dead(2, 15)
        reasons = sorted(d["reason"] for d in dead)
        self.assertIn("job: delivery is not msg_ and 32 hex digits", reasons)
        self.assertIn("job: delivery %s is not the one its token names" % good, reasons)
        time.sleep(1)
        self.assertEqual(self.recv.count(self.path("ok", "forged")), 0)
        # gone for good: neither job comes back every lease
        self.assertTrue(wait_for(lambda: self.r.hlen(self.k("jobs")) == 0
                                 and self.r.zcard(self.k("leases")) == 0, 10))

    def test_escaped_body_at_the_cap_fails_once_then_delivers(self):
        """A 1 MiB envelope of \\" doubles when escaped into JSON; a job keeps
        the body raw, so it stays a retry and is delivered."""
        wh = self.h.add_webhook(self.url("flaky", "cap", "n=1"))
        head = '{"event":"person.created","data":{"s":"'
        tail = '"},"timestamp":"2026-01-01T00:00:00Z"}'
        n = ((1 << 20) - len(head) - len(tail)) // 2
        env = head + '\\"' * n + tail
        pad = (1 << 20) - len(env)
        env = head + '\\"' * n + "a" * pad + tail
        self.assertEqual(len(env), 1 << 20)
        self.push_raw(env)
        self.start(HOOKD_TIMEOUT="5s", HOOKD_LEASE="30s")
        self.assertTrue(self.recv.wait_count(self.path("flaky", "cap", "n=1"), 2, 30),
                        self.dead()[:1])
        got = self.recv.deliveries(self.path("flaky", "cap", "n=1"))
        self.assertEqual(got[0].body, got[1].body)
        self.assertEqual(json.loads(got[1].body)["data"]["s"], '"' * n + "a" * pad)
        self.assertEqual(self.dead(), [])
        self.assertTrue(wh["valid"])

    def test_plain_3mib_event_with_4mib_cap_fails_once_then_delivers(self):
        self.h.add_webhook(self.url("flaky", "big", "n=1"))
        env = json.dumps({"event": "person.created", "data": {"s": "y" * (3 << 20)}})
        self.push_raw(env)
        self.start(HOOKD_MAX_ENVELOPE="4MiB", HOOKD_TIMEOUT="5s", HOOKD_LEASE="30s")
        self.assertTrue(self.recv.wait_count(self.path("flaky", "big", "n=1"), 2, 30),
                        self.dead()[:1])
        self.assertEqual(self.dead(), [])


class TestMemory(IntegrityCase):

    def test_oversized_envelopes_stay_in_redis(self):
        """8 envelopes of 48 MiB go to the dead list with their size and a
        prefix; hookd's peak RSS stays under 64 MB and normal events flow."""
        self.h.add_webhook(self.url("ok", "mem"))
        # ASan keeps freed memory in quarantine; a small one measures hookd
        asan = os.environ.get("ASAN_OPTIONS", "")
        w = self.start(HOOKD_LEASE="30s",
                       ASAN_OPTIONS=(asan + ":" if asan else "") + "quarantine_size_mb=4")
        _, hwm0 = proc_mem_kb(w.pid)
        big = b'{"event":"person.created","data":{"s":"' + b"z" * (48 << 20) + b'"}}'
        pipe = self.r.pipeline()
        for i in range(8):
            pipe.lpush(self.k("events"), big)
            pipe.lpush(self.k("events"), json.dumps({"event": "person.created",
                                                     "data": {"i": i}}))
        t0 = time.monotonic()
        pipe.execute()
        self.assertTrue(self.recv.wait_count(self.path("ok", "mem"), 8, 60))
        waited = time.monotonic() - t0
        dead = self.wait_dead(8, 30)
        self.assertEqual(len(dead), 8, [(d["reason"], d.get("size")) for d in dead])
        for d in dead:
            self.assertEqual(d["kind"], "envelope")
            self.assertEqual(d["size"], len(big))
            self.assertIn("over --max-envelope", d["reason"])
            self.assertEqual(d["envelope_prefix"], big[:1024].decode())
        rss, hwm = proc_mem_kb(w.pid)
        sys.stderr.write("oversized: peak RSS %d kB (at start %d kB), normal events in %.2f s\n"
                         % (hwm, hwm0, waited))
        self.assertLess(hwm, 64 * 1024)
        # what stays in Redis is the prefix, not the 48 MiB
        self.assertTrue(wait_for(self.queues_empty, 10))
        self.assertLess(self.r.memory_usage(self.k("dead")) or 0, 1 << 20)

    def test_many_envelopes_at_the_cap_bound_memory(self):
        """200 envelopes of 1 MiB to a slow receiver: the bytes in flight are
        capped, so RSS is too, and every one is delivered."""
        self.h.add_webhook(self.url("slow", "cap", "ms=50"))
        asan = os.environ.get("ASAN_OPTIONS", "")
        w = self.start(HOOKD_TIMEOUT="10s", HOOKD_LEASE="60s",
                       ASAN_OPTIONS=(asan + ":" if asan else "") + "quarantine_size_mb=4")
        env = json.dumps({"event": "person.created", "data": {"s": "q" * ((1 << 20) - 64)}})
        self.assertLessEqual(len(env), 1 << 20)
        pipe = self.r.pipeline()
        for _ in range(200):
            pipe.lpush(self.k("events"), env)
        pipe.execute()
        self.assertTrue(self.recv.wait_count(self.path("slow", "cap", "ms=50"), 200, 120))
        _, hwm = proc_mem_kb(w.pid)
        sys.stderr.write("200 x 1 MiB: peak RSS %d kB\n" % hwm)
        self.assertLess(hwm, 96 * 1024)
        self.assertEqual(self.dead(), [])


class TestVisible(IntegrityCase):

    def test_refused_address_is_logged_rate_limited(self):
        wh = self.h.add_webhook(self.url("ok", "ssrf", "token=s3cr3tvalue"))
        w = self.start(HOOKD_ALLOW_NET="", HOOKD_MAX_ATTEMPTS="1")
        for i in range(10):
            self.enqueue("person.created", {"i": i})
        self.wait_dead(10, 20)
        lines = [l for l in w.log().splitlines()
                 if "is not public" in l and "webhook %s (" % wh["id"] in l]
        self.assertGreaterEqual(len(lines), 1, w.log()[-3000:])
        self.assertLessEqual(len(lines), 2, lines)
        self.assertIn(wh["id"], lines[0])
        self.assertIn("token=REDACTED", lines[0])
        self.assertIn("--allow-net", lines[0])
        self.assertNotIn("s3cr3tvalue", w.log())
        dead_lines = [l for l in w.log().splitlines() if "to the dead list" in l]
        self.assertLessEqual(len(dead_lines), 2, dead_lines)

    def test_start_line_and_run_help(self):
        rc, out, err = self.h.cli("run", "--help")
        self.assertEqual(rc, 0, err)
        self.assertIn("--redis-url", out)


class TestCli(IntegrityCase):
    """The CLI refuses what the worker would skip, with the worker's reason."""

    def test_refuses_what_the_worker_skips(self):
        for args, want in [
            (["--secret", "whsec_@@@@"], "after whsec_ must come base64"),
            (["--events", ""], "--events: empty"),
            (["--signing", "standard", "--secret", "abcdefabcdef"], "needs a whsec_"),
            (["--secret", "k" * 2048], "over 1024"),
        ]:
            with self.subTest(args=args):
                rc, out, err = self.h.cli("webhook", "add", "--url", self.url("ok"), *args)
                self.assertEqual(rc, 2, (out, err))
                self.assertIn(want, self.assertOneLineError(err))
        self.assertEqual(self.r.scard(self.k("webhooks")), 0)
        wh = self.h.add_webhook(self.url("ok"))
        rc, _, err = self.h.cli("webhook", "rotate-secret", wh["id"], "--secret", "whsec_my-secret")
        self.assertEqual(rc, 2, err)
        rc, _, err = self.h.cli("webhook", "update", wh["id"], "--signing", "standard")
        self.assertEqual(rc, 2, err)
        self.assertIn("rotate-secret ID --signing standard", err)
        rot = self.h.cli_json("webhook", "rotate-secret", wh["id"], "--signing", "standard")
        self.assertRegex(rot["secret"], r"^whsec_[A-Za-z0-9+/]{43}=$")
        self.assertTrue(rot["valid"])

    def test_secret_from_file_and_stdin_and_redacted_urls(self):
        path = os.path.join(self.h.logdir, "secret")
        with open(path, "w") as f:
            f.write("from-a-file-" + "s" * 20 + "\n")
        a = self.h.cli_json("webhook", "add", "--url", self.url("ok", "f", "token=abc123"),
                            "--secret-file", path)
        self.assertEqual(a["secret"], "from-a-file-" + "s" * 20)
        b = self.h.cli_json("webhook", "add", "--url", self.url("ok", "s"), "--secret", "-",
                            input="from-stdin-" + "t" * 20 + "\n")
        self.assertEqual(b["secret"], "from-stdin-" + "t" * 20)
        shown = self.h.cli_json("webhook", "show", a["id"])
        self.assertIn("token=REDACTED", shown["url"])
        self.assertNotIn("abc123", json.dumps(self.h.cli_lines("webhook", "list")))
        full = self.h.cli_json("webhook", "show", a["id"], "--show-secret")
        self.assertIn("token=abc123", full["url"])


class TestWebhookTimeout(IntegrityCase):

    def test_timeout_flags_are_the_webhooks_own(self):
        """`webhook add --timeout` used to set this command's global timeout
        and leave the webhook's at 0; now it is the webhook's, within the
        lease."""
        wh = self.h.add_webhook(self.url("hang", "t"), "--timeout", "300ms",
                                "--connect-timeout", "200ms")
        self.assertEqual((wh["timeout_ms"], wh["connect_timeout_ms"]), (300, 200))
        rc, _, err = self.h.cli("webhook", "add", "--url", self.url("ok"), "--timeout", "2m")
        self.assertEqual(rc, 2)
        self.assertIn("shorter than the lease", err)
        self.start(HOOKD_TIMEOUT="4s", HOOKD_MAX_ATTEMPTS="1", HOOKD_LEASE="10s")
        self.enqueue("person.created", {})
        self.wait_dead(1, 10)
        entries = self.log_entries(wh["id"])
        self.assertEqual(len(entries), 1, entries)
        self.assertIn("timed out", entries[0]["error"])
        self.assertLess(int(entries[0]["ms"]), 2000, entries[0])


if __name__ == "__main__":
    unittest.main(verbosity=2)
