#!/usr/bin/env python3
"""Pushes one event onto hookd's queue with redis-py (Debian: python3-redis).

    python3 producer.py [EVENT [DATA_JSON [ID]]]
    python3 producer.py person.created '{"id":"1","firstName":"Alice"}'

HOOKD_REDIS_URL (default redis://127.0.0.1:6379/0) and HOOKD_PREFIX (default
hookd) name the Redis and the namespace, as for hookd itself. Prints
{"pushed":1,"id":"evt_..."} like `hookd enqueue`.
"""
import datetime
import json
import os
import re
import secrets
import sys

import redis

EVENT_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}\.[A-Za-z0-9_-]{1,64}$")
ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
SAMPLE = {"id": "abc12345", "firstName": "Alice", "lastName": "Doe",
          "email": "alice@example.com"}


def usage(why):
    sys.stderr.write("producer.py: %s\nusage: producer.py [EVENT [DATA_JSON [ID]]]\n" % why)
    sys.exit(2)


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
    body = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)

    url = os.environ.get("HOOKD_REDIS_URL", "redis://127.0.0.1:6379/0")
    prefix = os.environ.get("HOOKD_PREFIX", "hookd")
    r = redis.Redis.from_url(url, socket_timeout=10)
    try:
        r.lpush("{%s}:events" % prefix, body)
    except redis.exceptions.RedisError as e:
        sys.stderr.write("producer.py: redis: %s\n" % e)
        return 1
    finally:
        r.close()
    print(json.dumps({"pushed": 1, "id": event_id}, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
