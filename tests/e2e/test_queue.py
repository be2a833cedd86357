"""The durable queue seen from outside: `rmail queue list|show|delete|flush`,
delivery of queue files into INBOX on flush (SIGUSR1) and at start, and
what a restart cleans up. SMTP does not submit yet, so messages are put
into DATA/queue by hand, in the documented file format."""

import json
import os
import re
import signal
import smtplib
import subprocess
import time
import unittest

from harness import Instance, ADMIN, DOMAIN, HOSTNAME, SLOW

MSG = (b"Received: from client.test by localhost\r\n"
       b"From: <sender@remote.test>\r\nSubject: hello queue\r\n\r\n"
       b"body line\r\n")
REMOTE = "carol@remote.test"


class QueueFiles:
    """Helpers over one Instance's DATA/queue and admin's INBOX."""

    def qdir(self):
        return os.path.join(self.inst.data_dir, "queue")

    def put(self, qid, targets, data=MSG, sender="sender@remote.test",
            received=None, fields=None):
        """Write msg/ID and env/ID.json as queue_submit would; fields, if
        given, holds one dict per target of keys to set in it."""
        for sub in ("msg", "env", "tmp"):
            os.makedirs(os.path.join(self.qdir(), sub), exist_ok=True)
        with open(os.path.join(self.qdir(), "msg", qid), "wb") as f:
            f.write(data)
        env = {"version": 1, "id": qid, "from": sender,
               "received": int(received or time.time()),
               "client_ip": "192.0.2.7", "helo": "client.test",
               "auth_user": None, "smtputf8": False, "size": len(data),
               "targets": [{"addr": a, "local": loc, "state": "pending",
                            "attempts": 0, "next_try": 0,
                            "last_error": None, "uid": None}
                           for a, loc in targets]}
        for t, extra in zip(env["targets"], fields or []):
            t.update(extra)
        tmp = os.path.join(self.qdir(), "env", ".tmp.%s.json" % qid)
        with open(tmp, "w") as f:
            json.dump(env, f)
        os.replace(tmp, os.path.join(self.qdir(), "env", qid + ".json"))

    def env(self, qid):
        with open(os.path.join(self.qdir(), "env", qid + ".json")) as f:
            return json.load(f)

    def queued(self, qid):
        return os.path.exists(os.path.join(self.qdir(), "env",
                                           qid + ".json"))

    def inbox(self):
        """Contents of admin's INBOX messages, in uid order."""
        box = os.path.join(self.inst.data_dir, "mail", DOMAIN, "admin",
                           "mailboxes", "INBOX")
        out = []
        if not os.path.isdir(box):
            return out
        for shard in sorted(os.listdir(box)):
            sp = os.path.join(box, shard)
            if not shard.isdigit() or not os.path.isdir(sp):
                continue
            for name in sorted(os.listdir(sp)):
                if name.endswith(".eml"):
                    with open(os.path.join(sp, name), "rb") as f:
                        out.append(f.read())
        return out

    def wait_inbox(self, n, timeout=5.0):
        deadline = time.monotonic() + timeout * SLOW
        while time.monotonic() < deadline:
            msgs = self.inbox()
            if len(msgs) >= n:
                return msgs
            time.sleep(0.05)
        return self.inbox()

    def wait_gone(self, qid, timeout=5.0):
        deadline = time.monotonic() + timeout * SLOW
        while time.monotonic() < deadline and self.queued(qid):
            time.sleep(0.05)
        return not self.queued(qid)

    def stored(self, rcpt=ADMIN, sender="sender@remote.test", data=MSG):
        # Queued copies are hard links of one file: no Delivered-To
        # naming one recipient (rcpt is kept for the callers' clarity).
        del rcpt
        return ("Return-Path: <%s>\r\n" % sender).encode() + data


