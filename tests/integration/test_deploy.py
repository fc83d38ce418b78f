"""docker/, deploy/ and docs/operations.md, checked for real wherever this
machine can run them.

What runs for real here:
  - the image's build stage: scripts/docker-build-steps.sh, in a temporary
    directory laid out exactly as docker/Dockerfile's COPY lines (filtered by
    docker/Dockerfile.dockerignore) lay out the build context; the binary it
    installs is checked against the runtime stage's package list (DT_NEEDED ->
    dpkg -S), and that list against Debian's (apt-cache show);
  - the image's HEALTHCHECK script against a live `hookd run`;
  - the compose file's setup command, its one-line enqueue, and the sample
    receiver (examples/receivers/python/receiver.py, as its image runs it)
    against a real Redis and a real hookd run with the compose workers'
    environment;
  - every PromQL expression of the dashboard and the alerts: metric names and
    label values against a live /metrics, syntax with promtool, and evaluation
    by a real Prometheus scraping that hookd; `promtool check rules` and
    `promtool test rules`;
  - `systemd-analyze verify` and `systemd-analyze security` on the unit, and
    the system calls, socket families and memory mappings of a real delivery
    run under strace against the unit's SystemCallFilter, RestrictAddress-
    Families and MemoryDenyWriteExecute;
  - `kubectl kustomize` (or `kustomize build`) and `docker compose config` /
    `docker-compose config` when installed;
  - every HOOKD_* name in docker/ and deploy/ against the options the binary
    itself lists (`hookd --help`), and every set of values against hookd's own
    configuration parser.

What cannot run here (no Docker engine, no Kubernetes cluster, systemd is not
PID 1) is checked by structure: see each test's docstring.
"""

import http.client
import ipaddress
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (REPO, Hookd, Receiver, RedisServer, free_port, hookd_bin,  # noqa: E402
                     spawn, wait_for)

try:
    import yaml
except ImportError:  # pragma: no cover - environment problem, say it plainly
    sys.stderr.write("test_deploy: python3-yaml is missing (apt-get install -y python3-yaml)\n")
    raise

DOCKERFILE = os.path.join(REPO, "docker", "Dockerfile")
COMPOSE = os.path.join(REPO, "docker", "compose.yaml")
K8S = os.path.join(REPO, "deploy", "kubernetes")
UNIT = os.path.join(REPO, "deploy", "systemd", "hookd.service")
ENVFILE = os.path.join(REPO, "deploy", "systemd", "hookd.env.example")
DASHBOARD = os.path.join(REPO, "deploy", "grafana", "hookd-dashboard.json")
ALERTS = os.path.join(REPO, "deploy", "prometheus", "alerts.yaml")
ALERT_TESTS = os.path.join(REPO, "deploy", "prometheus", "alerts.test.yaml")
HEALTHCHECK = os.path.join(REPO, "docker", "healthcheck.sh")
RECEIVER = os.path.join(REPO, "examples", "receivers", "python", "receiver.py")

# Names of the HOOKD_ form that are not hookd options, with the file that
# reads each (checked below). Nothing else may pass.
NOT_OPTIONS = {"HOOKD_SECRET": "examples/receivers/python/receiver.py"}
HOOKD_NAME = re.compile(r"\bHOOKD_[A-Z0-9_]+\b")
# hookd's drain: HOOKD_DRAIN_TIMEOUT, then up to 5 s to flush settlements
# (docs/design.md, "Draining"). Stop timeouts must exceed both.
FLUSH_SECONDS = 5
# Grafana variables and the values they stand for when checked here.
GRAFANA_VARS = {"$__rate_interval": "15s", "${__rate_interval}": "15s", "$__interval": "5s"}


