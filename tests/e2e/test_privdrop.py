"""Started as root on the standard (low) ports, `rmail serve` binds, then
becomes the configured user before it reads a byte from a client: every
thread's real, effective, saved and file-system ids are the user's, no
capability is left, mail it stores belongs to the user. Without a user it
refuses to serve anything but loopback as root."""

import grp
import os
import pwd
import socket
import subprocess
import time
import unittest

import harness
from harness import ADMIN, ADMIN_PASSWORD, DOMAIN
import smtp_util

USER = "rmail-e2e"
STANDARD = (25, 587, 465, 143, 993)


def ensure_user(test):
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        pass
    subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                    "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
                    USER], check=True, capture_output=True)
    test.addCleanup(subprocess.run, ["userdel", USER], capture_output=True)
    return pwd.getpwnam(USER)


def status(pid, task=None):
    path = "/proc/%d/status" % pid if task is None else "/proc/%d/task/%s/status" % (pid, task)
    out = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.split()
    return out


def chown_tree(path, uid, gid):
    for d, dirs, files in os.walk(path):
        os.chown(d, uid, gid)
        for f in files:
            os.lchown(os.path.join(d, f), uid, gid)


@unittest.skipUnless(os.geteuid() == 0, "starting as root needs root (CI runs as root)")
class PrivilegeDrop(unittest.TestCase):

    def setUp(self):
        for port in STANDARD:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError as e:
                self.skipTest("127.0.0.1:%d is taken on this machine (%s)" % (port, e))
            finally:
                s.close()
        self.pw = ensure_user(self)
        self.inst = harness.Instance(port_base=0)
        self.addCleanup(self.inst.cleanup)
        inst, pw = self.inst, self.pw
        inst.edit_config(lambda c: c.update(user=USER))
        # The account reaches its data through the test's private dir, and
        # reads what a reload needs (as `rmail init` arranges for root
        # installs): users file and key group-readable.
        os.chmod(inst.dir, 0o755)
        chown_tree(inst.data_dir, pw.pw_uid, pw.pw_gid)
        for f, mode in (("tls", 0o750), ("users.json", 0o640),
                        ("tls/privkey.pem", 0o640)):
            p = os.path.join(inst.etc, f)
            os.chown(p, 0, pw.pw_gid)
            os.chmod(p, mode)

    def test_drops_to_the_configured_user(self):
        inst, pw = self.inst, self.pw
        self.assertEqual(sorted(inst.ports.values()), sorted(STANDARD))
        inst.start()
        self.assertIn("event=privileges-dropped user=%s uid=%d" % (USER, pw.pw_uid),
                      inst.log())
        groups = set(os.getgrouplist(USER, pw.pw_gid))
        tasks = os.listdir("/proc/%d/task" % inst.pid)
        self.assertGreater(len(tasks), 1, "expected the worker threads too")
        for task in tasks:
            st = status(inst.pid, task)
            with self.subTest(task=task):
                self.assertEqual(st["Uid"], [str(pw.pw_uid)] * 4)
                self.assertEqual(st["Gid"], [str(pw.pw_gid)] * 4)
                self.assertEqual({int(g) for g in st.get("Groups", [])}, groups)
                self.assertNotIn(0, {int(g) for g in st.get("Groups", [])})
                self.assertEqual(int(st["CapEff"][0], 16), 0)
                self.assertEqual(int(st["CapPrm"][0], 16), 0)
        print("\n    serving as %s: Uid %s Gid %s Groups %s, %d threads"
              % (USER, " ".join(st["Uid"]), " ".join(st["Gid"]),
                 " ".join(st.get("Groups", [])), len(tasks)))

        # Serves on the low ports; what it writes belongs to the user.
        s = smtp_util.smtplib_client(inst, "smtp")
        s.sendmail("far@remote.test", [ADMIN], "Subject: low port\r\n\r\nhi\r\n")
        s.quit()
        files = smtp_util.wait_inbox(inst, 1)
        self.assertEqual(len(files), 1)
        st = os.stat(files[0])
        self.assertEqual((st.st_uid, st.st_gid), (pw.pw_uid, pw.pw_gid))
        c = inst.imap4_ssl()
        c.login(ADMIN, ADMIN_PASSWORD)
        self.assertEqual(c.select("INBOX")[1], [b"1"])
        c.logout()
        # The pid file is the user's, and a reload as that user works.
        st = os.stat(os.path.join(inst.data_dir, "rmail.pid"))
        self.assertEqual(st.st_uid, pw.pw_uid)
        r = inst.cli("reload")
        self.assertEqual(r.returncode, 0, r.stderr + inst.log())

    def test_deliver_and_import_as_root_write_the_users_files(self):
        """`rmail deliver` (an MTA's pipe) and `rmail import` run by root
        store files the server, running as the user, can rename and flag."""
        inst, pw = self.inst, self.pw
        r = inst.cli("deliver", ADMIN, input="Subject: via LDA\r\n\r\nhi\r\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        md = os.path.join(inst.dir, "Maildir")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(md, sub))
        with open(os.path.join(md, "cur", "1700000000.1.host:2,S"), "w") as f:
            f.write("Subject: imported\r\n\r\nold mail\r\n")
        os.chmod(inst.dir, 0o755)
        r = inst.cli("import", "maildir", md, "--user", ADMIN)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        owners = set()
        for d, _, files in os.walk(os.path.join(inst.data_dir, "mail")):
            for f in files + [""]:
                st = os.lstat(os.path.join(d, f))
                owners.add((st.st_uid, st.st_gid))
        self.assertEqual(owners, {(pw.pw_uid, pw.pw_gid)})
        # The server, as the user, flags and expunges them.
        inst.start()
        c = inst.imap4_ssl()
        c.login(ADMIN, ADMIN_PASSWORD)
        self.assertEqual(c.select("INBOX")[1], [b"2"])
        self.assertEqual(c.store("1:*", "+FLAGS", "(\\Deleted)")[0], "OK")
        self.assertEqual(c.expunge()[0], "OK")
        self.assertEqual(c.select("INBOX")[1], [b"0"])
        c.logout()

    def test_refuses_root_as_the_user(self):
        self.inst.edit_config(lambda c: c.update(user="root"))
        self.assert_refused("\"user\" root is root")

    def test_refuses_unknown_user(self):
        self.inst.edit_config(lambda c: c.update(user="no-such-user-here"))
        self.assert_refused("user \"no-such-user-here\" does not exist")

    def test_refuses_root_on_the_network_without_a_user(self):
        def edit(c):
            del c["user"]
            c["listen"]["smtp"] = ["0.0.0.0:%d" % (harness.pick_port_base() + 25)]
        self.inst.edit_config(edit)
        self.assert_refused("refusing to serve the network as root")

    def assert_refused(self, msg):
        t0 = time.monotonic()
        r = self.inst.run_bin("serve", "-c", self.inst.config, timeout=20)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(msg, r.stderr)
        self.assertLess(time.monotonic() - t0, 10)


if __name__ == "__main__":
    unittest.main()
