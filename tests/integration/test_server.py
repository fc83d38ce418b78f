"""The HTTP server (libmicrohttpd) under a slowloris flood, and the API
address's refusal to listen off loopback without a token.

Before this server, 80 idle connections on the metrics port failed /healthz
48 times in 50 (the hand-written server served one connection at a time)."""

import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HookdCase, free_port, wait_for  # noqa: E402
from test_metrics import fetch  # noqa: E402

IDLE_S = 10  # HOOKD_SERVER_IDLE_S


def flood(port, n, source):
    """n connections from address source that send half a request head and
    stall, as a slowloris does; the caller closes them."""
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind((source, 0))
        s.settimeout(2)
        try:
            s.connect(("127.0.0.1", port))
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        except OSError:
            pass
        socks.append(s)
    return socks


def healthz_passes(port, tries=50):
    """How many of tries /healthz asked from 127.0.0.1 answer 200 in 2 s."""
    return sum(1 for _ in range(tries) if fetch(port, "/healthz", timeout=2)[0] == 200)


class TestSlowloris(HookdCase):
    def setUp(self):
        super().setUp()
        self.mport = free_port()
        self.h.start_worker(args=["--metrics-addr", "127.0.0.1:%d" % self.mport])
        self.assertTrue(wait_for(lambda: fetch(self.mport, "/healthz")[0] == 200, 10))

    def test_health_answered_under_a_flood_from_another_address(self):
        for n in (80, 200):
            with self.subTest(connections=n):
                socks = flood(self.mport, n, "127.0.0.2")
                try:
                    passed = healthz_passes(self.mport)
                    print("%d idle connections from 127.0.0.2: %d of 50 /healthz passed"
                          % (n, passed))
                    self.assertEqual(passed, 50)
                finally:
                    for s in socks:
                        s.close()

    def test_idle_connections_are_closed(self):
        socks = flood(self.mport, 80, "127.0.0.1")
        try:
            passed = healthz_passes(self.mport, 10)
            print("flood from the checker's own address: %d of 10 /healthz passed" % passed)
            # The per-address cap may refuse the checker itself, but the idle
            # timeout frees the slots.
            t0 = time.monotonic()
            self.assertTrue(wait_for(lambda: fetch(self.mport, "/healthz", timeout=1)[0] == 200,
                                     IDLE_S + 5))
            print("answered again %.1f s later" % (time.monotonic() - t0))
            closed = 0
            for s in socks:
                try:
                    s.settimeout(0.2)
                    if s.recv(1) == b"":
                        closed += 1
                except OSError:
                    closed += 1
            self.assertEqual(closed, len(socks))
        finally:
            for s in socks:
                s.close()


class TestApiAddr(HookdCase):
    def test_refuses_a_public_address_without_a_token(self):
        rc, out, err = self.h.cli("run", "--api-addr", "0.0.0.0:%d" % free_port(), timeout=10)
        self.assertEqual(rc, 2, (out, err))
        self.assertIn("not a loopback address", err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