def run(argv, timeout=120, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    return subprocess.run(argv, timeout=timeout, **kw)


def rel(path):
    return os.path.relpath(path, REPO)


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


def seconds(text):
    """A hookd or systemd duration ("25s", "500ms", "5m", "40", "1min") in seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min|h|d)?\s*", str(text))
    if not m:
        raise ValueError("not a duration: %r" % text)
    mult = {None: 1, "s": 1, "sec": 1, "ms": 0.001, "m": 60, "min": 60, "h": 3600, "d": 86400}
    return float(m.group(1)) * mult[m.group(2)]


def cpu_cores(text):
    text = str(text)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


# --------------------------------------------------------------------------
# What hookd knows, from the binary.

_OPTIONS = None


def hookd_options():
    """{HOOKD_NAME: default text} parsed from `hookd --help`, the binary's own
    option table."""
    global _OPTIONS
    if _OPTIONS is None:
        p = run([hookd_bin(), "--help"], timeout=30)
        text = p.stdout + p.stderr
        found = dict(re.findall(r"^\s+(HOOKD_[A-Z0-9_]+), default: (.*?)\s*$", text, re.M))
        if "HOOKD_REDIS_URL" not in found or len(found) < 10:
            raise AssertionError("cannot read the option table from `%s --help` (rc %d):\n%s"
                                 % (hookd_bin(), p.returncode, text[-3000:]))
        _OPTIONS = found
    return _OPTIONS


def unknown_hookd_names(text):
    """HOOKD_* names in text that are neither options nor in NOT_OPTIONS."""
    known = hookd_options()
    return sorted({n for n in HOOKD_NAME.findall(text) if n not in known and n not in NOT_OPTIONS})


def hookd_accepts(env):
    """(ok, stderr): whether hookd's configuration parser takes every HOOKD_*
    value of env. `hookd verify` parses the whole configuration like any
    command, needs no Redis, and exits 1 (not 2) on a signature mismatch."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("HOOKD_")}
    full.update({k: str(v) for k, v in env.items() if k.startswith("HOOKD_")})
    p = run([hookd_bin(), "verify", "--secret", "s", "--timestamp", "1", "--signature", "00"],
            input="", env=full, timeout=30)
    return p.returncode == 1, p.stderr.strip()


def drain_seconds(env):
    return seconds(env.get("HOOKD_DRAIN_TIMEOUT") or hookd_options()["HOOKD_DRAIN_TIMEOUT"])


# --------------------------------------------------------------------------
# Dockerfile and .dockerignore.

class Instr:
    __slots__ = ("op", "args", "flags", "words", "json", "line")

    def __init__(self, op, rest, line):
        self.op = op
        self.line = line
        self.flags = {}
        while True:
            m = re.match(r"--([a-z-]+)(?:=(\S+))?\s+", rest)
            if not m or op not in ("COPY", "ADD", "FROM", "RUN", "HEALTHCHECK"):
                break
            self.flags[m.group(1)] = m.group(2) if m.group(2) is not None else True
            rest = rest[m.end():]
        self.args = rest.strip()
        self.json = None
        if self.args.startswith("["):
            try:
                self.json = json.loads(self.args)
            except ValueError:
                self.json = None
        self.words = self.json if self.json is not None else self.args.split()

    def __repr__(self):
        return "line %d: %s %s" % (self.line, self.op, self.args)


def parse_dockerfile(path):
    """[(stage name, base image, [Instr])] of a Dockerfile: comments dropped,
    continuation lines joined."""
    stages = []
    with open(path) as f:
        lines = f.read().split("\n")
    buf, start = "", 0
    for no, line in enumerate(lines, 1):
        s = line.strip()
        if not buf and (not s or s.startswith("#")):
            continue
        if buf and s.startswith("#"):
            continue  # a comment inside a continued instruction
        if not buf:
            start = no
        if s.endswith("\\"):
            buf += s[:-1] + " "
            continue
        buf += s
        op, _, rest = buf.partition(" ")
        ins = Instr(op.upper(), rest.strip(), start)
        buf = ""
        if ins.op == "FROM":
            m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?$", ins.args, re.I)
            stages.append((m.group(2), m.group(1), []))
        elif not stages:
            raise AssertionError("%s: %r before FROM" % (rel(path), ins))
        else:
            stages[-1][2].append(ins)
    return stages


def dockerignore(dockerfile):
    """The ignore file BuildKit uses for this Dockerfile, as a function
    ignored(relpath) (Docker's rules: last matching pattern wins, a pattern
    also matches everything under a directory it matches, ! re-includes)."""
    path = dockerfile + ".dockerignore"
    if not os.path.exists(path):
        path = os.path.join(REPO, ".dockerignore")
    rules = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                s = line.strip()
                if not s or s.startswith("#"):
                    continue
                neg = s.startswith("!")
                pat = os.path.normpath(s[1:] if neg else s).lstrip("/")
                rx = ""
                i = 0
                while i < len(pat):
                    if pat.startswith("**", i):
                        rx += ".*"
                        i += 2
                    elif pat[i] == "*":
                        rx += "[^/]*"
                        i += 1
                    elif pat[i] == "?":
                        rx += "[^/]"
                        i += 1
                    else:
                        rx += re.escape(pat[i])
                        i += 1
                rules.append((re.compile(rx + "$"), neg))

    def ignored(relpath):
        parts = relpath.split("/")
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        verdict = False
        for rx, neg in rules:
            if any(rx.match(p) for p in prefixes):
                verdict = not neg
        return verdict
    return ignored


def context_files(src, ignored):
    """Context-relative files that `COPY src` sends, after the ignore file."""
    p = os.path.normpath(src).lstrip("/")
    full = os.path.join(REPO, p)
    if not os.path.exists(full):
        raise AssertionError("COPY source %s does not exist" % src)
    if os.path.isfile(full):
        return [p] if not ignored(p) else []
    out = []
    for root, dirs, files in os.walk(full):
        dirs.sort()
        for name in sorted(files):
            r = os.path.relpath(os.path.join(root, name), REPO)
            if not ignored(r):
                out.append(r)
    return out


def stage_copy_into(ins, workdir, root, ignored):
    """Performs a context COPY of the build stage into root (a directory
    standing for the image's /)."""
    *srcs, dest = ins.words
    if not dest.startswith("/"):
        dest = os.path.join(workdir, dest)
    for src in srcs:
        files = context_files(src, ignored)
        if not files:
            raise AssertionError("%r: %s sends nothing (missing or ignored)" % (ins, src))
        base = os.path.normpath(src).lstrip("/")
        for f in files:
            if os.path.isdir(os.path.join(REPO, base)):
                target = os.path.join(dest, os.path.relpath(f, base))
            elif dest.endswith("/") or len(srcs) > 1:
                target = os.path.join(dest, os.path.basename(f))
            else:
                target = dest
            out = os.path.join(root, target.lstrip("/"))
            os.makedirs(os.path.dirname(out), exist_ok=True)
            shutil.copy2(os.path.join(REPO, f), out)


def image_uid():
    """The uid of the runtime stage's USER."""
    user = [i for i in parse_dockerfile(DOCKERFILE)[-1][2] if i.op == "USER"]
    return user[-1].args.split(":")[0]


def host_debian():
    """This machine's Debian release ("12", "13")."""
    with open("/etc/os-release") as f:
        m = re.search(r'^VERSION_ID="?(\d+)', f.read(), re.M)
    return m.group(1) if m else "?"


def image_debian():
    """The Debian release of docker/Dockerfile's build stage."""
    with open(DOCKERFILE) as f:
        m = re.search(r"^FROM debian:(\d+)", f.read(), re.M)
    return m.group(1) if m else "?"


IMAGE_DEBIAN = image_debian()


def base_packages():
    """Packages every Debian image has: the Essential ones and what they
    depend on, transitively (libc6 is one; libssl3 is not)."""
    fmt = "-f=${Package}\t${Essential}\t${Pre-Depends}, ${Depends}\n"
    out = run(["dpkg-query", "-W", fmt]).stdout
    deps, todo = {}, []
    for line in out.splitlines():
        pkg, essential, d = line.split("\t")
        deps[pkg] = [re.split(r"[\s(:]", grp.split("|")[0].strip())[0]
                     for grp in d.split(",") if grp.strip()]
        if essential == "yes":
            todo.append(pkg)
    seen = set()
    while todo:
        pkg = todo.pop()
        if pkg not in seen:
            seen.add(pkg)
            todo += deps.get(pkg, [])
    return seen


def apt_install_packages(command):
    """Package names of every `apt-get install` in a shell command."""
    pkgs = []
    for part in re.split(r"&&|;|\|\|", command):
        words = shlex.split(part)
        if "apt-get" in words and "install" in words:
            after = words[words.index("install") + 1:]
            pkgs += [w for w in after if not w.startswith("-")]
    return pkgs


class DockerfileStatic(unittest.TestCase):
    """docker/Dockerfile and docker/receiver/Dockerfile by structure (no
    Docker engine here): stages, user, health check, entry point, and every
    file they COPY from the context exists and is not ignored."""

    @classmethod
    def setUpClass(cls):
        cls.stages = parse_dockerfile(DOCKERFILE)
        cls.build = cls.stages[0]
        cls.runtime = cls.stages[-1]

    def instrs(self, stage, op):
        return [i for i in stage[2] if i.op == op]

    def test_multi_stage_on_debian_13(self):
        """Debian 13, whose hiredis has TLS (docker/README.md)."""
        self.assertGreaterEqual(len(self.stages), 2)
        self.assertEqual(self.build[1], "debian:" + IMAGE_DEBIAN)
        self.assertEqual(IMAGE_DEBIAN, "13")
        self.assertTrue(self.build[0], "the build stage needs a name for COPY --from")
        self.assertEqual(self.runtime[1], "debian:13-slim")

    def test_build_stage_runs_only_the_shared_script(self):
        """Every RUN of the build stage is scripts/docker-build-steps.sh,
        which CI runs too (DockerBuildSteps): nothing can hide in the
        Dockerfile alone."""
        runs = self.instrs(self.build, "RUN")
        self.assertTrue(runs)
        for ins in runs:
            self.assertEqual(ins.words[:2], ["bash", "scripts/docker-build-steps.sh"], ins)
        self.assertEqual([i.words[2] for i in runs], ["deps", "build"])

    def test_runtime_stage(self):
        st = self.runtime[2]
        user = self.instrs(self.runtime, "USER")
        self.assertEqual(len(user), 1)
        uid, _, gid = user[0].args.partition(":")
        self.assertTrue(uid.isdigit() and int(uid) != 0,
                        "USER must be a numeric non-root uid (runAsNonRoot checks it): %r" % user)
        self.assertTrue(gid.isdigit() and int(gid) != 0, user)
        runs = " && ".join(i.args for i in self.instrs(self.runtime, "RUN"))
        self.assertIn("--uid %s" % uid, runs, "the user is created with the USER's uid")
        self.assertIn("rm -rf /var/lib/apt/lists/*", runs)
        self.assertIn("--no-install-recommends", runs)
        self.assertEqual(self.instrs(self.runtime, "ENTRYPOINT")[-1].json, ["hookd"])
        self.assertEqual(self.instrs(self.runtime, "CMD")[-1].json, ["run"])
        env = " ".join(i.args for i in self.instrs(self.runtime, "ENV"))
        self.assertRegex(env, r"(^|\s)HOOKD_METRICS_ADDR=0\.0\.0\.0:9464(\s|$)")
        self.assertIn("9464", [i.args for i in self.instrs(self.runtime, "EXPOSE")])
        hc = self.instrs(self.runtime, "HEALTHCHECK")
        self.assertEqual(len(hc), 1)
        self.assertEqual(hc[0].words[0], "CMD", hc)
        cmd = json.loads(hc[0].args[len("CMD"):].strip())
        self.assertEqual(cmd, ["hookd-healthcheck"])
        copies = [i for i in st
                  if i.op == "COPY" and i.words[-1] == "/usr/local/bin/hookd-healthcheck"]
        self.assertEqual(len(copies), 1, "the health check script is installed on PATH")
        self.assertEqual(copies[0].words[0], "docker/healthcheck.sh")
        self.assertEqual(copies[0].flags.get("chmod"), "0755")
        self.assertEqual(self.instrs(self.runtime, "STOPSIGNAL")[0].args, "SIGTERM")

    def test_context_copies_exist_and_are_not_ignored(self):
        for dockerfile in (DOCKERFILE, os.path.join(REPO, "docker", "receiver", "Dockerfile")):
            ignored = dockerignore(dockerfile)
            for _, _, instrs in parse_dockerfile(dockerfile):
                for ins in instrs:
                    if ins.op in ("COPY", "ADD") and "from" not in ins.flags:
                        for src in ins.words[:-1]:
                            self.assertTrue(context_files(src, ignored),
                                            "%s %r: %s is missing or ignored"
                                            % (rel(dockerfile), ins, src))

    def test_dockerignore_matcher(self):
        """The matcher the build test relies on, on known cases."""
        ignored = dockerignore(DOCKERFILE)
        self.assertFalse(ignored("src/main.c"))
        self.assertFalse(ignored("include/hookd/common.h"))
        self.assertTrue(ignored("build-test/hookd"))
        self.assertTrue(ignored("bench/peers/bullmq/package.json"))
        self.assertTrue(ignored("tests/integration/__pycache__/harness.cpython-311.pyc"))
        self.assertTrue(ignored("docker/compose.yaml"))
        self.assertFalse(ignored("docker/healthcheck.sh"))

    def test_receiver_image(self):
        stages = parse_dockerfile(os.path.join(REPO, "docker", "receiver", "Dockerfile"))
        self.assertEqual(len(stages), 1)
        base = stages[0][1]
        self.assertTrue(base.startswith("python:3.11-slim-bookworm"), base)
        instrs = stages[0][2]
        copies = [i for i in instrs if i.op == "COPY"]
        self.assertEqual([i.words for i in copies], [[rel(RECEIVER), "/app/receiver.py"]],
                         "the receiver is used where it lives")
        self.assertFalse([f for f in os.listdir(os.path.join(REPO, "docker", "receiver"))
                          if f.endswith(".py")],
                         "a copy of the receiver would drift from the one CI tests")
        env = " ".join(i.args for i in instrs if i.op == "ENV")
        self.assertRegex(env, r"(^|\s)RECEIVER_HOST=0\.0\.0\.0(\s|$)",
                         "on loopback, other containers cannot reach it")
        user = [i.args for i in instrs if i.op == "USER"]
        self.assertTrue(user and not user[-1].startswith("0"), user)
        ep = [i.json for i in instrs if i.op == "ENTRYPOINT"][-1]
        self.assertEqual(ep, ["python3", "-u", "/app/receiver.py"])
        self.assertEqual([i.json for i in instrs if i.op == "CMD"][-1], ["8080"])


# --------------------------------------------------------------------------
# The build stage, for real.

class DockerBuildSteps(unittest.TestCase):
    """Runs the build stage's steps (scripts/docker-build-steps.sh) in a
    temporary root laid out as the Dockerfile's COPY lines lay out the image;
    then checks the runtime stage against what they produced."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hookd-it-image-")
        try:
            cls._build()
        except BaseException:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def _build(cls):
        stages = parse_dockerfile(DOCKERFILE)
        cls.stage_name = stages[0][0]
        cls.runtime = stages[-1]
        ignored = dockerignore(DOCKERFILE)
        root = os.path.join(cls.tmp, "root")
        workdir = "/"
        cls.log = []
        for ins in stages[0][2]:
            if ins.op == "WORKDIR":
                workdir = os.path.join(workdir, ins.args)
                os.makedirs(os.path.join(root, workdir.lstrip("/")), exist_ok=True)
            elif ins.op == "COPY":
                stage_copy_into(ins, workdir, root, ignored)
            elif ins.op == "RUN":
                # absolute paths of the image are paths under root here
                argv = [w if not w.startswith("/") else os.path.join(root, w.lstrip("/"))
                        for w in ins.words]
                t0 = time.monotonic()
                p = run(argv, cwd=os.path.join(root, workdir.lstrip("/")), timeout=600)
                cls.log.append("%r: rc %d in %.1fs" % (ins, p.returncode, time.monotonic() - t0))
                if p.returncode != 0:
                    raise AssertionError("%r failed (rc %d):\n%s\n%s"
                                         % (ins, p.returncode, p.stdout[-4000:], p.stderr[-4000:]))
            elif ins.op in ("ENV", "ARG"):
                raise AssertionError("%r: the build stage would differ from CI's run" % ins)
        cls.root = root
        cls.binary = os.path.join(root, "out", "usr", "local", "bin", "hookd")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_installed_binary_runs(self):
        self.assertTrue(os.access(self.binary, os.X_OK), "\n".join(self.log))
        p = run([self.binary, "version"])
        with open(os.path.join(REPO, "CMakeLists.txt")) as f:
            version = re.search(r"project\(hookd VERSION ([0-9.]+)", f.read()).group(1)
        self.assertEqual(p.stdout.splitlines()[0], "hookd " + version)
        # Release, stripped: no sanitizer runtime, no symbol table
        self.assertNotIn("libasan", run(["readelf", "-d", self.binary]).stdout)
        self.assertNotIn(".symtab", run(["readelf", "-S", self.binary]).stdout)

    def test_runtime_copies_from_build_exist(self):
        for ins in self.runtime[2]:
            if ins.op == "COPY" and "from" in ins.flags:
                self.assertEqual(ins.flags["from"], self.stage_name, ins)
                for src in ins.words[:-1]:
                    self.assertTrue(os.path.exists(os.path.join(self.root, src.lstrip("/"))),
                                    "%r: the build stage made no %s" % (ins, src))

    def test_runtime_packages_are_exactly_what_the_binary_links(self):
        """The runtime stage installs the package of every library hookd
        links directly (DT_NEEDED, resolved by ldd, owned per dpkg -S), except
        those every Debian image has (base_packages), plus ca-certificates;
        nothing else. And each exists in the image's Debian, which must be
        this machine's: scripts/trixie.sh runs this check in a Debian 13
        root."""
        if host_debian() != IMAGE_DEBIAN:
            self.skipTest("the image is Debian %s and this machine Debian %s: "
                          "scripts/trixie.sh runs this check in a Debian %s root"
                          % (IMAGE_DEBIAN, host_debian(), IMAGE_DEBIAN))
        runtime_cmd = " && ".join(i.args for i in self.runtime[2] if i.op == "RUN")
        listed = apt_install_packages(runtime_cmd)
        self.assertTrue(listed)
        for pkg in listed:
            p = run(["apt-cache", "show", "--no-all-versions", pkg])
            self.assertEqual(p.returncode, 0, "apt-cache show %s: %s" % (pkg, p.stderr))
            self.assertIn("Package: %s" % pkg, p.stdout)
        needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]",
                            run(["readelf", "-d", self.binary]).stdout)
        self.assertIn("libcurl.so.4", needed)
        paths = dict(re.findall(r"^\s*(\S+) => (\S+)", run(["ldd", self.binary]).stdout, re.M))
        want = set()
        base = base_packages()
        self.assertIn("libc6", base)
        for so in needed:
            self.assertIn(so, paths, "ldd cannot resolve %s" % so)
            real = os.path.realpath(paths[so])
            owner = None
            for cand in (paths[so], real, real.replace("/usr/lib/", "/lib/", 1),
                         paths[so].replace("/lib/", "/usr/lib/", 1)):
                p = run(["dpkg", "-S", cand])
                if p.returncode == 0:
                    owner = p.stdout.split(":")[0].strip()
                    break
            self.assertIsNotNone(owner, "no package owns %s" % paths[so])
            if owner not in base:
                want.add(owner)
        missing = want - set(listed)
        self.assertFalse(missing, "the runtime stage lacks %s" % sorted(missing))
        extra = set(listed) - want - {"ca-certificates"}
        self.assertFalse(extra, "the runtime stage installs %s, which hookd does not link"
                         % sorted(extra))

    def test_hardened_unit_allows_what_hookd_does(self):
        """A real delivery run of the image's binary under strace, against the
        unit's SystemCallFilter, RestrictAddressFamilies, MemoryDenyWriteExecute
        and RestrictNamespaces (systemd is not PID 1 here, so the unit itself
        cannot be started)."""
        if not shutil.which("strace"):
            self.fail("strace is missing (apt-get install -y strace; scripts/deps.sh has it)")
        p = run(["strace", "-f", "-qq", "-o", os.devnull, "true"], timeout=30)
        if p.returncode != 0:
            self.skipTest("strace cannot trace here (no ptrace in this container?): %s; the "
                          "unit's keys were checked structurally only" % p.stderr.strip())
        unit = parse_unit(UNIT)
        svc = unit["Service"]
        out = run(["systemd-analyze", "syscall-filter"]).stdout
        groups, cur = {}, None
        for line in out.splitlines():
            if line.startswith("@"):
                cur = line.strip()
                groups[cur] = []
            elif cur and line.strip() and not line.strip().startswith("#"):
                groups[cur].append(line.strip())
        self.assertIn("@system-service", groups, out[:2000])

        def expand(names):
            s = set()
            for n in names:
                s |= expand(groups[n]) if n.startswith("@") else {n}
            return s
        allowed = set()
        for value in svc["SystemCallFilter"]:
            if value.startswith("~"):
                allowed -= expand(value[1:].split())
            else:
                allowed |= expand(value.split())
        families = set(" ".join(svc["RestrictAddressFamilies"]).split())

        with RedisServer() as redis_server, Receiver() as recv:
            h = Hookd(redis_server.port)
            h.bin = self.binary
            h.add_webhook(recv.url("/ok/strace"))
            h.add_webhook("http://localhost:%d/ok/strace-name" % recv.port)
            trace = os.path.join(self.tmp, "strace.txt")
            mport = free_port()
            w = h.start_worker(wrapper=["strace", "-f", "-qq", "-o", trace],
                               args=["--metrics-addr", "127.0.0.1:%d" % mport])
            try:
                rc, out, err = h.cli("enqueue", "person.created", '{"id":"1"}')
                self.assertEqual(rc, 0, err)
                got = wait_for(lambda: recv.count("/ok/strace") >= 2, 20)
                self.assertTrue(got, "no delivery under strace:\n" + w.log()[-3000:])
                status, body = http_get(mport, "/metrics")
                self.assertEqual(status, 200)
            finally:
                # strace does not pass SIGTERM on: signal hookd, its child
                kids = []
                try:
                    with open("/proc/%d/task/%d/children" % (w.pid, w.pid)) as f:
                        kids = [int(x) for x in f.read().split()]
                except OSError:
                    pass
                for k in kids:
                    os.kill(k, signal.SIGTERM)
                rc, _ = h.stop_worker(w, timeout=20, sig=None if kids else signal.SIGTERM)
                h.close()
            self.assertEqual(rc, 0, w.log()[-3000:])
        with open(trace) as f:
            text = f.read()
        used = set(re.findall(r"^\d+\s+(?:<\.\.\. )?([a-z0-9_]+)[( ]", text, re.M)) - {"exited"}
        self.assertIn("epoll_wait", used, "the trace is empty?")
        self.assertFalse(used - allowed, "hookd makes system calls the unit's SystemCallFilter "
                         "denies: %s" % sorted(used - allowed))
        fams = set(re.findall(r"\bsocket(?:pair)?\((AF_[A-Z0-9]+)", text))
        self.assertIn("AF_INET", fams)
        self.assertFalse(fams - families, "sockets of families RestrictAddressFamilies denies: "
                         "%s" % sorted(fams - families))
        wx = [l for l in text.splitlines()
              if re.search(r"\b(mmap|mprotect|pkey_mprotect)\(", l)
              and "PROT_WRITE" in l and "PROT_EXEC" in l]
        self.assertFalse(wx, "writable+executable mappings (MemoryDenyWriteExecute): %s" % wx[:3])
        ns = [l for l in text.splitlines() if "CLONE_NEW" in l or re.search(r"\bunshare\(", l)]
        self.assertFalse(ns, "namespaces (RestrictNamespaces): %s" % ns[:3])


# --------------------------------------------------------------------------
# The compose file.

def interpolate(value, env):
    """Compose's variable interpolation: ${V}, ${V:-d}, ${V-d}, $V, $$."""
    def sub(m):
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(4)
        if m.group(2) is not None:
            op, default = m.group(2), m.group(3)
            v = env.get(name)
            if v is None or (op == ":-" and v == ""):
                return default
            return v
        return env.get(name, "")
    return re.sub(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}"
                  r"|\$([A-Za-z_][A-Za-z0-9_]*)", sub, value)


