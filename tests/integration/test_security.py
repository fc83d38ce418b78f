"""Nothing let in: requests to non-public addresses refused on the resolved
address, only http and https, TLS verified, secrets never printed where they
should not be, and Redis AUTH (requirepass and ACL users) with the password
kept out of errors and logs (DESIGN.md sections 3, 5 and 6)."""

import json
import os
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (ConnCounter, Hookd, HookdCase, Receiver, RedisServer,  # noqa: E402
                     free_port, hosts_alias_for_loopback, ipv6_loopback_works, uid, wait_for)

FAST = {
    "HOOKD_RETRY_BASE": "100ms",
    "HOOKD_RETRY_MAX_DELAY": "500ms",
    "HOOKD_MAX_ATTEMPTS": "2",
    "HOOKD_TIMEOUT": "2s",
    "HOOKD_CONNECT_TIMEOUT": "1s",
    "HOOKD_LEASE": "5s",
    "HOOKD_DRAIN_TIMEOUT": "2s",
}


def netns_isolates(tcp_port):
    """True when `unshare -n` gives a network namespace from which the
    host's loopback port tcp_port cannot be reached (nothing leaves it)."""
    if not shutil.which("unshare"):
        return False
    probe = ("import socket,sys\n"
             "s=socket.socket(); s.settimeout(2)\n"
             "try:\n"
             "    s.connect(('127.0.0.1', %d)); print('reached')\n"
             "except OSError as e:\n"
             "    print('isolated')\n" % tcp_port)
    try:
        out = subprocess.run(["unshare", "-n", sys.executable, "-c", probe],
                             capture_output=True, timeout=20).stdout.decode()
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.strip() == "isolated"


