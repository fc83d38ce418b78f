"""A stand-in for hookd's /v1 API, to develop and test the console before
the real API is there. Not used by CI against real hookd.

It serves console/ from disk at / and /console/NAME (as src/console.c does
from the binary), and the /v1 routes the console calls, in the shapes the API
contract gives, over in-memory state. Replaying a dead letter really POSTs
its body to the webhook's URL (loopback only) with the delivery id as
webhook-id, so that a test can check a receiver got it.

    python3 tests/browser/fake_api.py [--port 8099] [--token dev-token]

serves demo state until Ctrl-C; tests import FakeApi and give it their own.
"""

import argparse
import json
import os
import re
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

CONSOLE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                       "console")
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}


def webhook(id, url, **kw):
    """A webhook record as the API shows it."""
    w = {"id": id, "url": url, "events": ["*.*"], "workspace": "", "description": "",
         "enabled": True, "signing": "twenty", "timeout_ms": 0, "connect_timeout_ms": 0,
         "disabled_reason": "", "created_at": "2026-12-01T00:00:00Z",
         "updated_at": "2026-12-01T00:00:00Z", "valid": True, "invalid_reason": "",
         "secret": "<hidden>"}
    w.update(kw)
    return w


class FakeApi:
    """The state (dicts and lists as the API returns them) and a server over it."""

    def __init__(self, token, webhooks=(), hosts=(), retries=(), dead=(), attempts=None,
                 depths=None, counters=None):
        self.token = token
        self.lock = threading.Lock()
        self.webhooks = {w["id"]: dict(w) for w in webhooks}
        self.hosts = list(hosts)
        self.retries = list(retries)
        self.dead = list(dead)
        self.attempts = dict(attempts or {})
        self.depths = dict(depths or {})
        self.counters = dict(counters or {"events": 0, "delivered": 0, "failed_attempts": 0,
                                          "retried": 0, "dead": 0})
        self.srv = None

    def start(self):
        owner = self

        class H(_Handler):
            api = owner

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        return self

    @property
    def port(self):
        return self.srv.server_address[1]

    def stop(self):
        if self.srv:
            self.srv.shutdown()
            self.srv.server_close()

    # ---- the routes: (method, regex, fn(self, match, query, body) -> (status, obj))

    def stats(self, m, q, b):
        d = {"events": 0, "retry": len(self.retries), "dead": len(self.dead), "inflight": 0,
             "webhooks": len(self.webhooks)}
        d.update(self.depths)
        self.counters["delivered"] += 1  # so that a rate shows
        return 200, dict(d, counters=dict(self.counters), parked=0, hosts=self.hosts,
                         oldest_event_age_seconds=None)

    def list_hosts(self, m, q, b):
        return 200, {"data": self.hosts}

    def list_webhooks(self, m, q, b):
        return 200, {"data": sorted(self.webhooks.values(), key=lambda w: w["id"]),
                     "next_cursor": None}

    def _hook(self, m):
        w = self.webhooks.get(unquote(m.group(1)))
        if not w:
            raise Problem(404, "no webhook '%s'" % unquote(m.group(1)))
        return w

    def get_webhook(self, m, q, b):
        return 200, self._hook(m)

    def patch_webhook(self, m, q, b):
        w = self._hook(m)
        for k, v in (b or {}).items():
            if k not in w or k in ("id", "secret", "created_at"):
                raise Problem(400, "cannot change '%s'" % k)
            w[k] = v
        return 200, w

    def enable(self, m, q, b):
        w = self._hook(m)
        w.update(enabled=True, disabled_reason="")
        return 200, w

    def disable(self, m, q, b):
        w = self._hook(m)
        w.update(enabled=False, disabled_reason="disabled by hand")
        return 200, w

    def rotate(self, m, q, b):
        w = dict(self._hook(m))
        w["secret"] = os.urandom(32).hex()
        return 200, w

    def test(self, m, q, b):
        w = self._hook(m)
        t0 = time.monotonic()
        status, err = post(w["url"], b'{"event":"webhook.test","data":{}}', "test")
        return 200, {"delivered": status is not None and 200 <= status < 300, "status": status,
                     "duration_ms": int((time.monotonic() - t0) * 1000), "error": err}

    def list_attempts(self, m, q, b):
        self._hook(m)
        return 200, {"data": self.attempts.get(unquote(m.group(1)), []), "next_cursor": None}

    def list_retries(self, m, q, b):
        return 200, {"data": self.retries, "next_cursor": None}

    def retry_now(self, m, q, b):
        for r in self.retries:
            if r["id"] == unquote(m.group(1)):
                r["due_at"] = int(time.time() * 1000)
                return 200, {"id": r["id"]}
        raise Problem(404, "no retry '%s'" % unquote(m.group(1)))

    def delete_retry(self, m, q, b):
        n = len(self.retries)
        self.retries = [r for r in self.retries if r["id"] != unquote(m.group(1))]
        if len(self.retries) == n:
            raise Problem(404, "no retry '%s'" % unquote(m.group(1)))
        return 204, None

    def _matching(self, f):
        def ok(d):
            return ((not f.get("id") or d["id"] == f["id"]) and
                    (not f.get("webhook") or d.get("webhook") == f["webhook"]) and
                    (not f.get("reason") or d.get("reason") == f["reason"]))
        return [d for d in self.dead if ok(d)]

    def list_dead(self, m, q, b):
        f = {k: v[0] for k, v in q.items()}
        return 200, {"data": self._matching(f), "next_cursor": None}

    def replay(self, m, q, b):
        replayed = skipped = 0
        for d in self._matching(b or {}):
            w = self.webhooks.get(d.get("webhook"))
            if not w:
                skipped += 1
                continue
            post(w["url"], d.get("body", "{}").encode(), d.get("delivery", ""))
            self.dead.remove(d)
            replayed += 1
        return 200, {"replayed": replayed, "skipped": skipped}

    def purge(self, m, q, b):
        gone = self._matching(b or {})
        self.dead = [d for d in self.dead if d not in gone]
        return 200, {"purged": len(gone)}

    ROUTES = [
        ("GET", r"/v1/stats", stats),
        ("GET", r"/v1/hosts", list_hosts),
        ("GET", r"/v1/webhooks", list_webhooks),
        ("GET", r"/v1/webhooks/([^/]+)", get_webhook),
        ("PATCH", r"/v1/webhooks/([^/]+)", patch_webhook),
        ("POST", r"/v1/webhooks/([^/]+)/enable", enable),
        ("POST", r"/v1/webhooks/([^/]+)/disable", disable),
        ("POST", r"/v1/webhooks/([^/]+)/rotate-secret", rotate),
        ("POST", r"/v1/webhooks/([^/]+)/test", test),
        ("GET", r"/v1/webhooks/([^/]+)/attempts", list_attempts),
        ("GET", r"/v1/retries", list_retries),
        ("POST", r"/v1/retries/([^/]+)/retry", retry_now),
        ("DELETE", r"/v1/retries/([^/]+)", delete_retry),
        ("GET", r"/v1/dead", list_dead),
        ("POST", r"/v1/dead/replay", replay),
        ("POST", r"/v1/dead/purge", purge),
    ]


