#!/usr/bin/env python3
"""Pushes one event onto hookd's queue with redis-py (Debian: python3-redis).

    python3 producer.py [EVENT [DATA_JSON [ID]]]
    python3 producer.py person.created '{"id":"1","firstName":"Alice"}'

HOOKD_REDIS_URL (default redis://127.0.0.1:6379/0) and HOOKD_PREFIX (default
hookd) name the Redis and the namespace, as for hookd itself. HOOKD_PREFIX may
be a list (a,b,c), or one BASE with HOOKD_SHARDS=N (BASE:0 ... BASE:N-1);
HOOKD_WORKSPACE sets the envelope's workspace, which picks the namespace
(docs/producers.md, "Several namespaces"). Prints
{"pushed":1,"id":"evt_...","namespace":"..."} like `hookd enqueue`, plus the
namespace it chose.
"""
import datetime
import hashlib
import json
import os
import re
import secrets
import sys

import redis

EVENT_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}\.[A-Za-z0-9_-]{1,64}$")
ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
PREFIX_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
SAMPLE = {"id": "abc12345", "firstName": "Alice", "lastName": "Doe",
          "email": "alice@example.com"}


def usage(why):
    sys.stderr.write("producer.py: %s\nusage: producer.py [EVENT [DATA_JSON [ID]]]\n" % why)
    sys.exit(2)


def namespaces(prefix, shards):
    """hookd's namespaces: the HOOKD_PREFIX list in its order, or BASE:0 ..
    BASE:N-1 with HOOKD_SHARDS=N."""
    names = prefix.split(",")
    for name in names:
        if not PREFIX_RE.fullmatch(name):
            usage("HOOKD_PREFIX: %r is not 1..64 bytes of [A-Za-z0-9_.:-]" % name)
    if len(set(names)) != len(names):
        usage("HOOKD_PREFIX names a namespace twice")
    if shards == "":
        return names
    if not re.fullmatch(r"[0-9]+", shards) or not 0 <= int(shards) <= 256:
        usage("HOOKD_SHARDS must be a number from 0 (off) to 256")
    if int(shards) == 0:
        return names
    if len(names) != 1:
        usage("HOOKD_SHARDS takes a single HOOKD_PREFIX")
    return ["%s:%d" % (names[0], i) for i in range(int(shards))]


def pick(ns, workspace):
    """The namespace of a workspace: ns[h(W) mod n], h(W) the first 4 bytes
    of SHA-256(W) as a big-endian unsigned integer; no workspace: ns[0]."""
    if not workspace:
        return ns[0]
    h = int.from_bytes(hashlib.sha256(workspace.encode()).digest()[:4], "big")
    return ns[h % len(ns)]


def main(argv):
    if len(argv) > 3:
        usage("too many arguments")
    event = argv[0] if argv else "person.created"
    if not EVENT_RE.match(event):
        usage("event %r is not <object>.<action>" % event)
    data = SAMPLE
    if len(argv) > 1:
        try:
            data = json.loads(argv[1])
        except ValueError as e:
            usage("DATA_JSON is not JSON: %s" % e)
        if not isinstance(data, dict):
            usage("DATA_JSON must be a JSON object")
    event_id = argv[2] if len(argv) > 2 else "evt_" + secrets.token_hex(16)
    if not ID_RE.match(event_id):
        usage("id %r is not 1..128 bytes of [A-Za-z0-9_.:-]" % event_id)
    workspace = os.environ.get("HOOKD_WORKSPACE", "")
    if workspace and not ID_RE.fullmatch(workspace):
        usage("HOOKD_WORKSPACE %r is not 1..128 bytes of [A-Za-z0-9_.:-]" % workspace)
    ns = pick(namespaces(os.environ.get("HOOKD_PREFIX") or "hookd",
                         os.environ.get("HOOKD_SHARDS", "")), workspace)

    envelope = {
        "event": event,
        "data": data,
        # When the change happened; hookd sends it to receivers as is.
        "timestamp": datetime.datetime.now(datetime.timezone.utc)
                             .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        # Your own id makes a re-pushed change reach receivers with the same
        # webhook-id, so that they can drop the duplicate.
        "id": event_id,
    }
    if workspace:
        envelope["workspace"] = workspace  # who sees it, and its namespace
    body = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)

    url = os.environ.get("HOOKD_REDIS_URL", "redis://127.0.0.1:6379/0")
    r = redis.Redis.from_url(url, socket_timeout=10)
    try:
        r.lpush("{%s}:events" % ns, body)
    except redis.exceptions.RedisError as e:
        sys.stderr.write("producer.py: redis: %s\n" % e)
        return 1
    finally:
        r.close()
    print(json.dumps({"pushed": 1, "id": event_id, "namespace": ns}, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
