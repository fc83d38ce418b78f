"""examples/ for real: every producer pushes an envelope with its language's
Redis client and a real `hookd run` delivers it; every example receiver
verifies a real hookd delivery and answers 401 to forged, tampered and stale
requests; `hookd verify` and the C function of examples/receivers/c/README.md
check a captured delivery.

The runtimes come from scripts/examples-deps.sh (Debian's packages), which
this test runs first; node-redis comes from the npm registry through `npm ci`
on the committed package-lock.json. A runtime that is missing after that is a
failure, not a skip."""

import concurrent.futures
import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (MSG_ID, REPO, RFC3339_UTC, HookdCase, delivery_id,  # noqa: E402
                     free_port, spawn, twenty_sig, uid, wait_for)

EXAMPLES = os.path.join(REPO, "examples")
PRODUCERS = os.path.join(EXAMPLES, "producers")
RECEIVERS = os.path.join(EXAMPLES, "receivers")
LANGS = ("python", "node", "go", "ruby", "php", "shell")

# A record with what serialisers differ on: non-ASCII, quotes, a slash, an
# empty object and array, a float, booleans and null, key order.
DATA = {"id": "abc12345", "name": "Zo\u00eb \"Z\" O'Neil", "url": "https://x.test/a/b",
        "empty": {}, "list": [1, 2.5, True, False, None, []], "zeta": 1, "alpha": -3}


# The workspaces the namespace tests push, fixed so that a failure repeats:
# short and long ids, each character of the id alphabet, neighbours that differ
# in one character, and ids shaped like the UUIDs and slugs producers use.
WORKSPACES = (
    ["ws_%d" % i for i in range(16)]
    + ["a", "A", "0", "-", "_", ".", ":", "ab", "ba", "tenant:42", "tenant:43",
       "acme-corp", "acme.corp", "acme_corp", "ACME", "w" * 128, "x" * 127,
       "3f2b8c1e-9d4a-4e7b-8c6f-2a1d5e9b7c30", "00000000-0000-0000-0000-000000000000",
       "org:7:team:19", "tenant-7a6fc3a9", "9" * 20, "ws", "WS"])


def rule(names, workspace):
    """THE PRODUCER RULE (docs/producers.md): names[h(W) mod n], h(W) the first
    4 bytes of SHA-256(W) big-endian; no workspace: names[0]."""
    if not workspace:
        return names[0]
    return names[int.from_bytes(hashlib.sha256(workspace.encode()).digest()[:4], "big")
                 % len(names)]


def run(argv, timeout=60, **kw):
    """subprocess.run with output captured as text; never raises on exit codes."""
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)


def setUpModule():
    """Installs the examples' runtimes (idempotent; quick when present)."""
    p = run(["bash", os.path.join(REPO, "scripts", "examples-deps.sh")], timeout=1200)
    if p.returncode != 0:
        raise RuntimeError("scripts/examples-deps.sh failed (rc %d):\n%s%s"
                           % (p.returncode, p.stdout[-4000:], p.stderr[-4000:]))


def go_env(tmp, gopath_mode):
    """Go's environment for an offline build: no module proxy; go-redis from
    Debian's /usr/share/gocode in GOPATH mode."""
    env = dict(os.environ)
    env["GOPROXY"] = "off"
    env["GOFLAGS"] = "-mod=mod"
    if not env.get("HOME"):
        env["GOCACHE"] = os.path.join(tmp, "gocache")
    if gopath_mode:
        env["GO111MODULE"] = "off"
        env["GOPATH"] = "/usr/share/gocode"
        env.pop("GOFLAGS")
    return env


def need(*tools):
    """Raises AssertionError naming every tool in tools that is not on PATH."""
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        raise AssertionError("not installed although scripts/examples-deps.sh ran: "
                             + ", ".join(missing))