class QueueServer(QueueFiles, unittest.TestCase):

    def setUp(self):
        self.inst = Instance()
        self.addCleanup(self.inst.cleanup)
        self.inst.start()

    def tearDown(self):
        self.inst.close_clients()
        self.inst.stop()

    def test_flush_delivers_and_cli(self):
        qid = "0Test0000000001"
        self.put(qid, [(ADMIN, True), (REMOTE, False)])
        # Not known to the server until a flush (or a restart).
        r = self.inst.cli("queue", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 1, r.stdout)
        self.assertTrue(lines[0].startswith(qid + "  "), lines[0])
        self.assertIn("<sender@remote.test>", lines[0])
        self.assertIn(" %s:pending" % ADMIN, lines[0])
        self.assertIn(" %s:pending(remote)" % REMOTE, lines[0])
        self.assertIn("  %d  " % len(MSG), lines[0])

        off = self.inst.log_size()
        r = self.inst.cli("queue", "flush")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("retry", r.stdout)
        msgs = self.wait_inbox(1)
        self.assertEqual(msgs, [self.stored()])
        line = self.inst.wait_log(
            lambda l: "event=delivered" in l and qid in l, since=off)
        self.assertIsNotNone(line, self.inst.log())
        self.assertIn("to=%s" % ADMIN, line)
        self.assertIn("uid=1", line)

        # The remote target keeps it queued, deferred (the test DNS
        # server refuses); the local one is done.
        line = self.inst.wait_log(
            lambda l: "event=deferred" in l and qid in l and REMOTE in l,
            since=off)
        self.assertIsNotNone(line, self.inst.log())
        env = self.env(qid)
        self.assertEqual(env["targets"][0]["state"], "done")
        self.assertEqual(env["targets"][0]["uid"], 1)
        self.assertEqual(env["targets"][1]["state"], "pending")
        r = self.inst.cli("queue", "list")
        self.assertIn(" %s:delivered " % ADMIN, r.stdout)
        self.assertIn(" %s:deferred(remote)[next=" % REMOTE, r.stdout)

        r = self.inst.cli("queue", "show", qid)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("id: %s\n" % qid, r.stdout)
        self.assertIn("from: <sender@remote.test>\n", r.stdout)
        self.assertIn("client_ip: 192.0.2.7\n", r.stdout)
        self.assertIn("target: %s local delivered attempts=0 uid=1\n" % ADMIN,
                      r.stdout)
        self.assertIn("target: %s remote deferred attempts=1" % REMOTE,
                      r.stdout)
        self.assertIn("Subject: hello queue\n", r.stdout)
        self.assertNotIn("body line", r.stdout)

        # A second flush delivers nothing twice.
        self.inst.cli("queue", "flush")
        time.sleep(0.3 * SLOW)
        self.assertEqual(len(self.inbox()), 1)

        r = self.inst.cli("queue", "delete", qid)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(self.queued(qid))
        self.assertFalse(os.path.exists(os.path.join(self.qdir(), "msg",
                                                     qid)))
        r = self.inst.cli("queue", "list")
        self.assertEqual((r.returncode, r.stdout), (0, ""))

        r = self.inst.cli("queue", "delete", qid)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no such message", r.stderr)
        r = self.inst.cli("queue", "show", qid)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no such message", r.stderr)
        # The server copes with the deletion on its next pass.
        r = self.inst.cli("queue", "flush")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(self.inst.running())

    def test_local_only_leaves_queue(self):
        qid = "0Test0000000002"
        self.put(qid, [(ADMIN, True)], sender="")
        self.inst.signal(signal.SIGUSR1)
        self.assertEqual(self.wait_inbox(1),
                         [self.stored(sender="")])
        self.assertTrue(self.wait_gone(qid))
        # The envelope goes first (a crash between the two leaves only
        # an orphan message, dropped at start); the message right after.
        msg = os.path.join(self.qdir(), "msg", qid)
        deadline = time.monotonic() + 5 * SLOW
        while os.path.exists(msg) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertFalse(os.path.exists(msg))

    def test_unknown_user_fails_permanently(self):
        qid = "0Test0000000003"
        off = self.inst.log_size()
        self.put(qid, [("nobody@" + DOMAIN, True), (ADMIN, True)])
        self.inst.cli("queue", "flush")
        self.assertEqual(len(self.wait_inbox(1)), 1)
        self.assertTrue(self.wait_gone(qid))
        self.assertIsNotNone(self.inst.wait_log(
            lambda l: "event=failed" in l and "nobody@" in l, since=off))

    def test_bad_ids_and_usage(self):
        for bad in ("../x", "a.json", "a/b", "x" * 40):
            r = self.inst.cli("queue", "show", bad)
            self.assertEqual(r.returncode, 2, (bad, r.stderr))
            self.assertIn("not a queue ID", r.stderr)
            r = self.inst.cli("queue", "delete", bad)
            self.assertEqual(r.returncode, 2, (bad, r.stderr))
        for args in (("queue",), ("queue", "frob"), ("queue", "show"),
                     ("queue", "list", "extra")):
            r = self.inst.cli(*args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn("usage: rmail queue", r.stderr)
        r = self.inst.run_bin("queue", "list", "-c",
                              os.path.join(self.inst.dir, "missing.json"))
        self.assertEqual(r.returncode, 2)
        r = self.inst.run_bin("help", "queue")
        self.assertEqual(r.returncode, 0)
        self.assertIn("flush", r.stdout)

    def test_unreadable_envelope_listed(self):
        os.makedirs(os.path.join(self.qdir(), "env"), exist_ok=True)
        with open(os.path.join(self.qdir(), "msg", "0Broken"), "wb") as f:
            f.write(MSG)
        with open(os.path.join(self.qdir(), "env", "0Broken.json"), "w") as f:
            f.write("{not json")
        r = self.inst.cli("queue", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("0Broken", r.stdout)
        self.assertIn("unreadable envelope", r.stdout)
        r = self.inst.cli("queue", "show", "0Broken")
        self.assertEqual(r.returncode, 1)
        # The server logs it and keeps running.
        off = self.inst.log_size()
        self.inst.cli("queue", "flush")
        self.assertIsNotNone(self.inst.wait_log(
            lambda l: "event=bad-envelope" in l, since=off))
        self.assertTrue(self.inst.running())


class QueueRestart(QueueFiles, unittest.TestCase):

    def setUp(self):
        self.inst = Instance()
        self.addCleanup(self.inst.cleanup)

    def test_start_resumes_and_cleans(self):
        qid = "0Test0000000010"
        self.put(qid, [(ADMIN, True)])
        # Crash litter: a message with no envelope (mid-submit), a tmp file.
        with open(os.path.join(self.qdir(), "msg", "0Orphan"), "wb") as f:
            f.write(MSG)
        with open(os.path.join(self.qdir(), "tmp", "0Partial"), "wb") as f:
            f.write(b"half")
        self.inst.start()
        try:
            self.assertEqual(self.wait_inbox(1), [self.stored()])
            self.assertTrue(self.wait_gone(qid))
            self.assertFalse(os.path.exists(
                os.path.join(self.qdir(), "msg", "0Orphan")))
            self.assertEqual(os.listdir(os.path.join(self.qdir(), "tmp")), [])
            self.assertIn("event=orphan-message id=0Orphan", self.inst.log())
        finally:
            self.inst.stop()
        self.assertIn("event=queue-at-shutdown messages=0", self.inst.log())

    def test_pending_remote_counted_at_shutdown(self):
        self.put("0Test0000000011", [(REMOTE, False)])
        self.inst.start()
        self.inst.stop()
        log = self.inst.log()
        self.assertIn("event=started messages=1", log)
        self.assertIn("event=queue-at-shutdown messages=1", log)
        self.assertTrue(self.queued("0Test0000000011"))

    def test_list_and_show_states(self):
        """Every state word, by hand-made envelopes (no server running):
        deferred with when next, attempts and the last error (quoted,
        escaped, cut short at a character boundary), bounced when the
        sender was told, failed when the sender is null."""
        now = int(time.time())
        qid, qid0 = "0Test0000000020", "0Test0000000021"
        grey = ('451 4.7.1 "greylisted" \\ try later ' +
                "\u00e9" * 60)
        nt = now + 2 * 3600 + 1800
        self.put(qid, [(ADMIN, True), ("dave@remote.test", False),
                       ("erin@remote.test", False),
                       ("frank@" + DOMAIN, True), ("gina@" + DOMAIN, True)],
                 received=now - 3 * 3600,
                 fields=[{}, {"attempts": 3, "next_try": nt,
                              "last_error": grey, "notified": True},
                         {"state": "failed", "attempts": 1,
                          "last_error": "550 5.1.1 no such user"},
                         {"state": "done", "uid": 4},
                         {"attempts": 1, "next_try": now - 10,
                          "last_error": "4.2.2 mailbox full"}])
        self.put(qid0, [("hank@remote.test", False),
                        ("ivy@remote.test", False)], sender="",
                 received=now - 30,
                 fields=[{"state": "failed", "attempts": 1,
                          "last_error": "550 nope"}])

        def quoted(text, cut=None):
            raw = text.encode()
            short = cut is not None and len(raw) > cut
            if short:
                while raw[cut] & 0xc0 == 0x80:
                    cut -= 1
                raw = raw[:cut]
            return '"%s%s"' % (raw.decode().replace("\\", "\\\\")
                               .replace('"', '\\"'), "..." if short else "")

        # The cut falls inside a two-byte character: backed off by one.
        self.assertEqual(len(grey.encode()[:80].decode(errors="ignore")
                             .encode()), 79)
        r = self.inst.cli("queue", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 2, r.stdout)
        self.assertEqual(
            lines[0],
            "%s  3h  %d  <sender@remote.test>  %s:pending"
            " dave@remote.test:deferred(remote)[next=2h attempts=3 error=%s]"
            " erin@remote.test:bounced(remote) frank@%s:delivered"
            " gina@%s:deferred[next=now attempts=1"
            ' error="4.2.2 mailbox full"]'
            % (qid, len(MSG), ADMIN, quoted(grey, 80), DOMAIN, DOMAIN))
        self.assertIn('error="451 4.7.1 \\"greylisted\\" \\\\ try later '
                      '\u00e9', lines[0])
        self.assertEqual(
            lines[1],
            "%s  30s  %d  <>  hank@remote.test:failed(remote)"
            " ivy@remote.test:pending(remote)" % (qid0, len(MSG)))

        r = self.inst.cli("queue", "show", qid)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("target: %s local pending attempts=0\n" % ADMIN,
                      r.stdout)
        self.assertIn(
            "target: dave@remote.test remote deferred attempts=3 "
            "next_try=%s last_error=%s notified=yes\n"
            % (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(nt)),
               quoted(grey)), r.stdout)
        self.assertIn("target: erin@remote.test remote bounced attempts=1 "
                      'last_error="550 5.1.1 no such user"\n', r.stdout)
        self.assertIn("target: frank@%s local delivered attempts=0 uid=4\n"
                      % DOMAIN, r.stdout)
        self.assertIn("target: gina@%s local deferred attempts=1 "
                      "next_try=%s last_error=\"4.2.2 mailbox full\"\n"
                      % (DOMAIN, time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                               time.gmtime(now - 10))),
                      r.stdout)
        r = self.inst.cli("queue", "show", qid0)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("target: hank@remote.test remote failed attempts=1 "
                      'last_error="550 nope"\n', r.stdout)
        self.assertIn("target: ivy@remote.test remote pending attempts=0\n",
                      r.stdout)

    def test_over_quota_listed_deferred(self):
        """A real deferral: admin's INBOX is smaller than the message, so
        the server defers it and list says when it tries again and why."""
        users = self.inst.load_config()["users_file"]
        if not os.path.isabs(users):
            users = os.path.join(os.path.dirname(self.inst.config), users)
        with open(users) as f:
            doc = json.load(f)
        doc["users"][0]["quota_bytes"] = 16
        with open(users, "w") as f:
            json.dump(doc, f)
        qid = "0Test0000000022"
        self.put(qid, [(ADMIN, True)])
        self.inst.start()
        try:
            deadline = time.monotonic() + 5 * SLOW
            while (time.monotonic() < deadline and
                   self.env(qid)["targets"][0]["attempts"] == 0):
                time.sleep(0.05)
            t = self.env(qid)["targets"][0]
            self.assertEqual((t["state"], t["attempts"]), ("pending", 1), t)
            r = self.inst.cli("queue", "list")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRegex(
                r.stdout, r"^%s  \d+s  %d  <sender@remote.test>  "
                r'%s:deferred\[next=(\d+)s attempts=1 error="4\.2\.2 '
                r'mailbox full: %s is over quota"\]\n$'
                % (qid, len(MSG), re.escape(ADMIN), re.escape(ADMIN)))
            secs = int(re.search(r"next=(\d+)s", r.stdout).group(1))
            self.assertTrue(0 < secs <= 60, r.stdout)
            r = self.inst.cli("queue", "show", qid)
            self.assertIn("target: %s local deferred attempts=1 next_try="
                          % ADMIN, r.stdout)
            self.assertIn('last_error="4.2.2 mailbox full: ', r.stdout)
            self.assertEqual(self.inbox(), [])
        finally:
            self.inst.stop()

    def test_flush_without_server(self):
        r = self.inst.cli("queue", "flush")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no running server", r.stderr)
        # list works without a server, and on a queue never created.
        r = self.inst.cli("queue", "list")
        self.assertEqual((r.returncode, r.stdout), (0, ""), r.stderr)


