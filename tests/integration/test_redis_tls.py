"""Redis over TLS (rediss://), against a redis-server with --tls-port and a
CA, server and client certificates that openssl makes here, in the test.

On a build without TLS (`hookd version` says "rediss: no": Debian 12's
hiredis 0.14) only the refusal is checked. The TLS build is proved in a
Debian 13 root by scripts/trixie.sh, which runs this file there."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Hookd, HookdCase, free_port, hookd_bin, spawn, twenty_sig,  # noqa: E402
                     wait_for)
from test_crash import envelopes  # noqa: E402
from test_metrics import fetch, samples  # noqa: E402

import redis  # noqa: E402


def rediss_built():
    out = subprocess.run([hookd_bin(), "version"], capture_output=True, text=True,
                         timeout=10).stdout
    return "\nrediss: yes" in out


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True,
                   timeout=60)


class Pki:
    """A throwaway CA and what it signs, in a temporary directory: keys are
    made here and never leave it."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="hookd-it-tls-")
        self.ca = self.make_ca("ca")
        self.other_ca = self.make_ca("other-ca")  # signs nothing the servers show

    def path(self, name):
        return os.path.join(self.dir, name)

    def make_ca(self, name):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-subj", "/CN=hookd test %s" % name,
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-keyout", name + ".key",
                "-out", name + ".crt", cwd=self.dir)
        return self.path(name + ".crt")

    def issue(self, name, san, client=False):
        """A certificate for san (as subjectAltName wants it), signed by the CA:
        returns (cert, key)."""
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + name,
                "-keyout", name + ".key", "-out", name + ".csr", cwd=self.dir)
        with open(self.path(name + ".ext"), "w") as f:
            f.write("subjectAltName=%s\n" % san if san else "")
            f.write("extendedKeyUsage=%s\n" % ("clientAuth" if client else "serverAuth"))
            # what a strict verifier (Python's, OpenSSL's X509_STRICT) asks of a leaf
            f.write("keyUsage=critical,digitalSignature,keyEncipherment\n"
                    "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-extfile", name + ".ext",
                "-out", name + ".crt", cwd=self.dir)
        return self.path(name + ".crt"), self.path(name + ".key")

    def cleanup(self):
        shutil.rmtree(self.dir, True)


