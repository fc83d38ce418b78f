"""Redis topologies for hookd's integration tests: a Sentinel set and a Cluster.

Real Debian redis-server processes on loopback spare ports (harness.free_port),
each in its own temporary directory, killed with the test process
(harness.spawn: PR_SET_PDEATHSIG) and at exit. Debian's /usr/bin/redis-server
runs as a sentinel with `redis-server sentinel.conf --sentinel`, so no
redis-sentinel package is needed.

    SentinelSet(replicas=1, sentinels=3, down_after_ms=1000)
        a master, its replicas (replicaof) and sentinels monitoring it as
        MASTER ("hookd-test"); url() is the redis-sentinel:// URL hookd takes;
        kill_master() (SIGKILL) then wait_promoted() -> (port, seconds).
    Cluster(primaries=3, replicas=1)
        primaries * (1 + replicas) cluster nodes made with `redis-cli --cluster
        create`; url() is the redis-cluster:// URL; slot_of(key) (CRC16-XMODEM
        with hash tags, computed here), owner_of(slot),
        prefixes_on_distinct_shards(n), kill_primary_of(slot) (SIGKILL) then
        wait_failover(slot) -> seconds.

`python3 topology.py` checks the rigs alone (a Sentinel failover, a Cluster
failover), with no hookd involved.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import redis  # noqa: E402

from harness import (HookdCase, Hookd, Receiver, free_port, spawn, terminate, uid,  # noqa: E402
                     wait_for)

HOST = "127.0.0.1"


class Node:
    """One redis-server (data node or sentinel) on a spare port in its own directory."""

    def __init__(self, role, args=(), conf=None, password=None):
        """role: a short name for logs ("master", "replica1", "sentinel0", "node3");
        args: redis-server arguments after the common ones; conf: for a sentinel,
        the text of sentinel.conf (the port and dir lines are added here);
        password: requirepass and masterauth, and what client() logs in with."""
        self.role = role
        self.password = password
        self.args = list(args)
        self.conf = conf
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="hookd-it-%s-" % role)
        self.proc = None
        self._log = None
        self.killed_at = None  # time.time() of kill()

    def start(self, timeout=10, keep_dir=False):
        self._log = open(self.logpath, "ab")
        if self.conf is not None:
            path = os.path.join(self.dir, "sentinel.conf")
            with open(path, "w") as f:
                f.write("port %d\nbind %s\ndir %s\ndaemonize no\nprotected-mode no\n"
                        % (self.port, HOST, self.dir))
                f.write(self.conf)
            argv = ["redis-server", path, "--sentinel"]
        else:
            argv = ["redis-server", "--port", str(self.port), "--bind", HOST,
                    "--save", "", "--dir", self.dir, "--daemonize", "no",
                    "--protected-mode", "no"] + self.args
            if self.password is not None:
                argv += ["--requirepass", self.password, "--masterauth", self.password]
        self.proc = spawn(argv, stdout=self._log, stderr=subprocess.STDOUT,
                          stdin=subprocess.DEVNULL)

        def up():
            if self.proc.poll() is not None:
                raise RuntimeError("%s (port %d) exited: %s" % (self.role, self.port,
                                                                 self.log_text()))
            try:
                c = self.client(timeout=1)
                try:
                    return c.ping()
                finally:
                    c.close()
            except redis.exceptions.RedisError:
                return False
        try:
            if not wait_for(up, timeout):
                raise RuntimeError("%s (port %d) did not answer PING: %s"
                                   % (self.role, self.port, self.log_text()))
        except Exception:
            if keep_dir:
                self.stop()  # a restart keeps its directory (nodes.conf)
            else:
                self.cleanup()  # a node that never came up is nobody's to clean
            raise
        return self

    @property
    def logpath(self):
        return os.path.join(self.dir, "redis.log")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def client(self, timeout=5):
        return redis.Redis(host=HOST, port=self.port, socket_timeout=timeout,
                           socket_connect_timeout=timeout, password=self.password)

    def kill(self):
        """SIGKILL, as a crash would; returns the time.time() of the signal."""
        self.killed_at = time.time()
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        return self.killed_at

    def restart(self, timeout=10):
        """Starts again on the same port and directory (after kill or stop)."""
        self.stop()
        self.killed_at = None
        return self.start(timeout, keep_dir=True)

    def stop(self):
        if self.proc is not None:
            terminate(self.proc)
        if self._log is not None:
            self._log.close()
            self._log = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_text(self, n=4000):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode(errors="replace")[-n:]
        except OSError:
            return ""

    def __repr__(self):
        return "<%s :%d %s>" % (self.role, self.port, "up" if self.alive() else "down")


def _text(v):
    return v.decode(errors="replace") if isinstance(v, bytes) else v


def _pairs(flat):
    """A flat [k1, v1, k2, v2...] reply as a dict of text."""
    flat = [_text(x) for x in flat]
    return dict(zip(flat[0::2], flat[1::2]))


def _quiet(fn, default=None):
    """fn() or default on any Redis error (a node that is down)."""
    try:
        return fn()
    except (redis.exceptions.RedisError, OSError):
        return default


# --------------------------------------------------------------------------
# Sentinel.

class SentinelSet:
    """A master, `replicas` replicas and `sentinels` sentinels (quorum: a
    majority) monitoring it under master_name."""

    def __init__(self, replicas=1, sentinels=3, down_after_ms=1000, failover_timeout_ms=10000,
                 master_name="hookd-test", password=None):
        """password: the data nodes' requirepass (the sentinels have none and
        are told it with `sentinel auth-pass`)."""
        self.name = master_name
        self.password = password
        self.n_replicas = replicas
        self.n_sentinels = sentinels
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms
        self.quorum = sentinels // 2 + 1
        self.data = []       # every data node ever started: [master, replica1, ...]
        self.sentinels = []
        self.old_master_port = None
        self.failed_at = None  # time.time() of the last kill_master() or failover()

    # -- life

    def start(self, timeout=30):
        try:
            master = Node("master", ["--repl-diskless-sync", "yes",
                                     "--repl-diskless-sync-delay", "0"],
                          password=self.password).start()
            self.data.append(master)
            for i in range(self.n_replicas):
                self.data.append(Node("replica%d" % (i + 1),
                                      ["--replicaof", HOST, str(master.port),
                                       "--repl-diskless-sync", "yes",
                                       "--repl-diskless-sync-delay", "0"],
                                      password=self.password).start())
            # the replicas first, in sync, so that the sentinels' first INFO lists them
            self.wait_replicas_synced(timeout)
            conf = ("sentinel monitor %s %s %d %d\n"
                    "sentinel down-after-milliseconds %s %d\n"
                    "sentinel failover-timeout %s %d\n"
                    "sentinel parallel-syncs %s 1\n"
                    % (self.name, HOST, master.port, self.quorum,
                       self.name, self.down_after_ms, self.name, self.failover_timeout_ms,
                       self.name))
            if self.password is not None:
                conf += "sentinel auth-pass %s %s\n" % (self.name, self.password)
            for i in range(self.n_sentinels):
                self.sentinels.append(Node("sentinel%d" % i, conf=conf).start())
            self.wait_ready(timeout)
        except Exception:
            self.cleanup()
            raise
        return self

    def cleanup(self):
        for n in self.sentinels + self.data:
            n.cleanup()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()

    # -- addresses

    def url(self, *prefix, scheme="redis-sentinel", name=None, db=None, auth=""):
        """redis-sentinel://127.0.0.1:p1,127.0.0.1:p2,.../NAME[/DB]; prefix: sentinel
        addresses ("host:port") put before the real ones (a dead one, say)."""
        hosts = list(prefix) + ["%s:%d" % (HOST, s.port) for s in self.sentinels]
        u = "%s://%s%s/%s" % (scheme, auth, ",".join(hosts), name or self.name)
        if db is not None:
            u += "/%d" % db
        return u

    def node_by_port(self, port):
        for n in self.data:
            if n.port == port:
                return n
        raise KeyError("no data node on port %r" % port)

    def sentinel_master(self, s):
        """The (host, port) sentinel s names for the master, or None."""
        def ask():
            c = s.client(timeout=1)
            try:
                r = c.execute_command("SENTINEL", "get-master-addr-by-name", self.name)
            finally:
                c.close()
            return (_text(r[0]), int(r[1])) if r else None
        return _quiet(ask)

    def master_port(self):
        """The port of the master as the first live sentinel that knows one names it."""
        for s in self.sentinels:
            if s.alive():
                m = self.sentinel_master(s)
                if m:
                    return m[1]
        return None

    @property
    def master(self):
        """The data Node the sentinels name as master now."""
        return self.node_by_port(self.master_port())

    def master_client(self, timeout=5):
        """A client to the current master (asked of a sentinel)."""
        return self.master.client(timeout)

    # -- states

    def role(self, node):
        r = _quiet(lambda: node.client(timeout=1).execute_command("ROLE"))
        return _text(r[0]) if r else None

    def _sentinel_view(self, s):
        """(master port, replicas known and not down, other sentinels known) of s."""
        def ask():
            c = s.client(timeout=1)
            try:
                m = c.execute_command("SENTINEL", "get-master-addr-by-name", self.name)
                reps = c.execute_command("SENTINEL", "replicas", self.name)
                sents = c.execute_command("SENTINEL", "sentinels", self.name)
            finally:
                c.close()
            ok_reps = 0
            for r in reps:
                d = _pairs(r) if isinstance(r, list) else {_text(k): _text(v)
                                                            for k, v in r.items()}
                flags = d.get("flags", "")
                if "s_down" not in flags and "o_down" not in flags \
                        and "disconnected" not in flags:
                    ok_reps += 1
            return (int(m[1]) if m else None, ok_reps, len(sents))
        return _quiet(ask, (None, 0, 0))

    def agreed(self, replicas=None):
        """True when every live sentinel names the same master, that node says
        ROLE master, every sentinel knows `replicas` live replicas (default: as
        many as were started, less those killed) and every other sentinel."""
        want_reps = replicas if replicas is not None else self._live_replicas()
        live = [s for s in self.sentinels if s.alive()]
        views = [self._sentinel_view(s) for s in live]
        ports = {v[0] for v in views}
        if len(ports) != 1 or None in ports:
            return False
        if any(v[1] < want_reps or v[2] < len(live) - 1 for v in views):
            return False
        return self.role(self.node_by_port(ports.pop())) == "master"

    def _live_replicas(self):
        m = self.master_port()
        return sum(1 for n in self.data if n.alive() and n.port != m)

    def wait_ready(self, timeout=30, replicas=None):
        """Waits until the sentinels agree on the master and know its replicas."""
        if not wait_for(lambda: self.agreed(replicas), timeout, 0.1):
            raise RuntimeError("sentinels did not agree within %ss: %s\n%s" % (
                timeout, [self._sentinel_view(s) for s in self.sentinels],
                "\n".join("-- %s\n%s" % (s.role, s.log_text(1500)) for s in self.sentinels)))
        return self.master_port()

    def replica_offsets(self):
        """{port: offset} of the master (master_repl_offset) and of every live
        replica (its slave_repl_offset / master_repl_offset)."""
        out = {}
        for n in self.data:
            if not n.alive():
                continue
            info = _quiet(lambda: n.client(timeout=1).info("replication"))
            if not info:
                continue
            if info.get("role") == "master":
                out[n.port] = info.get("master_repl_offset", 0)
            else:
                out[n.port] = info.get("slave_repl_offset", -1)
        return out

    def replicas_synced(self):
        """True when every live replica has the master's offset and a link up."""
        m = self.data[0] if self.master_port() is None else self.master
        minfo = _quiet(lambda: m.client(timeout=1).info("replication"))
        if not minfo or minfo.get("role") != "master":
            return False
        want = minfo.get("master_repl_offset", 0)
        for n in self.data:
            if n is m or not n.alive():
                continue
            info = _quiet(lambda: n.client(timeout=1).info("replication"))
            if not info or info.get("master_link_status") != "up" \
                    or info.get("slave_repl_offset", -1) < want:
                return False
        return True

    def wait_replicas_synced(self, timeout=20):
        if not wait_for(self.replicas_synced, timeout, 0.05):
            raise RuntimeError("replicas not in sync within %ss: %r" % (timeout,
                                                                         self.replica_offsets()))

    def add_replica(self, timeout=20):
        """Starts one more replica of the current master and waits for it to be
        in sync (after a failover left the new master without one)."""
        m = self.master_port()
        n = Node("replica%d" % len(self.data), ["--replicaof", HOST, str(m),
                                                "--repl-diskless-sync", "yes",
                                                "--repl-diskless-sync-delay", "0"],
                 password=self.password).start()
        self.data.append(n)
        self.wait_replicas_synced(timeout)
        return n

    # -- failure

    def kill_master(self):
        """SIGKILLs the master; returns the time.time() of the kill."""
        m = self.master
        self.old_master_port = m.port
        self.failed_at = m.kill()
        return self.failed_at

    def failover(self):
        """Asks a sentinel for a failover (SENTINEL FAILOVER) with the master
        alive: it becomes a replica of the one promoted. Returns the time.time()
        of the command."""
        self.old_master_port = self.master_port()
        c = self.sentinels[0].client()
        try:
            self.failed_at = time.time()
            c.execute_command("SENTINEL", "FAILOVER", self.name)
        finally:
            c.close()
        return self.failed_at

    def wait_promoted(self, timeout=30):
        """After kill_master() or failover(): waits until every live sentinel
        names another node as master and that node says ROLE master. Returns
        (new port, seconds from the kill to then)."""
        old = self.old_master_port
        t_kill = self.failed_at

        def switched():
            live = [s for s in self.sentinels if s.alive()]
            ports = {(self.sentinel_master(s) or (None, None))[1] for s in live}
            if len(ports) != 1:
                return None
            p = ports.pop()
            if p is None or p == old:
                return None
            return p if self.role(self.node_by_port(p)) == "master" else None
        p = wait_for(switched, timeout, 0.02)
        if not p:
            raise RuntimeError("no promotion within %ss of failing :%d: %s\n%s" % (
                timeout, old, [self.sentinel_master(s) for s in self.sentinels],
                "\n".join("-- %s\n%s" % (s.role, s.log_text(1500)) for s in self.sentinels)))
        return p, time.time() - t_kill