class QueueViaSmtp(QueueFiles, unittest.TestCase):
    """Through the front door: SMTP's 250 names the queue id; kill -9
    right after a burst of 250s loses nothing and stores nothing twice."""

    N = 30

    def setUp(self):
        self.inst = Instance()
        self.addCleanup(self.inst.cleanup)
        self.inst.start()

    def send(self, n, tag):
        ids = []
        with smtplib.SMTP("127.0.0.1", self.inst.ports["smtp"],
                          local_hostname="client.test",
                          timeout=10 * SLOW) as s:
            s.ehlo()
            for i in range(n):
                s.mail("sender@remote.test")
                code, _ = s.rcpt(ADMIN)
                self.assertEqual(code, 250)
                code, reply = s.data(
                    ("Subject: %s %d\r\n\r\nbody %d\r\n"
                     % (tag, i, i)).encode())
                self.assertEqual(code, 250, reply)
                m = re.search(r"queued as ([0-9A-Za-z]+)", reply.decode())
                self.assertIsNotNone(m, reply)
                ids.append(m.group(1))
        return ids

    def subjects(self):
        out = []
        for data in self.inbox():
            m = re.search(rb"\r\nSubject: ([^\r]*)\r\n", data)
            self.assertIsNotNone(m, data[:200])
            out.append(m.group(1).decode())
        return out

    def test_smtp_id_delivered(self):
        off = self.inst.log_size()
        (qid,) = self.send(1, "one")
        self.assertEqual(len(self.wait_inbox(1)), 1)
        self.assertIsNotNone(self.inst.wait_log(
            lambda l: "event=delivered id=%s " % qid in l, since=off),
            self.inst.log())
        self.assertTrue(self.wait_gone(qid))
        self.assertTrue(self.inbox()[0].startswith(
            b"Return-Path: <sender@remote.test>\r\nReceived: "))
        self.inst.stop()

    def test_local_copies_are_one_file(self):
        """Two local recipients: both INBOXes hold the same inode (a hard
        link of the queued file), with the same bytes."""
        other = "bob@" + DOMAIN
        r = self.inst.cli("user", "add", other, "--password-stdin",
                          input="bob-password-1\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        with smtplib.SMTP("127.0.0.1", self.inst.ports["smtp"],
                          local_hostname="client.test",
                          timeout=10 * SLOW) as s:
            refused = s.sendmail("sender@remote.test", [ADMIN, other],
                                 b"Subject: both\r\n\r\nbody\r\n")
        self.assertEqual(refused, {})
        self.assertEqual(len(self.wait_inbox(1)), 1)
        paths = []
        for local in ("admin", "bob"):
            box = os.path.join(self.inst.data_dir, "mail", DOMAIN, local,
                               "mailboxes", "INBOX", "0000")
            deadline = time.monotonic() + 5 * SLOW
            while time.monotonic() < deadline and not (
                    os.path.isdir(box) and os.listdir(box)):
                time.sleep(0.05)
            names = [n for n in os.listdir(box) if n.endswith(".eml")]
            self.assertEqual(len(names), 1, names)
            paths.append(os.path.join(box, names[0]))
        a, b = (os.stat(p) for p in paths)
        self.assertEqual((a.st_dev, a.st_ino), (b.st_dev, b.st_ino))
        with open(paths[0], "rb") as f:
            data = f.read()
        self.assertTrue(data.startswith(
            b"Return-Path: <sender@remote.test>\r\nReceived: "), data)
        self.assertNotIn(b"Delivered-To:", data)
        self.assertTrue(data.endswith(b"Subject: both\r\n\r\nbody\r\n"))

    def test_kill9_after_250_no_loss_no_duplicate(self):
        ids = self.send(self.N, "burst")
        self.assertEqual(len(set(ids)), self.N)
        self.assertEqual(ids, sorted(ids))      # time-ordered ids
        # Delivery mostly keeps pace with SMTP, so this lands between an
        # append and its envelope update only now and then; the unit test
        # test_crash_no_duplicate covers that window every time.
        self.inst.kill()
        self.inst.start()
        deadline = time.monotonic() + 10 * SLOW
        while time.monotonic() < deadline and (
                len(self.inbox()) < self.N or
                os.listdir(os.path.join(self.qdir(), "env"))):
            time.sleep(0.05)
        subs = self.subjects()
        self.assertEqual(sorted(subs),
                         sorted("burst %d" % i for i in range(self.N)))
        self.assertEqual(os.listdir(os.path.join(self.qdir(), "env")), [])
        self.assertEqual(os.listdir(os.path.join(self.qdir(), "msg")), [])
        self.inst.stop()