class TlsRedis:
    """redis-server on a spare loopback TLS port only (--port 0)."""

    def __init__(self, pki, cert, key, auth_clients="no"):
        self.pki = pki
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="hookd-it-tlsredis-")
        self.log = open(os.path.join(self.dir, "redis.log"), "ab")
        self.proc = spawn(["redis-server", "--port", "0", "--tls-port", str(self.port),
                           "--bind", "127.0.0.1", "--tls-cert-file", cert, "--tls-key-file", key,
                           "--tls-ca-cert-file", pki.ca, "--tls-auth-clients", auth_clients,
                           "--save", "", "--appendonly", "no", "--dir", self.dir],
                          stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        ccert, ckey = pki.client
        self.client = redis.Redis(host="127.0.0.1", port=self.port, ssl=True,
                                  ssl_ca_certs=pki.ca, ssl_check_hostname=False,
                                  ssl_certfile=ccert, ssl_keyfile=ckey, socket_timeout=10)

        def up():
            if self.proc.poll() is not None:
                raise RuntimeError("redis-server exited")
            try:
                return self.client.ping()
            except (redis.exceptions.ConnectionError, OSError):
                return False
        if not wait_for(up, 10):
            self.stop()
            raise RuntimeError("TLS redis-server did not answer PING")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
        self.proc.wait(10)
        self.log.close()
        shutil.rmtree(self.dir, True)


@unittest.skipIf(rediss_built(), "this hookd has TLS: the class below runs instead")
class WithoutTls(HookdCase):

    def test_rediss_refused_with_the_way_out(self):
        for args in (["run"], ["stats"]):
            rc, out, err = self.h.cli(*args, env={"HOOKD_REDIS_URL": "rediss://127.0.0.1:1/0"})
            self.assertEqual(rc, 2, err)
            self.assertIn("rediss://", err)
            self.assertIn("TLS", err)
            self.assertIn("hiredis", err, "the message names what is missing")
            self.assertEqual(err.count("\n"), 1, "one line: %r" % err)

    def test_tls_files_with_a_plain_url_are_refused(self):
        for args, want in ((["run"], 2), (["stats"], 1)):
            rc, out, err = self.h.cli(*args, env={"HOOKD_REDIS_CA_FILE": "/nonexistent"})
            self.assertEqual(rc, want, err)
            self.assertIn("redis-ca-file", err)
            self.assertIn("rediss://", err)


@unittest.skipUnless(rediss_built(), "this hookd was built without TLS (hiredis < 1.0)")
class WithTls(HookdCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pki = Pki()
        cls.pki.client = cls.pki.issue("client", None, client=True)
        cls.good = cls.pki.issue("server", "DNS:localhost,IP:127.0.0.1")
        cls.wrong = cls.pki.issue("wrong", "DNS:wrong.invalid")

    @classmethod
    def tearDownClass(cls):
        cls.pki.cleanup()
        super().tearDownClass()

    def server(self, cert_key, auth_clients="no"):
        srv = TlsRedis(self.pki, cert_key[0], cert_key[1], auth_clients)
        self.addCleanup(srv.stop)
        return srv

    def hookd(self, srv, host="localhost", ca=None, client_cert=False):
        h = Hookd(srv.port)
        self.addCleanup(h.close)
        h.redis_url = "rediss://%s:%d/0" % (host, srv.port)
        env = {"HOOKD_REDIS_CA_FILE": ca or self.pki.ca}
        if client_cert:
            env["HOOKD_REDIS_CERT_FILE"], env["HOOKD_REDIS_KEY_FILE"] = self.pki.client
        base = h.env

        def env_with(extra=None):
            e = base(env)
            e.update(extra or {})
            return e
        h.env = env_with
        return h

    def deliver_one(self, h, name):
        rc, out, err = h.cli("webhook", "add", "--url", self.url("ok", name))
        self.assertEqual(rc, 0, err)
        wh = json.loads(out)
        w = h.start_worker(env={"HOOKD_THREADS": "1"})
        rc, out, err = h.cli("enqueue", "person.created", '{"id":"1"}')
        self.assertEqual(rc, 0, err)
        path = self.path("ok", name)
        self.assertTrue(wait_for(lambda: self.recv.count(path) >= 1, 15), w.log()[-2000:])
        req = self.recv.deliveries(path)[0]
        hd = req.headers
        self.assertEqual(hd.get("x-twenty-webhook-signature"),
                         twenty_sig(wh["secret"], hd.get("x-twenty-webhook-timestamp", ""),
                                    req.body))
        self.assertEqual(req.json()["data"], {"id": "1"})
        return w

    def test_verified_delivery_over_rediss(self):
        srv = self.server(self.good)
        h = self.hookd(srv)
        w = self.deliver_one(h, "tls")
        self.assertTrue(wait_for(lambda: srv.client.llen(h.key("events")) == 0 and
                                 srv.client.zcard(h.key("leases")) == 0, 10))
        self.assertIn("rediss://localhost:%d/0" % srv.port, w.log())
        # the CLI speaks TLS too, and the server saw only TLS clients
        rc, out, err = h.cli("stats")
        self.assertEqual(rc, 0, err)
        names = srv.client.execute_command("CLIENT", "LIST").decode()
        self.assertIn("name=hookd-take", names)
        self.assertIn("name=hookd-wake", names)

    def test_by_ip_address_with_a_client_certificate(self):
        srv = self.server(self.good, auth_clients="yes")
        h = self.hookd(srv, host="127.0.0.1", client_cert=True)
        self.deliver_one(h, "mtls")
        # the same server refuses a client without its certificate
        bare = self.hookd(srv, host="127.0.0.1")
        rc, out, err = bare.cli("stats")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("127.0.0.1:%d" % srv.port, err)
        self.assertIn("TLS", err)

    def refused(self, h, srv, want):
        """A worker that must not get in: it says why, is never ready, and
        nothing is delivered."""
        port = free_port()
        path = self.path("ok", "refused")
        w = h.start_worker(env={"HOOKD_THREADS": "1"},
                           args=["--metrics-addr", "127.0.0.1:%d" % port])
        self.assertTrue(wait_for(lambda: want in w.log(), 10), w.log()[-2000:])
        self.assertIn("TLS", w.log())
        time.sleep(1.5)
        self.assertEqual(fetch(port, "/readyz")[0], 503)
        self.assertEqual(samples(fetch(port, "/metrics")[1]).get("hookd_redis_up"), 0)
        self.assertEqual(self.recv.count(path), 0)
        self.assertNotIn(b"name=hookd", srv.client.execute_command("CLIENT", "LIST"),
                         "a hookd connection got in")
        # it keeps trying with its backoff, and says so each time, in the same words
        self.assertGreaterEqual(w.log().count(want), 2)
        self.assertTrue(w.alive())
        rc, out, err = h.cli("stats")
        self.assertEqual(rc, 1, out + err)
        self.assertIn(want, err)

    def test_certificate_for_another_name_is_refused(self):
        srv = self.server(self.wrong)
        self.refused(self.hookd(srv), srv, "hostname mismatch")

    def test_certificate_from_another_ca_is_refused(self):
        srv = self.server(self.good)
        self.refused(self.hookd(srv, ca=self.pki.other_ca), srv, "certificate verify failed")

    def test_watchdog_over_tls(self):
        srv = self.server(self.good)
        h = self.hookd(srv)
        rc, out, err = h.cli("webhook", "add", "--url", self.url("slow", "tlsstall", "ms=20"))
        self.assertEqual(rc, 0, err)
        port = free_port()
        w = h.start_worker(env={"HOOKD_REDIS_TIMEOUT": "2s", "HOOKD_HOST_CONCURRENCY": "8",
                                "HOOKD_LEASE": "60s", "HOOKD_THREADS": "1"},
                           args=["--metrics-addr", "127.0.0.1:%d" % port])
        self.assertTrue(wait_for(lambda: fetch(port, "/readyz")[0] == 200, 10), w.log())
        n = 200
        rc, out, err = h.cli("enqueue", "-", input=envelopes(n, tag="tls"), timeout=60)
        self.assertEqual(rc, 0, err)
        prefix = self.path("slow", "tlsstall")
        self.assertTrue(wait_for(lambda: self.recv.count(prefix) >= 30, 10))
        srv.proc.send_signal(signal.SIGSTOP)
        t0 = time.monotonic()
        try:
            ready = wait_for(lambda: fetch(port, "/readyz")[0] == 503, 6, interval=0.1)
            not_ready_after = time.monotonic() - t0
            self.assertTrue(ready, "/readyz still 200 with Redis stopped")
            self.assertGreaterEqual(
                samples(fetch(port, "/metrics")[1]).get("hookd_redis_watchdog_trips_total", 0), 1)
            time.sleep(max(0, 8 - (time.monotonic() - t0)))
        finally:
            srv.proc.send_signal(signal.SIGCONT)
        t1 = time.monotonic()
        self.assertTrue(wait_for(lambda: fetch(port, "/readyz")[0] == 200, 10, interval=0.1))
        ready_again = time.monotonic() - t1
        # new events pushed after SIGCONT flow within 2 s
        rc, out, err = h.cli("enqueue", "-", input=envelopes(20, tag="after"), timeout=60)
        self.assertEqual(rc, 0, err)
        t2 = time.monotonic()
        self.assertTrue(wait_for(lambda: len(self.recv.distinct_ids(prefix)) >= n + 20, 30),
                        "%d of %d\n%s" % (len(self.recv.distinct_ids(prefix)), n + 20,
                                          w.log()[-2000:]))
        print("\nTLS: /readyz 503 %.1f s after SIGSTOP; ready %.1f s after SIGCONT; "
              "all delivered %.1f s after the last push" % (not_ready_after, ready_again,
                                                            time.monotonic() - t2))
        self.assertLess(not_ready_after, 2 + 1, "the watchdog's 2 s and a second")
        self.assertLess(ready_again, 2 + 5, "the watchdog plus the longest backoff")
        got = {r.json()["data"]["n"] for r in self.recv.deliveries(prefix)}
        self.assertEqual(got, set(range(n)), "0 lost")
        self.assertRegex(w.log(), r"localhost:%d answered nothing for \d+ ms" % srv.port)

    def test_delivery_through_a_tls_sentinel(self):
        """rediss-sentinel://: the sentinel is asked over TLS, and it names
        the master by IP address, which the master's certificate must hold
        (hookd checks each located node against its own name)."""
        srv = self.server(self.good)
        cert, key = self.good
        port = free_port()
        d = tempfile.mkdtemp(prefix="hookd-it-tlssentinel-")
        self.addCleanup(shutil.rmtree, d, True)
        conf = os.path.join(d, "sentinel.conf")
        with open(conf, "w") as f:
            f.write("port 0\ntls-port %d\nbind 127.0.0.1\ndir %s\n"
                    "tls-cert-file %s\ntls-key-file %s\ntls-ca-cert-file %s\n"
                    "tls-auth-clients no\ntls-replication yes\n"
                    "sentinel monitor tlsm 127.0.0.1 %d 1\n" % (port, d, cert, key, self.pki.ca,
                                                                srv.port))
        log = open(os.path.join(d, "sentinel.log"), "ab")
        self.addCleanup(log.close)
        proc = spawn(["redis-server", conf, "--sentinel"], stdout=log, stderr=subprocess.STDOUT,
                     stdin=subprocess.DEVNULL)
        self.addCleanup(proc.wait, 10)
        self.addCleanup(proc.kill)
        h = self.hookd(srv)
        h.redis_url = "rediss-sentinel://localhost:%d/tlsm" % port
        rc, out, err = None, "", ""
        for _ in range(50):  # until the sentinel answers over TLS
            rc, out, err = h.cli("stats")
            if rc == 0:
                break
            time.sleep(0.2)
        self.assertEqual(rc, 0, err)
        w = self.deliver_one(h, "tlssentinel")
        self.assertIn("rediss-sentinel://localhost:%d/tlsm/0" % port, w.log())
        rc, out, err = h.cli("stats", env={"HOOKD_REDIS_URL": "rediss-sentinel://localhost:%d/nope"
                                           % port})
        self.assertEqual(rc, 1)
        self.assertIn('no sentinel named master "nope"', err)


if __name__ == "__main__":
    unittest.main()
