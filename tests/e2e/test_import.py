"""rmail import maildir: a Dovecot Maildir++ tree built here is migrated
into the store (folders, flags, keywords, INTERNALDATE, CRLF,
subscriptions), a second run adds nothing, and bad input exits 1.
No server runs: import works on the store directly."""

import json
import os
import re
import unittest

from harness import Instance, ADMIN, DOMAIN

FNAME = re.compile(r"^(\d{8,})_([ADFST]*)([a-z]*)\.eml$")

# Maildir flag letter -> store letter (store/fname.h).
SYS = {"R": "A", "T": "D", "F": "F", "S": "S", "D": "T"}


def lf(subject):
    return ("From: a@b.test\nSubject: %s\n\nline one\nline two\n"
            % subject).encode()


# (folder dir relative to the Maildir, sub, file name, content, mtime)
MESSAGES = [
    ("", "cur", "1000.M1P1.host,S=50:2,FRS", lf("one"), 1600000000),
    ("", "cur", "1001.M2P1.host:2,T", lf("two"), 1600000100),
    ("", "cur", "1002.M3P1.host:2,Dab", lf("three"), 1600000200),
    # new/: flags in the name are ignored, not \Seen.
    ("", "new", "1003.M4P1.host", lf("four"), 1600000050),
    (".Archive.2024", "cur", "2000.M5P1.host:2,S", lf("archived"),
     1500000000),
    (".Entw&APw-rfe", "new", "3000.M6P1.host", b"Subject: draft\n\nx\n",
     1700000000),
]


