"""Bad configs: `rmail check-config` and `rmail serve` exit 2 and name
FILE:LINE:COLUMN of the offending key."""

import json
import os
import re
import subprocess
import unittest

import harness
from harness import Instance


def line_of(text, needle):
    """1-based line number of the first line of text containing needle."""
    for i, l in enumerate(text.split("\n"), 1):
        if needle in l:
            return i
    raise AssertionError("%r not in text" % needle)


class BadConfig(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.inst = Instance()
        cls.good = cls.inst.load_config()

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()

    def write(self, name, text):
        path = os.path.join(self.inst.etc, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def with_limit(self, key, value):
        cfg = json.loads(json.dumps(self.good))
        cfg.setdefault("limits", {})[key] = value
        return json.dumps(cfg, indent=2) + "\n"

    def check_both(self, path, want_line, *want_in):
        """check-config and serve on path: exit 2, FILE:LINE:COL: with the
        right line, and each of want_in in stderr. Returns check-config's
        stderr."""
        pat = re.compile(re.escape(path) + r":(\d+):(\d+): ")
        out = None
        for cmd in ("check-config", "serve"):
            with self.subTest(cmd=cmd):
                try:
                    r = self.inst.run_bin(cmd, "-c", path,
                                          timeout=15 * harness.SLOW)
                except subprocess.TimeoutExpired:
                    self.fail("rmail %s -c %s did not exit on a bad config"
                              % (cmd, path))
                self.assertEqual(r.returncode, 2,
                                 "exit %d; stderr:\n%s" % (r.returncode, r.stderr))
                m = pat.search(r.stderr)
                self.assertIsNotNone(m, "no %s:LINE:COL: in stderr:\n%s"
                                     % (path, r.stderr))
                self.assertEqual(int(m.group(1)), want_line,
                                 "wrong line; stderr:\n%s" % r.stderr)
                for w in want_in:
                    self.assertIn(w, r.stderr)
                if cmd == "check-config":
                    out = r.stderr
        return out

    def test_good_config_passes(self):
        r = self.inst.cli("check-config")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_syntax_error(self):
        good = json.dumps(self.good, indent=2) + "\n"
        lines = good.split("\n")
        # After the opening brace: a key without its colon.
        lines.insert(1, '  "bogus" 1,')
        text = "\n".join(lines)
        path = self.write("bad-syntax.json", text)
        err = self.check_both(path, 2)
        print("\n    " + err.strip().replace("\n", "\n    "))

    def test_unknown_limits_key(self):
        text = self.with_limit("max_mesage_bytes", 1000000)
        path = self.write("bad-unknown.json", text)
        err = self.check_both(path, line_of(text, '"max_mesage_bytes"'),
                              "max_mesage_bytes",
                              'did you mean "max_message_bytes"')
        print("\n    " + err.strip().replace("\n", "\n    "))

    def test_wrong_type(self):
        text = self.with_limit("max_connections_per_ip", "ten")
        path = self.write("bad-type.json", text)
        err = self.check_both(path, line_of(text, '"max_connections_per_ip"'),
                              "max_connections_per_ip")
        print("\n    " + err.strip().replace("\n", "\n    "))

    def test_unknown_top_level_key(self):
        cfg = json.loads(json.dumps(self.good))
        cfg["hostnme"] = "x"
        text = json.dumps(cfg, indent=2) + "\n"
        path = self.write("bad-top.json", text)
        self.check_both(path, line_of(text, '"hostnme"'), "hostnme",
                        'did you mean "hostname"')