# --------------------------------------------------------------------------
# Cluster.

def crc16_xmodem(data):
    """CRC16-CCITT (XMODEM): poly 0x1021, init 0, as Redis Cluster's key slots use."""
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def slot_of(key):
    """The hash slot of key (str or bytes): CRC16 of the part between the first
    "{" and the next "}" when that part is not empty, else of the whole key."""
    if isinstance(key, str):
        key = key.encode()
    s = key.find(b"{")
    if s >= 0:
        e = key.find(b"}", s + 1)
        if e > s + 1:
            key = key[s + 1:e]
    return crc16_xmodem(key) % 16384


class Cluster:
    """primaries * (1 + replicas) cluster nodes, created with redis-cli --cluster create."""

    def __init__(self, primaries=3, replicas=1, node_timeout_ms=1000):
        self.n_primaries = primaries
        self.n_replicas = replicas
        self.node_timeout_ms = node_timeout_ms
        self.nodes = []
        self.killed = {}  # slot -> (port killed, time.time())

    def start(self, timeout=60):
        try:
            for i in range(self.n_primaries * (1 + self.n_replicas)):
                self.nodes.append(Node("node%d" % i, [
                    "--cluster-enabled", "yes",
                    "--cluster-config-file", "nodes.conf",
                    "--cluster-port", str(free_port()),
                    "--cluster-node-timeout", str(self.node_timeout_ms),
                    "--appendonly", "no",
                    "--repl-diskless-sync", "yes",
                    "--repl-diskless-sync-delay", "0"]).start())
            argv = ["redis-cli", "--cluster", "create"] + \
                ["%s:%d" % (HOST, n.port) for n in self.nodes] + \
                ["--cluster-replicas", str(self.n_replicas), "--cluster-yes"]
            r = subprocess.run(argv, capture_output=True, timeout=60,
                               stdin=subprocess.DEVNULL)
            if r.returncode != 0:
                raise RuntimeError("redis-cli --cluster create: rc=%d\n%s\n%s" % (
                    r.returncode, r.stdout.decode(errors="replace")[-3000:],
                    r.stderr.decode(errors="replace")[-3000:]))
            self.wait_ok(timeout)
        except Exception:
            self.cleanup()
            raise
        return self

    def cleanup(self):
        for n in self.nodes:
            n.cleanup()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()

    def url(self, *prefix, scheme="redis-cluster", auth=""):
        """redis-cluster://127.0.0.1:p1,127.0.0.1:p2,... (every node as a seed);
        prefix: seed addresses put first."""
        hosts = list(prefix) + ["%s:%d" % (HOST, n.port) for n in self.nodes]
        return "%s://%s%s" % (scheme, auth, ",".join(hosts))

    def live(self):
        return [n for n in self.nodes if n.alive()]

    def node_by_port(self, port):
        for n in self.nodes:
            if n.port == port:
                return n
        raise KeyError("no cluster node on port %r" % port)

    # -- what the nodes say

    def slots(self, node):
        """[(start, end, primary port, [replica ports])] as node sees them, or None."""
        def ask():
            c = node.client(timeout=1)
            try:
                r = c.execute_command("CLUSTER", "SLOTS")
            finally:
                c.close()
            out = []
            if isinstance(r, dict):  # redis-py's parsed form
                for (a, b), v in r.items():
                    out.append((int(a), int(b), int(v["primary"][1]),
                                [int(x[1]) for x in v.get("replicas", [])]))
                return sorted(out)
            for ent in r:
                out.append((int(ent[0]), int(ent[1]), int(ent[2][1]),
                            [int(x[1]) for x in ent[3:]]))
            return sorted(out)
        return _quiet(ask)

    def info(self, node):
        def ask():
            c = node.client(timeout=1)
            try:
                raw = _text(c.execute_command("CLUSTER", "INFO"))
            finally:
                c.close()
            return dict(l.split(":", 1) for l in raw.splitlines() if ":" in l)
        return _quiet(ask, {})

    def _owner_in(self, table, slot):
        for a, b, p, _reps in table or ():
            if a <= slot <= b:
                return p
        return None

    def owner_of(self, slot):
        """The port of the primary that owns slot, as the first live node says."""
        for n in self.live():
            p = self._owner_in(self.slots(n), slot)
            if p is not None:
                return p
        return None

    def replicas_of(self, slot):
        for n in self.live():
            for a, b, _p, reps in self.slots(n) or ():
                if a <= slot <= b:
                    return reps
        return []

    def client_for(self, slot, timeout=5):
        """A client to the primary that owns slot now."""
        return self.node_by_port(self.owner_of(slot)).client(timeout)

    def ok(self):
        """Every live node says cluster_state:ok, all agree on the slot table,
        it covers 16384 slots, no dead node owns any, and every live primary
        has its replicas."""
        live = self.live()
        if any(self.info(n).get("cluster_state") != "ok" for n in live):
            return False
        tables = [self.slots(n) for n in live]
        if any(t is None for t in tables) or any(t != tables[0] for t in tables):
            return False
        ports = {n.port for n in live}
        if sum(b - a + 1 for a, b, _p, _r in tables[0]) != 16384:
            return False
        return all(p in ports for _a, _b, p, _r in tables[0])

    def wait_ok(self, timeout=30):
        if not wait_for(self.ok, timeout, 0.1):
            raise RuntimeError("cluster not ok within %ss: %s" % (timeout, [
                (n.port, self.info(n).get("cluster_state")) for n in self.live()]))

    def primaries(self):
        t = self.slots(self.live()[0]) or []
        return sorted({p for _a, _b, p, _r in t})

    def prefixes_on_distinct_shards(self, n, names=None):
        """n namespace names ("ns-a".."ns-z" then "ns-0"..; or from names)
        whose key slots ({NAME}:...) are owned by n different primaries, in
        the order found."""
        if names is None:
            names = ["ns-%s" % chr(c) for c in range(ord("a"), ord("z") + 1)] + \
                ["ns-%d" % i for i in range(1000)]
        chosen, owners = [], set()
        for name in names:
            o = self.owner_of(slot_of("{%s}:events" % name))
            if o is not None and o not in owners:
                chosen.append(name)
                owners.add(o)
                if len(chosen) == n:
                    return chosen
        raise RuntimeError("no %d names on distinct primaries among %d" % (n, len(names)))

    def shard_bases_on_distinct_shards(self, n, bases=None):
        """A base B ("hookd", "hookd1", ...) whose namespaces B:0 .. B:n-1 land
        on n different primaries."""
        for base in bases or (["hookd"] + ["hookd%d" % i for i in range(1, 1000)]):
            owners = {self.owner_of(slot_of("{%s:%d}:events" % (base, i))) for i in range(n)}
            if len(owners) == n and None not in owners:
                return base
        raise RuntimeError("no base with %d shards on distinct primaries" % n)

    def keyslot(self, key):
        """CLUSTER KEYSLOT of key as a live node computes it."""
        c = self.live()[0].client()
        try:
            return int(c.execute_command("CLUSTER", "KEYSLOT", key))
        finally:
            c.close()

    def keys_matching(self, pattern):
        """{port: [keys]} of every live primary for SCAN MATCH pattern."""
        out = {}
        for n in self.live():
            c = n.client()
            try:
                if _text(c.execute_command("ROLE")[0]) != "master":
                    continue
                ks = list(c.scan_iter(match=pattern, count=1000))
            finally:
                c.close()
            if ks:
                out[n.port] = [_text(k) for k in ks]
        return out

    # -- failure

    def kill_primary_of(self, slot):
        """SIGKILLs the primary that owns slot; returns (its port, time.time())."""
        port = self.owner_of(slot)
        t = self.node_by_port(port).kill()
        self.killed[slot] = (port, t)
        return port, t

    def failover_command(self, slot):
        """CLUSTER FAILOVER on a replica of slot's primary, which stays alive
        and becomes that replica's replica; returns (its port, time.time())."""
        port = self.owner_of(slot)
        rep = self.replicas_of(slot)[0]
        c = self.node_by_port(rep).client()
        try:
            t = time.time()
            c.execute_command("CLUSTER", "FAILOVER")
        finally:
            c.close()
        self.killed[slot] = (port, t)
        return port, t

    def wait_failover(self, slot, timeout=30):
        """After kill_primary_of(slot) or failover_command(slot): waits until every live node names
        another owner of slot, that owner says ROLE master, and every live node
        says cluster_state:ok. Returns the seconds from the kill."""
        old, t_kill = self.killed[slot]

        def done():
            live = self.live()
            owners = {self._owner_in(self.slots(n), slot) for n in live}
            if len(owners) != 1:
                return False
            p = owners.pop()
            if p is None or p == old:
                return False
            r = _quiet(lambda: self.node_by_port(p).client(timeout=1).execute_command("ROLE"))
            if not r or _text(r[0]) != "master":
                return False
            return all(self.info(n).get("cluster_state") == "ok" for n in live)
        if not wait_for(done, timeout, 0.02):
            raise RuntimeError("no failover of slot %d within %ss of killing :%d: %s" % (
                slot, timeout, old, [(n.port, self.info(n).get("cluster_state"),
                                      self._owner_in(self.slots(n), slot))
                                     for n in self.live()]))
        return time.time() - t_kill