def interpolate_all(obj, env):
    if isinstance(obj, str):
        return interpolate(obj, env)
    if isinstance(obj, list):
        return [interpolate_all(x, env) for x in obj]
    if isinstance(obj, dict):
        return {k: interpolate_all(v, env) for k, v in obj.items()}
    return obj


def service_env(svc):
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, "") for e in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def load_compose(env=None):
    with open(COMPOSE) as f:
        raw = yaml.safe_load(f)
    return interpolate_all(raw, {} if env is None else env)


def compose_workers(doc):
    """Services that run `hookd run` from docker/Dockerfile."""
    out = {}
    for name, svc in doc["services"].items():
        b = svc.get("build") or {}
        if b.get("dockerfile") == "docker/Dockerfile" and "entrypoint" not in svc \
                and svc.get("command") in (None, ["run"], "run"):
            out[name] = svc
    return out


class ComposeStatic(unittest.TestCase):
    """docker/compose.yaml parsed with PyYAML (anchors and merges resolved)
    and interpolated as compose does, then checked service by service. When
    `docker compose` or Debian's `docker-compose` is installed, its own
    `config -q` runs too."""

    @classmethod
    def setUpClass(cls):
        cls.doc = load_compose()
        cls.services = cls.doc["services"]

    def test_top_level(self):
        allowed = {"name", "services", "networks", "volumes", "configs", "secrets"}
        for key in self.doc:
            self.assertTrue(key in allowed or key.startswith("x-"), "unknown key %r" % key)
        for name in ("redis", "receiver", "setup", "hookd"):
            self.assertIn(name, self.services)

    def test_every_service_has_an_image_and_a_buildable_context(self):
        for name, svc in self.services.items():
            self.assertTrue("image" in svc or "build" in svc, name)
            b = svc.get("build")
            if b:
                ctx = os.path.normpath(os.path.join(os.path.dirname(COMPOSE), b["context"]))
                self.assertTrue(os.path.isdir(ctx), "%s: no context %s" % (name, ctx))
                dockerfile = os.path.join(ctx, b.get("dockerfile", "Dockerfile"))
                self.assertTrue(os.path.isfile(dockerfile), "%s: no Dockerfile %s" % (name, b))
            for dep in svc.get("depends_on") or {}:
                self.assertIn(dep, self.services, "%s depends on unknown %s" % (name, dep))
            for net in svc.get("networks") or []:
                self.assertIn(net, self.doc.get("networks") or {}, "%s: network %s" % (name, net))
            for port in svc.get("ports") or []:
                self.assertTrue(str(port).startswith("127.0.0.1:"), "%s publishes %s beyond "
                                "loopback (no auth on metrics)" % (name, port))

    def test_redis_persists(self):
        redis_svc = self.services["redis"]
        cmd = redis_svc["command"]
        self.assertIn("--appendonly", cmd)
        self.assertEqual(cmd[cmd.index("--appendonly") + 1], "yes")
        self.assertTrue(any(str(v).endswith(":/data") for v in redis_svc.get("volumes", [])),
                        "the AOF must live on a volume")
        self.assertIn("redis-cli", " ".join(redis_svc["healthcheck"]["test"]))

    def test_workers(self):
        workers = compose_workers(self.doc)
        self.assertGreaterEqual(len(workers), 2, "two hookd workers")
        for name, svc in workers.items():
            env = service_env(svc)
            self.assertIn("HOOKD_REDIS_URL", env)
            self.assertEqual(urllib.parse.urlsplit(env["HOOKD_REDIS_URL"]).hostname, "redis")
            ok, err = hookd_accepts(env)
            self.assertTrue(ok, "%s: hookd refuses its environment: %s" % (name, err))
            grace = seconds(svc["stop_grace_period"])
            self.assertGreater(grace, drain_seconds(env) + FLUSH_SECONDS, name)
            self.assertEqual(svc["healthcheck"]["test"], ["CMD", "hookd-healthcheck"])
            self.assertTrue(svc.get("read_only"), name)
            self.assertEqual(svc.get("cap_drop"), ["ALL"], name)
            self.assertEqual(svc["depends_on"]["redis"]["condition"], "service_healthy")

    def test_allow_net_covers_the_receiver_network_only(self):
        """HOOKD_ALLOW_NET is exactly what lets the workers reach the
        receiver's private address: it must cover the subnet of a network the
        receiver and every worker share, and Redis must not be on it."""
        nets = self.doc["networks"]
        recv_nets = set(self.services["receiver"]["networks"])
        for name, svc in compose_workers(self.doc).items():
            allow = [ipaddress.ip_network(c.strip())
                     for c in service_env(svc)["HOOKD_ALLOW_NET"].split(",")]
            shared = recv_nets & set(svc["networks"])
            self.assertTrue(shared, "%s shares no network with the receiver" % name)
            for net in shared:
                subnets = [ipaddress.ip_network(c["subnet"])
                           for c in (nets[net] or {}).get("ipam", {}).get("config", [])]
                self.assertTrue(subnets,
                                "network %s needs a fixed subnet for HOOKD_ALLOW_NET" % net)
                for sn in subnets:
                    self.assertTrue(any(sn.subnet_of(a) for a in allow if a.version == sn.version),
                                    "%s: HOOKD_ALLOW_NET %s does not cover %s" % (name, allow, sn))
                self.assertNotIn(net, self.services["redis"]["networks"],
                                 "Redis on the allowed network is reachable by webhooks")

    def test_receiver_and_setup_share_the_secret(self):
        env = {"DEMO_WEBHOOK_SECRET": "from-the-environment"}
        for doc in (self.doc, load_compose(env)):
            recv_secret = service_env(doc["services"]["receiver"])["HOOKD_SECRET"]
            setup_secret = service_env(doc["services"]["setup"])["WEBHOOK_SECRET"]
            self.assertTrue(recv_secret)
            self.assertEqual(recv_secret, setup_secret)
        self.assertEqual(recv_secret, "from-the-environment")
        cmd = " ".join(self.services["setup"]["command"])
        self.assertIn("http://receiver:8080/", cmd)
        self.assertIn("$WEBHOOK_SECRET", cmd)

    def test_long_running_services_have_healthchecks(self):
        for name, svc in self.services.items():
            if svc.get("restart") == "no":
                continue
            hc = svc.get("healthcheck")
            self.assertTrue(hc and not hc.get("disable") and hc.get("test"), name)

    def test_interpolation(self):
        self.assertEqual(interpolate("${A:-x}-$$B-${C-y}-$D", {"A": "", "C": "", "D": "d"}),
                         "x-$B--d")

    def test_compose_cli_config(self):
        """`docker compose config -q` when the plugin is there; else Debian's
        docker-compose 1.29, which predates the top-level `name` key: it gets
        a copy without it."""
        ran = []
        p = run(["docker", "compose", "version"]) if shutil.which("docker") else None
        if p is not None and p.returncode == 0:
            p = run(["docker", "compose", "-f", COMPOSE, "config", "-q"])
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            ran.append("docker compose")
        if shutil.which("docker-compose"):
            with tempfile.TemporaryDirectory(prefix="hookd-it-compose-") as d:
                with open(COMPOSE) as f:
                    text = re.sub(r"(?m)^name:.*\n", "", f.read())
                copy = os.path.join(d, "compose.yaml")
                with open(copy, "w") as f:
                    f.write(text)
                p = run(["docker-compose", "-f", copy, "--project-directory",
                         os.path.dirname(COMPOSE), "config", "-q"])
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                ran.append("docker-compose")
        if not ran:
            self.skipTest("neither `docker compose` nor `docker-compose` is installed; "
                          "the structural checks above ran")