class Prepared:
    """The commands that run each example, built once per run: npm ci for the
    Node producer in a copy of its folder, go build for both Go programs.
    cmd[name] is an argv prefix; err[name] says why there is none."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="hookd-it-examples-")
        self.cmd = {}
        self.err = {}
        py = sys.executable
        self.cmd["producer.python"] = [py, os.path.join(PRODUCERS, "python", "producer.py")]
        self.cmd["producer.ruby"] = ["ruby", os.path.join(PRODUCERS, "ruby", "producer.rb")]
        self.cmd["producer.php"] = ["php", os.path.join(PRODUCERS, "php", "producer.php")]
        self.cmd["producer.shell"] = ["sh", os.path.join(PRODUCERS, "shell", "producer.sh")]
        self.cmd["receiver.python"] = [py, os.path.join(RECEIVERS, "python", "receiver.py")]
        self.cmd["receiver.node"] = ["node", os.path.join(RECEIVERS, "node", "receiver.js")]
        jobs = [threading.Thread(target=self._guard, args=(name, fn)) for name, fn in
                (("producer.node", self._node), ("producer.go", self._go_producer),
                 ("receiver.go", self._go_receiver))]
        for j in jobs:
            j.start()
        for j in jobs:
            j.join()

    def _guard(self, name, fn):
        try:
            self.cmd[name] = fn()
        except Exception as e:  # reported by the test that needs it
            self.err[name] = str(e)

    def _node(self):
        need("node", "npm")
        d = os.path.join(self.tmp, "node-producer")
        os.makedirs(d)
        for f in ("package.json", "package-lock.json", "producer.js"):
            shutil.copy(os.path.join(PRODUCERS, "node", f), d)
        p = run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=d,
                timeout=300)
        if p.returncode != 0:
            raise AssertionError("npm ci failed: " + p.stderr[-3000:])
        return ["node", os.path.join(d, "producer.js")]

    def _go_build(self, src, out, gopath_mode):
        need("go")
        exe = os.path.join(self.tmp, out)
        p = run(["go", "build", "-o", exe, "."], cwd=src, timeout=300,
                env=go_env(self.tmp, gopath_mode))
        if p.returncode != 0:
            raise AssertionError("go build in %s failed: %s" % (src, p.stderr[-3000:]))
        return [exe]

    def _go_producer(self):
        return self._go_build(os.path.join(PRODUCERS, "go"), "go-producer", True)

    def _go_receiver(self):
        return self._go_build(os.path.join(RECEIVERS, "go"), "go-receiver", False)

    def get(self, name):
        if name in self.err:
            raise AssertionError("%s: %s" % (name, self.err[name]))
        argv = self.cmd[name]
        need(argv[0])
        return argv

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


class ExampleReceiver:
    """One example receiver process on a spare port, its output in a file."""

    def __init__(self, argv, secret, tmp, name):
        self.port = free_port()
        self.out_path = os.path.join(tmp, "%s-%d.out" % (name, self.port))
        env = dict(os.environ, HOOKD_SECRET=secret)
        with open(self.out_path, "wb") as out:
            self.proc = spawn(argv + [str(self.port)], env=env, stdin=subprocess.DEVNULL,
                              stdout=out, stderr=subprocess.STDOUT)

        def up():
            if self.proc.poll() is not None:
                raise AssertionError("%s exited (rc %s): %s"
                                     % (name, self.proc.returncode, self.output()))
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return True
            except OSError:
                return False
        if not wait_for(up, 20):
            self.stop()
            raise AssertionError("%s did not listen on %d: %s" % (name, self.port,
                                                                   self.output()))

    @property
    def url(self):
        return "http://127.0.0.1:%d/hooks" % self.port

    def output(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode(errors="replace")

    def lines(self, word):
        return [l for l in self.output().splitlines() if l.startswith(word + " ")]

    def post(self, body, headers, declared=None):
        """POSTs body with headers; returns the status. declared: send only
        the head, with this Content-Length."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            if declared is None:
                c.request("POST", "/hooks", body=body,
                          headers=dict({"Content-Type": "application/json"}, **headers))
            else:
                c.putrequest("POST", "/hooks")
                c.putheader("Content-Type", "application/json")
                c.putheader("Content-Length", str(declared))
                for k, v in headers.items():
                    c.putheader(k, v)
                c.endheaders()
            return c.getresponse().status
        finally:
            c.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)


def signed(secret, body, ts_ms, wid):
    ts = str(ts_ms)
    return {"X-Twenty-Webhook-Timestamp": ts,
            "X-Twenty-Webhook-Signature": twenty_sig(secret, ts, body), "webhook-id": wid}