class Problem(Exception):
    def __init__(self, status, detail):
        super().__init__(detail)
        self.status = status
        self.detail = detail


def post(url, body, delivery):
    """POSTs body to a loopback url; returns (status or None, error or None)."""
    if urlsplit(url).hostname not in ("127.0.0.1", "localhost", "::1"):
        return None, "fake_api posts to loopback only"
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "application/json",
                                          "webhook-id": delivery})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, None
    except urllib.error.HTTPError as e:
        return e.code, "HTTP %d" % e.code
    except OSError as e:
        return None, str(e)


class _Handler(BaseHTTPRequestHandler):
    api = None  # set by FakeApi.start

    def log_message(self, fmt, *args):
        pass

    def _send(self, status, body=b"", ctype="application/json"):
        self.send_response(status)
        if body:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        self.wfile.write(body)

    def _problem(self, status, detail):
        titles = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed"}
        doc = {"type": "about:blank", "title": titles.get(status, "Error"), "status": status,
               "detail": detail}
        self._send(status, json.dumps(doc).encode(), "application/problem+json")

    def _handle(self):
        u = urlsplit(self.path)
        path = unquote(u.path)
        if self.command == "GET" and (path == "/" or path.startswith("/console/")):
            name = "index.html" if path == "/" else path[len("/console/"):]
            f = os.path.join(CONSOLE, name)
            if "/" in name or not os.path.isfile(f):
                return self._problem(404, "no console file '%s'" % path)
            with open(f, "rb") as fh:
                return self._send(200, fh.read(), TYPES.get(os.path.splitext(name)[1],
                                                             "application/octet-stream"))
        if self.headers.get("Authorization", "") != "Bearer " + self.api.token:
            return self._problem(401, "a valid bearer token is needed")
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return self._problem(400, "body is not JSON")
        for method, pattern, fn in FakeApi.ROUTES:
            m = re.fullmatch(pattern, u.path)
            if m and method == self.command:
                try:
                    with self.api.lock:
                        status, obj = fn(self.api, m, parse_qs(u.query), body)
                except Problem as p:
                    return self._problem(p.status, p.detail)
                return self._send(status, b"" if obj is None else json.dumps(obj).encode())
        return self._problem(404, "no route %s %s" % (self.command, u.path))

    do_GET = do_POST = do_PATCH = do_DELETE = _handle


def demo(token, port):
    now = int(time.time() * 1000)
    hooks = [webhook("wh_demo1", "http://127.0.0.1:9/hooks", description="demo"),
             webhook("wh_demo2", "http://127.0.0.1:9/other", enabled=False,
                     disabled_reason="410 Gone")]
    api = FakeApi(token, webhooks=hooks,
                  hosts=[{"host": "http://127.0.0.1:9", "state": "open", "limit": 4, "in_flight": 0,
                          "latency_ms": 12.5, "success_rate": 0.5, "paused_until": 0}],
                  retries=[{"id": "r1", "due_at": now + 60000, "attempt": 2, "webhook": "wh_demo1",
                            "delivery": "dlv_1", "event_id": "evt_1", "event": "person.created",
                            "last_error": "HTTP 500"}],
                  dead=[{"id": "d1", "kind": "delivery", "reason": "HTTP 400", "at": now,
                         "webhook": "wh_demo1", "delivery": "dlv_2", "event_id": "evt_2",
                         "event": "person.updated", "attempts": 10, "body": "{}"}])
    api.srv = ThreadingHTTPServer(("127.0.0.1", port), type("H", (_Handler,), {"api": api}))
    print("fake hookd API on http://127.0.0.1:%d/ (token %s)" % (api.port, token))
    api.srv.serve_forever()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8099)
    ap.add_argument("--token", default="dev-token")
    a = ap.parse_args()
    demo(a.token, a.port)
