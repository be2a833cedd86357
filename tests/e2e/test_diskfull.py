"""Disk full (issue 9): the whole data dir (store and queue) on a small
tmpfs made by the test (needs root, as `make test` runs; skipped with the
reason otherwise). With the file system full: SMTP DATA answers 452 4.3.1,
IMAP APPEND answers NO with a response code, flag changes lose nothing,
everything stored before reads back intact with its flags, and both
services go on serving; once space returns, mail is accepted, delivered
and appended again, and a restart finds the store clean."""

import os
import re
import shutil
import smtplib
import subprocess
import tempfile
import time
import unittest

from harness import ADMIN, ADMIN_PASSWORD, DOMAIN, SLOW, Instance
from smtp_util import inbox_files, wait_inbox

SIZE = "8m"
SENDER = "sender@remote.test"


def message(tag, lines=20):
    return ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\n"
            "Message-ID: <%s@remote.test>\r\n\r\n" % (SENDER, ADMIN, tag, tag)
            + "".join("%s line %d %s\r\n" % (tag, i, "q" * 50)
                      for i in range(lines))).encode()


def mount_tmpfs(test, path):
    """Mount a SIZE tmpfs on path (made if missing), unmounted at cleanup;
    skips the test when that is impossible."""
    if os.geteuid() != 0:
        test.skipTest("needs root to mount a small tmpfs (make test runs "
                      "as root)")
    os.makedirs(path, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0700"
                        % SIZE, "tmpfs", path], capture_output=True, text=True)
    if r.returncode != 0:
        test.skipTest("cannot mount a tmpfs: " + (r.stderr.strip() or
                                                  "mount exited %d"
                                                  % r.returncode))
    test.addCleanup(subprocess.run, ["umount", "-l", path],
                    capture_output=True)