# --------------------------------------------------------------------------
# A producer that follows the topology.

class Producer(threading.Thread):
    """LPUSHes envelopes {"event","id","data":{"eid"}} onto key, every
    interval seconds, to the node locate() names (a port; None: not known
    now), each followed by `WAIT 1 wait_ms`. An event counts as
    acknowledged only when WAIT said at least one replica has it.

    pushed: [(eid, port, time.time() after the LPUSH)] of every LPUSH that
    succeeded; acked: the eids acknowledged; errors: [(time, port, error)]."""

    def __init__(self, key, locate, prefix="e", interval=0.01, wait_ms=1000,
                 event="person.created"):
        super().__init__(daemon=True)
        self.key = key
        self.locate = locate
        self.prefix = prefix
        self.interval = interval
        self.wait_ms = wait_ms
        self.event = event
        self.pushed = []
        self.acked = set()
        self.errors = []
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self._clients = {}
        self._n = 0

    def _client(self, port):
        c = self._clients.get(port)
        if c is None:
            c = self._clients[port] = redis.Redis(host=HOST, port=port, socket_timeout=3,
                                                  socket_connect_timeout=1)
        return c

    def run(self):
        while not self.stop_event.is_set():
            port = _quiet(self.locate)
            if port is None:
                self.stop_event.wait(0.02)
                continue
            eid = "%s%06d" % (self.prefix, self._n)
            env = json.dumps({"event": self.event, "id": eid, "data": {"eid": eid}},
                             separators=(",", ":"))
            c = self._client(port)
            try:
                c.lpush(self.key, env)
            except (redis.exceptions.RedisError, OSError) as e:
                with self.lock:
                    self.errors.append((time.time(), port, repr(e)))
                c = self._clients.pop(port, None)
                if c is not None:
                    c.close()
                self.stop_event.wait(0.02)
                continue  # not pushed as far as we know: a new id next time
            self._n += 1
            with self.lock:
                self.pushed.append((eid, port, time.time()))
            try:
                n = c.execute_command("WAIT", 1, self.wait_ms)
            except (redis.exceptions.RedisError, OSError) as e:
                with self.lock:
                    self.errors.append((time.time(), port, "WAIT: " + repr(e)))
                n = 0
            if n >= 1:
                with self.lock:
                    self.acked.add(eid)
            self.stop_event.wait(self.interval)
        for c in self._clients.values():
            c.close()

    def stop(self):
        self.stop_event.set()
        self.join(10)

    def snapshot(self):
        """(pushed, acked, errors) copies."""
        with self.lock:
            return list(self.pushed), set(self.acked), list(self.errors)

    def pushed_to(self, port):
        with self.lock:
            return [p for p in self.pushed if p[1] == port]

    def acked_count(self):
        with self.lock:
            return len(self.acked)