# --------------------------------------------------------------------------
# Kubernetes.

def load_k8s():
    docs = []
    for name in sorted(os.listdir(K8S)):
        if name.endswith((".yaml", ".yml")):
            with open(os.path.join(K8S, name)) as f:
                for d in yaml.safe_load_all(f):
                    if d is not None:
                        docs.append((name, d))
    return docs


class KubernetesStatic(unittest.TestCase):
    """deploy/kubernetes parsed with PyYAML; no cluster here, so every field
    the issue names is checked, with the cross-references a cluster would
    resolve (names, labels, ports, the Redis address KEDA reads). `kubectl
    kustomize` or `kustomize build` renders it too when installed."""

    @classmethod
    def setUpClass(cls):
        cls.docs = load_k8s()
        cls.by_kind = {}
        for name, d in cls.docs:
            cls.by_kind.setdefault(d.get("kind"), []).append(d)

    def one(self, kind):
        items = self.by_kind.get(kind, [])
        self.assertEqual(len(items), 1, "want one %s, have %d" % (kind, len(items)))
        return items[0]

    def pod_spec(self):
        return self.one("Deployment")["spec"]["template"]["spec"]

    def container(self):
        cs = self.pod_spec()["containers"]
        self.assertEqual(len(cs), 1)
        return cs[0]

    def config_env(self):
        env = dict(self.one("ConfigMap")["data"])
        env.update(self.one("Secret").get("stringData", {}))
        return env

    def test_every_doc_is_an_object(self):
        for name, d in self.docs:
            self.assertIsInstance(d, dict, name)
            for key in ("apiVersion", "kind"):
                self.assertIn(key, d, name)
            if d["kind"] != "Kustomization":
                self.assertTrue(d.get("metadata", {}).get("name"), name)

    def test_kustomization_lists_every_manifest(self):
        kz = self.one("Kustomization")
        files = {n for n, d in self.docs if d["kind"] != "Kustomization"}
        self.assertEqual(set(kz["resources"]), files)
        images = {i["name"] for i in kz.get("images", [])}
        self.assertIn(self.container()["image"].split(":")[0], images)

    def test_kinds(self):
        for kind in ("Deployment", "ConfigMap", "Secret", "Service", "PodDisruptionBudget",
                     "ScaledObject", "TriggerAuthentication"):
            self.one(kind)

    def test_config_and_secret(self):
        c = self.container()
        refs = {("configMapRef" if "configMapRef" in e else "secretRef"):
                (e.get("configMapRef") or e.get("secretRef"))["name"] for e in c["envFrom"]}
        self.assertEqual(refs["configMapRef"], self.one("ConfigMap")["metadata"]["name"])
        self.assertEqual(refs["secretRef"], self.one("Secret")["metadata"]["name"])
        cm = self.one("ConfigMap")["data"]
        secret = self.one("Secret").get("stringData", {})
        self.assertIn("HOOKD_REDIS_URL", secret)
        self.assertNotIn("HOOKD_REDIS_URL", cm, "the Redis URL carries the password")
        for k in cm:
            self.assertNotRegex(k, "PASSWORD|SECRET|TOKEN", "secrets belong in the Secret")
        for v in secret.values():
            self.assertRegex(v, "FAKE|CHANGE-ME",
                             "the example Secret must hold obviously fake values")
        ok, err = hookd_accepts(self.config_env())
        self.assertTrue(ok, "hookd refuses the ConfigMap and Secret: %s" % err)
        self.assertNotIn("env", c, "configuration comes from the ConfigMap and the Secret")
        self.assertIs(self.pod_spec().get("enableServiceLinks"), False,
                      "Service links would add HOOKD_METRICS_* variables of their own")

    def test_probes_and_ports(self):
        c = self.container()
        port = {p["name"]: p["containerPort"] for p in c["ports"]}["metrics"]
        addr = self.config_env().get("HOOKD_METRICS_ADDR", "")
        self.assertEqual(addr, "0.0.0.0:%d" % port, "the kubelet probes the pod's IP")
        self.assertEqual(c["livenessProbe"]["httpGet"]["path"], "/healthz")
        self.assertEqual(c["readinessProbe"]["httpGet"]["path"], "/readyz")
        for probe in ("livenessProbe", "readinessProbe"):
            self.assertIn(c[probe]["httpGet"]["port"], ("metrics", port))

    def test_grace_period_above_drain(self):
        grace = self.pod_spec()["terminationGracePeriodSeconds"]
        self.assertGreater(grace, drain_seconds(self.config_env()) + FLUSH_SECONDS)

    def test_security_and_resources(self):
        pod = self.pod_spec().get("securityContext", {})
        c = self.container()
        sc = c["securityContext"]
        self.assertTrue(sc.get("runAsNonRoot", pod.get("runAsNonRoot")))
        uid = sc.get("runAsUser", pod.get("runAsUser"))
        self.assertEqual(str(uid), image_uid(), "runAsUser is the image's USER")
        self.assertIs(sc["readOnlyRootFilesystem"], True)
        self.assertIs(sc["allowPrivilegeEscalation"], False)
        self.assertEqual(sc["capabilities"]["drop"], ["ALL"])
        res = c["resources"]
        for k in ("cpu", "memory"):
            self.assertIn(k, res["requests"])
        self.assertIn("memory", res["limits"])
        threads = int(self.config_env().get("HOOKD_THREADS", "0"))
        self.assertTrue(threads, "hookd counts the node's CPUs: set HOOKD_THREADS")
        if "cpu" in res["limits"]:
            self.assertLessEqual(threads, max(1, int(cpu_cores(res["limits"]["cpu"]) + 0.999)))

    def test_service_pdb_selectors(self):
        pod_labels = self.one("Deployment")["spec"]["template"]["metadata"]["labels"]
        svc = self.one("Service")
        for sel in (svc["spec"]["selector"],
                    self.one("PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
                    self.one("Deployment")["spec"]["selector"]["matchLabels"]):
            for k, v in sel.items():
                self.assertEqual(pod_labels.get(k), v, sel)
        ann = svc["metadata"]["annotations"]
        self.assertEqual(ann["prometheus.io/scrape"], "true")
        port = {p["name"]: p["containerPort"] for p in self.container()["ports"]}["metrics"]
        self.assertEqual(ann["prometheus.io/port"], str(port))
        self.assertEqual(ann.get("prometheus.io/path", "/metrics"), "/metrics")
        self.assertIn(svc["spec"]["ports"][0]["targetPort"], ("metrics", port))
        self.assertTrue(svc["spec"].get("publishNotReadyAddresses"),
                        "pods whose Redis is down must still be scraped (HookdRedisDown)")
        pdb = self.one("PodDisruptionBudget")["spec"]
        self.assertTrue("minAvailable" in pdb or "maxUnavailable" in pdb)

    def test_keda(self):
        so = self.one("ScaledObject")["spec"]
        dep = self.one("Deployment")
        self.assertEqual(so["scaleTargetRef"]["name"], dep["metadata"]["name"])
        self.assertEqual(so["scaleTargetRef"].get("kind", "Deployment"), "Deployment")
        self.assertGreaterEqual(so["minReplicaCount"], 1,
                                "with no worker, retries and expired leases wait for new events")
        self.assertGreater(so["maxReplicaCount"], so["minReplicaCount"])
        pdb = self.one("PodDisruptionBudget")["spec"]
        if "maxUnavailable" in pdb:
            self.assertLess(int(pdb["maxUnavailable"]), so["minReplicaCount"])
        (trig,) = so["triggers"]
        self.assertEqual(trig["type"], "redis")
        md = trig["metadata"]
        env = self.config_env()
        prefix = env.get("HOOKD_PREFIX") or hookd_options()["HOOKD_PREFIX"]
        self.assertEqual(md["listName"], "{%s}:events" % prefix)
        self.assertRegex(md["listLength"], r"^[1-9][0-9]*$")
        url = urllib.parse.urlsplit(env["HOOKD_REDIS_URL"])
        self.assertEqual(md["address"], "%s:%d" % (url.hostname, url.port or 6379),
                         "KEDA must read the Redis hookd uses")
        self.assertEqual(md.get("databaseIndex", "0"), (url.path.strip("/") or "0"))
        self.assertTrue(url.hostname.endswith(".svc.cluster.local"),
                        "the KEDA operator resolves names from its own namespace")
        ta = self.one("TriggerAuthentication")
        self.assertEqual(trig["authenticationRef"]["name"], ta["metadata"]["name"])
        secret = self.one("Secret")
        for ref in ta["spec"]["secretTargetRef"]:
            self.assertEqual(ref["name"], secret["metadata"]["name"])
            self.assertIn(ref["key"], secret["stringData"])
            if ref["parameter"] == "password":
                self.assertEqual(secret["stringData"][ref["key"]],
                                 urllib.parse.unquote(url.password or ""))

    def test_kustomize_build(self):
        if shutil.which("kubectl"):
            argv = ["kubectl", "kustomize", K8S]
        elif shutil.which("kustomize"):
            argv = ["kustomize", "build", K8S]
        else:
            self.skipTest("neither kubectl nor kustomize is installed (Debian 12 packages "
                          "neither); the structural checks above ran")
        p = run(argv)
        self.assertEqual(p.returncode, 0, p.stderr)
        kinds = sorted(d["kind"] for d in yaml.safe_load_all(p.stdout) if d)
        self.assertEqual(kinds, sorted(d["kind"] for _, d in self.docs
                                       if d["kind"] != "Kustomization"))
        self.assertIn("image: registry.example.com/hookd:", p.stdout)


# --------------------------------------------------------------------------
# systemd.

def parse_unit(path):
    """{section: {key: [values]}} of a unit file (keys may repeat)."""
    out, sec = {}, None
    with open(path) as f:
        for line in f:
            s = line.strip()
            if not s or s[0] in "#;":
                continue
            m = re.fullmatch(r"\[(\w+)\]", s)
            if m:
                sec = out.setdefault(m.group(1), {})
                continue
            k, sep, v = s.partition("=")
            if not sep or sec is None:
                raise AssertionError("%s: not a unit line: %r" % (rel(path), s))
            sec.setdefault(k.strip(), []).append(v.strip())
    return out


def parse_envfile(path):
    env = {}
    with open(path) as f:
        for line in f:
            s = line.strip()
            if s and not s.startswith("#"):
                k, sep, v = s.partition("=")
                if not sep:
                    raise AssertionError("%s: not KEY=value: %r" % (rel(path), s))
                env[k] = v
    return env


class SystemdUnit(unittest.TestCase):
    """deploy/systemd: the keys the issue names, structurally; then
    `systemd-analyze verify` (on a copy whose ExecStart names a binary that
    exists here, since verify checks it) and `systemd-analyze security`."""

    REQUIRED = {
        "NoNewPrivileges": "yes", "PrivateTmp": "yes", "ProtectSystem": "strict",
        "ProtectHome": "yes", "DynamicUser": "yes", "EnvironmentFile": "/etc/hookd/hookd.env",
        "Restart": "on-failure", "KillSignal": "SIGTERM", "MemoryDenyWriteExecute": "yes",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX", "LockPersonality": "yes",
        "RestrictNamespaces": "yes", "CapabilityBoundingSet": "",
    }

    def setUp(self):
        self.unit = parse_unit(UNIT)
        self.svc = self.unit["Service"]

    def test_required_keys(self):
        for k, v in self.REQUIRED.items():
            self.assertEqual(self.svc.get(k), [v], k)
        self.assertIn("@system-service", self.svc["SystemCallFilter"])
        exec_start = self.svc["ExecStart"][0].split()
        self.assertTrue(exec_start[0].startswith("/") and exec_start[0].endswith("/hookd"))
        self.assertEqual(exec_start[1:], ["run"])
        self.assertIn("multi-user.target", self.unit["Install"]["WantedBy"])

    def test_stop_timeout_above_drain(self):
        env = parse_envfile(ENVFILE)
        stop = seconds(self.svc["TimeoutStopSec"][0])
        self.assertGreater(stop, drain_seconds(env) + FLUSH_SECONDS)

    def test_env_example_is_accepted(self):
        env = parse_envfile(ENVFILE)
        self.assertIn("HOOKD_REDIS_URL", env)
        self.assertRegex(env["HOOKD_REDIS_URL"], "CHANGE-ME")
        ok, err = hookd_accepts(env)
        self.assertTrue(ok, "hookd refuses hookd.env.example: %s" % err)

    def _copy(self, d, edit=None):
        text = read(UNIT)
        text = re.sub(r"(?m)^ExecStart=\S+", "ExecStart=" + os.path.abspath(hookd_bin()), text)
        if edit:
            text = edit(text)
        path = os.path.join(d, "hookd.service")
        with open(path, "w") as f:
            f.write(text)
        return path

    def _verify(self, path):
        p = run(["systemd-analyze", "verify", path], timeout=60)
        return p.returncode, (p.stdout + p.stderr).strip()

    def test_systemd_analyze(self):
        if not shutil.which("systemd-analyze"):
            self.skipTest("systemd-analyze is not installed (apt-get install -y systemd; "
                          "scripts/deps.sh has it): only the structural checks ran")
        with tempfile.TemporaryDirectory(prefix="hookd-it-unit-") as d:
            rc, out = self._verify(self._copy(d))
            # verify warns about unknown keys and bad values but exits 0:
            # any output at all fails
            self.assertTrue(rc == 0 and not out, "systemd-analyze verify: rc %d\n%s" % (rc, out))
            # and it does catch a mistake (else the check above proves nothing)
            rc, out = self._verify(self._copy(d, lambda t: t.replace(
                "NoNewPrivileges=yes", "NoNewPrivilege=yes")))
            self.assertIn("Unknown key", out)
            p = run(["systemd-analyze", "security", "--offline=yes", "--threshold=15",
                     self._copy(d)], timeout=60)
            m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", p.stdout)
            self.assertTrue(m, p.stdout[-2000:] + p.stderr)
            self.assertLessEqual(float(m.group(1)), 1.5, p.stdout)
            self.assertEqual(p.returncode, 0, p.stdout[-3000:])


# --------------------------------------------------------------------------
# HOOKD_* names anywhere in the deployment files.

class HookdNames(unittest.TestCase):
    """Every HOOKD_* name in docker/, deploy/, scripts/docker-build-steps.sh
    and docs/operations.md is an option of the binary (from `hookd --help`,
    not from a list kept here)."""

    FILES_UNDER = ("docker", "deploy")
    FILES = ("scripts/docker-build-steps.sh", "docs/operations.md")

    def files(self):
        out = [os.path.join(REPO, f) for f in self.FILES]
        for top in self.FILES_UNDER:
            for root, dirs, names in os.walk(os.path.join(REPO, top)):
                dirs[:] = [d for d in dirs if d != "__pycache__"]
                out += [os.path.join(root, n) for n in sorted(names)]
        return out

    def test_names_are_options(self):
        seen = {}
        for path in self.files():
            with open(path, errors="replace") as f:
                text = f.read()
            for n in unknown_hookd_names(text):
                seen.setdefault(n, []).append(rel(path))
            for n in HOOKD_NAME.findall(text):
                seen.setdefault("_all", set()).add(n)
        bad = {k: v for k, v in seen.items() if k != "_all"}
        self.assertFalse(bad, "HOOKD_* names hookd does not know (typos?): %s" % bad)
        # not vacuous: the files do name the options they set
        for n in ("HOOKD_REDIS_URL", "HOOKD_ALLOW_NET", "HOOKD_DRAIN_TIMEOUT",
                  "HOOKD_METRICS_ADDR"):
            self.assertIn(n, seen["_all"])

    def test_checker_catches_a_typo(self):
        self.assertEqual(unknown_hookd_names("HOOKD_REDIS_URL=x HOOKD_REDIS_ULR=y"),
                         ["HOOKD_REDIS_ULR"])
        self.assertEqual(unknown_hookd_names("HOOKD_SECRET"), [])

    def test_not_options_are_read_where_claimed(self):
        for name, path in NOT_OPTIONS.items():
            self.assertNotIn(name, hookd_options())
            with open(os.path.join(REPO, path)) as f:
                self.assertRegex(f.read(), r"environ(\.get)?\(?\[?\s*[\"']%s[\"']" % name,
                                 "%s does not read %s" % (path, name))

    def test_docs_links_resolve(self):
        for doc in ("docs/operations.md", "docker/README.md", "deploy/kubernetes/README.md"):
            path = os.path.join(REPO, doc)
            with open(path) as f:
                text = f.read()
            for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
                if re.match(r"[a-z]+:", target):
                    continue
                full = os.path.normpath(os.path.join(os.path.dirname(path), target))
                self.assertTrue(os.path.exists(full), "%s links to missing %s" % (doc, target))


# --------------------------------------------------------------------------
# PromQL: alerts and dashboard.

def dashboard_exprs():
    """[(panel title, expr)] of every target of every panel, rows included."""
    with open(DASHBOARD) as f:
        dash = json.load(f)
    out = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                out.append((p.get("title", "?"), t["expr"]))
            walk(p.get("panels", []))
    walk(dash["panels"])
    return out


def alert_rules():
    with open(ALERTS) as f:
        doc = yaml.safe_load(f)
    return [r for g in doc["groups"] for r in g["rules"]]


def grafana_to_promql(expr):
    for var, val in GRAFANA_VARS.items():
        expr = expr.replace(var, val)
    if "$" in expr:
        raise AssertionError("unknown Grafana variable in %r" % expr)
    return expr


SELECTOR = re.compile(r"\b(hookd_[a-zA-Z0-9_]*)\s*(\{[^}]*\})?")
MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
TARGET_LABELS = {"instance", "job"}


def parse_exposition(text):
    """{metric name: [labels dict]} of a Prometheus text exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+\S+$", line)
        if not m:
            continue
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out.setdefault(m.group(1), []).append(labels)
    return out


def has_label(series, label):
    return any(label in s for v in series.values() for s in v)


def promql_problems(expr, series):
    """What in expr refers to metrics, labels or label values that series
    (parse_exposition of a live scrape) does not have."""
    problems = []
    names = set()
    for m in SELECTOR.finditer(expr):
        name = m.group(1)
        names.add(name)
        if name not in series:
            problems.append("metric %s is not in /metrics" % name)
            continue
        for lab, op, val in MATCHER.findall(m.group(2) or ""):
            values = {s.get(lab) for s in series[name]} - {None}
            if not values and lab not in TARGET_LABELS:
                problems.append("%s has no label %s" % (name, lab))
            elif op == "=" and lab not in TARGET_LABELS and val not in values:
                problems.append('%s{%s="%s"}: no such series (have %s)'
                                % (name, lab, val, sorted(values)))
            elif op == "=~" and not any(re.fullmatch(val, v) for v in values):
                problems.append('%s{%s=~"%s"} matches nothing' % (name, lab, val))
    all_labels = set(TARGET_LABELS)
    for name in names:
        for s in series.get(name, []):
            all_labels |= set(s)
    for group in GROUPING.findall(expr):
        for lab in filter(None, (x.strip() for x in group.split(","))):
            if lab not in all_labels:
                problems.append("grouping by %s, a label of none of %s" % (lab, sorted(names)))
    if not names:
        problems.append("no hookd metric in %r" % expr)
    return problems


class PromqlStatic(unittest.TestCase):
    """The alert rules with promtool (check and unit tests), the dashboard's
    structure and the syntax of every one of its queries (as promtool-checked
    recording rules)."""

    def promtool(self):
        tool = shutil.which("promtool")
        if not tool:
            self.fail("promtool is missing: apt-get install -y prometheus (scripts/deps.sh has it)")
        return tool

    def test_check_rules(self):
        p = run([self.promtool(), "check", "rules", ALERTS])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_rule_unit_tests(self):
        p = run([self.promtool(), "test", "rules", ALERT_TESTS], cwd=os.path.dirname(ALERTS))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        tested = set(re.findall(r"alertname: (\w+)", read(ALERT_TESTS)))
        self.assertEqual(tested, {r["alert"] for r in alert_rules()}, "every alert has a test")

    def test_alerts_named_in_the_issue(self):
        exprs = {r["alert"]: r["expr"] for r in alert_rules()}
        self.assertRegex(exprs["HookdBacklogGrowing"],
                         r'(deriv|increase)\(hookd_queue_depth\{queue="events"\}')
        self.assertRegex(exprs["HookdRedisDown"], r"hookd_redis_up == 0")
        self.assertEqual([r.get("for") for r in alert_rules() if r["alert"] == "HookdRedisDown"],
                         ["1m"])
        self.assertIn('outcome="dead"', exprs["HookdDeadLetters"])
        self.assertIn("hookd_http_responses_total", exprs["HookdHighFailureRatio"])
        for r in alert_rules():
            self.assertIn(r["labels"]["severity"], ("critical", "warning", "info"))
            self.assertTrue(r["annotations"].get("summary"))

    def test_dashboard(self):
        with open(DASHBOARD) as f:
            dash = json.load(f)
        self.assertTrue(dash.get("uid") and dash.get("title"))
        exprs = [e for _, e in dashboard_exprs()]
        joined = "\n".join(exprs)
        for needle in ("hookd_queue_depth", "hookd_deliveries_total",
                       "hookd_delivery_duration_seconds_bucket",
                       "hookd_attempt_duration_seconds_bucket", "hookd_http_responses_total",
                       'hookd_queue_depth{queue="dead"}', 'outcome="dead"', "hookd_redis_up"):
            self.assertIn(needle, joined)
        for q in ("0.5", "0.95", "0.99"):
            for h in ("hookd_delivery_duration_seconds_bucket",
                      "hookd_attempt_duration_seconds_bucket"):
                self.assertRegex(joined, r"histogram_quantile\(%s, [^\n]*%s" % (re.escape(q), h))
        ids = []

        def walk(panels):
            for p in panels:
                ids.append(p["id"])
                self.assertIn("gridPos", p)
                for t in p.get("targets", []):
                    self.assertEqual(t["datasource"]["uid"], "${datasource}")
                walk(p.get("panels", []))
        walk(dash["panels"])
        self.assertEqual(len(ids), len(set(ids)), "panel ids are unique")
        ds = [v for v in dash["templating"]["list"] if v["name"] == "datasource"]
        self.assertEqual(ds[0]["type"], "datasource")

    def test_dashboard_queries_parse(self):
        rules = [{"record": "dashboard:q%d" % i, "expr": grafana_to_promql(e)}
                 for i, (_, e) in enumerate(dashboard_exprs())]
        with tempfile.TemporaryDirectory(prefix="hookd-it-dash-") as d:
            path = os.path.join(d, "dashboard-rules.yaml")
            with open(path, "w") as f:
                yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)
            p = run([self.promtool(), "check", "rules", path])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_checker_catches_typos(self):
        series = {"hookd_queue_depth": [{"queue": "events"}],
                  "hookd_deliveries_total": [{"outcome": "dead"}]}
        self.assertEqual(promql_problems('max(hookd_queue_depth{queue="events"})', series), [])
        self.assertTrue(promql_problems('max(hookd_queue_dept{queue="events"})', series))
        self.assertTrue(promql_problems('max(hookd_queue_depth{queue="event"})', series))
        self.assertTrue(promql_problems('sum by (outcom) (hookd_deliveries_total)', series))
        self.assertEqual(promql_problems('sum by (outcome) (rate(hookd_deliveries_total[5m]))',
                                         series), [])


# --------------------------------------------------------------------------
# Live: one Redis, one receiver (the image's entry point), one hookd with the
# compose workers' environment, and a real Prometheus.

def http_get(port, path, timeout=5):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read().decode(errors="replace")
    except (OSError, http.client.HTTPException) as e:
        return None, repr(e)
    finally:
        c.close()


class Live(unittest.TestCase):
    """The compose setup command, the one-line enqueue and the receiver image's
    entry point against a real Redis and hookd; the health check script; and
    every PromQL expression against what that hookd exports."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hookd-it-live-")
        cls.redis = RedisServer().start()
        cls.procs = []
        try:
            cls._start()
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def _start(cls):
        doc = load_compose()
        cls.compose = doc
        cls.h = Hookd(cls.redis.port, prefix="hookd")
        # `hookd` on PATH, as in the image
        bindir = os.path.join(cls.tmp, "bin")
        os.makedirs(bindir)
        os.symlink(os.path.abspath(hookd_bin()), os.path.join(bindir, "hookd"))
        cls.path_env = bindir + os.pathsep + os.environ.get("PATH", "")
        # the receiver, as the receiver image runs it (on loopback here)
        recv_env = service_env(doc["services"]["receiver"])
        cls.secret = recv_env["HOOKD_SECRET"]
        cls.recv_port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKD_")}
        env.update(recv_env)
        env["RECEIVER_HOST"] = "127.0.0.1"
        cls.recv_log = os.path.join(cls.tmp, "receiver.log")
        with open(cls.recv_log, "wb") as logf:
            cls.recv = spawn([sys.executable, "-u", RECEIVER, str(cls.recv_port)], env=env,
                             stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if not wait_for(lambda: "listening" in cls.receiver_output() or cls.recv.poll() is not None,
                        10) or cls.recv.poll() is not None:
            raise AssertionError("%s did not start:\n%s" % (rel(RECEIVER), cls.receiver_output()))
        # the setup service, twice (a second `up` finds the webhook there),
        # before the workers start, as depends_on orders it in compose
        cls.setup_runs = [cls.run_setup() for _ in range(2)]
        cls.hooks_after_setup = cls.h.cli_lines("webhook", "list", "--show-secret")
        # compose resolves `receiver`; here it listens on loopback
        cls.h.cli_json("webhook", "update", "wh_demo", "--url",
                       "http://127.0.0.1:%d/hooks" % cls.recv_port)
        # a hookd worker with the compose worker's environment (Redis, ports
        # and the allowed network replaced by this machine's)
        wenv = service_env(compose_workers(doc)["hookd"])
        cls.mport = free_port()
        wenv.update({"HOOKD_REDIS_URL": cls.h.redis_url, "HOOKD_ALLOW_NET": "127.0.0.0/8",
                     "HOOKD_METRICS_ADDR": "127.0.0.1:%d" % cls.mport,
                     "HOOKD_PREFIX": cls.h.prefix})
        cls.worker = cls.h.start_worker(env=wenv)
        up = wait_for(lambda: http_get(cls.mport, "/healthz")[0] == 200
                      or not cls.worker.alive(), 15)
        if not up or not cls.worker.alive():
            raise AssertionError("hookd run with the compose environment did not come up:\n"
                                 + cls.worker.log()[-3000:])

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "recv", None) is not None and cls.recv.poll() is None:
            cls.recv.kill()
            cls.recv.wait(5)
        if getattr(cls, "h", None) is not None:
            cls.h.close()
        cls.redis.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def receiver_output(cls):
        try:
            with open(cls.recv_log, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    @classmethod
    def run_setup(cls):
        """The compose `setup` service's command, as its container runs it."""
        svc = cls.compose["services"]["setup"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKD_")}
        env.update(service_env(svc))
        env["PATH"] = cls.path_env
        env["HOOKD_REDIS_URL"] = cls.h.redis_url
        return run(svc["entrypoint"] + svc["command"], env=env, timeout=30)

    def test_0_setup_registers_the_receiver_once(self):
        for p in self.setup_runs:
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        hooks = self.hooks_after_setup
        self.assertEqual([w["id"] for w in hooks], ["wh_demo"])
        self.assertEqual(hooks[0]["url"], "http://receiver:8080/hooks")
        self.assertEqual(hooks[0]["secret"], self.secret)
        self.assertEqual(hooks[0]["events"], ["*.*"])

    def test_1_one_liner_delivery_is_verified_by_the_receiver(self):
        # the one-liner of compose.yaml and docker/README.md:
        #   docker compose run --rm hookd enqueue person.created '{"id":"1"}'
        with open(COMPOSE) as f:
            m = re.search(r"run --rm hookd (enqueue person\.created '\{\"id\":\"1\"\}')", f.read())
        self.assertTrue(m, "the one-liner is in compose.yaml's header")
        out = self.h.cli_json(*shlex.split(m.group(1)))
        self.assertEqual(out["pushed"], 1)
        got = wait_for(lambda: "VERIFIED" in self.receiver_output(), 20)
        self.assertTrue(got, "receiver output:\n%s\nhookd:\n%s"
                        % (self.receiver_output(), self.worker.log()[-3000:]))
        self.assertRegex(self.receiver_output(),
                         r'VERIFIED delivery msg_[0-9a-f]{32}: person\.created \{"id": ?"1"\}')
        self.assertNotIn("REJECTED", self.receiver_output())

    def test_2_receiver_rejects_a_wrong_secret(self):
        w = self.h.add_webhook("http://127.0.0.1:%d/other" % self.recv_port,
                               "--secret", "not-" + self.secret, "--events", "wrong.secret")
        # the worker reloads webhooks within a second; an event pushed before
        # that would find no subscriber
        loaded = wait_for(lambda: 'hookd_webhooks{state="enabled"} 2\n'
                          in http_get(self.mport, "/metrics")[1], 10)
        self.assertTrue(loaded, "the worker did not load the second webhook")
        self.h.cli_json("enqueue", "wrong.secret", '{"id":"2"}', "--webhook", w["id"])
        got = wait_for(lambda: "REJECTED" in self.receiver_output(), 20)
        self.assertTrue(got, self.receiver_output())
        self.h.cli_json("webhook", "delete", w["id"])

    def test_healthcheck_script(self):
        def check(addr):
            env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKD_")}
            if addr is not None:
                env["HOOKD_METRICS_ADDR"] = addr
            return run(["bash", HEALTHCHECK], env=env, timeout=10)
        for addr in ("0.0.0.0:%d" % self.mport, "127.0.0.1:%d" % self.mport):
            p = check(addr)
            self.assertEqual(p.returncode, 0, "%s: %s" % (addr, p.stdout + p.stderr))
        with Receiver() as other:  # answers 404 on /healthz
            p = check("127.0.0.1:%d" % other.port)
            self.assertEqual(p.returncode, 1)
            self.assertIn("404", p.stdout)
        self.assertEqual(check("127.0.0.1:%d" % free_port()).returncode, 1)
        self.assertEqual(check(None).returncode, 1)
        self.assertEqual(check("127.0.0.1").returncode, 1)

    def scrape(self):
        status, body = http_get(self.mport, "/metrics")
        self.assertEqual(status, 200, body)
        return parse_exposition(body)

    def test_promql_names_and_labels_exist(self):
        series = wait_for(lambda: (lambda s: s if "hookd_webhooks" in s
                                   and "hookd_queue_depth" in s else None)(self.scrape()), 10)
        self.assertTrue(series, "the live scrape lacks webhooks or queue depths")
        problems = []
        for title, expr in dashboard_exprs():
            problems += ["dashboard %r: %s" % (title, p)
                         for p in promql_problems(grafana_to_promql(expr), series)]
        for r in alert_rules():
            problems += ["alert %s: %s" % (r["alert"], p)
                         for p in promql_problems(r["expr"], series)]
            for lab in re.findall(r"\$labels\.(\w+)", json.dumps(r.get("annotations", {}))):
                if lab not in TARGET_LABELS and not has_label(series, lab):
                    problems.append("alert %s: annotation uses label %s" % (r["alert"], lab))
        with open(DASHBOARD) as f:
            legends = re.findall(r'"legendFormat": "[^"]*\{\{\s*(\w+)\s*\}\}', f.read())
        for lab in legends:
            if lab not in TARGET_LABELS and not has_label(series, lab):
                problems.append("dashboard legend uses label %s" % lab)
        self.assertFalse(problems, "\n".join(problems))

    def test_prometheus_evaluates_every_query(self):
        """A real Prometheus scrapes this hookd every second, loads the alert
        rules, and answers every dashboard query with at least one series;
        every rule evaluates without error."""
        prom = shutil.which("prometheus")
        if not prom:
            self.fail("prometheus is missing: apt-get install -y prometheus (scripts/deps.sh)")
        d = os.path.join(self.tmp, "prometheus")
        os.makedirs(d)
        pport = free_port()
        conf = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [ALERTS],
                "scrape_configs": [{"job_name": "hookd", "static_configs": [
                    {"targets": ["127.0.0.1:%d" % self.mport]}]}]}
        with open(os.path.join(d, "prometheus.yml"), "w") as f:
            yaml.safe_dump(conf, f)
        with open(os.path.join(d, "log"), "wb") as logf:
            p = spawn([prom, "--config.file=" + os.path.join(d, "prometheus.yml"),
                       "--storage.tsdb.path=" + os.path.join(d, "data"),
                       "--web.listen-address=127.0.0.1:%d" % pport, "--log.level=warn"],
                      stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

        def api(path, **params):
            url = "http://127.0.0.1:%d/api/v1/%s?%s" % (pport, path, urllib.parse.urlencode(params))
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    return json.load(r)
            except OSError as e:
                return {"status": "error", "error": repr(e)}
        try:
            # four scrapes, and every rule evaluated since the last of them
            def scraped():
                res = api("query", query="count_over_time(hookd_redis_up[1m])")
                res = res.get("data", {}).get("result") or [{"value": [0, "0"]}]
                return float(res[0]["value"][1]) >= 4 or p.poll() is not None
            ok = wait_for(scraped, 20, 0.2) and p.poll() is None
            self.assertTrue(ok, "Prometheus did not scrape hookd:\n"
                            + read(os.path.join(d, "log"))[-3000:])
            time.sleep(1.5)
            problems = []
            for title, expr in dashboard_exprs():
                r = api("query", query=grafana_to_promql(expr))
                if r.get("status") != "success":
                    problems.append("%r: %s: %s" % (title, expr, r.get("error")))
                elif not r["data"]["result"]:
                    problems.append("%r: %s: no series" % (title, expr))
            rules = api("rules")
            names = []
            for g in rules["data"]["groups"]:
                for rule in g["rules"]:
                    names.append(rule["name"])
                    if rule.get("health") != "ok":
                        problems.append("rule %s: %s %s" % (rule["name"], rule.get("health"),
                                                            rule.get("lastError")))
            self.assertEqual(sorted(names), sorted(r["alert"] for r in alert_rules()))
            self.assertFalse(problems, "\n".join(problems))
        finally:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)


if __name__ == "__main__":
    unittest.main(verbosity=2)
