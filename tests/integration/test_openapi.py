"""Walks docs/openapi.json against a real worker and a real redis-server:
the document hookd serves at /v1/openapi.json is the checked-in one; every
operation it describes is called (CALLS below must cover each operationId,
so that a new operation fails this test until it is walked), answers with a
status the document lists, and its JSON body matches the schema the
document gives for that status (jsonschema, draft 2020-12, as OpenAPI 3.1
uses). Methods a path does not describe answer 405 and paths it does not
describe answer 404: no route exists that the document does not describe
(tests/unit/test_openapi.c compares the route table itself)."""

import copy
import json
import os
import sys
import unittest
import urllib.parse

import jsonschema

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HookdCase, api_request, wait_for  # noqa: E402

TOKEN = "test-token-" + "o" * 24  # a fixture, not a credential
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
METHODS = ["get", "post", "put", "patch", "delete"]

# operationId -> the calls that walk it: (path parameters, query, body, status).
# "{wh}" stands for a webhook the walk made; "{gone}" for one that is not.
CALLS = {
    "getOpenapi": [({}, "", None, 200)],
    "listWebhooks": [({}, "?limit=2", None, 200), ({}, "?limit=0", None, 400)],
    "createWebhook": [({}, "", {"url": "http://127.0.0.1:9/a", "events": ["person.*"]}, 201),
                      ({}, "", {"url": "ftp://x"}, 422), ({}, "", b"{", 400)],
    "getWebhook": [({"id": "{wh}"}, "", None, 200), ({"id": "{gone}"}, "", None, 404)],
    "updateWebhook": [({"id": "{wh}"}, "", {"description": "walked"}, 200),
                      ({"id": "{wh}"}, "", {"nope": 1}, 422),
                      ({"id": "{gone}"}, "", {"description": "x"}, 404)],
    "deleteWebhook": [({"id": "{gone}"}, "", None, 404), ({"id": "{del}"}, "", None, 204)],
    "enableWebhook": [({"id": "{wh}"}, "", None, 200), ({"id": "{gone}"}, "", None, 404)],
    "disableWebhook": [({"id": "{wh}"}, "", None, 200), ({"id": "{gone}"}, "", None, 404)],
    "rotateSecret": [({"id": "{wh}"}, "", None, 200), ({"id": "{wh}"}, "", {"grace_seconds": 60}, 200),
                     ({"id": "{wh}"}, "", {"grace_seconds": -1}, 422),
                     ({"id": "{gone}"}, "", None, 404)],
    "listAttempts": [({"id": "{wh}"}, "?limit=5", None, 200),
                     ({"id": "{gone}"}, "", None, 404)],
    "postEvents": [({}, "", {"event": "person.created", "data": {"id": "p1"}}, 202),
                   ({}, "", [{"event": "person.updated", "data": {}}], 202),
                   ({}, "", {"event": "not an event"}, 422), ({}, "", b"[", 400)],
    "getStats": [({}, "", None, 200)],
    "listDead": [({}, "?limit=5", None, 200), ({}, "?since=yesterday", None, 422),
                 ({}, "?limit=0", None, 400)],
    "replayDead": [({}, "", {"id": "e0000000000000000"}, 200), ({}, "", {"since": "x"}, 422),
                   ({}, "", b"{", 400)],
    "purgeDead": [({}, "", {"id": "e0000000000000000"}, 200), ({}, "", {"until": "x"}, 422)],
    "recoverWebhook": [({"id": "{wh}"}, "", {"since": "2026-01-01T00:00:00Z"}, 200),
                       ({"id": "{wh}"}, "", {}, 422),
                       ({"id": "{gone}"}, "", {"since": "2026-01-01T00:00:00Z"}, 404)],
    # wh was disabled by the walk of disableWebhook above.
    "testWebhook": [({"id": "{new}"}, "", None, 200), ({"id": "{wh}"}, "", None, 409),
                    ({"id": "{gone}"}, "", None, 404)],
    "listRetries": [({}, "?limit=5", None, 200), ({}, "?limit=0", None, 400)],
    "deleteRetry": [({"id": "{retry0}"}, "", None, 204), ({"id": "d:msg_not_there"}, "", None, 404)],
    "retryNow": [({"id": "{retry1}"}, "", None, 200), ({"id": "{retry0}"}, "", None, 404)],
    "listHosts": [({}, "", None, 200)],
}


