"""Inputs of `hookd run` against a real redis-server: --allow-net CIDRs that
would mean more than they say are refused with the network they would mean
(include/hookd/net.h); --redis-url-file keeps the Redis password out of the
command line and the log (docs/configuration.md); `hookd run --help`."""

import json
import os
import re
import shutil
import sys
import tempfile
import time
import unittest
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (FAST, Hookd, HookdCase, Receiver, RedisServer,  # noqa: E402
                     free_port, uid, wait_for)


def one_line(err):
    lines = [l for l in err.splitlines() if l.strip()]
    return lines[0] if len(lines) == 1 else None


class AllowNet(HookdCase):

    def assertRefused(self, args, want, env=None):
        rc, out, err = self.h.cli(*args, env=env, timeout=15)
        self.assertEqual(rc, 2, "%s: rc=%r out=%r err=%r" % (args, rc, out, err))
        self.assertEqual(one_line(err), want, "want one stderr line: %r" % err)
        self.assertEqual(out, "")

    def test_mapped_address_with_ipv4_prefix_is_refused(self):
        # Before: parsed as ::/8, which holds every IPv4-mapped address and
        # ::1, so loopback and 169.254.169.254 were allowed.
        want = ('hookd: --allow-net: "::ffff:10.0.0.0/8" has host bits set; as IPv6 it is '
                '::/8; for 10.0.0.0/8 write 10.0.0.0/8 or ::ffff:10.0.0.0/104')
        self.assertRefused(["--allow-net", "::ffff:10.0.0.0/8", "run"], want)
        self.assertRefused(["run"], want.replace("--allow-net", "HOOKD_ALLOW_NET"),
                           env={"HOOKD_ALLOW_NET": "::ffff:10.0.0.0/8"})

    def test_host_bits_are_refused_not_masked(self):
        # Before: silently widened to 10.0.0.0/8.
        self.assertRefused(["--allow-net", "10.0.0.1/8", "run"],
                           'hookd: --allow-net: "10.0.0.1/8" has host bits set; '
                           'the network is 10.0.0.0/8')
        self.assertRefused(["--allow-net", "127.0.0.0/8,fd00::1/8", "stats"],
                           'hookd: --allow-net: "fd00::1/8" has host bits set; '
                           'the network is fd00::/8')

    def test_both_spellings_of_an_ipv4_network_are_accepted(self):
        rc, out, err = self.h.cli("--allow-net", "10.0.0.0/8,::ffff:10.0.0.0/104", "stats",
                                  "--json")
        self.assertEqual(rc, 0, err)
        self.assertIsInstance(json.loads(out), dict)

    def test_mapped_spelling_allows_what_the_ipv4_one_does(self):
        """::ffff:127.0.0.0/104 is 127.0.0.0/8: a worker given only that
        reaches the loopback receiver."""
        self.h.add_webhook(self.url("ok", "mapped"))
        w = self.h.start_worker(env=dict(FAST, HOOKD_ALLOW_NET="::ffff:127.0.0.0/104"))
        self.enqueue("person.created", {"id": "1"})
        got = self.recv.wait_count(self.path("ok", "mapped"), 1, 15)
        self.assertEqual(len(got), 1, "not delivered under ::ffff:127.0.0.0/104:\n" + w.log())
        rc, _ = self.h.stop_worker(w)
        self.assertEqual(rc, 0)

    def test_ten_slash_eight_in_both_spellings_keeps_loopback_out(self):
        self.h.add_webhook(self.url("ok", "ten"))
        self.h.start_worker(env=dict(FAST, HOOKD_ALLOW_NET="10.0.0.0/8,::ffff:10.0.0.0/104"))
        self.enqueue("person.created", {"id": "2"})
        self.assertEqual(len(self.wait_dead(1, 15)), 1)
        self.assertEqual(self.recv.count(self.path("ok", "ten")), 0,
                         "loopback was reached under 10.0.0.0/8,::ffff:10.0.0.0/104")


