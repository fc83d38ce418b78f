"""Shared machinery for hookd's integration tests.

Everything here runs on loopback only: a real redis-server on a spare port, a
real HTTP/1.1 receiver (keep-alive) on another, and the hookd binary named by
HOOKD_BIN. Every child process is killed when the test process ends, even when
it is killed itself (PR_SET_PDEATHSIG), and at interpreter exit (atexit).

Python 3 stdlib plus Debian's python3-redis; run with /usr/bin/python3.
"""

import atexit
import base64
import ctypes
import glob
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlsplit

try:
    import redis
except ImportError:  # pragma: no cover - environment problem, say it plainly
    sys.stderr.write("harness: python3-redis is missing (apt-get install -y python3-redis)\n")
    raise

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# --------------------------------------------------------------------------
# Child processes: killed with us, and at exit.

_children = set()
_children_lock = threading.Lock()

try:
    _libc = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:  # pragma: no cover
    _libc = None


def _die_with_parent():
    """preexec_fn: the child gets SIGKILL when this (main) thread exits."""
    if _libc is not None:
        _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def spawn(argv, **kw):
    """Popen that is tracked and dies with us."""
    kw.setdefault("preexec_fn", _die_with_parent)
    p = subprocess.Popen(argv, **kw)
    with _children_lock:
        _children.add(p)
    return p


def _reap(p):
    with _children_lock:
        _children.discard(p)


@atexit.register
def _kill_leftovers():
    with _children_lock:
        left = list(_children)
    for p in left:
        if p.poll() is None:
            try:
                p.kill()
                p.wait(5)
            except Exception:
                pass


# --------------------------------------------------------------------------
# Small helpers.

def terminate(proc, timeout=10):
    """SIGTERM, then SIGKILL after timeout seconds; reaps the process."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    _reap(proc)


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now (never 6379)."""
    while True:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        finally:
            s.close()
        if port != 6379:
            return port


