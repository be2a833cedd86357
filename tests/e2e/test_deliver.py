"""rmail deliver (the local delivery agent): files on disk, exit codes,
aliases, CRLF, two concurrent delivery streams, and kill -9 mid-stream.
No server runs: deliver works on the store directly."""

import json
import os
import re
import shlex
import signal
import subprocess
import time
import unittest

from harness import (Instance, ADMIN, DOMAIN, RMAIL_BIN, ASAN, SLOW,
                     sanitizer_env, sanitizer_reports)

FNAME = re.compile(r"^(\d{8,})_([ADFST]*[a-z]*)\.eml$")
SPECIAL = {"Drafts": "\\Drafts", "Sent": "\\Sent", "Trash": "\\Trash",
           "Junk": "\\Junk", "Archive": "\\Archive", "INBOX": None}
# Concurrency figure: 1000 messages per process on the release build;
# ASan+UBSan is several times slower per process start, so 300 there.
PER_PROC = 300 if ASAN else 1000


class Deliver(unittest.TestCase):

    def setUp(self):
        self.inst = Instance()
        self.addCleanup(self.inst.cleanup)
        self.user_dir = os.path.join(self.inst.data_dir, "mail", DOMAIN,
                                     "admin")
        self.inbox = os.path.join(self.user_dir, "mailboxes", "INBOX")

    def deliver(self, rcpt, data, *extra):
        r = subprocess.run(
            [RMAIL_BIN, "deliver", "-c", self.inst.config] + list(extra)
            + [rcpt], input=data, capture_output=True,
            env=sanitizer_env(), timeout=60 * SLOW)
        err = r.stderr.decode("utf-8", "replace")
        self.assertFalse(sanitizer_reports(err), err)
        return r

    def files(self):
        """uid -> path of every message file in INBOX; fails on any file
        in a shard that is not a message name, or on a uid seen twice."""
        out = {}
        if not os.path.isdir(self.inbox):
            return out
        for shard in os.listdir(self.inbox):
            sp = os.path.join(self.inbox, shard)
            if not os.path.isdir(sp):
                continue
            for name in os.listdir(sp):
                m = FNAME.match(name)
                self.assertIsNotNone(m, "stray file %s/%s" % (shard, name))
                uid = int(m.group(1))
                self.assertNotIn(uid, out, "uid %d twice" % uid)
                self.assertEqual(shard, "%04d" % (uid // 1000))
                out[uid] = os.path.join(sp, name)
        return out

    def status(self, mbox="INBOX"):
        with open(os.path.join(self.user_dir, "mailboxes", mbox,
                               "status.json")) as f:
            return json.load(f)

    def read(self, path):
        with open(path, "rb") as f:
            return f.read()

    # (a)
    def test_deliver_to_user(self):
        msg = b"From: a@b.test\r\nSubject: hi\r\n\r\nhello\r\n"
        r = self.deliver(ADMIN, msg)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b"")
        shard = os.path.join(self.inbox, "0000")
        self.assertEqual(os.listdir(shard), ["00000001_.eml"])
        self.assertEqual(
            self.read(os.path.join(shard, "00000001_.eml")),
            b"Return-Path: <>\r\nDelivered-To: admin@example.test\r\n" + msg)
        for name, su in SPECIAL.items():
            self.assertEqual(self.status(name).get("special_use"), su, name)
        self.assertEqual(self.status()["uidnext"], 2)
        self.assertTrue(os.path.isdir(os.path.join(self.user_dir, "tmp")))
        # No staging directory is left in the domain directory.
        self.assertEqual(os.listdir(os.path.dirname(self.user_dir)),
                         ["admin"])
        # A second delivery reuses the folder; -f and case are honoured.
        r = self.deliver("ADMIN@Example.TEST", msg, "-f", "x@y.test", "-v")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"uid 2", r.stdout)
        self.assertTrue(self.read(self.files()[2]).startswith(
            b"Return-Path: <x@y.test>\r\nDelivered-To: admin@example.test"))

    # (b)
    def test_unknown_user(self):
        for rcpt in ("nobody@" + DOMAIN, "nobody@elsewhere.test",
                     "admin@example.test\r\nBcc: x", "../admin@" + DOMAIN):
            r = self.deliver(rcpt, b"Subject: x\r\n\r\nx\r\n")
            self.assertEqual(r.returncode, 67, (rcpt, r.stderr))
            self.assertIn(b"no such user", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.inst.data_dir,
                                                     "mail", DOMAIN)))
        r = self.deliver(ADMIN, b"x\r\n", "-f", "a b@c")
        self.assertEqual(r.returncode, 2, r.stderr)

    # (c)
    def test_alias(self):
        cfg = self.inst.load_config()
        self.assertIn("postmaster@" + DOMAIN, cfg.get("aliases", {}))
        r = self.deliver("postmaster@" + DOMAIN, b"Subject: pm\r\n\r\nx\r\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        f = self.files()
        self.assertEqual(list(f), [1])
        self.assertEqual(self.read(f[1]),
                         b"Return-Path: <>\r\nDelivered-To: postmaster@"
                         + DOMAIN.encode() + b"\r\nSubject: pm\r\n\r\nx\r\n")
        # An alias whose only target is not local: no such user.
        self.inst.edit_config(lambda c: c["aliases"].update(
            {"ext@" + DOMAIN: ["someone@remote.test"]}))
        r = self.deliver("ext@" + DOMAIN, b"x\r\n")
        self.assertEqual(r.returncode, 67, r.stderr)
        self.assertIn(b"not a local user", r.stderr)

    def test_over_quota_is_temporary(self):
        """quota_messages/quota_bytes from the users file: the delivery
        past the limit exits 75 with 4.2.2 and stores nothing."""
        users = self.inst.load_config()["users_file"]
        if not os.path.isabs(users):
            users = os.path.join(os.path.dirname(self.inst.config), users)
        with open(users) as f:
            doc = json.load(f)
        doc["users"][0]["quota_messages"] = 2
        with open(users, "w") as f:
            json.dump(doc, f)
        msg = b"Subject: q\r\n\r\nx\r\n"
        for _ in range(2):
            r = self.deliver(ADMIN, msg)
            self.assertEqual(r.returncode, 0, r.stderr)
        r = self.deliver(ADMIN, msg)
        self.assertEqual(r.returncode, 75, r.stderr)
        self.assertIn(b"4.2.2 mailbox full", r.stderr)
        self.assertIn(b"2 of 2 messages", r.stderr)
        self.assertEqual(sorted(self.files()), [1, 2])
        # Room made (a message expunged by hand): delivery works again.
        os.unlink(self.files()[1])
        r = self.deliver(ADMIN, msg)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sorted(self.files()), [2, 3])

    # (d)
    def test_lf_to_crlf_and_size_limit(self):
        r = self.deliver(ADMIN, b"Subject: lf\n\nline1\nline2\r\nline3\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(
            self.read(self.files()[1]),
            b"Return-Path: <>\r\nDelivered-To: admin@example.test\r\n"
            b"Subject: lf\r\n\r\nline1\r\nline2\r\nline3\r\n")
        self.inst.set_limits(max_message_bytes=1024)
        r = self.deliver(ADMIN, b"x" * 1025)
        self.assertEqual(r.returncode, 65, r.stderr)
        r = self.deliver(ADMIN, b"x" * 1024)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sorted(self.files()), [1, 2])

    def loop_script(self, tag, count, okfile):
        """sh: deliver count numbered messages one after another; append
        each n whose deliver exited 0 to okfile."""
        cmd = "%s deliver -c %s %s" % (shlex.quote(RMAIL_BIN),
                                       shlex.quote(self.inst.config), ADMIN)
        return ("i=0; while [ $i -lt %d ]; do i=$((i+1)); "
                "printf 'Subject: %s %%d\\n\\nbody %s %%d end\\n' $i $i | %s "
                "&& echo $i >> %s; done"
                % (count, tag, tag, cmd, shlex.quote(okfile)))

    # (e)
    def test_concurrent_streams(self):
        oks = [os.path.join(self.inst.dir, "ok.%d" % k) for k in (1, 2)]
        t0 = time.monotonic()
        procs = [subprocess.Popen(["sh", "-c", self.loop_script(
            "p%d" % k, PER_PROC, oks[k - 1])], env=sanitizer_env(),
            stderr=subprocess.PIPE) for k in (1, 2)]
        errs = [p.communicate(timeout=600 * SLOW)[1] for p in procs]
        took = time.monotonic() - t0
        for e in errs:
            self.assertEqual(e, b"")
        for ok in oks:
            with open(ok) as f:
                self.assertEqual(len(f.read().split()), PER_PROC)
        f = self.files()
        n = 2 * PER_PROC
        self.assertEqual(sorted(f), list(range(1, n + 1)))
        self.assertEqual(self.status()["uidnext"], n + 1)
        seen = set()
        for path in f.values():
            m = re.search(rb"Subject: (p\d \d+)\r\n", self.read(path))
            seen.add(m.group(1))
        self.assertEqual(len(seen), n)
        print("\n  concurrent: 2 x %d deliveries in %.1f s (%.0f/s)"
              % (PER_PROC, took, n / took), end=" ")

    def deliver_pids(self):
        """pids of running `rmail deliver` processes of this instance."""
        pids = []
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % p, "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if (b"deliver" in argv and self.inst.config.encode() in argv
                    and argv[0].endswith(b"rmail")):
                pids.append(int(p))
        return pids

    # (f)
    def test_kill9_mid_stream(self):
        ok = os.path.join(self.inst.dir, "ok")
        proc = subprocess.Popen(
            ["sh", "-c", self.loop_script("k", 10 ** 6, ok)],
            env=sanitizer_env(), stderr=subprocess.DEVNULL,
            start_new_session=True)
        try:
            deadline = time.monotonic() + 10 * SLOW
            while not os.path.exists(ok) and time.monotonic() < deadline:
                time.sleep(0.01)
            uidnext_before = self.status()["uidnext"]
            kills = 0
            end = time.monotonic() + 1.0 * SLOW
            # One deliver every ~70 ms (x SLOW), so most still complete
            # and get acknowledged between the kills.
            while time.monotonic() < end:
                for pid in self.deliver_pids()[:1]:
                    try:
                        os.kill(pid, signal.SIGKILL)
                        kills += 1
                    except ProcessLookupError:
                        pass
                time.sleep(0.07 * SLOW)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        # The group is gone; a deliver that was mid-flight is too.
        deadline = time.monotonic() + 5
        while self.deliver_pids() and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual(self.deliver_pids(), [])

        with open(ok) as f:
            done = [int(x) for x in f.read().split()]
        self.assertTrue(done)
        f = self.files()
        got = {}
        for uid, path in f.items():
            data = self.read(path)
            m = re.search(rb"Subject: k (\d+)\r\n\r\nbody k (\d+) end\r\n\Z",
                          data)
            self.assertIsNotNone(m, "partial message uid %d: %r"
                                 % (uid, data))
            self.assertEqual(m.group(1), m.group(2))
            n = int(m.group(1))
            self.assertNotIn(n, got, "message %d twice" % n)
            got[n] = uid
        for n in done:
            self.assertIn(n, got, "message %d acknowledged but lost" % n)
        uidnext = self.status()["uidnext"]
        self.assertGreaterEqual(uidnext, max(f) + 1)
        self.assertGreaterEqual(uidnext, uidnext_before)
        # Leftovers are allowed in tmp/ only; the store still works.
        r = self.deliver(ADMIN, b"Subject: after\r\n\r\nx\r\n", "-v")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(max(self.files()), max(uidnext, max(f) + 1))
        print("\n  kill -9: %d acked, %d on disk, %d deliver processes "
              "killed, %d tmp leftovers"
              % (len(done), len(f), kills,
                 len(os.listdir(os.path.join(self.user_dir, "tmp")))),
              end=" ")


if __name__ == "__main__":
    unittest.main()