class Import(unittest.TestCase):

    def setUp(self):
        self.inst = Instance()
        self.addCleanup(self.inst.cleanup)
        self.user_dir = os.path.join(self.inst.data_dir, "mail", DOMAIN,
                                     "admin")
        self.src = os.path.join(self.inst.dir, "Maildir")
        for folder in ("", ".Archive.2024", ".Entw&APw-rfe",
                       ".Bad*Name"):
            for sub in ("cur", "new", "tmp"):
                os.makedirs(os.path.join(self.src, folder, sub))
        for folder, sub, name, data, mtime in MESSAGES:
            self.write(os.path.join(folder, sub, name), data, mtime)
        self.write("cur/.hidden:2,S", b"Subject: no\n\n", 1600000000)
        self.write(".Bad*Name/cur/9.x:2,S", b"Subject: bad\n\n", 1600000000)
        self.write(".Archive.2024/maildirfolder", b"", 1600000000)
        self.write("dovecot-keywords", b"0 $Forwarded\n1 Junk\n", 1600000000)
        self.write("subscriptions", b"INBOX\nArchive.2024\n", 1600000000)

    def write(self, rel, data, mtime):
        path = os.path.join(self.src, rel)
        with open(path, "wb") as f:
            f.write(data)
        os.utime(path, (mtime, mtime))

    def run_import(self, *args):
        return self.inst.cli("import", "maildir", *args)

    def mbox_dir(self, dirname):
        return os.path.join(self.user_dir, "mailboxes", dirname)

    def status(self, dirname):
        with open(os.path.join(self.mbox_dir(dirname), "status.json")) as f:
            return json.load(f)

    def files(self, dirname):
        """uid -> (sys letters, keyword letters, path), in UID order."""
        out = {}
        top = self.mbox_dir(dirname)
        for shard in sorted(os.listdir(top)):
            sp = os.path.join(top, shard)
            if shard.startswith(".") or not os.path.isdir(sp):
                continue
            for name in os.listdir(sp):
                m = FNAME.match(name)
                self.assertIsNotNone(m, "stray file %s/%s" % (shard, name))
                out[int(m.group(1))] = (m.group(2), m.group(3),
                                        os.path.join(sp, name))
        return dict(sorted(out.items()))

    def snapshot(self):
        out = {}
        for root, _, names in os.walk(os.path.join(self.user_dir,
                                                   "mailboxes")):
            for n in names:
                p = os.path.join(root, n)
                with open(p, "rb") as f:
                    out[p] = f.read()
        return out

    def check_msg(self, entry, data, mtime):
        path = entry[2]
        with open(path, "rb") as f:
            self.assertEqual(f.read(), data.replace(b"\n", b"\r\n"))
        self.assertEqual(int(os.stat(path).st_mtime), mtime)

    def test_import(self):
        r = self.run_import("--user", ADMIN, self.src)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        out = r.stdout
        self.assertIn("rmail: import INBOX: 4 imported, 0 already present, "
                      "0 skipped\n", out)
        self.assertIn("rmail: import Archive/2024: 1 imported, 0 already "
                      "present, 0 skipped\n", out)
        self.assertIn("rmail: import Entw&APw-rfe: 1 imported, 0 already "
                      "present, 0 skipped\n", out)
        self.assertIn("rmail: import total: 6 imported, 0 already present, "
                      "0 skipped, 0 failed\n", out)
        self.assertIn("1 folder skipped", out)
        self.assertIn("Bad*Name", r.stderr)

        # INBOX, in mtime order: 1000, 1003 (new/), 1001, 1002.
        kws = self.status("INBOX")["keywords"]
        self.assertEqual(sorted(kws), ["$Forwarded", "Junk"])
        kl = "".join(sorted(chr(ord("a") + kws.index(k))
                            for k in ("$Forwarded", "Junk")))
        f = self.files("INBOX")
        self.assertEqual(len(f), 4)
        want = [(MESSAGES[0], "AFS", ""), (MESSAGES[3], "", ""),
                (MESSAGES[1], "D", ""), (MESSAGES[2], "T", kl)]
        for entry, (msg, sysl, kwl) in zip(f.values(), want):
            self.assertEqual(entry[0], sysl, (msg[2], entry))
            self.assertEqual(entry[1], kwl, (msg[2], entry))
            self.check_msg(entry, msg[3], msg[4])

        f = self.files("Archive%2F2024")
        self.assertEqual([e[:2] for e in f.values()], [("S", "")])
        self.check_msg(list(f.values())[0], MESSAGES[4][3], MESSAGES[4][4])
        f = self.files("Entwürfe")
        self.assertEqual([e[:2] for e in f.values()], [("", "")])
        self.check_msg(list(f.values())[0], MESSAGES[5][3], MESSAGES[5][4])
        self.assertFalse(any("Bad" in d for d in os.listdir(
            os.path.join(self.user_dir, "mailboxes"))))

        # subscriptions: listed ones subscribed, the other folder not.
        self.assertTrue(self.status("INBOX")["subscribed"])
        self.assertTrue(self.status("Archive%2F2024")["subscribed"])
        self.assertFalse(self.status("Entwürfe")["subscribed"])

        # Second run: nothing new, nothing changed on disk.
        before = self.snapshot()
        r = self.run_import("--user", ADMIN, self.src)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("rmail: import INBOX: 0 imported, 4 already present, "
                      "0 skipped\n", r.stdout)
        self.assertIn("rmail: import total: 0 imported, 6 already present, "
                      "0 skipped, 0 failed\n", r.stdout)
        self.assertEqual(self.snapshot(), before)

        # A message arriving later is picked up; moving one from new/ to
        # cur/ (Dovecot marking it seen) does not duplicate it.
        os.rename(os.path.join(self.src, "new", "1003.M4P1.host"),
                  os.path.join(self.src, "cur", "1003.M4P1.host:2,S"))
        self.write("new/1004.M7P1.host", lf("five"), 1600000300)
        r = self.run_import("--user", ADMIN, self.src)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("rmail: import INBOX: 1 imported, 4 already present, "
                      "0 skipped\n", r.stdout)
        f = self.files("INBOX")
        self.assertEqual(len(f), 5)
        self.check_msg(f[max(f)], lf("five"), 1600000300)

    def test_errors(self):
        r = self.run_import("--user", "nobody@" + DOMAIN, self.src)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("no such user", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(
            self.inst.data_dir, "mail", DOMAIN, "nobody")))

        missing = os.path.join(self.inst.dir, "nonexistent")
        r = self.run_import("--user", ADMIN, missing)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(missing + ": No such file or directory", r.stderr)

        r = self.run_import("--user", ADMIN, os.path.join(self.src, "cur"))
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("not a Maildir", r.stderr)

        r = self.run_import(self.src)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        r = self.inst.cli("import", "mbox", "--user", ADMIN, self.src)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
