"""CLI basics: usage errors, version, help, init refusing to overwrite,
user add/list/del."""

import json
import os
import unittest

from harness import (Instance, ADMIN, ADMIN_PASSWORD, DOMAIN, HOSTNAME)


class Cli(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.inst = Instance()

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()

    def run_bin(self, *args, input=None):
        return self.inst.run_bin(*args, input=input)

    def test_no_args(self):
        r = self.run_bin()
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)

    def test_unknown_command(self):
        r = self.run_bin("bogus")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("bogus", r.stderr)

    def test_version(self):
        r = self.run_bin("version")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("rmail "), r.stdout)

    def test_help(self):
        r = self.run_bin("help")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.run_bin("help", "user")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("user", r.stdout)
        r = self.run_bin("help", "bogus")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)

    def test_user_list_shows_admin(self):
        r = self.inst.cli("user", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(ADMIN, r.stdout)

    def test_user_add_outside_domains(self):
        r = self.inst.cli("user", "add", "someone@other.test",
                          "--password-stdin", input="some-password\n")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertTrue(r.stderr.strip(), "no error message")
        r = self.inst.cli("user", "list")
        self.assertNotIn("someone@other.test", r.stdout)

    def test_user_add_list_del(self):
        addr = "bob@" + DOMAIN
        r = self.inst.cli("user", "add", addr, "--password-stdin",
                          input="bob-password-1\n")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = self.inst.cli("user", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(addr, r.stdout)
        self.assertIn(ADMIN, r.stdout)
        r = self.inst.cli("user", "del", addr)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = self.inst.cli("user", "list")
        self.assertNotIn(addr, r.stdout)
        self.assertIn(ADMIN, r.stdout)

    def test_init_refuses_to_overwrite(self):
        with open(self.inst.config, "rb") as f:
            before = f.read()
        users = json.loads(before).get("users_file")
        if users and not os.path.isabs(users):
            users = os.path.join(self.inst.etc, users)
        ubefore = open(users, "rb").read() if users else None
        r = self.run_bin(
            "init", "-c", self.inst.config, "--data-dir", self.inst.data_dir,
            "--domain", "other.test", "--hostname", HOSTNAME,
            "--listen", "127.0.0.1", "--port-base", str(self.inst.port_base),
            "--admin", "root@other.test", "--password-stdin",
            "--non-interactive", input=ADMIN_PASSWORD + "\n")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertTrue(r.stderr.strip(), "no error message")
        with open(self.inst.config, "rb") as f:
            self.assertEqual(f.read(), before, "config changed")
        if users:
            with open(users, "rb") as f:
                self.assertEqual(f.read(), ubefore, "users file changed")


class PasswordPrompt(unittest.TestCase):
    """Without --password-stdin, `rmail user add` asks twice on the
    terminal with echo off."""

    @classmethod
    def setUpClass(cls):
        cls.inst = Instance()

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()

    def converse(self, address, answers):
        """Run `rmail user add ADDRESS` on a pty, answering each prompt.
        Returns (exit status, transcript)."""
        import pty
        import select
        import time
        from harness import RMAIL_BIN
        pid, fd = pty.fork()
        if pid == 0:
            os.execv(RMAIL_BIN, [RMAIL_BIN, "user", "add", address,
                                 "-c", self.inst.config])
        out = b""
        pending = list(answers)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            r, _, _ = select.select([fd], [], [], 0.2)
            if r:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    break       # EIO: the child closed the terminal
                if not chunk:
                    break
                out += chunk
                if pending and out.lower().count(b"password") > \
                        len(answers) - len(pending):
                    time.sleep(0.05)    # echo is turned off after the prompt
                    os.write(fd, pending.pop(0).encode() + b"\n")
        _, status = os.waitpid(pid, 0)
        os.close(fd)
        return os.waitstatus_to_exitcode(status), out.decode(errors="replace")

    def test_prompt_twice_without_echo(self):
        secret = "Tty-Secret-4711"
        rc, out = self.converse("tty@" + DOMAIN, [secret, secret])
        self.assertEqual(rc, 0, out)
        self.assertNotIn(secret, out, "the password was echoed")
        self.assertGreaterEqual(out.lower().count("password"), 2, out)
        listed = self.inst.cli("user", "list").stdout
        self.assertIn("tty@" + DOMAIN, listed)

    def test_mismatch_is_refused(self):
        rc, out = self.converse("tty2@" + DOMAIN, ["one-password", "another"])
        self.assertEqual(rc, 1, out)
        self.assertNotIn("tty2@" + DOMAIN, self.inst.cli("user", "list").stdout)
