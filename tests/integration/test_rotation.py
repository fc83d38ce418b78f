"""Secret rotation with overlap: `hookd webhook rotate-secret ID --grace DUR`
keeps the previous secret signing for the grace period, then drops it.

A real worker delivers to a real receiver; Standard Webhooks deliveries are
verified with the npm libraries receivers use (standardwebhooks and svix,
pinned in tests/npm, driven by tests/npm/verify.js as test_verifiers does)
with the old and the new secret; Twenty deliveries with an HMAC computed
outside hookd, the way Twenty's own receiver computes it, for a receiver
that kept the old secret and one that took the new one (docs/receivers.md,
"Secret rotation"). Each check is also made with a secret that must fail."""

import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import HookdCase, api_request, twenty_sig, uid  # noqa: E402
from test_verifiers import BOTH, deliver_one, new_whsec, npm_verify  # noqa: E402
from test_verifiers import setUpModule as verifiers_setup  # noqa: E402

RELOAD = 1.5  # seconds: running workers reload webhooks within a second
GRACE_S = 12  # the short grace period of these tests (room for a loaded machine)


def setUpModule():
    verifiers_setup()


TOKEN = "test-token-" + "r" * 24  # a fixture, not a credential


def twenty_receiver_verify(secret, headers, body):
    """Twenty's published receiver check, unchanged (HMAC-SHA256 hex of
    timestamp ":" payload, compared whole with X-Twenty-Webhook-Signature),
    on the raw body as hookd signs it."""
    ts = headers["x-twenty-webhook-timestamp"]
    return twenty_sig(secret, ts, body) == headers["x-twenty-webhook-signature"]


def updated_receiver_verify(secret, headers, body):
    """A receiver that took the new secret: any of X-Hookd-Webhook-Signatures,
    or X-Twenty-Webhook-Signature when that header is absent."""
    ts = headers["x-twenty-webhook-timestamp"]
    listed = headers.get("x-hookd-webhook-signatures", headers["x-twenty-webhook-signature"])
    return twenty_sig(secret, ts, body) in listed.split(" ")


def none_verify(got):
    """True when no library accepted."""
    return True not in got.values()