class RedisUrlFile(HookdCase):
    """A worker whose only way to the password-protected Redis is the file."""

    @classmethod
    def setUpClass(cls):
        # Reserved and percent characters, so that the URL carries it encoded.
        cls.pw = "p@ss:w/rd%" + uid(12)
        cls.recv = Receiver().start()
        try:
            cls.redis_server = RedisServer(password=uid(16), users=[
                ["hookd", "on", ">" + cls.pw, "~*", "&*", "+@all"]],
                client_user="hookd", client_password=cls.pw).start()
        except Exception:
            cls.recv.stop()
            raise

    def setUp(self):
        super().setUp()
        self.rurl = self.redis_server.url_with(user="hookd", password=self.pw)
        self.h.redis_url = self.rurl  # for the admin commands of the test only
        self.dir = tempfile.mkdtemp(prefix="hookd-it-urlfile-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.file = os.path.join(self.dir, "redis-url")
        with open(os.open(self.file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(self.rurl + "\n")
        self.secrets = [self.pw, quote(self.pw, safe=""), self.pw[-12:]]

    def assertNoSecret(self, text, where):
        for s in self.secrets:
            self.assertNotIn(s, text, "the password is in %s: %r" % (where, text[-2000:]))

    def test_worker_reads_the_url_from_the_file(self):
        self.h.add_webhook(self.url("ok", "file"))
        mport = free_port()
        w = self.h.start_worker(
            env={"HOOKD_REDIS_URL": None},
            args=["--redis-url-file", self.file, "--metrics-addr", "127.0.0.1:%d" % mport])
        rc, _, err = self.h.cli("enqueue", "person.created", '{"id":"1"}')
        self.assertEqual(rc, 0, err)
        got = self.recv.wait_count(self.path("ok", "file"), 1, 15)
        self.assertEqual(len(got), 1, "not delivered:\n" + w.log())

        with open("/proc/%d/cmdline" % w.pid, "rb") as f:
            argv = f.read().decode(errors="replace").split("\0")
        self.assertIn(self.file, argv)
        self.assertNoSecret(" ".join(argv), "/proc/PID/cmdline")
        with open("/proc/%d/environ" % w.pid, "rb") as f:
            environ = f.read().decode(errors="replace")
        self.assertNotIn("HOOKD_REDIS_URL=", environ)
        self.assertNoSecret(environ, "the worker's environment")

        rc, _ = self.h.stop_worker(w)
        self.assertEqual(rc, 0, w.log())
        log = w.log()
        self.assertNoSecret(log, "the worker's log")
        start = [l for l in log.splitlines() if "starting:" in l]
        self.assertEqual(len(start), 1, log)
        self.assertRegex(start[0], r"hookd \S+ starting: 2 threads, prefix \{%s\}, redis "
                         r"redis://hookd:\*\*\*@127\.0\.0\.1:%d/0, metrics 127\.0\.0\.1:%d, api off$"
                         % (re.escape(self.h.prefix), self.redis_server.port, mport))

    def test_start_line_without_metrics(self):
        w = self.h.start_worker(env={"HOOKD_REDIS_URL": None},
                                args=["--redis-url-file", self.file])
        self.assertTrue(wait_for(lambda: "starting:" in w.log() or not w.alive(), 10))
        rc, _ = self.h.stop_worker(w)
        self.assertEqual(rc, 0, w.log())
        self.assertRegex(w.log(), r"redis redis://hookd:\*\*\*@127\.0\.0\.1:%d/0, metrics off, api off\n"
                         % self.redis_server.port)

    def test_missing_file(self):
        path = os.path.join(self.dir, "missing")
        rc, out, err = self.h.cli("--redis-url-file", path, "run",
                                  env={"HOOKD_REDIS_URL": None}, timeout=15)
        self.assertEqual(rc, 2, err)
        self.assertEqual(one_line(err), "hookd: --redis-url-file: '%s' cannot be opened: "
                         "No such file or directory" % path)
        self.assertEqual(out, "")

    def test_bad_files_never_show_the_content(self):
        cases = [
            ("empty", "", "is empty"),
            ("twice", self.rurl + "\n\n", "holds no valid redis-url value"),
            ("port", self.rurl.replace("/0", "") + ":x\n", "holds no valid redis-url value"),
            ("big", self.rurl + "/" * 5000, "is larger than 4096 bytes"),
        ]
        for name, data, why in cases:
            with self.subTest(file=name):
                path = os.path.join(self.dir, name)
                with open(path, "w") as f:
                    f.write(data)
                rc, out, err = self.h.cli("run", env={"HOOKD_REDIS_URL": None,
                                                      "HOOKD_REDIS_URL_FILE": path}, timeout=15)
                self.assertEqual(rc, 2, err)
                line = one_line(err)
                self.assertIsNotNone(line, err)
                self.assertTrue(line.startswith("hookd: HOOKD_REDIS_URL_FILE: '%s' %s"
                                                % (path, why)), line)
                self.assertNoSecret(err, "the error")

    def test_url_and_file_at_one_level_is_an_error(self):
        rc, _, err = self.h.cli("--redis-url", self.rurl, "--redis-url-file", self.file, "stats",
                                timeout=15)
        self.assertEqual(rc, 2, err)
        self.assertEqual(one_line(err),
                         "hookd: --redis-url and --redis-url-file are both given; give one")
        rc, _, err = self.h.cli("stats", env={"HOOKD_REDIS_URL_FILE": self.file}, timeout=15)
        self.assertEqual(rc, 2, err)
        self.assertEqual(one_line(err), "hookd: HOOKD_REDIS_URL and HOOKD_REDIS_URL_FILE are "
                         "both set; set one")
        # A flag of either wins over a variable of either.
        rc, out, err = self.h.cli("--redis-url-file", self.file, "stats", "--json", timeout=15)
        self.assertEqual(rc, 0, err)
        rc, out, err = self.h.cli("stats", "--json", timeout=15,
                                  env={"HOOKD_REDIS_URL": None,
                                       "HOOKD_REDIS_URL_FILE": self.file})
        self.assertEqual(rc, 0, err)
        self.assertIsInstance(json.loads(out), dict)


class RunHelp(unittest.TestCase):

    def setUp(self):
        self.h = Hookd(free_port())  # nothing listens: help needs no Redis

    def tearDown(self):
        self.h.close()

    def test_run_help(self):
        for flag in ("--help", "-h"):
            with self.subTest(flag=flag):
                t0 = time.monotonic()
                rc, out, err = self.h.cli("run", flag, timeout=15)
                self.assertEqual(rc, 0, err)
                self.assertEqual(err, "")
                self.assertLess(time.monotonic() - t0, 5)
                self.assertTrue(out.startswith("usage: hookd [options] run\n"), out[:200])
                for opt in ("--redis-url-file PATH", "--allow-net CIDRS", "--redis-url URL",
                            "--drain-timeout DUR", "HOOKD_REDIS_URL_FILE"):
                    self.assertIn(opt, out)

    def test_top_level_help_still_works(self):
        rc, out, err = self.h.cli("--help", timeout=15)
        self.assertEqual(rc, 0, err)
        self.assertTrue(out.startswith("usage: hookd [options] COMMAND"), out[:200])
        self.assertIn("--redis-url-file PATH", out)
        rc, _, err = self.h.cli("run", "extra", timeout=15)
        self.assertEqual(rc, 2)
        self.assertEqual(one_line(err), "hookd: run: unexpected argument 'extra'")


if __name__ == "__main__":
    unittest.main(verbosity=2)
