"""Real deliveries verified the way receivers verify them: Standard Webhooks
deliveries with the npm libraries receivers use (standardwebhooks and svix,
pinned in tests/npm, run by tests/npm/verify.js on the request's own headers
and raw body) and with `hookd verify --signing standard`; Twenty deliveries
with an HMAC computed outside hookd (Python's hmac and `openssl dgst`).
Also what those deliveries start from: the timestamp `hookd enqueue` gives
an envelope and its check of `--webhook`.

scripts/npm-deps.sh (`npm ci` on the committed package-lock.json) runs
first; node comes from PATH. A library that is missing is a failure, not a
skip."""

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (REPO, HookdCase, delivery_id, openssl_sig, twenty_sig,  # noqa: E402
                     uid)

VERIFY_JS = os.path.join(REPO, "tests", "npm", "verify.js")
WHSEC = re.compile(r"^whsec_([A-Za-z0-9+/]+={0,2})$")
RFC3339_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
BOTH = {"standardwebhooks": True, "svix": True}
# What serialisers differ on, so that only the raw bytes verify.
DATA = {"id": "p1", "name": "Zo\u00eb \"Z\" O'Neil", "n": 1.5, "url": "https://x.test/a/b"}
QUIET = 1.0  # seconds to wait for deliveries that must not come


def deliver_one(case, wh, name):
    """Enqueues one event for wh, whose URL is case.url("ok", name), and
    returns the one request that came of it, after checking that no second
    one came and that its webhook-id is the event's for wh. A method of the
    cases here and of test_rotation's."""
    before = case.recv.count(case.path("ok", name))
    out = case.h.cli_json("enqueue", "person.created",
                          json.dumps(dict(DATA, case=name)), "--webhook", wh["id"])
    got = case.recv.wait_count(case.path("ok", name), before + 1, 20)
    case.assertEqual(len(got), before + 1,
                     "no delivery on %s:\n%s" % (name, case.h.logs()[-3000:]))
    time.sleep(QUIET)
    got = case.recv.deliveries(case.path("ok", name))[before:]
    case.assertEqual(len(got), 1, "exactly one delivery: %r" % got)
    req = got[0]
    case.assertEqual(req.headers.get("webhook-id"), delivery_id(out["id"], wh["id"]))
    return req