class Ssrf(HookdCase):
    """No HOOKD_ALLOW_NET: nothing but public addresses may be reached."""

    @classmethod
    def setUpClass(cls):
        cls.redis_server = RedisServer(unixsocket=True).start()
        cls.recv = Receiver().start()

    def refused_everywhere(self, hooks, expect_addr, attempts=2):
        """Each webhook in hooks ({name: webhook}) has `attempts` failed
        attempts whose error names the address and says "not public", and a
        dead record saying so."""
        dead = self.wait_dead(len(hooks), 15)
        by_hook = {d.get("webhook"): d for d in dead}
        for name, wh in hooks.items():
            with self.subTest(url=wh["url"]):
                log = self.h.cli_lines("webhook", "log", wh["id"])
                self.assertEqual(len(log), attempts, "attempts of %s: %r" % (name, log))
                for e in log:
                    err = e.get("error", "")
                    self.assertIn("not public", err, "%s: %r" % (name, e))
                    self.assertTrue(any(a in err for a in expect_addr[name]),
                                    "%s: the error must name the address %s: %r"
                                    % (name, expect_addr[name], err))
                    self.assertNotEqual(str(e.get("status")), "200")
                rec = by_hook.get(wh["id"])
                self.assertIsNotNone(rec, "no dead record for %s: %r" % (name, dead))
                self.assertIn("not public", rec["reason"])

    def test_loopback_forms_refused(self):
        v4 = ConnCounter("127.0.0.1")
        self.addCleanup(v4.close)
        hooks = {
            "ip": self.h.add_webhook("http://127.0.0.1:%d/ip" % v4.port),
            "name": self.h.add_webhook("http://localhost:%d/name" % v4.port),
            "mapped": self.h.add_webhook("http://[::ffff:127.0.0.1]:%d/mapped" % v4.port),
            "other127": self.h.add_webhook("http://127.1.2.3:%d/other" % v4.port),
            "http-receiver": self.h.add_webhook(self.url("ok", "ssrf")),
        }
        expect = {"ip": ["127.0.0.1"], "name": ["127.0.0.1", "::1"],
                  "mapped": ["127.0.0.1"], "other127": ["127.1.2.3"],
                  "http-receiver": ["127.0.0.1"]}
        # other spellings of a local address that curl or the kernel accept
        for name, host, addr in (("any", "0.0.0.0", "0.0.0.0"),
                                 ("decimal", "2130706433", "127.0.0.1"),
                                 ("hex", "0x7f.1", "127.0.0.1"),
                                 ("octal", "017700000001", "127.0.0.1"),
                                 ("short", "127.1", "127.0.0.1"),
                                 ("mapped-hex", "[::ffff:7f00:1]", "127.0.0.1")):
            hooks[name] = self.h.add_webhook("http://%s:%d/%s" % (host, v4.port, name))
            expect[name] = [addr]
        # (a name that the system resolver maps to loopback:
        # test_name_resolved_to_loopback_refused)
        hooks["sub.localhost"] = self.h.add_webhook("http://a.b.localhost:%d/sub" % v4.port)
        expect["sub.localhost"] = ["127.", "::1"]
        v6 = None
        if ipv6_loopback_works():
            v6 = ConnCounter("::1")
            self.addCleanup(v6.close)
            hooks["v6"] = self.h.add_webhook("http://[::1]:%d/v6" % v6.port)
            expect["v6"] = ["::1"]
            hooks["v6-any"] = self.h.add_webhook("http://[::]:%d/v6any" % v6.port)
            expect["v6-any"] = ["::"]
            hooks["v6-zone"] = self.h.add_webhook("http://[::1%%25lo]:%d/v6zone" % v6.port)
            expect["v6-zone"] = ["::1"]
        w = self.h.start_worker(env=dict(FAST, HOOKD_ALLOW_NET=None))
        self.enqueue("person.created", {"id": "1"})
        self.refused_everywhere(hooks, expect)
        self.assertEqual(v4.count, 0, "hookd connected to 127.0.0.1: %r" % v4.peers)
        if v6 is not None:
            self.assertEqual(v6.count, 0, "hookd connected to [::1]: %r" % v6.peers)
        self.assertEqual(self.recv.count(self.path("ok", "ssrf")), 0)
        self.assertTrue(w.alive())
        self.assertTrue(wait_for(self.queues_empty, 5))
        rc, secs = self.h.stop_worker(w, timeout=8)
        self.assertEqual(rc, 0, "SIGTERM, nothing in flight: rc=%r after %.1f s" % (rc, secs))

    def test_name_resolved_to_loopback_refused(self):
        # a name that the system resolver (here /etc/hosts, no DNS traffic)
        # maps to loopback is refused on the resolved address; the worker
        # keeps running, and still drains and exits on SIGTERM
        alias = hosts_alias_for_loopback()
        if not alias:
            self.skipTest("no name other than localhost for 127.x in /etc/hosts")
        v4 = ConnCounter("127.0.0.1")
        self.addCleanup(v4.close)
        hooks = {"hosts-alias": self.h.add_webhook("http://%s:%d/alias" % (alias, v4.port))}
        w = self.h.start_worker(env=dict(FAST, HOOKD_ALLOW_NET=None, HOOKD_THREADS="1",
                                         HOOKD_DRAIN_TIMEOUT="2s"))
        self.enqueue("person.created", {"id": "1"})
        wait_for(lambda: self.r.llen(self.k("dead")) >= 1 or not w.alive(), 10)
        self.assertTrue(w.alive(), "the worker died (rc %r) refusing %s:\n%s"
                        % (w.proc.poll(), hooks["hosts-alias"]["url"], w.log()[-2000:]))
        self.refused_everywhere(hooks, {"hosts-alias": ["127."]})
        self.assertEqual(v4.count, 0, "hookd connected to %s" % alias)
        self.assertTrue(wait_for(self.queues_empty, 5))
        rc, secs = self.h.stop_worker(w, timeout=8)
        self.assertEqual(rc, 0, "nothing in flight, drain timeout 2 s, yet rc=%r %.1f s after "
                         "SIGTERM (None: no exit, killed) once a connection to %s was refused:\n%s"
                         % (rc, secs, alias, w.log()[-2000:]))

    def test_private_and_metadata_refused_in_sandbox(self):
        # Only ever run inside a network namespace of its own, with Redis on
        # a unix socket: even if hookd did try, no packet could leave. A
        # connect attempt there fails with "Network is unreachable", not
        # with "not public", so this also proves the refusal comes before
        # the connect.
        if not netns_isolates(self.redis_server.port):
            self.skipTest("no isolated network namespace (unshare -n) here")
        hooks = {
            "private": self.h.add_webhook("http://10.0.0.1/hook"),
            "metadata": self.h.add_webhook("http://169.254.169.254/latest/meta-data/"),
        }
        expect = {"private": ["10.0.0.1"], "metadata": ["169.254.169.254"]}
        env = dict(FAST, HOOKD_ALLOW_NET=None,
                   HOOKD_REDIS_URL="unix://" + self.redis_server.unix_path)
        w = self.h.start_worker(env=env, wrapper=["unshare", "-n"])
        self.enqueue("person.created", {"id": "1"})
        self.refused_everywhere(hooks, expect)
        texts = json.dumps([self.h.cli_lines("webhook", "log", wh["id"]) for wh in hooks.values()])
        self.assertNotRegex(texts.lower(), r"unreachable|couldn't connect|timed out",
                            "hookd tried to connect to a non-public address")
        self.assertIn("private", texts)
        self.assertIn("link-local", texts)
        self.assertTrue(w.alive())

    def test_allow_net_lets_loopback_through(self):
        self.h.add_webhook(self.url("ok", "allowed"))
        self.h.start_worker(env=dict(FAST, HOOKD_ALLOW_NET="127.0.0.0/8"))
        self.enqueue("person.created", {"id": "1"})
        self.assertTrue(self.recv.wait_count(self.path("ok", "allowed"), 1, 10))
        self.assertEqual(self.r.llen(self.k("dead")), 0)