class Rotation(HookdCase):

    deliver_one = deliver_one

    def record(self, wh):
        return {k.decode(): v.decode() for k, v in
                self.r.hgetall(self.k("webhook:" + wh["id"])).items()}

    def rotate(self, wh, *args):
        t0 = int(time.time() * 1000)
        rot = self.h.cli_json("webhook", "rotate-secret", wh["id"], *args)
        t1 = int(time.time() * 1000)
        self.assertNotIn("secret_previous", rot, "the old secret is never printed")
        return rot, t0, t1

    def wait_past(self, until_ms):
        """Sleeps until the worker's next reload after until_ms."""
        time.sleep(max(0.0, until_ms / 1000.0 - time.time()) + RELOAD)

    def hookd_verify_standard(self, secret, req):
        path = os.path.join(self.h.logdir, "body-%s" % uid(6))
        with open(path, "wb") as f:
            f.write(req.body)
        rc, out, err = self.h.cli("verify", "--signing", "standard", "--id",
                                  req.headers["webhook-id"], "--timestamp",
                                  req.headers["webhook-timestamp"], "--signature",
                                  req.headers["webhook-signature"], "--secret", secret, path)
        return rc

    def assertDuringGrace(self, req, until):
        ts = int(req.headers["x-twenty-webhook-timestamp"])
        self.assertLess(ts, until, "the delivery was signed before the grace period ended")

    # ------------------------------------------------------------ Standard

    def test_standard_overlap(self):
        """During the grace period both npm libraries verify with the old and
        with the new secret (webhook-signature lists both); after it only the
        new one verifies."""
        old = new_whsec()
        wh = self.h.add_webhook(self.url("ok", "std"), "--signing", "standard", "--secret", old)
        self.assertEqual(wh["secret_previous_until"], 0)
        self.h.start_worker()
        req = self.deliver_one(wh, "std")
        self.assertEqual(npm_verify(old, req.headers, req.body), BOTH)
        self.assertNotIn(" ", req.headers["webhook-signature"])

        rot, t0, t1 = self.rotate(wh, "--grace", "%ds" % GRACE_S)
        new, until = rot["secret"], rot["secret_previous_until"]
        self.assertNotEqual(new, old)
        self.assertTrue(t0 + GRACE_S * 1000 <= until <= t1 + GRACE_S * 1000, (t0, until, t1))
        rec = self.record(wh)
        self.assertEqual((rec["secret"], rec["secret_previous"]), (new, old))
        self.assertEqual(rec["secret_previous_until"], str(until))
        shown = self.h.cli_json("webhook", "show", wh["id"], "--show-secret")
        self.assertEqual((shown["valid"], shown["secret_previous_until"]), (True, until))
        self.assertNotIn(old, json.dumps(shown), "show never prints the previous secret")

        time.sleep(RELOAD)
        req = self.deliver_one(wh, "std")
        self.assertDuringGrace(req, until)
        sigs = req.headers["webhook-signature"].split(" ")
        self.assertEqual(len(sigs), 2, req.headers["webhook-signature"])
        self.assertEqual(npm_verify(new, req.headers, req.body), BOTH, "new secret, in grace")
        self.assertEqual(npm_verify(old, req.headers, req.body), BOTH, "old secret, in grace")
        got = npm_verify(new_whsec(), req.headers, req.body)
        self.assertTrue(none_verify(got), "a third secret: %r" % got)
        self.assertEqual(self.hookd_verify_standard(new, req), 0)
        self.assertEqual(self.hookd_verify_standard(old, req), 0)
        self.assertEqual(self.hookd_verify_standard(new_whsec(), req), 1)

        self.wait_past(until)
        req = self.deliver_one(wh, "std")
        self.assertNotIn(" ", req.headers["webhook-signature"])
        self.assertEqual(npm_verify(new, req.headers, req.body), BOTH, "new secret, after")
        got = npm_verify(old, req.headers, req.body)
        self.assertTrue(none_verify(got), "old secret after the grace period: %r" % got)
        self.assertEqual(self.hookd_verify_standard(old, req), 1)

        # The next write drops the spent previous secret from the record.
        self.h.cli_json("webhook", "update", wh["id"], "--description", "after")
        rec = self.record(wh)
        self.assertNotIn("secret_previous", rec)
        self.assertNotIn("secret_previous_until", rec)

    def test_grace_zero(self):
        """--grace 0 drops the old secret at once, also the previous secret of
        a rotation still in its grace period."""
        old = new_whsec()
        wh = self.h.add_webhook(self.url("ok", "zero"), "--signing", "standard", "--secret", old)
        mid, _, _ = self.rotate(wh, "--grace", "1h")
        self.assertEqual(self.record(wh)["secret_previous"], old)
        rot, _, _ = self.rotate(wh, "--grace", "0")
        self.assertEqual(rot["secret_previous_until"], 0)
        rec = self.record(wh)
        self.assertNotIn("secret_previous", rec)
        self.assertNotIn("secret_previous_until", rec)
        self.h.start_worker()
        req = self.deliver_one(wh, "zero")
        self.assertNotIn(" ", req.headers["webhook-signature"])
        self.assertEqual(npm_verify(rot["secret"], req.headers, req.body), BOTH)
        for stale in (old, mid["secret"]):
            got = npm_verify(stale, req.headers, req.body)
            self.assertTrue(none_verify(got), "a replaced secret: %r" % got)
        self.assertNotIn("x-hookd-webhook-signatures", req.headers)

    def test_default_grace_and_bad_values(self):
        """Without --grace the old secret stays for 24h; bad or too long
        graces are usage errors that change nothing."""
        wh = self.h.add_webhook(self.url("ok", "dflt"))
        rot, t0, t1 = self.rotate(wh)
        day = 24 * 3600 * 1000
        self.assertTrue(t0 + day <= rot["secret_previous_until"] <= t1 + day)
        self.assertEqual(self.record(wh)["secret_previous"], wh["secret"])
        before = self.record(wh)
        for bad in ("abc", "-1s", "31d", "", "5x", "1h30"):
            with self.subTest(grace=bad):
                rc, out, err = self.h.cli("webhook", "rotate-secret", wh["id"], "--grace", bad)
                self.assertEqual(rc, 2, "%r: %s" % (bad, err))
                self.assertIn("--grace", err)
                self.assertEqual(out, "")
        self.assertEqual(self.record(wh), before)
        rc, out, err = self.h.cli("webhook", "rotate-secret", wh["id"], "--grace", "30d")
        self.assertEqual(rc, 0, err)

    def test_record_judge(self):
        """A hand-written previous secret is judged as the secret is: both
        fields or neither, a bounded until, the secret's own caps."""
        wh = self.h.add_webhook(self.url("ok", "judge"))
        key = self.k("webhook:" + wh["id"])
        far = str(int(time.time() * 1000) + 3600 * 1000)
        cases = {
            "no until": {"secret_previous": "old-secret"},
            "no secret": {"secret_previous_until": far},
            "until not a number": {"secret_previous": "old", "secret_previous_until": "soon"},
            "until too big": {"secret_previous": "old",
                              "secret_previous_until": "9" * 19},
            "secret with space": {"secret_previous": "old one", "secret_previous_until": far},
            "secret too long": {"secret_previous": "a" * 1025, "secret_previous_until": far},
        }
        for what, fields in cases.items():
            with self.subTest(what):
                self.r.hdel(key, "secret_previous", "secret_previous_until")
                self.r.hset(key, mapping=fields)
                shown = self.h.cli_json("webhook", "show", wh["id"])
                self.assertFalse(shown["valid"], what)
                self.assertIn("secret_previous", shown["invalid_reason"])
                self.assertNotIn(fields.get("secret_previous", "\0"), shown["invalid_reason"])
        self.r.hset(key, mapping={"secret_previous": "old", "secret_previous_until": far})
        self.assertTrue(self.h.cli_json("webhook", "show", wh["id"])["valid"])

    # ------------------------------------------------------------ Twenty

    def test_twenty_overlap(self):
        """During the grace period X-Twenty-Webhook-Signature is the old
        secret's, so a receiver running Twenty's check unchanged with the old
        secret verifies; X-Hookd-Webhook-Signatures lists the new and the old
        one, so a receiver given the new secret verifies through it. After the
        grace period the Twenty header is the new secret's alone."""
        old = "tw-" + uid(24)
        wh = self.h.add_webhook(self.url("ok", "tw"), "--secret", old)
        self.h.start_worker()
        rot, _, _ = self.rotate(wh, "--grace", "%ds" % GRACE_S)
        new, until = rot["secret"], rot["secret_previous_until"]
        time.sleep(RELOAD)

        req = self.deliver_one(wh, "tw")
        self.assertDuringGrace(req, until)
        hd = req.headers
        ts, sig = hd["x-twenty-webhook-timestamp"], hd["x-twenty-webhook-signature"]
        # The receiver that has not been updated: Twenty's own comparison.
        self.assertEqual(sig, twenty_sig(old, ts, req.body), "old secret, Twenty's check")
        self.assertTrue(twenty_receiver_verify(old, hd, req.body))
        self.assertTrue(updated_receiver_verify(new, hd, req.body))
        self.assertFalse(updated_receiver_verify("tw-other", hd, req.body))
        self.assertNotEqual(sig, twenty_sig(new, ts, req.body))
        # The receiver that has: any listed signature.
        listed = hd["x-hookd-webhook-signatures"].split(" ")
        self.assertEqual(listed, [twenty_sig(new, ts, req.body), twenty_sig(old, ts, req.body)])
        self.assertNotIn(twenty_sig("tw-other", ts, req.body), listed + [sig])
        tampered = req.body.replace(b'"p1"', b'"p2"')
        self.assertNotIn(twenty_sig(new, ts, tampered), listed)
        self.assertNotIn("webhook-signature", hd)
        # hookd verify takes the list too.
        path = os.path.join(self.h.logdir, "body-tw")
        with open(path, "wb") as f:
            f.write(req.body)
        for secret, want in ((new, 0), (old, 0), ("tw-other", 1)):
            rc, out, err = self.h.cli("verify", "--secret", secret, "--timestamp", ts,
                                      "--signature", hd["x-hookd-webhook-signatures"], path)
            self.assertEqual(rc, want, "verify with %s: %s" % (secret[:6], err))

        self.wait_past(until)
        req = self.deliver_one(wh, "tw")
        hd = req.headers
        ts, sig = hd["x-twenty-webhook-timestamp"], hd["x-twenty-webhook-signature"]
        self.assertEqual(sig, twenty_sig(new, ts, req.body), "new secret after the grace period")
        self.assertNotEqual(sig, twenty_sig(old, ts, req.body))
        self.assertNotIn("x-hookd-webhook-signatures", hd)

    def test_switch_to_standard(self):
        """rotate-secret --signing standard from a Twenty webhook: the old hex
        secret keeps the Twenty header for the grace period, the Standard
        signature is the new whsec_ one's alone (the old never signed one)."""
        wh = self.h.add_webhook(self.url("ok", "sw"))
        rot, _, _ = self.rotate(wh, "--signing", "standard", "--grace", "1h")
        self.assertTrue(rot["valid"], rot["invalid_reason"])
        self.h.start_worker()
        req = self.deliver_one(wh, "sw")
        hd = req.headers
        ts = hd["x-twenty-webhook-timestamp"]
        self.assertEqual(hd["x-twenty-webhook-signature"], twenty_sig(wh["secret"], ts, req.body))
        self.assertNotIn(" ", hd["webhook-signature"])
        self.assertEqual(npm_verify(rot["secret"], hd, req.body), BOTH)