def delivered_eids(recv, path):
    """{eid: [time.time() of each delivery]} of the requests recv got on path."""
    out = {}
    for r in recv.deliveries(path):
        try:
            eid = r.json()["data"]["eid"]
        except (ValueError, KeyError, TypeError):
            continue
        out.setdefault(eid, []).append(r.t)
    return out


# Worker settings for failover tests: leases short enough that work taken
# on a node that then died comes back soon; no attempt is allowed to fail.
TOPO_ENV = {
    "HOOKD_RETRY_BASE": "200ms",
    "HOOKD_RETRY_MAX_DELAY": "1s",
    "HOOKD_TIMEOUT": "2s",
    "HOOKD_CONNECT_TIMEOUT": "500ms",
    "HOOKD_LEASE": "5s",
    "HOOKD_DRAIN_TIMEOUT": "2s",
}


class TopoCase(HookdCase):
    """HookdCase against a topology instead of one redis-server: subclasses
    set make_topo (a callable returning a started rig) and url_of(topo)."""

    make_topo = None

    @classmethod
    def setUpClass(cls):
        cls.topo = cls.make_topo()
        try:
            cls.recv = Receiver().start()
        except Exception:
            cls.topo.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.recv.stop()
        cls.topo.cleanup()

    def setUp(self):
        self.h = Hookd(0)
        self.h.redis_url = self.topo.url()
        self.r = None
        self.token = uid(12)

    def need(self, what, *args, env=None):
        """Runs `hookd ARGS` and fails the test, saying hookd does not support
        what, unless it exits 0. Returns its stdout."""
        rc, out, err = self.h.cli(*args, env=env)
        if rc != 0:
            self.fail("hookd does not support %s yet: `hookd %s` exited %r: %s"
                      % (what, " ".join(map(str, args)), rc, err.strip()))
        return out

    def note(self, msg):
        """A measurement, on stderr so that ctest's log keeps it."""
        sys.stderr.write("\n[%s] %s\n" % (self.id().rsplit(".", 1)[-1], msg))
        sys.stderr.flush()


