"""hookd's command line against a real redis-server: webhooks, enqueue, stats,
dead, verify, configuration errors and exit codes (docs/cli.md)."""

import json
import os
import re
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (HEX64, HookdCase, RFC3339_UTC, Hookd, free_port,  # noqa: E402
                     twenty_sig)

WH_ID = re.compile(r"^wh_[0-9a-f]{16}$")


class WebhookCommands(HookdCase):

    def rev(self):
        v = self.r.get(self.k("webhooks:rev"))
        return int(v) if v is not None else 0

    def test_add_defaults(self):
        url = "http://127.0.0.1:9/ok/x"
        rev0 = self.rev()
        rc, out, err = self.h.cli("webhook", "add", "--url", url)
        self.assertEqual(rc, 0, err)
        lines = [l for l in out.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, "add must print one JSON object: %r" % out)
        wh = json.loads(lines[0])
        self.assertRegex(wh["id"], WH_ID)
        self.assertRegex(wh["secret"], HEX64)
        self.assertEqual(wh["events"], ["*.*"])
        self.assertEqual(wh["url"], url)
        self.assertIs(wh["enabled"], True)
        self.assertEqual(wh.get("signing"), "twenty")
        self.assertEqual(wh.get("workspace"), "")
        self.assertRegex(wh.get("created_at", ""), RFC3339_UTC)
        # what is stored
        h = {k.decode(): v.decode() for k, v in self.r.hgetall(self.k("webhook:" + wh["id"])).items()}
        self.assertEqual(h["url"], url)
        self.assertEqual(h["secret"], wh["secret"])
        self.assertEqual(h["events"], "*.*")
        self.assertEqual(h["enabled"], "1")
        self.assertTrue(self.r.sismember(self.k("webhooks"), wh["id"]))
        self.assertGreater(self.rev(), rev0, "add must bump {P}:webhooks:rev")
        # a second webhook gets another id and another secret
        wh2 = self.h.add_webhook(url)
        self.assertNotEqual(wh2["id"], wh["id"])
        self.assertNotEqual(wh2["secret"], wh["secret"])

    def test_add_options(self):
        # a Standard secret is whsec_ and base64 (of 24 bytes, here a fixture)
        secret = "whsec_" + "c2VjcmV0LWZpeHR1cmUtZm9yLXRlc3Rz"
        wh = self.h.add_webhook("https://example.com/hook", "--secret", secret,
                                "--events", "person.*,company.created", "--workspace", "ws_1",
                                "--description", "crm sync", "--signing", "standard")
        self.assertEqual(wh["secret"], secret)
        self.assertEqual(wh["events"], ["person.*", "company.created"])
        self.assertEqual(wh["workspace"], "ws_1")
        self.assertEqual(wh["description"], "crm sync")
        self.assertEqual(wh["signing"], "standard")
        h = self.r.hgetall(self.k("webhook:" + wh["id"]))
        self.assertEqual(h[b"secret"], secret.encode())
        self.assertEqual(h[b"events"], b"person.*,company.created")
        self.assertEqual(h[b"workspace"], b"ws_1")
        self.assertEqual(h[b"signing"], b"standard")

    def test_list_and_show_hide_secret(self):
        a = self.h.add_webhook("http://127.0.0.1:9/a")
        b = self.h.add_webhook("http://127.0.0.1:9/b", "--events", "note.*")
        rc, out, err = self.h.cli("webhook", "list")
        self.assertEqual(rc, 0, err)
        self.assertNotIn(a["secret"], out)
        self.assertNotIn(b["secret"], out)
        items = [json.loads(l) for l in out.splitlines() if l.strip()]
        self.assertEqual({i["id"] for i in items}, {a["id"], b["id"]})
        for i in items:
            self.assertEqual(i["secret"], "<hidden>")
        byid = {i["id"]: i for i in items}
        self.assertEqual(byid[b["id"]]["events"], ["note.*"])
        self.assertEqual(byid[a["id"]]["url"], "http://127.0.0.1:9/a")

        rc, out, err = self.h.cli("webhook", "show", a["id"])
        self.assertEqual(rc, 0, err)
        self.assertNotIn(a["secret"], out)
        shown = json.loads(out)
        self.assertEqual(shown["secret"], "<hidden>")
        self.assertEqual(shown["id"], a["id"])

        shown = self.h.cli_json("webhook", "show", a["id"], "--show-secret")
        self.assertEqual(shown["secret"], a["secret"])

    def test_update(self):
        wh = self.h.add_webhook("http://127.0.0.1:9/a")
        rev0 = self.rev()
        rc, out, err = self.h.cli("webhook", "update", wh["id"], "--url", "https://example.org/new",
                                  "--events", "person.created,*.deleted", "--enabled", "false")
        self.assertEqual(rc, 0, err)
        self.assertGreater(self.rev(), rev0, "update must bump {P}:webhooks:rev")
        shown = self.h.cli_json("webhook", "show", wh["id"])
        self.assertEqual(shown["url"], "https://example.org/new")
        self.assertEqual(shown["events"], ["person.created", "*.deleted"])
        self.assertIs(shown["enabled"], False)
        h = self.r.hgetall(self.k("webhook:" + wh["id"]))
        self.assertEqual(h[b"enabled"], b"0")
        self.assertEqual(h[b"url"], b"https://example.org/new")
        self.assertEqual(h[b"events"], b"person.created,*.deleted")
        self.assertEqual(h[b"secret"].decode(), wh["secret"], "update must keep the secret")

        rc, out, err = self.h.cli("webhook", "update", wh["id"], "--enabled", "true")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.r.hget(self.k("webhook:" + wh["id"]), "enabled"), b"1")
        # untouched fields stay
        self.assertEqual(self.h.cli_json("webhook", "show", wh["id"])["url"],
                         "https://example.org/new")

    def test_delete(self):
        wh = self.h.add_webhook("http://127.0.0.1:9/a")
        keep = self.h.add_webhook("http://127.0.0.1:9/b")
        rev0 = self.rev()
        rc, out, err = self.h.cli("webhook", "delete", wh["id"])
        self.assertEqual(rc, 0, err)
        self.assertGreater(self.rev(), rev0, "delete must bump {P}:webhooks:rev")
        self.assertFalse(self.r.sismember(self.k("webhooks"), wh["id"]))
        self.assertFalse(self.r.exists(self.k("webhook:" + wh["id"])))
        self.assertTrue(self.r.sismember(self.k("webhooks"), keep["id"]))
        rc, out, err = self.h.cli("webhook", "show", wh["id"])
        self.assertEqual(rc, 1)
        ids = [i["id"] for i in self.h.cli_lines("webhook", "list")]
        self.assertEqual(ids, [keep["id"]])

    def test_rotate_secret(self):
        wh = self.h.add_webhook("http://127.0.0.1:9/a")
        rev0 = self.rev()
        rot = self.h.cli_json("webhook", "rotate-secret", wh["id"])
        self.assertRegex(rot["secret"], HEX64)
        self.assertNotEqual(rot["secret"], wh["secret"])
        self.assertEqual(self.r.hget(self.k("webhook:" + wh["id"]), "secret").decode(),
                         rot["secret"])
        self.assertGreater(self.rev(), rev0)
        rot2 = self.h.cli_json("webhook", "rotate-secret", wh["id"], "--secret", "given-one")
        self.assertEqual(rot2["secret"], "given-one")
        self.assertEqual(self.r.hget(self.k("webhook:" + wh["id"]), "secret"), b"given-one")

    def test_bad_url(self):
        self.assertAddRefused(["ftp://x", "not a url", "http://", "file:///etc/passwd",
                               "http://user:pass@example.com/"])
        wh = self.h.add_webhook("http://127.0.0.1:9/a")
        rc, out, err = self.h.cli("webhook", "update", wh["id"], "--url", "ftp://x")
        self.assertEqual(rc, 2, err)
        self.assertOneLineError(err)
        self.assertEqual(self.r.hget(self.k("webhook:" + wh["id"]), "url"), b"http://127.0.0.1:9/a")

    def test_add_without_url(self):
        rc, out, err = self.h.cli("webhook", "add")
        self.assertEqual(rc, 2)
        self.assertOneLineError(err)

    def test_bad_events(self):
        for bad in ["person", "person.created.extra", "person.*,nodot", "pers on.created",
                    "*", "person.", ".created"]:
            with self.subTest(events=bad):
                rc, out, err = self.h.cli("webhook", "add", "--url", "http://127.0.0.1:9/a",
                                          "--events", bad)
                self.assertEqual(rc, 2, "--events %r: rc=%r out=%r" % (bad, rc, out))
                self.assertOneLineError(err)
        self.assertEqual(self.r.scard(self.k("webhooks")), 0)

    def test_unknown_id(self):
        missing = "wh_0000000000000000"
        for argv in (["show", missing], ["update", missing, "--url", "http://127.0.0.1:9/x"],
                     ["delete", missing], ["rotate-secret", missing]):
            with self.subTest(argv=argv):
                rc, out, err = self.h.cli("webhook", *argv)
                self.assertEqual(rc, 1, "webhook %s: rc=%r err=%r" % (argv, rc, err))
                self.assertTrue(err.strip(), "no reason on stderr")
        self.assertFalse(self.r.exists(self.k("webhook:" + missing)),
                         "update of an unknown id created it")

    def test_options_anywhere_and_flags_win(self):
        other = "o" + self.h.prefix
        # flag after the subcommand, and flag over HOOKD_PREFIX
        wh = self.h.add_webhook("http://127.0.0.1:9/a", "--prefix", other)
        self.assertTrue(self.r.sismember("{%s}:webhooks" % other, wh["id"]))
        self.assertEqual(self.r.scard(self.k("webhooks")), 0)
        # flag before the subcommand
        rc, out, err = self.h.cli("--prefix", other, "webhook", "list")
        self.assertEqual(rc, 0, err)
        self.assertIn(wh["id"], out)
        # --name=value form
        rc, out, err = self.h.cli("webhook", "list", "--prefix=" + other)
        self.assertEqual(rc, 0, err)
        self.assertIn(wh["id"], out)
        rc, out, err = self.h.cli("webhook", "list")
        self.assertEqual(rc, 0, err)
        self.assertNotIn(wh["id"], out)