class RotationApi(Rotation):
    """POST /v1/webhooks/{id}/rotate-secret with {"grace_seconds": N}."""

    def setUp(self):
        super().setUp()
        self.w, self.port = self.start_api(TOKEN)

    def call(self, method, path, body=None):
        st, raw, _ = api_request(self.port, method, path, body, TOKEN)
        return st, (json.loads(raw) if raw else None)

    # The CLI cases run once, in Rotation.
    test_standard_overlap = test_grace_zero = test_default_grace_and_bad_values = None
    test_record_judge = test_twenty_overlap = test_switch_to_standard = None

    def test_api_overlap(self):
        """A Standard and a Twenty webhook rotated through the API with a 12 s
        grace: both secrets verify during it, only the new one after it; bad
        bodies are 422 problems that change nothing."""
        old_std, old_tw = new_whsec(), "tw-" + uid(24)
        std = self.h.add_webhook(self.url("ok", "astd"), "--signing", "standard", "--secret",
                                 old_std)
        tw = self.h.add_webhook(self.url("ok", "atw"), "--secret", old_tw)
        path = "/v1/webhooks/%s/rotate-secret" % std["id"]
        before = self.record(std)
        for bad in ({"grace_seconds": -1}, {"grace_seconds": 30 * 86400 + 1},
                    {"grace_seconds": "4"}, {"grace_seconds": 1.5}, {"grace": 4}, b"[1]"):
            with self.subTest(body=bad):
                st, body = self.call("POST", path, bad)
                self.assertIn(st, (400, 422), body)
                if not isinstance(bad, bytes):
                    self.assertEqual(st, 422, body)
                    self.assertIn("grace", body["detail"])
        self.assertEqual(self.record(std), before)

        grace = 12
        t0 = int(time.time() * 1000)
        st, rot_std = self.call("POST", path, {"grace_seconds": grace})
        self.assertEqual(st, 200, rot_std)
        st, rot_tw = self.call("POST", "/v1/webhooks/%s/rotate-secret" % tw["id"],
                               {"grace_seconds": grace})
        self.assertEqual(st, 200, rot_tw)
        self.assertNotIn("secret_previous", rot_std)
        self.assertGreaterEqual(rot_std["secret_previous_until"], t0 + grace * 1000)
        st, shown = self.call("GET", "/v1/webhooks/%s?show_secret=1" % std["id"])
        self.assertEqual(st, 200, shown)
        self.assertEqual(shown["secret_previous_until"], rot_std["secret_previous_until"])
        self.assertNotIn(old_std, json.dumps(shown))
        new_std, new_tw = rot_std["secret"], rot_tw["secret"]
        until = max(rot_std["secret_previous_until"], rot_tw["secret_previous_until"])
        time.sleep(RELOAD)

        req = self.deliver_one(std, "astd")
        self.assertDuringGrace(req, rot_std["secret_previous_until"])
        for secret in (old_std, new_std):
            self.assertEqual(npm_verify(secret, req.headers, req.body), BOTH)
        self.assertTrue(none_verify(npm_verify(new_whsec(), req.headers, req.body)))
        req = self.deliver_one(tw, "atw")
        self.assertDuringGrace(req, rot_tw["secret_previous_until"])
        self.assertTrue(twenty_receiver_verify(old_tw, req.headers, req.body))
        self.assertTrue(updated_receiver_verify(new_tw, req.headers, req.body))
        self.assertFalse(twenty_receiver_verify("tw-other", req.headers, req.body))
        self.assertFalse(updated_receiver_verify("tw-other", req.headers, req.body))

        self.wait_past(until)
        req = self.deliver_one(std, "astd")
        self.assertEqual(npm_verify(new_std, req.headers, req.body), BOTH)
        self.assertTrue(none_verify(npm_verify(old_std, req.headers, req.body)))
        req = self.deliver_one(tw, "atw")
        self.assertTrue(twenty_receiver_verify(new_tw, req.headers, req.body))
        self.assertFalse(twenty_receiver_verify(old_tw, req.headers, req.body))
        self.assertFalse(updated_receiver_verify(old_tw, req.headers, req.body))


if __name__ == "__main__":
    unittest.main(verbosity=2)