class Schemes(HookdCase):

    def test_only_http_and_https(self):
        self.assertAddRefused(["ftp://x", "file:///etc/passwd", "gopher://127.0.0.1:70/_x",
                               "dict://127.0.0.1:11211/", "ldap://127.0.0.1/",
                               "telnet://127.0.0.1/", "ws://127.0.0.1/", "javascript:alert(1)",
                               "//127.0.0.1/x"])
        wh = self.h.add_webhook("https://example.com/hook")
        rc, out, err = self.h.cli("webhook", "update", wh["id"], "--url", "gopher://x/")
        self.assertEqual(rc, 2, err)
        self.assertEqual(self.r.hget(self.k("webhook:" + wh["id"]), "url"),
                         b"https://example.com/hook")

    def test_stored_bad_scheme_never_fetched(self):
        # a webhook hash written behind hookd's back with a file:// URL is
        # not fetched by the worker
        wid = "wh_manual" + uid(6)
        self.r.hset(self.k("webhook:" + wid), mapping={
            "url": "file:///etc/passwd", "secret": "s" * 20, "events": "*.*",
            "workspace": "", "description": "", "enabled": "1", "signing": "twenty",
            "created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-01T00:00:00Z"})
        self.r.sadd(self.k("webhooks"), wid)
        self.r.incr(self.k("webhooks:rev"))
        ok = self.h.add_webhook(self.url("ok", "scheme"))
        w = self.h.start_worker(env=FAST)
        self.enqueue("person.created", {"id": "1"})
        self.assertTrue(self.recv.wait_count(self.path("ok", "scheme"), 1, 10))
        time.sleep(1.0)
        self.assertTrue(w.alive())
        for rec in self.dead():
            self.assertNotIn("root:", json.dumps(rec), "a file:// URL was read")
        for e in self.log_entries(wid):
            self.assertNotEqual(e.get("status"), "200", e)
        self.assertTrue(ok)


class Tls(HookdCase):

    def test_self_signed_refused(self):
        tls = Receiver(tls=True).start()
        self.addCleanup(tls.stop)
        wh = self.h.add_webhook(tls.url("/ok/%s-tls" % self.token))
        w = self.h.start_worker(env=dict(FAST, HOOKD_ALLOW_NET="127.0.0.0/8"))
        self.enqueue("person.created", {"id": "1"})
        dead = self.wait_dead(1, 15)
        self.assertEqual(len(dead), 1, "no dead record for an unverifiable receiver")
        self.assertEqual(tls.requests, [], "a request got through an unverified TLS connection")
        log = self.h.cli_lines("webhook", "log", wh["id"])
        self.assertEqual(len(log), 2, log)
        for e in log:
            self.assertRegex(e.get("error", "").lower(), r"certificate|ssl|tls",
                             "the error must say it is the certificate: %r" % e)
            self.assertNotEqual(str(e.get("status")), "200")
        self.assertRegex(dead[0]["reason"].lower(), r"certificate|ssl|tls")
        self.assertTrue(w.alive())