def fill(path):
    """Write path until the file system is full, to the last byte."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for chunk in (1 << 20, 65536, 4096, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * chunk)
            except OSError as e:
                if e.errno != 28:       # ENOSPC
                    raise
        os.fsync(fd)
    finally:
        os.close(fd)


class DiskFull(unittest.TestCase):

    def setUp(self):
        self.inst = Instance()
        self.addCleanup(self.inst.cleanup)
        data = self.inst.data_dir
        # What `rmail init` put in the data dir moves onto the tmpfs.
        keep = tempfile.mkdtemp(prefix="rmail-diskfull-")
        self.addCleanup(shutil.rmtree, keep, True)
        saved = os.path.join(keep, "data")
        shutil.copytree(data, saved, symlinks=True)
        shutil.rmtree(data)
        mount_tmpfs(self, data)
        shutil.copytree(saved, data, symlinks=True, dirs_exist_ok=True)
        self.filler = os.path.join(data, "filler")
        self.inst.start()

    def tearDown(self):
        self.inst.close_clients()
        self.inst.stop()

    # --- helpers --------------------------------------------------------

    def smtp(self):
        s = smtplib.SMTP("127.0.0.1", self.inst.ports["smtp"],
                         local_hostname="client.test", timeout=10 * SLOW)
        self.addCleanup(s.close)
        s.ehlo()
        return s

    def send(self, s, data):
        """One transaction on s; (code, reply) of DATA."""
        code, reply = s.mail(SENDER)
        self.assertEqual(code, 250, reply)
        code, reply = s.rcpt(ADMIN)
        self.assertEqual(code, 250, reply)
        return s.data(data)

    def imap(self):
        m = self.inst.imap4_ssl()
        self.assertEqual(m.login(ADMIN, ADMIN_PASSWORD)[0], "OK")
        return m

    def snapshot(self, m):
        """{uid: (flags, bytes)} of INBOX as IMAP shows it."""
        typ, data = m.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[])")
        self.assertEqual(typ, "OK", data)
        out = {}
        for item in data:
            if not isinstance(item, tuple):
                continue
            head = item[0].decode()
            uid = int(re.search(r"UID (\d+)", head).group(1))
            flags = re.search(r"FLAGS \(([^)]*)\)", head).group(1)
            out[uid] = (sorted(flags.split()), item[1])
        return out

    def queue_files(self):
        q = os.path.join(self.inst.data_dir, "queue")
        return {sub: os.listdir(os.path.join(q, sub))
                for sub in ("msg", "env", "tmp")}

    # --- the test -------------------------------------------------------

    def test_full_then_space_returns(self):
        inst = self.inst
        # Before: three messages by SMTP, one by APPEND with flags, and
        # flags changed on another.
        s = self.smtp()
        for i in range(3):
            code, reply = self.send(s, message("before-%d" % i))
            self.assertEqual(code, 250, reply)
        self.assertEqual(len(wait_inbox(inst, 3)), 3)
        m = self.imap()
        typ, data = m.append("INBOX", r"(\Flagged $Work)", None,
                             message("appended"))
        self.assertEqual(typ, "OK", data)
        self.assertEqual(m.select("INBOX")[0], "OK")
        typ, data = m.store("1", "+FLAGS", r"(\Answered)")
        self.assertEqual(typ, "OK", data)
        before = self.snapshot(m)
        self.assertEqual(len(before), 4)

        fill(self.filler)

        # SMTP: the transaction is refused for now, nothing half-written
        # stays in the queue, and the session goes on.
        code, reply = self.send(s, message("while-full"))
        self.assertEqual(code, 452, reply)
        self.assertTrue(reply.startswith(b"4.3.1 "), reply)
        self.assertEqual(self.queue_files(),
                         {"msg": [], "env": [], "tmp": []})
        self.assertEqual(s.rset()[0], 250)
        self.assertEqual(s.noop()[0], 250)
        # A second connection is served too.
        s2 = self.smtp()
        code, reply = self.send(s2, message("while-full-2"))
        self.assertEqual(code, 452, reply)

        # IMAP: APPEND is refused with a response code; nothing appears.
        typ, data = m.append("INBOX", None, None, message("append-full"))
        self.assertEqual(typ, "NO", data)
        self.assertRegex(data[0].decode(), r"^\[LIMIT\] .*disk space")
        # Flag changes are renames: no space needed, nothing lost. A new
        # keyword must be written into status.json: refused, saying why
        # (not "too many keywords"), and the message stays as it was.
        typ, data = m.store("2", "+FLAGS", r"(\Seen)")
        self.assertEqual(typ, "OK", data)
        typ, data = m.store("3", "+FLAGS", "($Brandnew)")
        self.assertEqual(typ, "NO", data)
        self.assertRegex(data[0].decode(), r"^\[LIMIT\] .*disk space")
        # A keyword the mailbox already knows needs no space.
        typ, data = m.store("3", "+FLAGS", "($Work)")
        self.assertEqual(typ, "OK", data)
        typ, data = m.store("4", "-FLAGS", r"(\Flagged)")
        self.assertEqual(typ, "OK", data)
        # Other commands still work.
        self.assertEqual(m.noop()[0], "OK")
        typ, data = m.search(None, "ALL")
        self.assertEqual((typ, data[0].split()), ("OK", [b"1", b"2", b"3",
                                                         b"4"]))

        def expected(snap):
            out = {}
            for n, uid in enumerate(sorted(snap), 1):
                flags, body = snap[uid]
                flags = set(flags) - {r"\Recent"}
                if n == 2:
                    flags.add(r"\Seen")
                if n == 3:
                    flags.add("$Work")
                if n == 4:
                    flags.discard(r"\Flagged")
                out[uid] = (sorted(flags), body)
            return out

        def strip_recent(snap):
            return {u: (sorted(set(f) - {r"\Recent"}), b)
                    for u, (f, b) in snap.items()}

        want = expected(before)
        self.assertEqual(strip_recent(self.snapshot(m)), want)
        # And from a fresh session, which reads what is on disk.
        m2 = self.imap()
        self.assertEqual(m2.select("INBOX", readonly=True)[0], "OK")
        self.assertEqual(strip_recent(self.snapshot(m2)), want)
        m2.logout()

        # Space returns: the same sessions go on, mail flows again.
        os.unlink(self.filler)
        code, reply = self.send(s, message("after"))
        self.assertEqual(code, 250, reply)
        self.assertEqual(len(wait_inbox(inst, 5)), 5)
        typ, data = m.append("INBOX", r"(\Seen)", None,
                             message("append-after"))
        self.assertEqual(typ, "OK", data)
        typ, data = m.store("3", "+FLAGS", "($Brandnew)")
        self.assertEqual(typ, "OK", data)
        want[sorted(want)[2]][0].append("$Brandnew")
        want = {u: (sorted(set(f)), b) for u, (f, b) in want.items()}
        s.quit()
        s2.quit()
        m.logout()
        inst.close_clients()

        # A restart finds everything, and logs no error.
        inst.stop()
        off = inst.log_size()
        inst.start()
        m = self.imap()
        self.assertEqual(m.select("INBOX")[0], "OK")
        after = strip_recent(self.snapshot(m))
        self.assertEqual(len(after), 6)
        for uid, v in want.items():
            self.assertEqual(after[uid], v, uid)
        bodies = sorted(b for _, b in after.values())
        for tag in ("after", "append-after"):
            self.assertEqual(sum(b.endswith(message(tag)) for b in bodies), 1,
                             tag)
        for tag in ("while-full", "while-full-2", "append-full"):
            self.assertFalse(any(message(tag) in b for b in bodies), tag)
        m.logout()
        inst.close_clients()
        self.assertEqual(self.queue_files(),
                         {"msg": [], "env": [], "tmp": []})
        errors = [l for l in inst.log_since(off).splitlines()
                  if "level=error" in l]
        self.assertEqual(errors, [])

    def test_accepted_then_store_full(self):
        """Room for the queue's two files but not for the store's
        status.json: the message is acknowledged, its delivery deferred
        (not lost, the mailbox untouched), and once space returns a
        flush delivers it, once."""
        inst = self.inst
        s = self.smtp()
        code, reply = self.send(s, message("first"))
        self.assertEqual(code, 250, reply)
        self.assertEqual(len(wait_inbox(inst, 1)), 1)
        status = os.path.join(inst.data_dir, "mail", DOMAIN, "admin",
                              "mailboxes", "INBOX", "status.json")
        with open(status, "rb") as f:
            status_before = f.read()
        # Full, then exactly two pages back: msg/ID and env/ID.json.
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            try:
                while True:
                    os.write(fd, b"\0" * 4096)
            except OSError as e:
                self.assertEqual(e.errno, 28)
            os.ftruncate(fd, os.fstat(fd).st_size - 2 * 4096)
        finally:
            os.close(fd)
        off = inst.log_size()
        code, reply = self.send(s, message("second", lines=10))
        self.assertEqual(code, 250, reply)
        qid = re.search(rb"queued as ([0-9A-Za-z]+)", reply).group(1).decode()
        self.assertIsNotNone(inst.wait_log(
            lambda l: "event=deferred id=%s " % qid in l, since=off),
            inst.log_since(off))
        self.assertEqual(len(inbox_files(inst)), 1)
        with open(status, "rb") as f:
            self.assertEqual(f.read(), status_before)
        r = inst.cli("queue", "list")
        self.assertIn(qid, r.stdout)
        # Space returns; the retry is a minute away: flush.
        os.unlink(self.filler)
        r = inst.cli("queue", "flush")
        self.assertEqual(r.returncode, 0, r.stderr)
        files = wait_inbox(inst, 2)
        self.assertEqual(len(files), 2)
        with open(files[1], "rb") as f:
            self.assertTrue(f.read().endswith(message("second", lines=10)))
        deadline = time.monotonic() + 5 * SLOW
        while time.monotonic() < deadline and any(self.queue_files().values()):
            time.sleep(0.05)
        self.assertEqual(self.queue_files(),
                         {"msg": [], "env": [], "tmp": []})
        s.quit()


if __name__ == "__main__":
    unittest.main()