class EnqueueCommands(HookdCase):

    def events(self):
        return [json.loads(x) for x in self.r.lrange(self.k("events"), 0, -1)]

    def test_enqueue_one(self):
        rc, out, err = self.h.cli("enqueue", "person.created", '{"id":"1","firstName":"Alice"}')
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["pushed"], 1)
        evs = self.events()
        self.assertEqual(len(evs), 1)
        self.assertEqual(evs[0]["event"], "person.created")
        self.assertEqual(evs[0]["data"], {"id": "1", "firstName": "Alice"})
        for k in ("workspace", "webhook"):
            self.assertIn(evs[0].get(k, ""), ("", None))

    def test_enqueue_options(self):
        self.h.add_webhook("https://example.com/hook", "--id", "wh_0123456789abcdef")
        rc, out, err = self.h.cli("enqueue", "note.deleted", "--workspace", "ws_7",
                                  "--webhook", "wh_0123456789abcdef", "--id", "evt_42")
        self.assertEqual(rc, 0, err)
        evs = self.events()
        self.assertEqual(len(evs), 1)
        e = evs[0]
        self.assertEqual(e["event"], "note.deleted")
        self.assertEqual(e["data"], {}, "DATA_JSON defaults to {}")
        self.assertEqual(e["workspace"], "ws_7")
        self.assertEqual(e["webhook"], "wh_0123456789abcdef")
        self.assertEqual(e["id"], "evt_42")

    def test_enqueue_bad(self):
        for argv in (["person"], ["person.created", "not json"], ["person.created", "[1,2]"],
                     ["person.created", '"str"'], ["person.created.x", "{}"],
                     ["person.created", "{}", "--workspace", "bad ws"]):
            with self.subTest(argv=argv):
                rc, out, err = self.h.cli("enqueue", *argv)
                self.assertEqual(rc, 2, "enqueue %r: rc=%r err=%r" % (argv, rc, err))
                self.assertOneLineError(err)
        self.assertEqual(self.r.llen(self.k("events")), 0)

    def test_enqueue_stdin(self):
        lines = []
        for i in range(25):
            env = {"event": "person.updated", "data": {"n": i}, "id": "evt-%d" % i}
            if i % 5 == 0:
                env["workspace"] = "ws_a"
            lines.append(json.dumps(env))
        rc, out, err = self.h.cli("enqueue", "-", input="\n".join(lines) + "\n")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["pushed"], 25)
        evs = self.events()
        self.assertEqual(len(evs), 25)
        self.assertEqual(sorted(e["data"]["n"] for e in evs), list(range(25)))
        for e in evs:
            self.assertEqual(e["id"], "evt-%d" % e["data"]["n"])
            self.assertEqual(e["event"], "person.updated")
        self.assertEqual({e["data"]["n"] for e in evs if e.get("workspace") == "ws_a"},
                         {0, 5, 10, 15, 20})

    def test_enqueue_stdin_order(self):
        # producers LPUSH and workers take the oldest first (from the right):
        # the first line read must be the first one taken.
        lines = [json.dumps({"event": "a.b", "data": {"n": i}}) for i in range(5)]
        rc, out, err = self.h.cli("enqueue", "-", input="\n".join(lines))
        self.assertEqual(rc, 0, err)
        oldest_first = [json.loads(self.r.rpop(self.k("events")))["data"]["n"] for _ in range(5)]
        self.assertEqual(oldest_first, [0, 1, 2, 3, 4])

    def test_enqueue_stdin_bad_line(self):
        good = json.dumps({"event": "person.created", "data": {}})
        for bad in ["{not json", json.dumps({"data": {}}),
                    json.dumps({"event": "person.created", "data": [1]}),
                    json.dumps({"event": 5, "data": {}}), "[]"]:
            with self.subTest(bad=bad):
                text = "\n".join([good, good, bad, good]) + "\n"
                rc, out, err = self.h.cli("enqueue", "-", input=text)
                self.assertEqual(rc, 2, "bad line %r: rc=%r err=%r" % (bad, rc, err))
                line = self.assertOneLineError(err)
                self.assertIn("3", line, "the error must name line 3: %r" % line)
                self.assertEqual(self.r.llen(self.k("events")), 0,
                                 "nothing may be pushed when a line is bad")