class OpenApiWalk(HookdCase):
    def setUp(self):
        super().setUp()
        with open(os.path.join(ROOT, "docs", "openapi.json"), "rb") as f:
            self.raw = f.read()
        self.doc = json.loads(self.raw)
        # Failed deliveries wait 10 minutes, so that the walk finds them waiting.
        self.w, self.port = self.start_api(TOKEN, env={"HOOKD_RETRY_BASE": "10m"})

    def call(self, method, path, body=None):
        st, raw, hs = api_request(self.port, method, path, body, TOKEN)
        return st, raw, hs.get("content-type", "").split(";")[0]

    def schema(self, s):
        """s with the document's components beside it, so that $ref resolves."""
        s = copy.deepcopy(s)
        s["components"] = self.doc["components"]
        return s

    def resolve(self, o):
        while "$ref" in o:
            node = self.doc
            for part in o["$ref"].lstrip("#/").split("/"):
                node = node[part]
            o = node
        return o

    def new_webhook(self):
        st, raw, _ = self.call("post", "/v1/webhooks", {"url": "http://127.0.0.1:9/w"})
        self.assertEqual(st, 201, raw)
        return json.loads(raw)["id"]

    def test_served_document_is_the_checked_in_one(self):
        st, raw, ctype = self.call("get", "/v1/openapi.json")
        self.assertEqual((st, ctype), (200, "application/json"))
        self.assertEqual(raw, self.raw)

    def test_walk(self):
        ops = {}
        for path, item in self.doc["paths"].items():
            for m in METHODS:
                if m in item:
                    ops[item[m]["operationId"]] = (path, m, item[m])
        self.assertEqual(sorted(ops), sorted(CALLS), "operations without a walk, or walks "
                         "of operations the document does not have")
        wh = self.new_webhook()
        # One failed attempt first, so that attempts, hosts and stats have
        # items for their schemas to judge.
        # Two deliveries waiting to be retried, and a dead envelope record.
        for _ in range(2):
            st, raw, _ = self.call("post", "/v1/events",
                                   {"event": "person.created", "data": {}, "webhook": wh})
            self.assertEqual(st, 202, raw)
        self.r.lpush(self.k("events"), b'{"event": 7}')
        self.assertTrue(wait_for(lambda: len(json.loads(self.call(
            "get", "/v1/retries")[1])["data"]) == 2, 15), self.w.log())
        self.assertTrue(wait_for(lambda: json.loads(self.call("get", "/v1/dead")[1])["data"], 15))
        retries = [r["id"] for r in json.loads(self.call("get", "/v1/retries")[1])["data"]]
        self.assertTrue(wait_for(lambda: json.loads(self.call("get", "/v1/hosts")[1])["data"],
                                 15))
        walked = 0
        for opid, calls in CALLS.items():
            path, method, op = ops[opid]
            for params, query, body, want in calls:
                url = path
                for k, v in params.items():
                    v = {"{wh}": wh, "{gone}": "wh_not_there", "{retry0}": retries[0],
                         "{retry1}": retries[1]}.get(v, v)
                    if v in ("{del}", "{new}"):
                        v = self.new_webhook()
                    url = url.replace("{%s}" % k, urllib.parse.quote(v, safe=""))
                st, raw, ctype = self.call(method, url + query, body)
                where = "%s %s%s" % (method.upper(), url, query)
                self.assertEqual(st, want, "%s: %s" % (where, raw[:300]))
                self.assertIn(str(st), op["responses"], "%s: %d is not documented" % (where, st))
                resp = self.resolve(op["responses"][str(st)])
                content = resp.get("content")
                if not content:
                    self.assertEqual(raw, b"", where)
                    walked += 1
                    continue
                self.assertIn(ctype, content, "%s answered %s" % (where, ctype))
                jsonschema.Draft202012Validator(self.schema(content[ctype]["schema"])).validate(
                    json.loads(raw))
                walked += 1
        print("walked %d calls of %d operations" % (walked, len(ops)))

    def test_nothing_undescribed(self):
        for path, item in self.doc["paths"].items():
            url = path.replace("{id}", "wh_not_there")
            for m in METHODS:
                if m not in item:
                    st, raw, ctype = self.call(m, url, {} if m in ("post", "put", "patch") else None)
                    self.assertEqual(st, 405, "%s %s: %s" % (m, url, raw[:200]))
                    self.assertEqual(ctype, "application/problem+json")
        for url in ["/v1", "/v1/", "/v1/webhook", "/v1/webhooks/x/y/z", "/v1/events/1",
                    "/v1/openapi.yaml", "/v2/webhooks"]:
            self.assertEqual(self.call("get", url)[0], 404, url)


if __name__ == "__main__":
    unittest.main()
