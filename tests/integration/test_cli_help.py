"""hookd's help comes from one command table: `hookd help` lists every
command, `hookd help X` equals `hookd X --help` and names each flag X
accepts, unknown flags point at the right help, and list commands print an
aligned table on a terminal and JSON lines otherwise (docs/cli.md)."""

import json
import os
import pty
import re
import select
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HookdCase, spawn  # noqa: E402

WORD = re.compile(r"^[a-z][a-z-]*$")


def commands(help_text):
    """The command paths ("webhook add", "stats") of `hookd help`'s lines."""
    paths = []
    for line in help_text.splitlines():
        m = re.match(r"^(?:usage:)?\s+hookd (.*)$", line)
        if not m:
            continue
        words = []
        for w in m.group(1).split():
            if not WORD.match(w):
                break
            words.append(w)
        if words:
            paths.append(words)
    return paths


def flags_of(help_text):
    """The flags a command's help explains: lines "  --name [VALUE]  meaning"."""
    return [m.group(1) for m in re.finditer(r"^  (--[a-z][a-z-]*)", help_text, re.M)]


class Help(HookdCase):

    def help(self, *words):
        rc, out, err = self.h.cli("help", *words)
        self.assertEqual(rc, 0, err)
        return out

    def test_help_lists_every_command(self):
        paths = commands(self.help())
        tops = {p[0] for p in paths}
        for cmd in ("webhook", "enqueue", "stats", "dead", "verify"):
            self.assertIn(cmd, tops)
        subs = {" ".join(p[:2]) for p in paths if p[0] == "webhook"}
        for sub in ("add", "list", "show", "update", "enable", "disable", "delete",
                    "rotate-secret", "log"):
            self.assertIn("webhook " + sub, subs)
        self.assertIn("Every option of `hookd --help` may be given too; see docs/cli.md.",
                      self.help())

    def test_help_equals_dash_dash_help(self):
        seen = set()
        for path in commands(self.help()):
            for n in range(1, len(path) + 1):
                words = tuple(path[:n])
                if words in seen:
                    continue
                seen.add(words)
                text = self.help(*words)
                rc, out, err = self.h.cli(*words, "--help")
                self.assertEqual(rc, 0, err)
                self.assertEqual(out, text, "hookd help %s" % " ".join(words))
                self.assertTrue(text.startswith("usage: hookd " + " ".join(words)), text)
        self.assertGreaterEqual(len(seen), 15)

    def test_each_listed_flag_is_accepted(self):
        """A flag the help names is one the parser knows: given it, the command
        never says "unknown option"."""
        for path in commands(self.help()):
            if path[0] == "dead":
                continue  # dead parses its own words (docs/cli.md)
            for flag in flags_of(self.help(*path)):
                rc, out, err = self.h.cli(*path, flag, "x", timeout=30)
                self.assertNotIn("unknown option", err, "%s %s" % (" ".join(path), flag))

    def test_unknown_flag_names_the_help(self):
        for path in (["webhook", "add"], ["webhook", "list"], ["webhook", "log"], ["stats"],
                     ["enqueue"], ["verify"]):
            rc, out, err = self.h.cli(*path, "--no-such-flag")
            self.assertEqual(rc, 2, err)
            self.assertIn("`hookd help %s`" % " ".join(path), err)

    def test_unknown_command(self):
        rc, out, err = self.h.cli("frobnicate")
        self.assertEqual(rc, 2)
        self.assertIn("`hookd help`", err)
        rc, out, err = self.h.cli("webhook", "frobnicate")
        self.assertEqual(rc, 2)
        self.assertIn("`hookd help webhook`", err)
        rc, out, err = self.h.cli("help", "frobnicate")
        self.assertEqual(rc, 2)


class Terminal(HookdCase):

    def on_tty(self, *args):
        """Runs `hookd ARGS` with standard output on a pseudo-terminal."""
        master, slave = pty.openpty()
        p = spawn([self.h.bin] + list(args), env=self.h.env(None), stdin=subprocess.DEVNULL,
                  stdout=slave, stderr=subprocess.PIPE)
        os.close(slave)
        chunks = []
        while True:
            r, _, _ = select.select([master], [], [], 30)
            if not r:
                break
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        os.close(master)
        err = p.stderr.read().decode()
        p.wait(timeout=30)
        return p.returncode, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n"), err

    def test_list_is_a_table_on_a_terminal(self):
        a = self.h.add_webhook("http://127.0.0.1:9/a", "--events", "person.created")
        b = self.h.add_webhook("http://127.0.0.1:9/bbbbbbbbbbbbbbbbbbbb")
        bad = "wh_" + "e" * 16
        self.r.hset(self.k("webhook:" + bad), mapping={"url": "http://127.0.0.1:9/\x1b[31mred",
                                                       "secret": "x" * 64})
        self.r.sadd(self.k("webhooks"), bad)
        rc, out, err = self.on_tty("webhook", "list")
        self.assertEqual(rc, 0, err)
        lines = [l for l in out.splitlines() if l.strip()]
        self.assertEqual(len(lines), 4, out)
        self.assertTrue(lines[0].startswith("ID "), lines[0])
        self.assertNotIn("\x1b", out)
        for h in ("URL", "EVENTS", "ENABLED", "SIGNING", "VALID"):
            col = lines[0].index(h)
            for l in lines[1:]:
                self.assertNotEqual(l[col], " ", "column %s misaligned:\n%s" % (h, out))
                self.assertEqual(l[col - 1], " ", "column %s misaligned:\n%s" % (h, out))
        self.assertIn(a["id"], out)
        self.assertIn(b["id"], out)
        self.assertIn("[31mred", out)  # the escape byte shown as '?'

        rc, out, err = self.on_tty("webhook", "list", "--json")
        self.assertEqual(rc, 0, err)
        got = [json.loads(l) for l in out.splitlines() if l.strip()]
        self.assertEqual(sorted(w["id"] for w in got), sorted([a["id"], b["id"], bad]))

    def test_piped_list_is_json_lines(self):
        a = self.h.add_webhook("http://127.0.0.1:9/a")
        got = self.h.cli_lines("webhook", "list")
        self.assertEqual([w["id"] for w in got], [a["id"]])

    def test_log_is_a_table_on_a_terminal(self):
        a = self.h.add_webhook("http://127.0.0.1:9/a")
        rc, out, err = self.on_tty("webhook", "log", a["id"])
        self.assertEqual(rc, 0, err)
        self.assertTrue(out.startswith("AT "), out)
        self.assertIn("DELIVERY", out)


if __name__ == "__main__":
    unittest.main()
