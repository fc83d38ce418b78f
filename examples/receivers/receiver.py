#!/usr/bin/env python3
"""A sample webhook receiver that checks hookd's signature (standard library only).

    HOOKD_SECRET=... python3 receiver.py 8080

It verifies X-Twenty-Webhook-Signature over the raw body bytes, exactly as
received (never over a re-serialised JSON), with a constant-time compare, and
refuses timestamps older than five minutes.
"""
import hashlib
import hmac
import http.server
import json
import os
import sys
import time

SECRET = os.environ.get("HOOKD_SECRET", "").encode()
MAX_AGE_MS = 5 * 60 * 1000
MAX_BODY = 1 << 20


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        if n > MAX_BODY:
            return self.answer(413)
        body = self.rfile.read(n)
        ts = self.headers.get("X-Twenty-Webhook-Timestamp", "")
        sig = self.headers.get("X-Twenty-Webhook-Signature", "")
        want = hmac.new(SECRET, ts.encode() + b":" + body, hashlib.sha256).hexdigest()
        fresh = ts.isdigit() and abs(time.time() * 1000 - int(ts)) < MAX_AGE_MS
        if not (fresh and hmac.compare_digest(want, sig)):
            print("REJECTED delivery %s: bad signature or stale timestamp"
                  % self.headers.get("webhook-id"), flush=True)
            return self.answer(401)
        event = json.loads(body)
        print("VERIFIED delivery %s: %s %s" % (self.headers.get("webhook-id"), event["event"],
                                              json.dumps(event["data"])), flush=True)
        self.answer(200)

    def answer(self, code):
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
    http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