class Secrets(HookdCase):

    def test_secret_only_where_asked(self):
        secret = "whsec-" + uid(24)
        wh = self.h.add_webhook(self.url("fail", "sec"), "--secret", secret)
        self.assertEqual(wh["secret"], secret, "add prints the secret once")
        other = self.h.add_webhook(self.url("ok", "sec"))
        secret2 = other["secret"]
        # one worker logging text, then one logging json, each at debug
        # level and each with failures and successes to log
        workers = []
        for phase, fmt in enumerate(("text", "json")):
            w = self.h.start_worker(env=dict(FAST, HOOKD_LOG_LEVEL="debug",
                                             HOOKD_LOG_FORMAT=fmt))
            workers.append(w)
            for i in range(3):
                self.enqueue("person.created", {"n": i, "phase": phase})
            self.wait_dead(3 * (phase + 1), 15)
            self.assertTrue(self.recv.wait_count(self.path("ok", "sec"), 3 * (phase + 1), 10))
            if phase == 1:
                # rotate while running: the new secret must not be logged either
                rot = self.h.cli_json("webhook", "rotate-secret", other["id"])
                secret3 = rot["secret"]
                time.sleep(1.2)
                self.enqueue("person.created", {"n": 99})
                self.assertTrue(self.recv.wait_count(self.path("ok", "sec"), 7, 10))
            rc, _ = self.h.stop_worker(w, timeout=10)
            self.assertEqual(rc, 0)
        w1, w2 = workers
        secrets = [secret, secret2, secret3]

        def clean(what, text):
            for s in secrets:
                self.assertNotIn(s, text, "a secret in %s" % what)

        logs = [w1.log(), w2.log()]
        # the logs are really at debug level, with records about deliveries
        self.assertIn(" DEBUG ", logs[0], "no debug records: the check below proves little")
        self.assertIn('"level":"debug"', logs[1], "no debug records in the json log")
        self.assertRegex(logs[0] + logs[1], r"msg_[0-9a-f]{32}", "no delivery in the debug logs")
        json_lines = [l for l in logs[1].splitlines() if l.strip()]
        for l in json_lines:
            if l.startswith("{"):
                json.loads(l)
        clean("the worker's text debug log", logs[0])
        clean("the worker's json debug log", logs[1])
        for argv in (["stats"], ["stats", "--json"], ["dead", "list", "--count", "100"],
                     ["webhook", "list"], ["webhook", "show", wh["id"]],
                     ["webhook", "show", other["id"]], ["webhook", "log", wh["id"]],
                     ["webhook", "log", other["id"]],
                     ["webhook", "update", wh["id"], "--description", "changed"]):
            rc, out, err = self.h.cli(*argv)
            self.assertEqual(rc, 0, "%s: %s" % (argv, err))
            clean("`hookd %s`" % " ".join(argv), out + err)
        self.assertIn('"secret":"<hidden>"', self.h.cli("webhook", "show", wh["id"])[1])
        rc, out, err = self.h.cli("webhook", "show", wh["id"], "--show-secret")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["secret"], secret, "--show-secret prints it")
        rc, out, err = self.h.cli("webhook", "list", "--show-secret")
        self.assertIn(secret, out)

    def test_secret_not_in_error_messages(self):
        secret = "whsec-" + uid(24)
        wh = self.h.add_webhook(self.url("ok", "err"))
        dead_url = "redis://127.0.0.1:%d/0" % free_port()
        cases = [
            (2, ["webhook", "add", "--url", "ftp://x", "--secret", secret], None),
            (2, ["webhook", "add", "--url", self.url("ok", "e2"), "--secret", secret + " x"],
             None),
            (2, ["webhook", "add", "--url", self.url("ok", "e3"), "--secret", secret * 60], None),
            (2, ["webhook", "add", "--url", self.url("ok", "e4"), "--secret", secret + "\x01"],
             None),
            (1, ["webhook", "rotate-secret", "wh_nosuch", "--secret", secret], None),
            (1, ["webhook", "add", "--url", self.url("ok", "e5"), "--secret", secret],
             {"HOOKD_REDIS_URL": dead_url}),
            (1, ["webhook", "rotate-secret", wh["id"], "--secret", secret],
             {"HOOKD_REDIS_URL": dead_url}),
            (1, ["verify", "--secret", secret, "--timestamp", "1", "--signature", "00" * 32],
             None),
        ]
        for want, argv, env in cases:
            with self.subTest(argv=argv[:3]):
                rc, out, err = self.h.cli(*argv, env=env, input="body" if argv[0] == "verify"
                                          else None, timeout=20)
                self.assertEqual(rc, want, "%s: rc=%r err=%r" % (argv[:3], rc, err))
                self.assertTrue(err.strip(), "no reason given")
                for s in (secret, secret[6:]):
                    self.assertNotIn(s, out + err, "the secret echoed by `hookd %s`"
                                     % " ".join(argv[:3]))