def wait_for(predicate, timeout, interval=0.05):
    """Polls predicate until it returns something truthy or timeout seconds
    pass. Returns the last value (falsy on timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def uid(n=10):
    return uuid.uuid4().hex[:n]


def now_ms():
    return int(time.time() * 1000)


def proc_mem_kb(pid):
    """(VmRSS, VmHWM) of a process in KiB from /proc/<pid>/status; (None,
    None) when it is gone."""
    rss = hwm = None
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except (OSError, ValueError):
        return None, None
    return rss, hwm


def self_signed_cert(dirpath, host="127.0.0.1"):
    """Makes a self-signed certificate for host (an IP address) with `openssl
    req`; returns (cert path, key path)."""
    cert = os.path.join(dirpath, "cert.pem")
    key = os.path.join(dirpath, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=" + host,
                    "-addext", "subjectAltName=IP:" + host],
                   check=True, capture_output=True, timeout=60)
    return cert, key


# --------------------------------------------------------------------------
# Signature oracles (not hookd's code).

def twenty_sig(secret, ts, body):
    """hex HMAC-SHA256(secret, ts ":" body)."""
    return hmac.new(secret.encode(), ts.encode() + b":" + body, hashlib.sha256).hexdigest()


def openssl_sig(secret, ts, body):
    """The same signature, computed by `openssl dgst -sha256 -hmac`."""
    out = subprocess.run(["openssl", "dgst", "-sha256", "-hmac", secret],
                         input=ts.encode() + b":" + body, capture_output=True,
                         timeout=20, check=True).stdout.decode()
    # "SHA2-256(stdin)= <hex>" (OpenSSL 3) or "(stdin)= <hex>" (1.1)
    return out.strip().rsplit("= ", 1)[1].strip()


def standard_sig(secret, msg_id, ts, body):
    """Standard Webhooks: "v1," base64(HMAC-SHA256(key, id "." ts "." body)), the
    key being the base64 after "whsec_" decoded, as the specification's
    libraries take it (or the secret's bytes for any other secret)."""
    key = base64.b64decode(secret[6:]) if secret.startswith("whsec_") else secret.encode()
    mac = hmac.new(key, msg_id.encode() + b"." + ts.encode() + b"." + body,
                   hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def delivery_id(event_id, webhook_id):
    """include/hookd/registry.h: "msg_" + 32 hex of sha256(event_id "\\n" webhook_id)."""
    return "msg_" + hashlib.sha256((event_id + "\n" + webhook_id).encode()).hexdigest()[:32]


# --------------------------------------------------------------------------
# redis-server.


# Worker settings for tests of retries: small backoff, 3 attempts, 1 s attempts.
FAST = {
    "HOOKD_RETRY_BASE": "200ms",
    "HOOKD_RETRY_MAX_DELAY": "1s",
    "HOOKD_MAX_ATTEMPTS": "3",
    "HOOKD_TIMEOUT": "1s",
    "HOOKD_CONNECT_TIMEOUT": "500ms",
    "HOOKD_LEASE": "5s",
    "HOOKD_DRAIN_TIMEOUT": "2s",
}

class RedisServer:
    """A private redis-server on a spare loopback port, in its own directory."""

    def __init__(self, appendonly=False, password=None, users=(), client_user=None,
                 client_password=None, unixsocket=False):
        """password: requirepass; users: ACL rules, each a list of words
        (["alice", "on", ">pw", "~*", "&*", "+@all"]); client_user and
        client_password: how self.client logs in (default: the requirepass
        password as the default user); unixsocket: also listen on
        <dir>/redis.sock (see unix_path)."""
        self.appendonly = appendonly
        self.password = password
        self.users = [list(u) for u in users]
        self.client_user = client_user
        self.client_password = client_password if client_password is not None else password
        self.unixsocket = unixsocket
        self.port = None
        self.dir = None
        self.proc = None
        self.client = None
        self._log = None

    def start(self, timeout=10):
        if self.dir is None:
            self.dir = tempfile.mkdtemp(prefix="hookd-it-redis-")
        if self.port is None:
            self.port = free_port()
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "yes" if self.appendonly else "no",
                "--dir", self.dir, "--daemonize", "no"]
        if self.appendonly:
            argv += ["--appendfsync", "always"]
        if self.password is not None:
            argv += ["--requirepass", self.password]
        for rules in self.users:
            argv += ["--user"] + rules
        if self.unixsocket:
            argv += ["--unixsocket", self.unix_path, "--unixsocketperm", "777"]
        self._log = open(os.path.join(self.dir, "redis.log"), "ab")
        self.proc = spawn(argv, stdout=self._log, stderr=subprocess.STDOUT,
                          stdin=subprocess.DEVNULL)
        self.client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=10,
                                  username=self.client_user, password=self.client_password)

        def up():
            if self.proc.poll() is not None:
                raise RuntimeError("redis-server exited: " + self.log_text())
            try:
                return self.client.ping()
            except redis.exceptions.ConnectionError:
                return False
        if not wait_for(up, timeout):
            self.stop()
            raise RuntimeError("redis-server did not answer PING")
        return self

    def stop(self):
        if self.proc is not None:
            terminate(self.proc)
            self.proc = None
        if self.client is not None:
            self.client.close()
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self):
        """Stops and starts again on the same port and directory (AOF kept)."""
        self.stop()
        return self.start()

    def shutdown(self, timeout=10):
        """Stops the server with the SHUTDOWN command (the AOF is flushed),
        waits for the process to end; start() brings it back on the same port
        and directory."""
        if self.proc is None:
            return
        try:
            self.client.shutdown()
        except redis.exceptions.ConnectionError:
            pass  # the server closed the connection: shutting down
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.stop()

    @property
    def unix_path(self):
        return os.path.join(self.dir, "redis.sock")

    def url_with(self, user=None, password=None, db=0):
        """redis://[user][:password@]127.0.0.1:port/db (user and password
        percent-encoded)."""
        auth = ""
        if user is not None or password is not None:
            auth = quote(user or "", safe="")
            if password is not None:
                auth += ":" + quote(password, safe="")
            auth += "@"
        return "redis://%s127.0.0.1:%d/%d" % (auth, self.port, db)

    def cleanup(self):
        self.stop()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def log_text(self):
        try:
            with open(os.path.join(self.dir, "redis.log"), "rb") as f:
                return f.read().decode(errors="replace")[-4000:]
        except OSError:
            return ""

    @property
    def url(self):
        return "redis://127.0.0.1:%d/0" % self.port

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()