class OtherCommands(HookdCase):

    def test_stats_json(self):
        self.h.add_webhook("http://127.0.0.1:9/a")
        self.h.add_webhook("http://127.0.0.1:9/b")
        for i in range(3):
            self.r.lpush(self.k("events"), json.dumps({"event": "a.b", "data": {"i": i}}))
        self.r.zadd(self.k("retry"), {"d:msg_a": 1, "d:msg_b": 2})
        self.r.zadd(self.k("leases"), {"e:1": 1})
        self.r.lpush(self.k("dead"), json.dumps({"kind": "envelope", "reason": "x", "at": 1,
                                                  "envelope": "x"}))
        rc, out, err = self.h.cli("stats", "--json")
        self.assertEqual(rc, 0, err)
        s = json.loads(out)
        self.assertEqual(s["events"], 3)
        self.assertEqual(s["retry"], 2)
        self.assertEqual(s["dead"], 1)
        self.assertEqual(s["inflight"], 1)
        self.assertEqual(s["webhooks"], 2)
        self.assertIsInstance(s["counters"], dict)
        # and without --json something readable, exit 0
        rc, out, err = self.h.cli("stats")
        self.assertEqual(rc, 0, err)
        self.assertTrue(out.strip())

    def test_stats_oldest_event_age(self):
        # no timestamp on the oldest envelope: the age is unknown, not invented
        self.r.lpush(self.k("events"), json.dumps({"event": "a.b", "data": {}}))
        rc, out, err = self.h.cli("stats", "--json")
        self.assertEqual(rc, 0, err)
        self.assertIsNone(json.loads(out)["oldest_event_age_seconds"])
        # the oldest (rightmost) envelope's timestamp decides, in any offset
        self.r.delete(self.k("events"))
        ts = time.strftime("%Y-%m-%dT%H:%M:%S+01:00", time.gmtime(time.time() - 90 + 3600))
        self.r.lpush(self.k("events"), json.dumps({"event": "a.b", "data": {}, "timestamp": ts}))
        self.r.lpush(self.k("events"), json.dumps({"event": "a.b", "data": {}}))
        rc, out, err = self.h.cli("stats", "--json")
        self.assertEqual(rc, 0, err)
        age = json.loads(out)["oldest_event_age_seconds"]
        self.assertTrue(89 <= age < 120, age)
        rc, out, err = self.h.cli("stats")
        self.assertIn("oldest_event_age", out)

    def test_dead_list_and_purge(self):
        recs = [{"kind": "envelope", "reason": "not JSON", "at": 1000 + i,
                 "envelope": "bad %d" % i} for i in range(3)]
        for r in recs:
            self.r.lpush(self.k("dead"), json.dumps(r))
        got = self.h.cli_lines("dead", "list")
        self.assertEqual(len(got), 3)
        self.assertEqual([g["envelope"] for g in got], ["bad 2", "bad 1", "bad 0"],
                         "dead list prints newest first")
        self.assertEqual(len(self.h.cli_lines("dead", "list", "--count", "2")), 2)
        rc, out, err = self.h.cli("dead", "purge")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.r.llen(self.k("dead")), 0)

    def test_dead_replay_envelope(self):
        env = json.dumps({"event": "person.created", "data": {"id": "9"}})
        self.r.lpush(self.k("dead"), json.dumps({"kind": "envelope", "reason": "r", "at": 1,
                                                  "envelope": env}))
        rc, out, err = self.h.cli("dead", "replay")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.r.llen(self.k("dead")), 0)
        evs = [json.loads(x) for x in self.r.lrange(self.k("events"), 0, -1)]
        self.assertEqual(evs, [json.loads(env)])

    def test_verify(self):
        secret = "a" * 64
        body = b'{"event":"person.created","data":{"id":"1"},"timestamp":"2025-02-10T15:30:50Z"}'
        ts = "1739201450000"
        good = twenty_sig(secret, ts, body)
        bad = good[:-1] + ("0" if good[-1] != "0" else "1")
        with tempfile.NamedTemporaryFile(delete=False) as f:
            f.write(body)
            path = f.name
        try:
            rc, out, err = self.h.cli("verify", "--secret", secret, "--timestamp", ts,
                                      "--signature", good, path)
            self.assertEqual(rc, 0, "good signature from FILE: %r" % err)
            rc, out, err = self.h.cli("verify", "--secret", secret, "--timestamp", ts,
                                      "--signature", good, input=body)
            self.assertEqual(rc, 0, "good signature from stdin: %r" % err)
            rc, out, err = self.h.cli("verify", "--secret", secret, "--timestamp", ts,
                                      "--signature", bad, path)
            self.assertEqual(rc, 1, "bad signature")
            self.assertTrue(err.strip(), "a reason on stderr")
            rc, out, err = self.h.cli("verify", "--secret", secret, "--timestamp", "1739201450001",
                                      "--signature", good, path)
            self.assertEqual(rc, 1, "other timestamp")
            rc, out, err = self.h.cli("verify", "--secret", secret + "x", "--timestamp", ts,
                                      "--signature", good, path)
            self.assertEqual(rc, 1, "other secret")
            rc, out, err = self.h.cli("verify", "--secret", secret, "--timestamp", ts,
                                      "--signature", good, input=body + b" ")
            self.assertEqual(rc, 1, "one byte more of body")
        finally:
            os.unlink(path)


