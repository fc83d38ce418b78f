"""A Redis that stops answering without closing its connections (SIGSTOP):
the watchdog declares the connection dead after --redis-timeout, /readyz and
hookd_redis_up say so, and deliveries resume once Redis answers again, with
nothing lost."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Hookd, HookdCase, free_port, wait_for  # noqa: E402
from test_crash import envelopes  # noqa: E402
from test_metrics import fetch, samples  # noqa: E402

N = 400


class SilentProxy:
    """A TCP proxy on a spare loopback port in front of a Redis. freeze()
    makes every connection open at that moment go silent (kept open, nothing
    forwarded either way, as a network that drops packets does); connections
    made afterwards are forwarded as usual."""

    def __init__(self, target_port):
        self.target = target_port
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        self.lock = threading.Lock()
        self.conns = []   # [client, server, frozen] of each connection
        self.accepted = 0
        self.stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stop.is_set():
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            s = socket.create_connection(("127.0.0.1", self.target))
            rec = [c, s, False]
            with self.lock:
                self.conns.append(rec)
                self.accepted += 1
            for a, b in ((c, s), (s, c)):
                threading.Thread(target=self._pump, args=(rec, a, b), daemon=True).start()

    def _pump(self, rec, src, dst):
        while not self.stop.is_set():
            if rec[2]:
                time.sleep(0.05)  # silent: read nothing, send nothing
                continue
            try:
                src.settimeout(0.05)
                data = src.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            if not data or rec[2]:
                if not data:
                    return
                continue
            try:
                dst.sendall(data)
            except OSError:
                return

    def freeze(self):
        with self.lock:
            for rec in self.conns:
                rec[2] = True

    def close(self):
        self.stop.set()
        self.lsock.close()
        with self.lock:
            for c, s, _ in self.conns:
                c.close()
                s.close()


class Stall(HookdCase):

    def test_sigstop_20s_trips_the_watchdog_and_nothing_is_lost(self):
        prefix = self.path("slow", "stall")
        self.h.add_webhook(self.url("slow", "stall", "ms=20"))
        port = free_port()
        w = self.h.start_worker(env={"HOOKD_REDIS_TIMEOUT": "2s", "HOOKD_HOST_CONCURRENCY": "8",
                                     "HOOKD_LEASE": "60s"},
                                args=["--metrics-addr", "127.0.0.1:%d" % port])
        self.assertTrue(wait_for(lambda: fetch(port, "/readyz")[0] == 200, 10))
        rc, out, err = self.h.cli("enqueue", "-", input=envelopes(N, tag="stall"), timeout=60)
        self.assertEqual(rc, 0, err)
        # 8 at a time of 20 ms: about 1 s of work; stop Redis in the middle
        self.assertTrue(wait_for(lambda: self.recv.count(prefix) >= 50, 10))
        red = self.redis_server.proc
        red.send_signal(signal.SIGSTOP)
        t0 = time.monotonic()
        try:
            ready = wait_for(lambda: fetch(port, "/readyz")[0] == 503, 6, interval=0.1)
            not_ready_after = time.monotonic() - t0
            self.assertTrue(ready, "/readyz still 200 with Redis stopped for %.1f s"
                            % not_ready_after)
            s = samples(fetch(port, "/metrics")[1])
            self.assertEqual(s.get("hookd_redis_up"), 0)
            self.assertGreaterEqual(s.get("hookd_redis_watchdog_trips_total", 0), 1)
            time.sleep(max(0, 20 - (time.monotonic() - t0)))
        finally:
            red.send_signal(signal.SIGCONT)
        t1 = time.monotonic()
        self.assertTrue(wait_for(lambda: fetch(port, "/readyz")[0] == 200, 10, interval=0.1),
                        "/readyz did not come back after SIGCONT")
        ready_again = time.monotonic() - t1
        self.assertTrue(wait_for(lambda: len(self.recv.distinct_ids(prefix)) >= N, 30),
                        "%d of %d delivered after SIGCONT" % (len(self.recv.distinct_ids(prefix)),
                                                             N))
        delivered_after = time.monotonic() - t1
        print("\n/readyz 503 %.1f s after SIGSTOP; ready %.1f s and all %d delivered %.1f s "
              "after SIGCONT" % (not_ready_after, ready_again, N, delivered_after))
        self.assertLess(not_ready_after, 2 + 0.5 + 1, "watchdog 2 s, tick 0.5 s, a second more")
        self.assertLess(ready_again, 2 + 5, "back within the watchdog plus the longest backoff")
        got = {r.json()["data"]["n"] for r in self.recv.deliveries(prefix)}
        self.assertEqual(got, set(range(N)))
        # new events flow again at once
        t2 = time.monotonic()
        rc, out, err = self.h.cli("enqueue", "-", input=envelopes(100, tag="after"), timeout=60)
        self.assertEqual(rc, 0, err)
        after = self.path("slow", "stall")
        self.assertTrue(wait_for(lambda: len(self.recv.distinct_ids(after)) >= N + 100, 10))
        print("100 new events delivered %.1f s after the push" % (time.monotonic() - t2))
        self.assertTrue(wait_for(self.queues_empty, 15))
        self.assertEqual(self.r.llen(self.k("dead")), 0)
        self.assertRegex(w.log(), r"127\.0\.0\.1:%d answered nothing for \d+ ms"
                         % self.redis_server.port)
        self.assertTrue(w.alive())


    def test_silent_network_reconnects_through_a_new_connection(self):
        proxy = SilentProxy(self.redis_server.port)
        self.addCleanup(proxy.close)
        h = Hookd(proxy.port, prefix=self.h.prefix)
        self.addCleanup(h.close)
        prefix = self.path("ok", "silent")
        self.h.add_webhook(self.url("ok", "silent"))
        w = h.start_worker(env={"HOOKD_REDIS_TIMEOUT": "2s", "HOOKD_THREADS": "1"})
        rc, out, err = self.h.cli("enqueue", "-", input=envelopes(50, tag="s1"), timeout=60)
        self.assertEqual(rc, 0, err)
        self.assertTrue(wait_for(lambda: len(self.recv.distinct_ids(prefix)) >= 50, 15))
        before = proxy.accepted
        proxy.freeze()
        t0 = time.monotonic()
        # pushed straight to Redis: only a worker that reconnected can take them
        rc, out, err = self.h.cli("enqueue", "-", input=envelopes(50, tag="s2"), timeout=60)
        self.assertEqual(rc, 0, err)
        got = wait_for(lambda: len(self.recv.distinct_ids(prefix)) >= 100, 2 + 5 + 5)
        took = time.monotonic() - t0
        print("\nsilent network: %d new connections, all 50 new events delivered %.1f s after "
              "the freeze" % (proxy.accepted - before, took))
        self.assertTrue(got, "%d of 100 after %.1f s\n%s" % (
            len(self.recv.distinct_ids(prefix)), took, w.log()[-2000:]))
        self.assertGreater(proxy.accepted, before, "no new connection through the proxy")
        self.assertTrue(wait_for(self.queues_empty, 15))
        self.assertEqual(self.r.llen(self.k("dead")), 0)
        self.assertIn("answered nothing for", w.log())


    def test_name_re_pointed_between_reconnects_is_followed(self):
        # Failover by DNS: redis.hookd.test names Redis A, then B (same port,
        # other loopback addresses). The worker runs in a mount namespace of
        # its own (unshare -m) whose /etc/hosts is a file of this test, so
        # the machine's is never touched; hookd resolves the name off the
        # loop at every connect, and so follows it.
        if os.geteuid() != 0 or not shutil.which("unshare"):
            self.fail("needs root and unshare(1) for a private /etc/hosts (CI runs as root)")
        port = free_port()
        tmp = tempfile.mkdtemp(prefix="hookd-dns-")
        self.addCleanup(shutil.rmtree, tmp, True)
        servers = {}
        for ip in ("127.0.0.2", "127.0.0.3"):
            d = os.path.join(tmp, ip)
            os.mkdir(d)
            servers[ip] = subprocess.Popen(
                ["redis-server", "--bind", ip, "--port", str(port), "--save", "",
                 "--appendonly", "no", "--dir", d], stdout=subprocess.DEVNULL)
            self.addCleanup(lambda p=servers[ip]: (p.kill(), p.wait()))
        hosts = os.path.join(tmp, "hosts")

        def point(ip):
            with open(hosts, "w") as f:  # in place: the bind mount sees it
                f.write("127.0.0.1 localhost\n%s redis.hookd.test\n" % ip)
        point("127.0.0.2")
        h = Hookd(port, prefix=self.h.prefix)
        self.addCleanup(h.close)
        h.redis_url = "redis://redis.hookd.test:%d/0" % port

        def cli_at(ip, *args, **kw):
            rc, out, err = h.cli(*args, env={"HOOKD_REDIS_URL": "redis://%s:%d/0" % (ip, port)},
                                 **kw)
            self.assertEqual(rc, 0, err)
            return out
        self.assertTrue(wait_for(lambda: all(
            subprocess.run(["redis-cli", "-h", ip, "-p", str(port), "ping"],
                           capture_output=True).stdout.strip() == b"PONG" for ip in servers), 10))
        for ip in servers:
            cli_at(ip, "webhook", "add", "--url", self.url("ok", "dns"), "--id", "wh_dns")
        w = h.start_worker(env={"HOOKD_THREADS": "1"},
                           wrapper=["unshare", "-m", "sh", "-c",
                                    'mount --bind "$0" /etc/hosts && exec "$@"', hosts])
        prefix = self.path("ok", "dns")
        cli_at("127.0.0.2", "enqueue", "-", input=envelopes(20, tag="a"))
        self.assertTrue(wait_for(lambda: len(self.recv.distinct_ids(prefix)) >= 20, 15),
                        w.log()[-2000:])
        point("127.0.0.3")
        servers["127.0.0.2"].kill()
        t0 = time.monotonic()
        cli_at("127.0.0.3", "enqueue", "-", input=envelopes(20, tag="b"))
        got = wait_for(lambda: len(self.recv.distinct_ids(prefix)) >= 40, 20)
        print("\nre-pointed name: B's 20 events delivered %.1f s after A was killed"
              % (time.monotonic() - t0))
        self.assertTrue(got, "%d of 40\n%s" % (len(self.recv.distinct_ids(prefix)),
                                                w.log()[-3000:]))
        self.assertTrue(w.alive())


if __name__ == "__main__":
    unittest.main()