class QueueDiskFull(QueueFiles, unittest.TestCase):
    """DATA/queue on its own small file system (a tmpfs; needs root, as
    `make test` runs): a full disk is 452 4.3.1 with nothing left behind
    and the server still serving; once there is room the message goes
    through, and is copied into the store, since a hard link cannot cross
    file systems."""

    def setUp(self):
        self.inst = Instance()
        self.addCleanup(self.inst.cleanup)
        q = self.qdir()
        os.makedirs(q, exist_ok=True)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k",
                            "tmpfs", q], capture_output=True, text=True)
        if r.returncode != 0:
            self.skipTest("cannot mount a tmpfs: " + r.stderr.strip())
        self.addCleanup(subprocess.run, ["umount", "-l", q])
        st = os.stat(self.inst.data_dir)
        os.chown(q, st.st_uid, st.st_gid)
        os.chmod(q, 0o700)
        self.inst.start()

    def tearDown(self):
        self.inst.close_clients()
        self.inst.stop()

    def fill(self):
        path = os.path.join(self.qdir(), "filler")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError:
            pass
        finally:
            os.close(fd)
        return path

    def test_full_disk_452_then_delivered(self):
        filler = self.fill()
        body = b"Subject: full\r\n\r\n" + b"y" * 20000 + b"\r\n"
        with smtplib.SMTP("127.0.0.1", self.inst.ports["smtp"],
                          local_hostname="client.test",
                          timeout=10 * SLOW) as s:
            s.ehlo()
            code, reply = s.mail("sender@remote.test")
            self.assertEqual(code, 250, reply)
            code, reply = s.rcpt(ADMIN)
            self.assertEqual(code, 250, reply)
            code, reply = s.data(body)
            self.assertEqual(code, 452, reply)
            self.assertIn(b"4.3.1", reply)
            # Nothing half-written is left in the queue.
            for sub in ("msg", "env", "tmp"):
                self.assertEqual(
                    os.listdir(os.path.join(self.qdir(), sub)), [], sub)
            # Room again: the same session goes on.
            os.unlink(filler)
            s.rset()
            s.mail("sender@remote.test")
            self.assertEqual(s.rcpt(ADMIN)[0], 250)
            code, reply = s.data(body)
            self.assertEqual(code, 250, reply)
        msgs = self.wait_inbox(1)
        self.assertEqual(len(msgs), 1)
        self.assertTrue(msgs[0].startswith(
            b"Return-Path: <sender@remote.test>\r\nReceived: "))
        self.assertTrue(msgs[0].endswith(body))


if __name__ == "__main__":
    unittest.main()