class RedisAuth(HookdCase):
    """Redis servers that want a password: requirepass, and an ACL user."""

    def run_end_to_end(self, srv, url):
        self.h.close()
        self.h = Hookd(srv.port)
        self.h.redis_url = url
        self.r = srv.client
        wh = self.h.add_webhook(self.url("ok", "auth"))
        self.assertTrue(wh["id"])
        w = self.h.start_worker(env={"HOOKD_LOG_LEVEL": "debug", "HOOKD_LOG_FORMAT": "json"})
        self.enqueue("person.created", {"n": 1})
        got = self.recv.wait_count(self.path("ok", "auth"), 1, 10)
        self.assertTrue(got, "nothing delivered through an authenticated Redis:\n" + w.log())
        self.assertEqual(got[0].json()["data"], {"n": 1})
        rc, out, err = self.h.cli("stats", "--json")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["webhooks"], 1)
        self.assertTrue(wait_for(self.queues_empty, 5))
        rc, _ = self.h.stop_worker(w)
        self.assertEqual(rc, 0)
        return w

    def check_wrong(self, url, secrets):
        """CLI commands with a wrong password exit 1 without printing it."""
        for argv in (["stats"], ["webhook", "list"], ["enqueue", "a.b", "{}"],
                     ["webhook", "add", "--url", self.url("ok", "x")], ["dead", "list"]):
            with self.subTest(argv=argv, url="wrong"):
                rc, out, err = self.h.cli(*argv, env={"HOOKD_REDIS_URL": url}, timeout=20)
                self.assertEqual(rc, 1, "%s: rc=%r err=%r" % (argv, rc, err))
                line = self.assertOneLineError(err)
                for s in secrets:
                    self.assertNotIn(s, out + err, "a password in the error of %s" % argv)
                self.assertRegex(line.lower(), r"auth|password|pass|denied|wrong|noauth",
                                 "the error should say it is the login: %r" % line)
        # the worker: keeps running or exits, but never prints it
        w = self.h.start_worker(env={"HOOKD_REDIS_URL": url, "HOOKD_LOG_LEVEL": "debug"})
        time.sleep(1.5)
        self.h.stop_worker(w, timeout=10)
        for s in secrets:
            self.assertNotIn(s, w.log(), "a password in the worker's log")
        self.assertRegex(w.log().lower(), r"auth|password|denied|wrong",
                         "the worker does not say why it cannot use Redis:\n" + w.log())

    def test_requirepass(self):
        pw = "pw-" + uid(16)
        srv = RedisServer(password=pw).start()
        self.addCleanup(srv.cleanup)
        w = self.run_end_to_end(srv, srv.url_with(password=pw))
        self.assertNotIn(pw, w.log())
        wrong = "wrong-" + uid(16)
        self.check_wrong(srv.url_with(password=wrong), [wrong, pw])
        # no password at all
        rc, out, err = self.h.cli("stats", env={"HOOKD_REDIS_URL": srv.url})
        self.assertEqual(rc, 1, err)

    def test_acl_user(self):
        pw = "alice-" + uid(16)
        srv = RedisServer(users=[["alice", "on", ">" + pw, "~*", "&*", "+@all"],
                                 ["default", "off"]],
                          client_user="alice", client_password=pw).start()
        self.addCleanup(srv.cleanup)
        w = self.run_end_to_end(srv, srv.url_with(user="alice", password=pw))
        self.assertNotIn(pw, w.log())
        wrong = "nope-" + uid(16)
        self.check_wrong(srv.url_with(user="alice", password=wrong), [wrong, pw])
        rc, out, err = self.h.cli("stats", env={
            "HOOKD_REDIS_URL": srv.url_with(user="bob", password=pw)})
        self.assertEqual(rc, 1, err)
        self.assertNotIn(pw, out + err)

    def test_password_not_in_url_errors(self):
        # malformed URLs that carry a password: bad usage, password not echoed
        pw = "pw-" + uid(16)
        for url in ("redis://:%s@127.0.0.1:99999999/0" % pw,
                    "redis://:%s@127.0.0.1:6390/notadb" % pw,
                    "redis://alice:%s" % pw,
                    "redis://:%s@127.0.0.1:6390/0?x=%%zz" % pw,
                    "rediss://:%s@127.0.0.1:99999999/0" % pw,
                    "http://:%s@127.0.0.1:6390/0" % pw):
            with self.subTest(url=url.replace(pw, "PW")):
                rc, out, err = self.h.cli("stats", env={"HOOKD_REDIS_URL": url})
                self.assertEqual(rc, 2, "rc=%r err=%r" % (rc, err))
                self.assertOneLineError(err)
                self.assertNotIn(pw, out + err, "the password echoed in a usage error")
                rc, out, err = self.h.cli("stats", "--redis-url", url)
                self.assertEqual(rc, 2, "rc=%r err=%r" % (rc, err))
                self.assertNotIn(pw, out + err, "the password echoed in a usage error")

    def test_password_with_reserved_characters(self):
        pw = "p@ss:w/rd%?#" + uid(8)
        srv = RedisServer(password=pw).start()
        self.addCleanup(srv.cleanup)
        w = self.run_end_to_end(srv, srv.url_with(password=pw))
        self.assertNotIn(pw, w.log())
        self.assertNotIn(srv.url_with(password=pw).split("@")[0], w.log())


if __name__ == "__main__":
    unittest.main()
