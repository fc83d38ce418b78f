#!/usr/bin/env python3
"""A webhook receiver that verifies hookd's (and Twenty's) signature, with
Python's standard library only.

    HOOKD_SECRET=<the webhook's secret> python3 receiver.py [PORT]

Listens on 127.0.0.1:PORT (default 8080; RECEIVER_HOST changes the address).
For each POST it:
  1. reads the body as raw bytes, at most MAX_BODY (413 beyond);
  2. checks X-Twenty-Webhook-Timestamp (milliseconds) is at most 5 minutes old
     and at most 1 minute ahead of this clock (401 otherwise: a replay);
  3. computes hex HMAC-SHA256(secret, timestamp ":" raw body) and compares it
     with X-Twenty-Webhook-Signature in constant time (401 otherwise);
  4. only then parses the JSON, drops a delivery whose webhook-id it has
     already handled (retries and at-least-once re-sends keep the id), answers
     200 at once and prints one line:
         VERIFIED delivery <webhook-id>: <event> <data as JSON>
Real work belongs on a queue after the 200: hookd gives up on an attempt
after its timeout (10 s by default) and sends it again.
"""
import collections
import hashlib
import hmac
import http.server
import json
import os
import re
import sys
import threading
import time

MAX_BODY = 2 << 20          # hookd sends at most --max-envelope (1 MiB) + a timestamp
MAX_AGE_MS = 5 * 60 * 1000  # older timestamps are replays
MAX_SKEW_MS = 60 * 1000     # a sender's clock may run a little ahead
SEEN_MAX = 10000            # webhook-ids remembered for de-duplication

DIGITS = re.compile(r"^[0-9]{1,16}$")
HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


class Seen:
    """The last SEEN_MAX webhook-ids handled, for dropping duplicates."""

    def __init__(self):
        self.ids = collections.OrderedDict()
        self.lock = threading.Lock()

    def add(self, key):
        """True when key is new (and remembers it)."""
        with self.lock:
            if key in self.ids:
                return False
            self.ids[key] = True
            if len(self.ids) > SEEN_MAX:
                self.ids.popitem(last=False)
            return True


def verify(secret, timestamp, signature, body, now_ms):
    """None when the delivery is authentic and fresh, else why not."""
    if not DIGITS.match(timestamp):
        return "missing or malformed X-Twenty-Webhook-Timestamp"
    age = now_ms - int(timestamp)
    if age > MAX_AGE_MS:
        return "timestamp is %d s old" % (age // 1000)
    if age < -MAX_SKEW_MS:
        return "timestamp is %d s in the future" % (-age // 1000)
    if not HEX64.match(signature):
        return "missing or malformed X-Twenty-Webhook-Signature"
    # The signed message is the timestamp, ":", and the body's bytes exactly
    # as they arrived: never json.dumps(json.loads(body)).
    want = hmac.new(secret, timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, signature.lower()):
        return "signature does not match"
    return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # seconds a connection may sit idle or trickle its request

    def do_POST(self):
        wid = self.headers.get("webhook-id", "-")
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            return self.answer(411)
        if int(length) > MAX_BODY:
            self.close_connection = True  # the body is not read
            return self.answer(413)
        body = self.rfile.read(int(length))
        why = verify(self.server.secret, self.headers.get("X-Twenty-Webhook-Timestamp", ""),
                     self.headers.get("X-Twenty-Webhook-Signature", ""), body,
                     int(time.time() * 1000))
        if why:
            print("REJECTED delivery %s: %s" % (wid, why), flush=True)
            return self.answer(401)
        try:
            event = json.loads(body)
            name, data = event["event"], event["data"]
        except (ValueError, KeyError, TypeError):
            return self.answer(400)  # signed but not a hookd body: a bug, say so
        if not self.server.seen.add(wid):
            print("DUPLICATE delivery %s: %s" % (wid, name), flush=True)
            return self.answer(200)
        self.answer(200)
        print("VERIFIED delivery %s: %s %s"
              % (wid, name, json.dumps(data, separators=(",", ":"), ensure_ascii=False)),
              flush=True)

    def do_GET(self):
        self.answer(405)

    def answer(self, code):
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def main(argv):
    secret = os.environ.get("HOOKD_SECRET", "")
    if not secret:
        sys.stderr.write("receiver.py: set HOOKD_SECRET to the webhook's secret\n")
        return 2
    port = int(argv[0]) if argv else 8080
    server = http.server.ThreadingHTTPServer((os.environ.get("RECEIVER_HOST", "127.0.0.1"),
                                              port), Handler)
    server.daemon_threads = True
    server.secret = secret.encode()
    server.seen = Seen()
    print("listening on %s:%d" % server.server_address[:2], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