def setUpModule():
    p = subprocess.run(["bash", os.path.join(REPO, "scripts", "npm-deps.sh")],
                       capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise RuntimeError("scripts/npm-deps.sh failed (rc %d):\n%s%s"
                           % (p.returncode, p.stdout[-4000:], p.stderr[-4000:]))
    if shutil.which("node") is None:
        raise RuntimeError("node is not on PATH (scripts/examples-deps.sh installs it)")


def new_whsec(nbytes=32):
    return "whsec_" + base64.b64encode(os.urandom(nbytes)).decode()


def whsec_key(secret):
    """The key bytes of a whsec_ secret; fails the caller's assertion when
    the secret is not whsec_<base64>."""
    m = WHSEC.match(secret or "")
    if not m:
        raise AssertionError("not whsec_<base64>: %r" % secret)
    return base64.b64decode(m.group(1), validate=True)


def npm_verify(secret, headers, body):
    """What standardwebhooks and svix say of one request: {"standardwebhooks":
    True or the error message, "svix": ...}."""
    req = {"secret": secret, "headers": headers,
           "body_base64": base64.b64encode(body).decode()}
    p = subprocess.run(["node", VERIFY_JS], input=json.dumps(req), capture_output=True,
                       text=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError("verify.js failed (rc %d): %s" % (p.returncode, p.stderr))
    return json.loads(p.stdout)


class Verifiers(HookdCase):

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="hookd-it-verifiers-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    deliver_one = deliver_one

    def hookd_verify_standard(self, secret, req, body, use_file=False):
        """`hookd verify --signing standard` on the request's headers and the
        given body bytes (from a file); returns (rc, stdout, stderr)."""
        path = os.path.join(self.tmp, "body-%s" % uid(6))
        with open(path, "wb") as f:
            f.write(body)
        args = ["verify", "--signing", "standard", "--id", req.headers["webhook-id"],
                "--timestamp", req.headers["webhook-timestamp"],
                "--signature", req.headers["webhook-signature"], path]
        if use_file:
            spath = os.path.join(self.tmp, "secret-%s" % uid(6))
            with open(spath, "w") as f:
                f.write(secret + "\n")
            return self.h.cli(*args, "--secret-file", spath)
        return self.h.cli(*args, "--secret", secret)

    def assertStandardVerifies(self, secret, req):
        """Both libraries and hookd verify accept req; a tampered body and a
        wrong secret are refused by all three."""
        hd = req.headers
        self.assertRegex(hd.get("webhook-timestamp", ""), r"^[0-9]{10}$")
        self.assertRegex(hd.get("webhook-signature", ""), r"^v1,[A-Za-z0-9+/]{43}=$")
        self.assertEqual(npm_verify(secret, hd, req.body), BOTH, "the real delivery")
        for use_file in (False, True):
            rc, out, err = self.hookd_verify_standard(secret, req, req.body, use_file)
            self.assertEqual((rc, out.strip()), (0, "ok"), "hookd verify: %s" % err)

        tampered = req.body.replace(b'"p1"', b'"p2"')
        self.assertNotEqual(tampered, req.body)
        got = npm_verify(secret, hd, tampered)
        self.assertEqual(got, {"standardwebhooks": "No matching signature found",
                               "svix": "No matching signature found"}, "a tampered body")
        rc, out, err = self.hookd_verify_standard(secret, req, tampered)
        self.assertEqual(rc, 1, "hookd verify of a tampered body: %s" % out)
        self.assertIn("signature does not match", err)

        other = new_whsec()
        got = npm_verify(other, hd, req.body)
        self.assertNotIn(True, got.values(), "another secret: %r" % got)
        rc, out, err = self.hookd_verify_standard(other, req, req.body)
        self.assertEqual(rc, 1, "hookd verify with another secret")

    # ------------------------------------------------------------ Standard

    def test_standard_given_secret(self):
        """(a) A whsec_ secret given to `webhook add`: the delivery verifies
        with both npm libraries and with hookd verify; tampering does not."""
        secret = new_whsec()
        wh = self.h.add_webhook(self.url("ok", "given"), "--signing", "standard",
                                "--secret", secret)
        self.assertEqual((wh["signing"], wh["secret"]), ("standard", secret))
        self.h.start_worker()
        req = self.deliver_one(wh, "given")
        self.assertEqual(json.loads(req.body)["data"], dict(DATA, case="given"))
        self.assertStandardVerifies(secret, req)
        # The Twenty headers ride along, keyed with the secret string as stored.
        ts = req.headers["x-twenty-webhook-timestamp"]
        self.assertEqual(req.headers["x-twenty-webhook-signature"],
                         twenty_sig(secret, ts, req.body))

    def test_standard_generated_and_rotated_secret(self):
        """(b) Without --secret, `webhook add --signing standard` makes a
        whsec_ secret of at least 24 random bytes that both libraries verify
        with; so does `rotate-secret`, and the next delivery uses the new one."""
        wh = self.h.add_webhook(self.url("ok", "gen"), "--signing", "standard")
        key = whsec_key(wh["secret"])
        self.assertGreaterEqual(len(key), 24, wh["secret"])
        self.h.start_worker()
        req = self.deliver_one(wh, "gen")
        self.assertEqual(npm_verify(wh["secret"], req.headers, req.body), BOTH)

        # --grace 0: the old secret stops at once (test_rotation.py covers the overlap).
        rot = self.h.cli_json("webhook", "rotate-secret", wh["id"], "--grace", "0")
        new_key = whsec_key(rot["secret"])
        self.assertGreaterEqual(len(new_key), 24, rot["secret"])
        self.assertNotEqual(new_key, key)
        time.sleep(1.5)  # running workers reload within a second
        req = self.deliver_one(wh, "gen")
        self.assertEqual(npm_verify(rot["secret"], req.headers, req.body), BOTH,
                         "the next delivery is signed with the new secret")
        old = npm_verify(wh["secret"], req.headers, req.body)
        self.assertNotIn(True, old.values(), "the old secret no longer verifies: %r" % old)
        rc, out, err = self.hookd_verify_standard(rot["secret"], req, req.body)
        self.assertEqual((rc, out.strip()), (0, "ok"), err)

    # ------------------------------------------------------------ Twenty

    def test_twenty_independent_hmac(self):
        """(c) A Twenty delivery's signature is the HMAC of "TS:BODY" over the
        raw bytes, as Python's hmac and openssl compute it; it carries no
        Standard signature."""
        for name, args in (("tw-given", ["--secret", "tw-" + uid(24)]), ("tw-gen", [])):
            with self.subTest(secret=name):
                wh = self.h.add_webhook(self.url("ok", name), *args)
                if not self.h.workers:
                    self.h.start_worker()
                req = self.deliver_one(wh, name)
                hd = req.headers
                ts, sig = hd["x-twenty-webhook-timestamp"], hd["x-twenty-webhook-signature"]
                self.assertRegex(ts, r"^[0-9]{13}$")
                self.assertEqual(sig, twenty_sig(wh["secret"], ts, req.body), "Python hmac")
                self.assertEqual(sig, openssl_sig(wh["secret"], ts, req.body), "openssl dgst")
                tampered = req.body.replace(b'"p1"', b'"p2"')
                self.assertNotEqual(sig, twenty_sig(wh["secret"], ts, tampered))
                self.assertNotEqual(sig, openssl_sig(wh["secret"], ts, tampered))
                self.assertNotIn("webhook-signature", hd)
                self.assertNotIn("webhook-timestamp", hd)

    # ------------------------------------------------------------ hookd verify

    def test_verify_usage(self):
        """Usage errors of verify exit 2 with one line; a secret file has one
        trailing newline dropped and is capped at 4 KiB."""
        body = os.path.join(self.tmp, "body")
        with open(body, "wb") as f:
            f.write(b'{"a":1}')
        std = ["verify", "--signing", "standard", "--id", "msg_1", "--timestamp", "1700000000",
               "--signature", "v1,x", body]
        big = os.path.join(self.tmp, "big")
        with open(big, "w") as f:
            f.write("a" * 4097)
        cases = {
            "not whsec_": std + ["--secret", "c2VjcmV0"],
            "whsec_ not base64": std + ["--secret", "whsec_no!base64"],
            "whsec_ nothing": std + ["--secret", "whsec_"],
            "no --id": [a for a in std if a not in ("--id", "msg_1")] + ["--secret", new_whsec()],
            "seconds": [("17e8" if a == "1700000000" else a) for a in std]
            + ["--secret", new_whsec()],
            "--id with twenty": ["verify", "--secret", "s", "--id", "m", "--timestamp", "1",
                                 "--signature", "x", body],
            "bad --signing": ["verify", "--signing", "svix", "--secret", "s", "--timestamp", "1",
                              "--signature", "x", body],
            "both secrets": ["verify", "--secret", "s", "--secret-file", big, "--timestamp", "1",
                             "--signature", "x", body],
            "no secret": ["verify", "--timestamp", "1", "--signature", "x", body],
            "secret file over 4 KiB": ["verify", "--secret-file", big, "--timestamp", "1",
                                       "--signature", "x", body],
            "no secret file": ["verify", "--secret-file", os.path.join(self.tmp, "none"),
                               "--timestamp", "1", "--signature", "x", body],
        }
        for what, argv in cases.items():
            with self.subTest(what):
                rc, out, err = self.h.cli(*argv)
                self.assertEqual(rc, 2, "%s: rc=%r err=%r" % (what, rc, err))
                self.assertOneLineError(err)
                self.assertEqual(out, "")
        rc, out, err = self.h.cli(*cases["not whsec_"])
        self.assertIn("whsec_", err, "says what a Standard secret looks like")

        # Twenty through a secret file: one trailing newline (LF or CRLF) dropped
        secret = "tw-" + uid(20)
        ts = "1739201450123"
        sig = twenty_sig(secret, ts, b'{"a":1}')
        for ending, want in (("", 0), ("\n", 0), ("\r\n", 0), ("\n\n", 1), (" ", 1)):
            with self.subTest(ending=ending):
                path = os.path.join(self.tmp, "secret")
                with open(path, "w", newline="") as f:
                    f.write(secret + ending)
                rc, out, err = self.h.cli("verify", "--secret-file", path, "--timestamp", ts,
                                          "--signature", sig, body)
                self.assertEqual(rc, want, "ending %r: %s" % (ending, err))
        with open(os.path.join(self.tmp, "secret"), "w") as f:
            f.write("a" * 4096)
        rc, out, err = self.h.cli("verify", "--secret-file", os.path.join(self.tmp, "secret"),
                                  "--timestamp", ts, "--signature", sig, body)
        self.assertEqual(rc, 2, "4096 bytes fit the file but not a secret: %s" % err)
        self.assertIn("1..1024", err)


class EnqueueStamps(HookdCase):
    """The envelope that the deliveries above start from."""

    def raw_events(self):
        """{P}:events oldest first, as bytes."""
        return list(reversed(self.r.lrange(self.k("events"), 0, -1)))

    def assertStampedNow(self, ts, t0, t1):
        self.assertRegex(ts, RFC3339_MS)
        when = datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
        self.assertTrue(t0 - 0.002 <= when.timestamp() <= t1 + 0.002, (ts, t0, t1))

    def test_enqueue_event_gets_timestamp(self):
        t0 = time.time()
        out = self.h.cli_json("enqueue", "person.created", '{"id":"1","n":1.50,"s":"\\u00e9"}')
        t1 = time.time()
        raw = self.raw_events()
        self.assertEqual(len(raw), 1)
        m = re.fullmatch(rb'\{"event":"person\.created","data":\{"id":"1","n":1\.50,'
                         rb'"s":"\\u00e9"\},"timestamp":"([^"]+)"\}', raw[0])
        self.assertIsNotNone(m, raw[0])
        self.assertStampedNow(m.group(1).decode(), t0, t1)
        stats = self.h.cli_json("stats", "--json")
        self.assertIsNotNone(stats["oldest_event_age_seconds"], "the backlog's age is known")
        self.assertRegex(out["id"], r"^evt_[0-9a-f]{32}$")

    def test_enqueue_stdin_stamps_lines_without_one(self):
        lines = [b'{ "event" : "a.b", "data": {"n": 1.50, "s": "caf\\u00e9"} }  ',
                 b'{"event":"a.b","data":{},"timestamp":"2025-02-10T15:30:50Z"}',
                 b'{"event":"a.b","data":{},"timestamp":null}',
                 b'{"event":"a.b","data":{"timestamp":"inside data"}}\r']
        t0 = time.time()
        rc, out, err = self.h.cli("enqueue", "-", input=b"\n".join(lines) + b"\n")
        t1 = time.time()
        self.assertEqual((rc, json.loads(out)), (0, {"pushed": 4}), err)
        raw = self.raw_events()
        self.assertEqual(len(raw), 4)
        m = re.fullmatch(rb'(.*) ,"timestamp":"([^"]+)"\}  ', raw[0])
        self.assertIsNotNone(m, raw[0])
        self.assertEqual(m.group(1), lines[0][:-4], "the producer's bytes are kept")
        self.assertStampedNow(m.group(2).decode(), t0, t1)
        self.assertEqual(raw[1], lines[1], "a given timestamp is kept")
        self.assertEqual(raw[2], lines[2], "a null timestamp is a member too")
        self.assertTrue(raw[3].startswith(lines[3][:-2] + b',"timestamp":"'), raw[3])
        self.assertEqual(json.loads(raw[3])["data"], {"timestamp": "inside data"})

    def test_enqueue_stdin_stamp_over_limit(self):
        """The limit applies to the envelope as pushed, timestamp included."""
        stamp = len(',"timestamp":"2025-02-10T15:30:50.123Z"')

        def line(n):
            head, tail = b'{"event":"a.b","data":{"pad":"', b'"}}'
            return head + b"x" * (n - len(head) - len(tail)) + tail
        ok, over = line(1024 - stamp), line(1024 - stamp + 1)
        rc, out, err = self.h.cli("enqueue", "-", "--max-envelope", "1KiB",
                                  input=ok + b"\n" + over + b"\n")
        self.assertEqual(rc, 2, err)
        self.assertIn("line 2", self.assertOneLineError(err))
        self.assertEqual(self.r.llen(self.k("events")), 0, "nothing pushed")
        rc, out, err = self.h.cli("enqueue", "-", "--max-envelope", "1KiB", input=ok + b"\n")
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(self.raw_events()[0]), 1024)

    def test_enqueue_webhook_checked(self):
        rc, out, err = self.h.cli("enqueue", "person.created", "{}", "--webhook", "wh_nosuch")
        self.assertEqual((rc, out), (1, ""))
        self.assertEqual(err, "hookd: enqueue: no webhook 'wh_nosuch'\n")
        self.assertEqual(self.r.llen(self.k("events")), 0, "nothing pushed")

        wh = self.h.add_webhook("http://127.0.0.1:9/x")
        rc, out, err = self.h.cli("enqueue", "person.created", "{}", "--webhook", wh["id"])
        self.assertEqual((rc, err), (0, ""))
        for value in ("0", "false"):
            with self.subTest(enabled=value):
                self.r.hset(self.k("webhook:" + wh["id"]), "enabled", value)
                rc, out, err = self.h.cli("enqueue", "person.created", "{}", "--webhook", wh["id"])
                self.assertEqual(rc, 0, err)
                line = self.assertOneLineError(err)
                self.assertIn(wh["id"], line)
                self.assertIn("disabled", line)
                self.assertIn("dead list", line)
        raw = [json.loads(x) for x in self.raw_events()]
        self.assertEqual([e.get("webhook") for e in raw], [wh["id"]] * 3)


if __name__ == "__main__":
    unittest.main()