# --------------------------------------------------------------------------
# HTTP receiver.

class Request:
    """One request as the receiver saw it."""

    __slots__ = ("method", "path", "route", "query", "headers", "body", "t", "peer", "status")

    def __init__(self, method, path, headers, body, t, peer=None):
        self.peer = peer  # (address, port) of the client's connection
        self.method = method
        self.path = path
        parts = urlsplit(path)
        self.route = parts.path
        self.query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.headers = headers
        self.body = body
        self.t = t

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<%s %s %dB id=%s>" % (self.method, self.path, len(self.body),
                                       self.headers.get("webhook-id"))


HUGE_BYTES = 50 * 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hookd-it-receiver"
    sys_version = ""

    def log_message(self, fmt, *args):
        pass

    def _read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(3)
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _reply(self, status, body=b"ok", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _handle(self):
        body = self._read_body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        req = Request(self.command, self.path, headers, body, time.time(), self.client_address)
        srv = self.server
        srv.owner._record(req)
        srv.owner._enter(req.route)
        try:
            self._route(req, headers)
        finally:
            srv.owner._leave(req.route)

    def _route(self, req, headers):
        srv = self.server
        route = req.route.split("/")[1] if req.route.count("/") >= 1 else ""
        q = req.query
        try:
            if route == "ok":
                self._reply(200)
            elif route == "fail":
                self._reply(500, b"boom")
            elif route == "gone":
                self._reply(410, b"gone")
            elif route == "slow":
                srv.owner.stop_event.wait(int(q.get("ms", "1000")) / 1000.0)
                self._reply(200)
            elif route == "hang":
                srv.owner.stop_event.wait(60)
                self.close_connection = True
            elif route in ("429", "503"):
                self._reply(int(route), b"later", [("Retry-After", q.get("after", "1"))])
            elif route == "redirect":
                rest = req.route[len("/redirect"):]
                self._reply(302, b"", [("Location", "/ok/redirected" + rest)])
            elif route == "flaky":
                n = int(q.get("n", "1"))
                key = (req.route, headers.get("webhook-id"))
                with srv.owner.lock:
                    seen = srv.owner.flaky_counts.get(key, 0)
                    srv.owner.flaky_counts[key] = seen + 1
                if seen < n:
                    self._reply(500, b"flaky")
                else:
                    self._reply(200)
            elif route == "huge":
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(HUGE_BYTES))
                self.end_headers()
                block = b"x" * 65536
                sent = 0
                stream = self._stream_begin(req, HUGE_BYTES)
                while sent < HUGE_BYTES:
                    self.wfile.write(block)
                    sent += len(block)
                    stream["sent"] = sent
                stream["complete"] = True
            elif route == "switch":
                with srv.owner.lock:
                    req.status = srv.owner.switches.get(req.route, 500)
                self._reply(req.status, b"switched")
            elif route == "drip":
                self._drip(req, int(q.get("ms", "100")))
            elif route == "bigheaders":
                self._big_headers(req, int(q.get("kb", "200")))
            else:
                self._reply(404, b"no such route")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True
        finally:
            stream = getattr(self, "_stream", None)
            if stream is not None:
                stream["t_end"] = time.time()
                self._stream = None

    def _stream_begin(self, req, total):
        self._stream = self.server.owner._stream_start(req, total)
        return self._stream

    def _drip(self, req, ms):
        """The whole response, status line first, one byte every ms."""
        raw = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
               b"\r\nok")
        stream = self._stream_begin(req, len(raw))
        self.close_connection = True
        for i in range(len(raw)):
            if self.server.owner.stop_event.wait(ms / 1000.0):
                return
            self.wfile.write(raw[i:i + 1])
            self.wfile.flush()
            stream["sent"] = i + 1
        stream["complete"] = True

    def _big_headers(self, req, kb):
        """A 200 whose header block is about kb KiB (1000-byte headers)."""
        head = [b"HTTP/1.1 200 OK\r\n", b"Content-Type: text/plain\r\n"]
        for i in range(max(1, kb * 1024 // 1000)):
            head.append(b"X-Pad-%d: %s\r\n" % (i, b"p" * 988))
        head.append(b"Content-Length: 2\r\n\r\nok")
        raw = b"".join(head)
        stream = self._stream_begin(req, len(raw))
        self.close_connection = True
        for off in range(0, len(raw), 4096):
            self.wfile.write(raw[off:off + 4096])
            stream["sent"] = min(len(raw), off + 4096)
        self.wfile.flush()
        stream["complete"] = True

    do_POST = _handle
    do_GET = _handle
    do_PUT = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 256

    def handle_error(self, request, client_address):
        pass  # clients that hang up mid-request are part of the tests


class Receiver:
    """A keep-alive HTTP/1.1 server on 127.0.0.1 that records every request.

    Behaviour by the first path segment: /ok 200, /fail 500, /gone 410,
    /slow?ms=N, /hang (never answers), /429?after=S, /503?after=S,
    /redirect (302 to /ok/redirected/...), /flaky?n=K (500 for the first K
    requests of each webhook-id), /huge (200 with 50 MB), /drip?ms=N (the
    whole response, status line included, one byte every N ms),
    /bigheaders?kb=N (a 200 with about N KiB of headers), /switch (the
    status set_switch() gave its route, 500 until then). What /huge, /drip
    and /bigheaders managed to send is in stream_results()."""

    def __init__(self, tls=False):
        """tls: serve https with a self-signed certificate for 127.0.0.1 made
        by `openssl req` now (see self_signed_cert), which hookd must refuse."""
        self.tls = tls
        self.certdir = None
        self.streams = []     # what the streaming routes sent (see _stream_start)
        self.lock = threading.Lock()
        self.requests = []
        self.flaky_counts = {}
        self.switches = {}    # route -> status /switch answers
        self.active = {}      # route -> requests being answered now
        self.max_active = {}  # route -> the most at once
        self.stop_event = threading.Event()
        self.server = None
        self.thread = None
        self.port = None

    def start(self):
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.owner = self
        if self.tls:
            self.certdir = tempfile.mkdtemp(prefix="hookd-it-tls-")
            cert, key = self_signed_cert(self.certdir)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True,
                                                 do_handshake_on_connect=False)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.stop_event.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        if self.certdir is not None:
            shutil.rmtree(self.certdir, ignore_errors=True)
            self.certdir = None

    def _stream_start(self, req, total):
        """Records one streamed response: {"path", "total", "sent",
        "complete", "t0", "t_end"}; the handler updates sent and complete."""
        st = {"path": req.path, "total": total, "sent": 0, "complete": False,
              "t0": time.time(), "t_end": None}
        with self.lock:
            self.streams.append(st)
        return st

    def stream_results(self, prefix):
        """The streamed responses on paths starting with prefix (copies)."""
        with self.lock:
            return [dict(st) for st in self.streams if st["path"].startswith(prefix)]

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _record(self, req):
        with self.lock:
            self.requests.append(req)

    def _enter(self, route):
        with self.lock:
            n = self.active.get(route, 0) + 1
            self.active[route] = n
            self.max_active[route] = max(n, self.max_active.get(route, 0))

    def _leave(self, route):
        with self.lock:
            self.active[route] -= 1

    def set_switch(self, route, status):
        """Makes /switch answer status on route (a path without query)."""
        with self.lock:
            self.switches[route] = status

    def ok_ids(self, prefix):
        """The webhook-ids /switch answered 200 on prefix."""
        return {r.headers.get("webhook-id") for r in self.deliveries(prefix)
                if getattr(r, "status", None) == 200}

    def max_inflight(self, route_prefix):
        """The most requests answered at once on any one route starting with
        route_prefix (path without query)."""
        with self.lock:
            return max([n for r, n in self.max_active.items() if r.startswith(route_prefix)],
                       default=0)

    def url(self, path):
        return "%s://127.0.0.1:%d%s" % ("https" if self.tls else "http", self.port, path)

    def deliveries(self, prefix):
        """Requests whose path (query included) starts with prefix, in arrival order."""
        with self.lock:
            return [r for r in self.requests if r.path.startswith(prefix)]

    def count(self, prefix):
        return len(self.deliveries(prefix))

    def distinct_ids(self, prefix):
        return {r.headers.get("webhook-id") for r in self.deliveries(prefix)}

    def wait_count(self, prefix, n, timeout):
        """Waits until at least n requests on prefix; returns them."""
        wait_for(lambda: self.count(prefix) >= n, timeout)
        return self.deliveries(prefix)


class ConnCounter:
    """A TCP listener on a loopback address that counts the connections it
    accepts (and answers each with an empty 200): proof that nothing
    connected, below HTTP."""

    def __init__(self, host="127.0.0.1", port=0):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(64)
        self.sock.settimeout(0.1)
        self.host = host
        self.port = self.sock.getsockname()[1]
        self.peers = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                c, peer = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.peers.append(peer)
            try:
                c.settimeout(1.0)
                try:
                    c.recv(65536)
                except OSError:
                    pass
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            except OSError:
                pass
            finally:
                c.close()

    @property
    def count(self):
        return len(self.peers)

    def close(self):
        self._stop.set()
        self.thread.join(2)
        self.sock.close()


def ipv6_loopback_works():
    """True when a TCP connection to [::1] can be made here."""
    try:
        srv = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    except OSError:
        return False
    try:
        srv.bind(("::1", 0))
        srv.listen(1)
        c = socket.create_connection(("::1", srv.getsockname()[1]), timeout=2)
        c.close()
        return True
    except OSError:
        return False
    finally:
        srv.close()


def hosts_alias_for_loopback():
    """A name other than localhost that /etc/hosts maps to 127.x.x.x, or None."""
    try:
        with open("/etc/hosts") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        words = line.split("#", 1)[0].split()
        if len(words) >= 2 and words[0].startswith("127."):
            for name in words[1:]:
                if "localhost" not in name and re.match(r"^[A-Za-z0-9.-]+$", name):
                    return name
    return None


# --------------------------------------------------------------------------
# hookd itself.

def hookd_bin():
    b = os.environ.get("HOOKD_BIN")
    if b:
        return b
    found = sorted(glob.glob(os.path.join(REPO, "build*", "hookd")), key=os.path.getmtime)
    if not found:
        raise RuntimeError("no hookd binary: set HOOKD_BIN or build into %s/build-*" % REPO)
    return found[-1]


class Worker:
    """One `hookd run` process with its output in a temporary file."""

    def __init__(self, proc, logpath, env):
        self.proc = proc
        self.logpath = logpath
        self.env = env

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def log(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""


class Hookd:
    """Runs the hookd binary against one Redis under one unique prefix."""

    def __init__(self, redis_port, prefix=None):
        self.bin = hookd_bin()
        self.redis_port = redis_port
        self.redis_url = "redis://127.0.0.1:%d/0" % redis_port
        self.prefix = prefix or ("t" + uid())
        self.workers = []
        self.logdir = tempfile.mkdtemp(prefix="hookd-it-log-")

    def key(self, suffix):
        return "{%s}:%s" % (self.prefix, suffix)

    def env(self, extra=None):
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKD_")}
        env["HOOKD_REDIS_URL"] = self.redis_url
        env["HOOKD_PREFIX"] = self.prefix
        for k, v in (extra or {}).items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        return env

    def cli(self, *args, env=None, input=None, timeout=30):
        """Runs `hookd ARGS`; returns (rc, stdout, stderr) as text. rc is None
        when it had to be killed after timeout seconds."""
        if isinstance(input, str):
            input = input.encode()
        p = spawn([self.bin] + [str(a) for a in args], env=self.env(env),
                  stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            out, err = p.communicate(input, timeout=timeout)
            rc = p.returncode
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            rc = None
        finally:
            _reap(p)
        return rc, out.decode(errors="replace"), err.decode(errors="replace")

    def cli_json(self, *args, **kw):
        """Runs a command that must succeed and print one JSON object."""
        rc, out, err = self.cli(*args, **kw)
        if rc != 0:
            raise AssertionError("hookd %s: rc=%r stderr=%s" % (" ".join(map(str, args)), rc, err))
        return json.loads(out)

    def cli_lines(self, *args, **kw):
        """Runs a command that must succeed and print JSON lines."""
        rc, out, err = self.cli(*args, **kw)
        if rc != 0:
            raise AssertionError("hookd %s: rc=%r stderr=%s" % (" ".join(map(str, args)), rc, err))
        return [json.loads(l) for l in out.splitlines() if l.strip()]

    def add_webhook(self, url, *args):
        return self.cli_json("webhook", "add", "--url", url, *args)

    def start_worker(self, env=None, args=(), wrapper=()):
        """Starts `hookd run ARGS` with the harness defaults under env;
        wrapper is a command put in front, like ["unshare", "-n"]."""
        defaults = {
            "HOOKD_THREADS": "2",
            "HOOKD_ALLOW_NET": "127.0.0.0/8",
            "HOOKD_DRAIN_TIMEOUT": "5s",
        }
        defaults.update(env or {})
        full = self.env(defaults)
        logpath = os.path.join(self.logdir, "worker-%d.log" % len(self.workers))
        logf = open(logpath, "wb")
        try:
            proc = spawn(list(wrapper) + [self.bin, "run"] + [str(a) for a in args], env=full,
                         stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT)
        finally:
            logf.close()
        w = Worker(proc, logpath, full)
        self.workers.append(w)
        return w

    def stop_worker(self, w, timeout=15, sig=signal.SIGTERM):
        """Signals the worker (unless sig is None) and waits; returns (rc,
        seconds). rc is None when it had to be killed after timeout seconds."""
        t0 = time.monotonic()
        if sig is not None and w.proc.poll() is None:
            w.proc.send_signal(sig)
        try:
            rc = w.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            w.proc.kill()
            w.proc.wait(5)
            rc = None
        _reap(w.proc)
        return rc, time.monotonic() - t0

    def kill_worker(self, w):
        if w.proc.poll() is None:
            w.proc.kill()
            w.proc.wait(5)
        _reap(w.proc)

    def close(self):
        for w in self.workers:
            if w.proc.poll() is None:
                self.stop_worker(w, timeout=10)
        shutil.rmtree(self.logdir, ignore_errors=True)

    def logs(self):
        parts = []
        for i, w in enumerate(self.workers):
            parts.append("---- worker %d (pid %d, rc %r) ----\n%s" %
                         (i, w.pid, w.proc.poll(), w.log()[-20000:]))
        return "\n".join(parts)


# --------------------------------------------------------------------------
# The test case base.

def api_request(port, method, path, body=None, token=None, timeout=20):
    """(status, raw body, headers with lower-case names) of one request to
    hookd's API on 127.0.0.1:port; body is bytes as is, or JSON. (None, b"",
    {}) when the connection fails."""
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Authorization": "Bearer " + token} if token is not None else {}
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        c.request(method.upper(), path, body=data, headers=headers)
        r = c.getresponse()
        raw = r.read()
        return r.status, raw, {k.lower(): v for k, v in r.getheaders()}
    except OSError:
        return None, b"", {}
    finally:
        c.close()


class HookdCase(unittest.TestCase):
    """One redis-server and one receiver per class; one prefix per test."""

    appendonly = False

    @classmethod
    def setUpClass(cls):
        cls.redis_server = RedisServer(appendonly=cls.appendonly).start()
        try:
            cls.recv = Receiver().start()
        except Exception:
            cls.redis_server.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.recv.stop()
        cls.redis_server.cleanup()

    def setUp(self):
        self.h = Hookd(self.redis_server.port)
        self.r = self.redis_server.client
        self.token = uid(12)

    def tearDown(self):
        failed = self._failed()
        # stop workers first so that their logs are complete
        for w in self.h.workers:
            if w.proc.poll() is None:
                self.h.stop_worker(w, timeout=10)
        if failed and self.h.workers:
            sys.stderr.write("\n==== hookd output for %s ====\n%s\n" % (self.id(), self.h.logs()))
        self.h.close()

    def _failed(self):
        """True when this test has failed or errored so far (Python 3.8+:
        failures reach the result as soon as they happen)."""
        outcome = getattr(self, "_outcome", None)
        result = getattr(outcome, "result", None)
        if result is None:
            return False
        return any(t is self or getattr(t, "test_case", None) is self
                   for t, _ in list(result.failures) + list(result.errors))

    # -- helpers used by many tests

    def start_api(self, token, env=None, args=()):
        """Starts a worker serving the API on a spare loopback port with
        token as HOOKD_API_TOKEN, and waits until GET /v1/stats answers 200.
        Returns (worker, port)."""
        port = free_port()
        w = self.h.start_worker(env=dict(env or {}, HOOKD_API_TOKEN=token),
                                args=["--api-addr", "127.0.0.1:%d" % port] + list(args))
        ok = wait_for(lambda: api_request(port, "GET", "/v1/stats", token=token)[0] == 200, 10)
        if not ok:
            self.fail("the API did not answer: " + w.log())
        return w, port

    def k(self, suffix):
        return self.h.key(suffix)

    def path(self, route, name="", query=""):
        """A unique receiver path: /ROUTE/<test token>-NAME[?query]."""
        p = "/%s/%s-%s" % (route, self.token, name)
        return p + ("?" + query if query else "")

    def url(self, route, name="", query=""):
        return self.recv.url(self.path(route, name, query))

    def dead(self):
        return [json.loads(x) for x in self.r.lrange(self.k("dead"), 0, -1)]

    def wait_dead(self, n, timeout):
        wait_for(lambda: self.r.llen(self.k("dead")) >= n, timeout)
        return self.dead()

    def log_entries(self, webhook_id):
        """The attempt log stream as a list of {field: value} (text)."""
        out = []
        for _id, fields in self.r.xrange(self.k("log:" + webhook_id)):
            out.append({k.decode(): v.decode(errors="replace") for k, v in fields.items()})
        return out

    def enqueue(self, event, data=None, *args):
        argv = ["enqueue", event]
        if data is not None:
            argv.append(json.dumps(data, separators=(",", ":")))
        rc, out, err = self.h.cli(*(argv + list(args)))
        self.assertEqual(rc, 0, "enqueue failed: %s" % err)
        return out

    def push_raw(self, raw):
        """LPUSH raw bytes onto {P}:events as a producer would."""
        self.r.lpush(self.k("events"), raw)

    def parked(self):
        """Deliveries parked for their host ({P}:parked:<host>, indexed by {P}:parked)."""
        return sum(self.r.zcard(self.k("parked:") + (h.decode() if isinstance(h, bytes) else h))
                   for h in self.r.smembers(self.k("parked")))

    def queues_empty(self):
        return (self.r.llen(self.k("events")) == 0 and self.r.zcard(self.k("retry")) == 0
                and self.r.zcard(self.k("leases")) == 0 and self.parked() == 0)

    def assertAddRefused(self, urls):
        """`webhook add --url` exits 2 with one line for each URL, and stores nothing."""
        for bad in urls:
            with self.subTest(url=bad):
                rc, out, err = self.h.cli("webhook", "add", "--url", bad)
                self.assertEqual(rc, 2, "add --url %r: rc=%r out=%r err=%r" % (bad, rc, out, err))
                self.assertOneLineError(err)
                self.assertEqual(out, "")
        self.assertEqual(self.r.scard(self.k("webhooks")), 0, "a refused add stored something")

    def assertRefusedUrls(self, urls):
        """Each Redis URL makes `stats` and `run` exit 2 with one line."""
        for url in urls:
            for args in (["stats"], ["run"]):
                with self.subTest(url=url, args=args):
                    self.h.redis_url = url
                    rc, out, err = self.h.cli(*args, timeout=20)
                    self.assertEqual(rc, 2, "%s with %r: rc=%r err=%r" % (args[0], url, rc, err))
                    self.assertOneLineError(err)

    def assertOneLineError(self, err):
        lines = [l for l in err.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, "want one stderr line, got: %r" % err)
        self.assertTrue(lines[0].startswith("hookd: "), "stderr line: %r" % lines[0])
        return lines[0]


HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
MSG_ID = re.compile(r"^msg_[0-9a-f]{32}$")
RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