# --------------------------------------------------------------------------
# The rigs' own check, with no hookd: `python3 topology.py [sentinel|cluster]`.

def _selftest_sentinel():
    t0 = time.monotonic()
    with SentinelSet() as s:
        print("sentinel: up in %.1fs, master :%d, url %s" % (time.monotonic() - t0,
                                                              s.master_port(), s.url()))
        c = s.master_client()
        for i in range(100):
            c.lpush("{selftest}:events", "e%d" % i)
        assert c.execute_command("WAIT", 1, 1000) >= 1, "WAIT: no replica acknowledged"
        s.wait_replicas_synced()
        offs = s.replica_offsets()
        assert len(set(offs.values())) == 1, offs
        c.close()
        s.kill_master()
        port, secs = s.wait_promoted()
        print("sentinel: promoted :%d %.2fs after the kill" % (port, secs))
        c = s.master_client()
        n = c.llen("{selftest}:events")
        assert n == 100, "the new master has %d of 100 events" % n
        assert s.role(s.master) == "master"
        c.close()


def _selftest_cluster():
    t0 = time.monotonic()
    with Cluster() as cl:
        print("cluster: up in %.1fs, primaries %s" % (time.monotonic() - t0, cl.primaries()))
        for key in ("foo", "123456789", "{user1000}.following", "{hookd}:events",
                    "{}x", "a{}b{c}", "{ns-a}:events", "hookd:0"):
            assert slot_of(key) == cl.keyslot(key), (key, slot_of(key), cl.keyslot(key))
        names = cl.prefixes_on_distinct_shards(3)
        print("cluster: distinct shards %s, shard base %s" % (
            names, cl.shard_bases_on_distinct_shards(3)))
        slot = slot_of("{%s}:events" % names[0])
        c = cl.client_for(slot)
        for i in range(100):
            c.lpush("{%s}:events" % names[0], "e%d" % i)
        assert c.execute_command("WAIT", 1, 1000) >= 1
        c.close()
        old, _t = cl.kill_primary_of(slot)
        secs = cl.wait_failover(slot)
        print("cluster: slot %d moved from :%d to :%d %.2fs after the kill" % (
            slot, old, cl.owner_of(slot), secs))
        c = cl.client_for(slot)
        assert c.llen("{%s}:events" % names[0]) == 100
        c.close()


if __name__ == "__main__":
    which = sys.argv[1:] or ["sentinel", "cluster"]
    if "sentinel" in which:
        _selftest_sentinel()
    if "cluster" in which:
        _selftest_cluster()
    print("topology: ok")