class ConfigErrors(HookdCase):

    def check_usage_error(self, argv, env=None, mention=None):
        rc, out, err = self.h.cli(*argv, env=env, timeout=10)
        self.assertIsNotNone(rc, "hookd %s did not exit (still running after 10 s)" % argv)
        self.assertEqual(rc, 2, "hookd %s env=%s: rc=%r err=%r" % (argv, env, rc, err))
        line = self.assertOneLineError(err)
        if mention:
            self.assertIn(mention, line.lower())

    def test_bad_threads(self):
        self.check_usage_error(["stats", "--threads", "abc"], mention="threads")
        self.check_usage_error(["--threads", "-3", "stats"], mention="threads")

    def test_bad_timeout_env(self):
        self.check_usage_error(["stats"], env={"HOOKD_TIMEOUT": "10x"}, mention="timeout")

    def test_bad_redis_url(self):
        self.check_usage_error(["stats", "--redis-url", "garbage"], mention="redis")
        self.check_usage_error(["stats"], env={"HOOKD_REDIS_URL": "http://127.0.0.1:1/"},
                               mention="redis")

    def test_lease_not_longer_than_timeout(self):
        # a worker whose lease can expire during an attempt must refuse to start
        self.check_usage_error(["run", "--lease", "5s", "--timeout", "10s"], mention="lease")
        self.check_usage_error(["run"], env={"HOOKD_LEASE": "10s", "HOOKD_TIMEOUT": "10s"},
                               mention="lease")

    def test_connect_timeout_over_timeout(self):
        self.check_usage_error(["run", "--connect-timeout", "20s", "--timeout", "10s"])

    def test_unknown_option_and_command(self):
        self.check_usage_error(["stats", "--no-such-option", "1"])
        self.check_usage_error(["frobnicate"])

    def test_redis_unreachable(self):
        dead_url = "redis://127.0.0.1:%d/0" % free_port()
        for argv in (["stats"], ["webhook", "list"], ["enqueue", "a.b", "{}"]):
            with self.subTest(argv=argv):
                t0 = time.monotonic()
                rc, out, err = self.h.cli(*argv, env={"HOOKD_REDIS_URL": dead_url}, timeout=20)
                self.assertIsNotNone(rc, "hookd %s hung with Redis unreachable" % argv)
                self.assertEqual(rc, 1, "rc=%r err=%r" % (rc, err))
                self.assertTrue(err.strip())
                self.assertLess(time.monotonic() - t0, 15)


if __name__ == "__main__":
    unittest.main()