class Examples(HookdCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.prep = Prepared()

    @classmethod
    def tearDownClass(cls):
        cls.prep.close()
        super().tearDownClass()

    def producer_env(self):
        return self.h.env()

    # ---------------------------------------------------------------- producers

    def test_producers_deliver(self):
        """Each producer's envelope reaches a receiver through hookd with its
        event, its data and its own id (as the webhook-id derived from it)."""
        wh = self.h.add_webhook(self.url("ok", "producers"), "--events", "person.*")
        self.h.start_worker()
        pushed = {}
        for lang in LANGS:
            with self.subTest(producer=lang):
                argv = self.prep.get("producer." + lang)
                event = "person.created"
                p = run(argv + [event, json.dumps(dict(DATA, lang=lang), ensure_ascii=False)],
                        env=self.producer_env(), timeout=60)
                self.assertEqual(p.returncode, 0, "%s producer: %s%s"
                                 % (lang, p.stdout, p.stderr))
                out = json.loads(p.stdout)
                self.assertEqual(out["pushed"], 1)
                self.assertRegex(out["id"], r"^evt_[0-9a-f]{32}$", "an id of its own")
                pushed[lang] = out["id"]
        self.assertTrue(pushed, "no producer ran")
        prefix = self.path("ok", "producers")
        got = self.recv.wait_count(prefix, len(pushed), 30)
        by_id = {r.headers.get("webhook-id"): r for r in got}
        for lang, event_id in pushed.items():
            with self.subTest(delivered=lang):
                req = by_id.get(delivery_id(event_id, wh["id"]))
                self.assertIsNotNone(req, "%s: no delivery for %s; got %r\n%s"
                                     % (lang, event_id, got, self.h.logs()[-3000:]))
                body = req.json()
                self.assertEqual(body["event"], "person.created")
                self.assertEqual(body["data"], dict(DATA, lang=lang), lang)
                self.assertRegex(body["timestamp"], RFC3339_UTC, "the producer's timestamp")
                ts = req.headers["x-twenty-webhook-timestamp"]
                self.assertEqual(req.headers["x-twenty-webhook-signature"],
                                 twenty_sig(wh["secret"], ts, req.body))
                sys.stderr.write("example producer %s: delivered %s\n" % (lang, event_id))
        self.assertEqual(self.r.llen(self.k("dead")), 0, self.dead())

    def test_producers_sample_and_given_id(self):
        """Without arguments each pushes the sample person.created; a third
        argument is the event id, kept as given."""
        for lang in LANGS:
            with self.subTest(producer=lang):
                argv = self.prep.get("producer." + lang)
                p = run(argv, env=self.producer_env(), timeout=60)
                self.assertEqual(p.returncode, 0, p.stderr)
                raw = self.r.lpop(self.k("events"))
                env = json.loads(raw)
                self.assertEqual(env["event"], "person.created")
                self.assertEqual(env["data"]["firstName"], "Alice")
                self.assertEqual(env["id"], json.loads(p.stdout)["id"])
                given = "ord-%s_%s:1.2" % (lang, uid(6))
                p = run(argv + ["company.updated", '{"id":"c1"}', given],
                        env=self.producer_env(), timeout=60)
                self.assertEqual(p.returncode, 0, p.stderr)
                env = json.loads(self.r.lpop(self.k("events")))
                self.assertEqual((env["event"], env["data"], env["id"]),
                                 ("company.updated", {"id": "c1"}, given))
                self.assertEqual(set(env), {"event", "data", "timestamp", "id"})
                self.assertEqual(json.loads(p.stdout)["namespace"], self.h.prefix,
                                 "one namespace: the prefix, as before")

    def test_producers_refuse_bad_input(self):
        """A bad event name, data that is not a JSON object, or a bad id is
        exit 2 with nothing pushed; an unreachable Redis is exit 1."""
        bad = (["person"], ["person.created", "[1]"], ["person.created", "{not json"],
               ["person.created", "null"], ["person.created", "{}", "has space"])
        dead_url = dict(self.producer_env(), HOOKD_REDIS_URL="redis://127.0.0.1:%d/0"
                        % free_port())
        for lang in LANGS:
            with self.subTest(producer=lang):
                argv = self.prep.get("producer." + lang)
                for args in bad:
                    p = run(argv + args, env=self.producer_env(), timeout=60)
                    self.assertEqual(p.returncode, 2, "%s %r: %s" % (lang, args, p.stderr))
                    self.assertTrue(p.stderr.strip(), "%s %r says why" % (lang, args))
                p = run(argv, env=dead_url, timeout=60)
                self.assertEqual(p.returncode, 1, "%s, Redis down: %s" % (lang, p.stderr))
                self.assertEqual(self.r.llen(self.k("events")), 0)

    # --------------------------------------------------- producers: namespaces

    def events_lists(self):
        """{key: [envelope, ...]} of every {NS}:events list in this Redis."""
        return {k.decode(): [json.loads(x) for x in self.r.lrange(k, 0, -1)]
                for k in self.r.scan_iter(match="{*}:events", count=1000)}

    def push_many(self, jobs):
        """Runs (lang, args, env) jobs two at a time (two cores); returns
        [(job, CompletedProcess)] in order."""
        def one(job):
            lang, args, env = job
            return job, run(self.prep.get("producer." + lang) + args, env=env, timeout=60)
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            return list(pool.map(one, jobs))

    def test_producers_namespace_rule(self):
        """With HOOKD_SHARDS=7 and with a HOOKD_PREFIX list of three, every
        producer pushes the event of each workspace onto the events list of
        the namespace the rule names (computed here with hashlib), and onto
        no other; without a workspace, onto the first."""
        base = self.h.prefix
        configs = {
            "shards": ({"HOOKD_SHARDS": "7"}, ["%s:%d" % (base, i) for i in range(7)]),
            "list": ({"HOOKD_PREFIX": "%sa,%sb,%sc" % (base, base, base)},
                     [base + "a", base + "b", base + "c"]),
        }
        for cfg, (_, names) in configs.items():
            hit = {rule(names, w) for w in WORKSPACES}
            self.assertEqual(hit, set(names), "%s: the fixed workspaces reach every "
                             "namespace, so a wrong modulus shows" % cfg)
        jobs, want = [], {}
        for lang in LANGS:
            self.prep.get("producer." + lang)  # a missing runtime fails here, once
            for cfg, (extra, names) in configs.items():
                for i, w in enumerate(list(WORKSPACES) + [None]):
                    event_id = "ns.%s.%s.%d" % (lang, cfg, i)
                    env = self.h.env(dict(extra, HOOKD_WORKSPACE=w))
                    jobs.append((lang, ["team.updated", '{"n":%d}' % i, event_id], env))
                    want[event_id] = (lang, w, rule(names, w))
        t0 = time.monotonic()
        results = self.push_many(jobs)
        for (lang, args, _), p in results:
            event_id = args[2]
            with self.subTest(producer=lang, event=event_id):
                self.assertEqual(p.returncode, 0, "%s: %s%s" % (lang, p.stdout, p.stderr))
                out = json.loads(p.stdout)
                self.assertEqual((out["pushed"], out["id"]), (1, event_id))
                self.assertEqual(out["namespace"], want[event_id][2],
                                 "%s, workspace %r: the namespace it says it chose"
                                 % (lang, want[event_id][1]))
        held = {}
        for key, envs in self.events_lists().items():
            for env in envs:
                held.setdefault(env["id"], []).append((key, env))
        wrong = []
        for event_id, (lang, w, ns) in sorted(want.items()):
            where = held.get(event_id, [])
            keys = [k for k, _ in where]
            if keys != ["{%s}:events" % ns]:
                wrong.append("%s (%s, workspace %r): want {%s}:events, in %r"
                             % (event_id, lang, w, ns, keys))
            elif where[0][1].get("workspace") != w:
                wrong.append("%s: envelope workspace %r, want %r"
                             % (event_id, where[0][1].get("workspace"), w))
        self.assertEqual(wrong, [], "%d of %d events misplaced:\n%s"
                         % (len(wrong), len(want), "\n".join(wrong[:40])))
        sys.stderr.write("example producers: %d events in the namespaces the rule names "
                         "(%.1f s)\n" % (len(want), time.monotonic() - t0))

    def test_producers_refuse_bad_namespaces(self):
        """A HOOKD_SHARDS that is not a number from 0 to 256 (hookd's bounds), HOOKD_SHARDS
        with a list, an empty or repeated name in the list, or a workspace
        outside the id alphabet: exit 2, a reason, nothing pushed."""
        base = self.h.prefix
        bad = [{"HOOKD_SHARDS": v} for v in ("-1", "x", "257", "3.5", " 7", "7 ",
                                            "0x7", "99999999999999999999")]
        bad += [{"HOOKD_SHARDS": "3", "HOOKD_PREFIX": base + "a," + base + "b"},
                {"HOOKD_PREFIX": base + "a,," + base + "b"},
                {"HOOKD_PREFIX": base + "a,"},
                {"HOOKD_PREFIX": base + "a," + base + "a"},
                {"HOOKD_PREFIX": base + " a"},
                {"HOOKD_WORKSPACE": "has space"},
                {"HOOKD_WORKSPACE": "w" * 129},
                {"HOOKD_WORKSPACE": "ws\n"}]
        jobs = [(lang, [], self.h.env(extra)) for lang in LANGS for extra in bad]
        for lang in LANGS:
            self.prep.get("producer." + lang)
        for (lang, _, env), p in self.push_many(jobs):
            what = {k: env[k] for k in ("HOOKD_SHARDS", "HOOKD_PREFIX", "HOOKD_WORKSPACE")
                    if k in env}
            with self.subTest(producer=lang, env=what):
                self.assertEqual(p.returncode, 2, "%s %r: %s%s"
                                 % (lang, what, p.stdout, p.stderr))
                self.assertTrue(p.stderr.strip(), "%s %r says why" % (lang, what))
                self.assertEqual(p.stdout, "")
        self.assertEqual({k: v for k, v in self.events_lists().items() if base in k}, {},
                         "a refused push pushed something")
        # the edges that are good: 1 and 256 namespaces, a number with zeros
        # before it, an empty HOOKD_SHARDS or 0 (off, as hookd's default)
        for lang in LANGS:
            for shards, w, ns in (("1", "ws_1", base + ":0"),
                                  ("256", "ws_1", rule(["%s:%d" % (base, i)
                                                        for i in range(256)], "ws_1")),
                                  ("0", "ws_1", base),
                                  ("007", "ws_1", rule(["%s:%d" % (base, i) for i in range(7)],
                                                       "ws_1")),
                                  ("", "ws_1", base)):
                with self.subTest(producer=lang, shards=shards):
                    p = run(self.prep.get("producer." + lang),
                            env=self.h.env({"HOOKD_SHARDS": shards, "HOOKD_WORKSPACE": w}))
                    self.assertEqual(p.returncode, 0, p.stderr)
                    self.assertEqual(json.loads(p.stdout)["namespace"], ns)
                    self.assertEqual(self.r.llen("{%s}:events" % ns), 1)
                    self.r.delete("{%s}:events" % ns)

    def test_producers_deliver_shards(self):
        """End to end: `hookd run --shards 3` delivers what the producers
        pushed with HOOKD_SHARDS=3, each event by the webhook of the namespace
        the rule names."""
        rc, out, err = self.h.cli("run", "--help")
        if "--shards" not in out + err:
            self.skipTest("`hookd run --help` does not list --shards: this hookd has no "
                          "namespaces yet (the C side of several namespaces)")
        base = self.h.prefix
        names = ["%s:%d" % (base, i) for i in range(3)]
        hooks = {}
        for i, ns in enumerate(names):
            # a webhook for every workspace is added to each namespace
            hooks[ns] = self.h.cli_json("webhook", "add", "--url", self.url("ok", "ns%d" % i),
                                        "--events", "team.*", env={"HOOKD_PREFIX": ns})
        workspaces = [w for w in WORKSPACES if w.startswith("ws_")][:8] + [None]
        self.assertEqual({rule(names, w) for w in workspaces}, set(names))
        jobs, want = [], {}
        for lang in LANGS:
            self.prep.get("producer." + lang)
            for i, w in enumerate(workspaces):
                event_id = "e2e.%s.%d" % (lang, i)
                jobs.append((lang, ["team.updated", '{"n":%d}' % i, event_id],
                             self.h.env({"HOOKD_SHARDS": "3", "HOOKD_WORKSPACE": w})))
                want[event_id] = rule(names, w)
        for (lang, args, _), p in self.push_many(jobs):
            self.assertEqual(p.returncode, 0, "%s: %s" % (lang, p.stderr))
            self.assertEqual(json.loads(p.stdout)["namespace"], want[args[2]], lang)
        w = self.h.start_worker(args=["--shards", "3"])
        self.recv.wait_count(self.path("ok", ""), len(want), 60)
        by_path = {}
        for i, ns in enumerate(names):
            by_path[ns] = {r.headers.get("webhook-id")
                           for r in self.recv.deliveries(self.path("ok", "ns%d" % i))}
        missing = []
        for event_id, ns in sorted(want.items()):
            for other in names:
                got = delivery_id(event_id, hooks[other]["id"]) in by_path[other]
                if got != (other == ns):
                    missing.append("%s: want it at %s only; %s %s it"
                                   % (event_id, ns, other, "has" if got else "lacks"))
        self.assertEqual(missing, [], "\n".join(missing[:40]) + "\n" + w.log()[-3000:])
        for ns in names:
            self.assertEqual(self.r.llen("{%s}:events" % ns), 0, ns)
            self.assertEqual(self.r.llen("{%s}:dead" % ns), 0, ns)
        sys.stderr.write("example producers: hookd run --shards 3 delivered %d events "
                         "by the namespaces the rule names\n" % len(want))

    # ---------------------------------------------------------------- receivers

    def receiver_case(self, name, dedup=True):
        secret = "s3cr3t-" + uid(16)
        tmp = tempfile.mkdtemp(prefix="hookd-it-recv-")
        self.addCleanup(shutil.rmtree, tmp, True)
        rv = ExampleReceiver(self.prep.get("receiver." + name), secret, tmp, name)
        self.addCleanup(rv.stop)
        wh = self.h.add_webhook(rv.url, "--secret", secret, "--events", "person.*")
        self.h.start_worker()

        # 1. a real delivery from hookd is verified and printed once
        out = json.loads(self.enqueue("person.created", dict(DATA, receiver=name),
                                      "--webhook", wh["id"]))
        wid = delivery_id(out["id"], wh["id"])
        verified = wait_for(lambda: [l for l in rv.lines("VERIFIED") if wid in l], 20)
        self.assertTrue(verified, "%s printed no verified line for %s:\n%s\n%s"
                        % (name, wid, rv.output(), self.h.logs()[-3000:]))
        m = re.match(r"^VERIFIED delivery (\S+): (\S+) (.*)$", verified[0])
        self.assertIsNotNone(m, verified[0])
        self.assertEqual(m.group(1), wid)
        self.assertRegex(m.group(1), MSG_ID)
        self.assertEqual(m.group(2), "person.created")
        self.assertEqual(json.loads(m.group(3)), dict(DATA, receiver=name))
        self.assertTrue(wait_for(self.queues_empty, 10), "the 2xx acknowledged it")

        # 2. raw bytes, not a re-serialisation: spaces, escapes, key order and
        # a number format that JSON.stringify/json.dumps would all change
        now = int(time.time() * 1000)
        raw = (b'{ "event" : "person.updated",\n  "data": {"z": 1, "a": "caf\\u00e9 \\/",'
               b' "n": 1.50, "e": 1E2},\n  "timestamp": "2025-02-10T15:30:50Z" }')
        self.assertEqual(rv.post(raw, signed(secret, raw, now, "msg_raw_" + name)), 200,
                         "%s must verify the raw body bytes:\n%s" % (name, rv.output()))
        self.assertTrue(wait_for(lambda: [l for l in rv.lines("VERIFIED")
                                          if "msg_raw_" + name in l], 5))

        # 3. forged, tampered, stale, future, unsigned: 401, nothing verified
        body = json.dumps({"event": "person.deleted", "data": {"id": "x"},
                           "timestamp": "2025-02-10T15:30:50Z"}).encode()
        forged = signed("wrong-secret", body, now, "msg_forged")
        tampered = signed(secret, body, now, "msg_tampered")
        tampered_body = body.replace(b'"x"', b'"y"')
        cases = {
            "forged": (body, forged),
            "tampered": (tampered_body, tampered),
            "stale": (body, signed(secret, body, now - 6 * 60 * 1000, "msg_stale")),
            "future": (body, signed(secret, body, now + 6 * 60 * 1000, "msg_future")),
            "unsigned": (body, {"webhook-id": "msg_unsigned"}),
            "bad timestamp": (body, dict(signed(secret, body, now, "msg_badts"),
                                         **{"X-Twenty-Webhook-Timestamp": "12ab"})),
        }
        for what, (b, hd) in cases.items():
            self.assertEqual(rv.post(b, hd), 401, "%s, %s request" % (name, what))
        self.assertEqual(len(rv.lines("VERIFIED")), 2, rv.output())
        self.assertGreaterEqual(len(rv.lines("REJECTED")), len(cases), rv.output())

        # 4. a body over the cap is refused from its Content-Length alone
        self.assertEqual(rv.post(b"", signed(secret, b"", now, "msg_big"),
                                 declared=8 << 20), 413, name)

        # 5. the same webhook-id twice (a retry whose 2xx got lost): handled once
        if dedup:
            hd = signed(secret, raw, int(time.time() * 1000), "msg_raw_" + name)
            self.assertEqual(rv.post(raw, hd), 200)
            self.assertTrue(wait_for(lambda: rv.lines("DUPLICATE"), 5), rv.output())
            self.assertEqual(len(rv.lines("VERIFIED")), 2, rv.output())
        sys.stderr.write("example receiver %s: verified a hookd delivery, refused %d bad\n"
                         % (name, len(cases)))

    def test_receiver_python(self):
        self.receiver_case("python")

    def test_receiver_node(self):
        self.receiver_case("node")

    def test_receiver_go(self):
        self.receiver_case("go")

    # ------------------------------------------------- C: hookd verify, OpenSSL

    def capture(self, secret):
        """One real delivery, as the harness receiver got it."""
        wh = self.h.add_webhook(self.url("ok", "capture"), "--secret", secret)
        self.h.start_worker()
        self.enqueue("note.created", {"id": "n1", "body": "caf\u00e9 \u2603", "n": 1.5})
        got = self.recv.wait_count(self.path("ok", "capture"), 1, 15)
        self.assertEqual(len(got), 1, self.h.logs()[-3000:])
        req = got[0]
        self.assertEqual(req.headers.get("webhook-id", "")[:4], "msg_", wh)
        return req

    def test_c_hookd_verify_and_openssl(self):
        secret = "whsec_" + uid(32)  # hex is base64 too: 24 bytes
        req = self.capture(secret)
        ts = req.headers["x-twenty-webhook-timestamp"]
        sig = req.headers["x-twenty-webhook-signature"]
        tmp = tempfile.mkdtemp(prefix="hookd-it-c-")
        self.addCleanup(shutil.rmtree, tmp, True)
        good = os.path.join(tmp, "body.json")
        bad = os.path.join(tmp, "body-changed.json")
        with open(good, "wb") as f:
            f.write(req.body)
        changed = bytearray(req.body)
        i = req.body.index(b"n1")
        changed[i + 1] ^= 0x01  # "n1" -> "n0": one bit of one byte
        with open(bad, "wb") as f:
            f.write(bytes(changed))

        # hookd verify, on a file and on standard input
        args = ("verify", "--secret", secret, "--timestamp", ts, "--signature", sig)
        rc, out, err = self.h.cli(*args, good)
        self.assertEqual((rc, out.strip()), (0, "ok"), err)
        rc, out, err = self.h.cli(*args, input=req.body)
        self.assertEqual(rc, 0, err)
        rc, out, err = self.h.cli(*args, bad)
        self.assertEqual(rc, 1, "one byte changed must not verify")
        self.assertIn("signature does not match", err)
        rc, out, err = self.h.cli(*args[:-2], good)
        self.assertEqual(rc, 2, "no --signature is bad usage")

        # the shell age check of the README accepts this timestamp
        with open(os.path.join(RECEIVERS, "c", "README.md")) as f:
            readme = f.read()
        sh = re.search(r"```sh\n(.*?)```", readme, re.S).group(1)
        p = run(["bash", "-euc", sh], timeout=30, env=dict(os.environ, SECRET=secret, TS=ts,
                                                           SIG=sig, PATH=self.path_with_hookd()),
                cwd=tmp)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        p = run(["bash", "-euc", sh], timeout=30,
                env=dict(os.environ, SECRET=secret, TS=str(int(ts) - 600000), SIG=sig,
                         PATH=self.path_with_hookd()), cwd=tmp)
        self.assertNotEqual(p.returncode, 0, "a stale timestamp must fail: " + p.stdout)

        # the README's C function, compiled against OpenSSL
        code = re.search(r"```c\n(.*?)```", readme, re.S).group(1)
        main = r'''
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
int main(int argc, char **argv)
{
    static unsigned char body[1 << 20];
    FILE *f = fopen(argv[1], "rb");
    size_t n = f ? fread(body, 1, sizeof(body), f) : 0;
    struct timespec now;
    if (!f || argc != 6)
        return 2;
    fclose(f);
    clock_gettime(CLOCK_REALTIME, &now);
    long long now_ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000 + atoll(argv[5]);
    return twenty_verify(argv[2], argv[3], body, n, argv[4], now_ms) == 0 ? 0 : 1;
}
'''
        src = os.path.join(tmp, "verify.c")
        exe = os.path.join(tmp, "verify")
        with open(src, "w") as f:
            f.write("#define _POSIX_C_SOURCE 200809L\n" + code + main)
        p = run(["gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-o", exe, src, "-lcrypto"],
                timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(run([exe, good, secret, ts, sig, "0"]).returncode, 0, "authentic")
        self.assertEqual(run([exe, bad, secret, ts, sig, "0"]).returncode, 1, "one byte off")
        self.assertEqual(run([exe, good, secret, ts, sig.upper(), "0"]).returncode, 0)
        self.assertEqual(run([exe, good, "other", ts, sig, "0"]).returncode, 1, "other key")
        self.assertEqual(run([exe, good, secret, ts, sig, "400000"]).returncode, 1, "stale")
        self.assertEqual(run([exe, good, secret, ts, sig, "-120000"]).returncode, 1, "future")
        self.assertEqual(run([exe, good, secret, ts, sig[:-1], "0"]).returncode, 1, "short")
        sys.stderr.write("example C: hookd verify and twenty_verify() agree on a delivery\n")

    def test_docs_receivers_python_snippets(self):
        """The two Python functions of docs/receivers.md, run on a real
        delivery of a Standard Webhooks webhook with a whsec_ secret."""
        with open(os.path.join(REPO, "docs", "receivers.md")) as f:
            doc = f.read()
        blocks = re.findall(r"```python\n(.*?)```", doc, re.S)
        ns = {}
        for name in ("def verify(", "def verify_standard("):
            code = [b for b in blocks if name in b]
            self.assertEqual(len(code), 1, "one python block with %s" % name)
            exec(compile(code[0], "docs/receivers.md", "exec"), ns)  # noqa: S102
        secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # base64 of 24 bytes
        wh = self.h.add_webhook(self.url("ok", "standard"), "--secret", secret,
                                "--signing", "standard")
        self.h.start_worker()
        out = self.enqueue("person.created", {"id": "s1", "name": "Zo\u00eb"})
        event_id = json.loads(out)["id"]
        got = self.recv.wait_count(self.path("ok", "standard"), 1, 15)
        self.assertEqual(len(got), 1, self.h.logs()[-3000:])
        req = got[0]
        hd = req.headers
        self.assertEqual(hd["webhook-id"], delivery_id(event_id, wh["id"]))
        verify, verify_standard = ns["verify"], ns["verify_standard"]
        now = int(time.time() * 1000)
        self.assertTrue(verify(secret.encode(), hd["x-twenty-webhook-timestamp"],
                               hd["x-twenty-webhook-signature"], req.body, now))
        self.assertFalse(verify(secret.encode(), hd["x-twenty-webhook-timestamp"],
                                hd["x-twenty-webhook-signature"], req.body + b" ", now))
        self.assertFalse(verify(secret.encode(), hd["x-twenty-webhook-timestamp"],
                                hd["x-twenty-webhook-signature"], req.body, now + 400000))
        self.assertTrue(verify_standard(secret, hd, req.body))
        self.assertFalse(verify_standard(secret, hd, req.body.replace(b"s1", b"s2")))
        self.assertFalse(verify_standard("whsec_" + "A" * 32, hd, req.body))
        self.assertFalse(verify_standard(secret, dict(hd, **{"webhook-id": "msg_x"}), req.body))
        stale = dict(hd, **{"webhook-timestamp": str(int(hd["webhook-timestamp"]) - 400)})
        self.assertFalse(verify_standard(secret, stale, req.body))
        rotated = dict(hd, **{"webhook-signature": "v1,bm90IGl0 " + hd["webhook-signature"]})
        self.assertTrue(verify_standard(secret, rotated, req.body), "several signatures")

    def path_with_hookd(self):
        """PATH with the hookd under test first."""
        return os.path.dirname(os.path.abspath(self.h.bin)) + os.pathsep + os.environ["PATH"]


if __name__ == "__main__":
    unittest.main()
