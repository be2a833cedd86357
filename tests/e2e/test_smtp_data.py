"""SMTP message content: byte-exact delivery after the added headers,
dot-stuffing, 8-bit bodies, every SMTP smuggling variant, size limits,
a whole transaction pipelined in one write, BDAT (CHUNKING), quota at
RCPT, a client gone or silent in the middle of DATA."""

import json
import os
import re
import socket
import time

import harness
from harness import SharedServerTest, ServerTest, ADMIN, DOMAIN, HOSTNAME
import smtp_util
from smtp_util import greet, wait_inbox, inbox_files, read, split_added

RCPT = "admin@" + DOMAIN


class Data(SharedServerTest):

    def envelope(self, c, sender="<sender@remote.test>"):
        self.assertEqual(c.smtp_cmd("MAIL FROM:" + sender), ["250 2.1.0 Sender OK"])
        self.assertEqual(c.smtp_cmd("RCPT TO:<%s>" % RCPT), ["250 2.1.5 Recipient OK"])

    def accepted(self, r):
        self.assertEqual(len(r), 1, r)
        self.assertRegex(r[0], r"^250 2\.0\.0 Ok: queued as [0-9A-Za-z]+$")

    def send_data(self, wire, expect_body, sender="<sender@remote.test>"):
        """DATA with wire (dot-stuffed, CRLF.CRLF included) after a unique
        first header line; the stored file must be the added headers, that
        line and expect_body, exactly."""
        self.n = getattr(self, "n", 0) + 1
        tag = b"X-Test: %s-%d\r\n" % (self.id().encode(), self.n)
        c, _ = greet(self, self.inst, "smtp")
        self.envelope(c, sender)
        self.assertTrue(c.smtp_cmd("DATA")[0].startswith("354 "))
        c.send(tag + wire)
        self.accepted(c.smtp_reply())
        stored = self.wait_stored(tag)
        added = split_added(stored, tag + expect_body)
        self.assertIsNotNone(added, stored)
        return added

    def wait_stored(self, tag):
        """The one stored message holding tag (delivery is asynchronous)."""
        deadline = time.monotonic() + 10 * harness.SLOW
        while True:
            found = [read(p) for p in inbox_files(self.inst)]
            found = [m for m in found if tag in m]
            if found or time.monotonic() > deadline:
                self.assertEqual(len(found), 1, tag)
                return found[0]
            time.sleep(0.05)

    def test_byte_exact_and_received(self):
        body = (b"From: a@remote.test\r\nTo: admin@" + DOMAIN.encode() +
                b"\r\nSubject: exact\r\n\r\nline one\r\n\ttabbed  \r\n"
                b"trailing spaces   \r\n\r\n\r\nlast line\r\n")
        added = self.send_data(body + b".\r\n", body)
        lines = added.split("\r\n")
        self.assertTrue(any(l.startswith("Received: from client.test ([127.0.0.1])")
                            for l in lines), added)
        self.assertIn("\tby %s (rmail) with ESMTP\r\n" % HOSTNAME, added)
        self.assertIn("for <%s>" % RCPT, added)
        self.assertNotIn("Date:", added)       # only on submission
        self.assertNotIn("Message-ID:", added)

    def test_dot_stuffing_undone_exactly(self):
        sent = (b"Subject: dots\r\n\r\n..\r\n...\r\n.leading\r\n..two\r\n"
                b" .space\r\nmid.dle.\r\n.\t\r\n")
        want = (b"Subject: dots\r\n\r\n.\r\n..\r\nleading\r\n.two\r\n"
                b" .space\r\nmid.dle.\r\n\t\r\n")
        self.send_data(sent + b".\r\n", want)

    def test_8bit_body(self):
        body = ("Subject: 8bit\r\nContent-Type: text/plain; charset=utf-8\r\n"
                "Content-Transfer-Encoding: 8bit\r\n\r\nGrüße, 日本語, "
                "\u00e9\r\n").encode() + bytes(range(0x80, 0x100)) + b"\r\n"
        self.send_data(body + b".\r\n", body)

    def test_long_lines(self):
        # Past RFC 5321's 998 and past the 4096-byte command limit.
        body = b"Subject: long\r\n\r\n" + b"x" * 1500 + b"\r\n" + b"y" * 70000 + b"\r\n"
        self.send_data(body + b".\r\n", body)

    def test_empty_body(self):
        self.send_data(b".\r\n", b"")

    def test_smuggling_variants(self):
        """A bare LF/CR form of the terminator never ends the message:
        the whole thing is refused once, at the real CRLF.CRLF."""
        smuggled = (b"MAIL FROM:<evil@remote.test>\r\nRCPT TO:<" + RCPT.encode()
                    + b">\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n")
        variants = [b"\n.\n", b"\n.\r\n", b"\r\n.\n", b"\r.\r\n", b"\r\n.\r",
                    b"\r\n.\r\r\n", b"\r.\r", b"\n.\r", b"\r\n\n.\n"]
        before = inbox_files(self.inst)
        for v in variants:
            with self.subTest(variant=v):
                c, _ = greet(self, self.inst, "smtp")
                self.envelope(c)
                self.assertTrue(c.smtp_cmd("DATA")[0].startswith("354 "))
                c.send(b"Subject: first\r\n\r\nhello" + v + smuggled + b".\r\n")
                r = c.smtp_reply()
                self.assertEqual(len(r), 1)
                self.assertTrue(r[0].startswith("550 5.6.11"), r)
                # Nothing else was answered: one message, one reply.
                self.assertEqual(c.smtp_cmd("NOOP"), ["250 2.0.0 OK"])
                # The session is usable and the envelope is gone.
                self.assertTrue(c.smtp_cmd("RCPT TO:<%s>" % RCPT)[0].startswith("503"))
        self.assertEqual(inbox_files(self.inst), before)
        self.assertNotIn("smuggled", "".join(
            read(p).decode("utf-8", "replace") for p in inbox_files(self.inst)))

    def test_bare_lf_in_body_rejected(self):
        for body in (b"a\nb\r\n", b"a\rb\r\n", b"end with cr\r\r\n"):
            with self.subTest(body=body):
                c, _ = greet(self, self.inst, "smtp")
                self.envelope(c)
                c.smtp_cmd("DATA")
                c.send(body + b".\r\n")
                r = c.smtp_reply()
                self.assertTrue(r[0].startswith("550 5.6.11"), r)

    def test_pipelined_transaction_one_write(self):
        c = self.inst.connect("smtp")
        self.addCleanup(c.close)
        c.smtp_reply()
        body = b"Subject: pipelined\r\n\r\nall at once\r\n"
        tag = b"X-Test: pipelined-bdat\r\n"
        c.send(b"EHLO client.test\r\nMAIL FROM:<p@remote.test>\r\nRCPT TO:<"
               + RCPT.encode() + b">\r\nDATA\r\n" + body + b".\r\n"
               b"MAIL FROM:<p2@remote.test>\r\nRCPT TO:<" + RCPT.encode()
               + b">\r\nBDAT 24 LAST\r\n" + tag + b"QUIT\r\n")
        ehlo = c.smtp_reply()
        self.assertTrue(ehlo[-1].startswith("250 "), ehlo)
        self.assertEqual(c.smtp_reply(), ["250 2.1.0 Sender OK"])
        self.assertEqual(c.smtp_reply(), ["250 2.1.5 Recipient OK"])
        self.assertTrue(c.smtp_reply()[0].startswith("354 "))
        self.accepted(c.smtp_reply())
        self.assertEqual(c.smtp_reply(), ["250 2.1.0 Sender OK"])
        self.assertEqual(c.smtp_reply(), ["250 2.1.5 Recipient OK"])
        self.accepted(c.smtp_reply())
        self.assertTrue(c.smtp_reply()[0].startswith("221 2.0.0"))
        self.assertTrue(self.wait_stored(b"all at once\r\n").endswith(body))
        self.assertTrue(self.wait_stored(tag).endswith(tag))

    def test_bdat(self):
        c, _ = greet(self, self.inst, "smtp")
        self.envelope(c)
        part1 = b"Subject: chunks\r\n\r\n.not stuffed\r\n" + self.id().encode() + b"\r\n"
        part2 = b"second chunk\r\n"
        c.send(b"BDAT %d\r\n" % len(part1) + part1)
        self.assertEqual(c.smtp_reply(), ["250 2.0.0 %d octets received" % len(part1)])
        # DATA is not allowed in the middle of a BDAT transfer.
        self.assertTrue(c.smtp_cmd("DATA")[0].startswith("503 5.5.1"))
        c.send(b"BDAT %d LAST\r\n" % len(part2) + part2)
        self.accepted(c.smtp_reply())
        self.assertIsNotNone(split_added(self.wait_stored(self.id().encode()),
                                         part1 + part2))

    def test_bdat_zero_last(self):
        c, _ = greet(self, self.inst, "smtp")
        self.envelope(c)
        c.send(b"BDAT 8\r\nSubject:")
        self.assertEqual(c.smtp_reply(), ["250 2.0.0 8 octets received"])
        c.send(b"BDAT 0 LAST\r\n")
        r = c.smtp_reply()
        # "Subject:" without CRLF is still CRLF-clean.
        self.accepted(r)

    def test_bdat_bare_lf_rejected(self):
        c, _ = greet(self, self.inst, "smtp")
        self.envelope(c)
        part = b"Subject: x\r\n\r\nbare\nlf\r\n"
        c.send(b"BDAT %d LAST\r\n" % len(part) + part)
        self.assertTrue(c.smtp_reply()[0].startswith("550 5.6.11"))
        # CR at the end of one chunk and LF at the start of the next is fine.
        self.envelope(c)
        c.send(b"BDAT 4\r\nab\r\r")
        self.assertEqual(c.smtp_reply(), ["250 2.0.0 4 octets received"])
        c.send(b"BDAT 1\r\n\n")
        self.assertEqual(c.smtp_reply(), ["250 2.0.0 1 octets received"])
        c.send(b"BDAT 0 LAST\r\n")
        self.assertTrue(c.smtp_reply()[0].startswith("550 5.6.11"))  # "\r\r"

    def test_bdat_out_of_sequence_bytes_skipped(self):
        c, _ = greet(self, self.inst, "smtp")
        # The 14 bytes are content, never commands, even when refused.
        c.send(b"BDAT 14\r\nQUIT\r\nNOOP\r\nxx")
        r = c.smtp_reply()
        self.assertTrue(r[0].startswith("503 5.5.1"), r)
        self.assertEqual(c.smtp_cmd("NOOP"), ["250 2.0.0 OK"])


class SizeLimit(ServerTest):
    limits = {"max_message_bytes": 2048}

    def test_size_param(self):
        c, r = greet(self, self.inst, "smtp")
        self.assertIn("250-SIZE 2048", r)
        r = c.smtp_cmd("MAIL FROM:<a@remote.test> SIZE=2049")
        self.assertTrue(r[0].startswith("552 5.3.4"), r)
        r = c.smtp_cmd("MAIL FROM:<a@remote.test> SIZE=2048 BODY=8BITMIME")
        self.assertEqual(r, ["250 2.1.0 Sender OK"])

    def test_data_over_limit(self):
        c, _ = greet(self, self.inst, "smtp")
        c.smtp_cmd("MAIL FROM:<a@remote.test>")
        c.smtp_cmd("RCPT TO:<%s>" % RCPT)
        c.smtp_cmd("DATA")
        # Read to the end, then 552; the lines after are commands again.
        c.send(b"Subject: big\r\n\r\n" + (b"z" * 78 + b"\r\n") * 100 + b".\r\nNOOP\r\n")
        r = c.smtp_reply()
        self.assertTrue(r[0].startswith("552 5.3.4"), r)
        self.assertEqual(c.smtp_reply(), ["250 2.0.0 OK"])
        self.assertEqual(inbox_files(self.inst), [])

    def test_bdat_over_limit(self):
        c, _ = greet(self, self.inst, "smtp")
        c.smtp_cmd("MAIL FROM:<a@remote.test>")
        c.smtp_cmd("RCPT TO:<%s>" % RCPT)
        chunk = b"y" * 1500
        c.send(b"BDAT 1500\r\n" + chunk)
        self.assertTrue(c.smtp_reply()[0].startswith("250 2.0.0"))
        c.send(b"BDAT 1500 LAST\r\n" + chunk)
        self.assertTrue(c.smtp_reply()[0].startswith("552 5.3.4"))
        self.assertEqual(c.smtp_cmd("NOOP"), ["250 2.0.0 OK"])


class Quota(ServerTest):
    autostart = False

    def setUp(self):
        super().setUp()
        import json
        import os
        users = self.inst.load_config()["users_file"]
        if not os.path.isabs(users):
            users = os.path.join(os.path.dirname(self.inst.config), users)
        with open(users) as f:
            doc = json.load(f)
        doc["users"][0]["quota_bytes"] = 4096
        with open(users, "w") as f:
            json.dump(doc, f)
        self.inst.start()

    def test_over_quota_is_452(self):
        c, _ = greet(self, self.inst, "smtp")
        c.smtp_cmd("MAIL FROM:<a@remote.test>")
        self.assertEqual(c.smtp_cmd("RCPT TO:<%s>" % RCPT), ["250 2.1.5 Recipient OK"])
        c.smtp_cmd("DATA")
        # Bigger than the whole quota: deferred at the end of DATA.
        c.send(b"Subject: big\r\n\r\n" + (b"q" * 78 + b"\r\n") * 60 + b".\r\n")
        r = c.smtp_reply()
        self.assertTrue(r[0].startswith("452 4.2.2"), r)
        # A small one fits, and fills the mailbox up.
        c.smtp_cmd("MAIL FROM:<a@remote.test>")
        c.smtp_cmd("RCPT TO:<%s>" % RCPT)
        c.smtp_cmd("DATA")
        c.send(b"Subject: fits\r\n\r\n" + (b"f" * 78 + b"\r\n") * 40 + b".\r\n")
        self.assertTrue(c.smtp_reply()[0].startswith("250 2.0.0"))
        self.assertEqual(len(wait_inbox(self.inst, 1)), 1)
        c.smtp_cmd("MAIL FROM:<a@remote.test>")
        c.smtp_cmd("RCPT TO:<%s>" % RCPT)
        c.smtp_cmd("DATA")
        c.send(b"Subject: more\r\n\r\n" + (b"m" * 78 + b"\r\n") * 20 + b".\r\n")
        r = c.smtp_reply()
        self.assertTrue(r[0].startswith("452 4.2.2"), r)


def users_path(inst):
    users = inst.load_config()["users_file"]
    if not os.path.isabs(users):
        users = os.path.join(os.path.dirname(inst.config), users)
    return users


def spool_files(inst):
    """Every file under DATA/queue (envelopes, messages, tmp files)."""
    out = []
    for root, _, files in os.walk(os.path.join(inst.data_dir, "queue")):
        out += [os.path.join(root, f) for f in files]
    return out


class QuotaFullAtRcpt(ServerTest):
    """A mailbox already full is refused at RCPT (452 4.2.2, try later);
    the other recipients of the transaction still get the message."""
    autostart = False

    def setUp(self):
        super().setUp()
        smtp_util.add_user(self.inst, "bob@" + DOMAIN, "bob-password")
        path = users_path(self.inst)
        with open(path) as f:
            doc = json.load(f)
        [admin] = [u for u in doc["users"] if u["address"] == ADMIN]
        admin["quota_messages"] = 1
        with open(path, "w") as f:
            json.dump(doc, f)
        # The one message admin may hold, before the server counts.
        r = self.inst.cli("deliver", ADMIN, input="Subject: fills\r\n\r\nx\r\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(inbox_files(self.inst)), 1)
        self.inst.start()

    def test_full_mailbox_refused_at_rcpt_other_delivered(self):
        c, _ = greet(self, self.inst, "smtp")
        self.assertEqual(c.smtp_cmd("MAIL FROM:<a@remote.test>"), ["250 2.1.0 Sender OK"])
        r = c.smtp_cmd("RCPT TO:<%s>" % RCPT)
        self.assertEqual(len(r), 1, r)
        self.assertTrue(r[0].startswith("452 4.2.2 "), r)
        self.assertEqual(c.smtp_cmd("RCPT TO:<bob@%s>" % DOMAIN),
                         ["250 2.1.5 Recipient OK"])
        self.assertTrue(c.smtp_cmd("DATA")[0].startswith("354 "))
        c.send(b"Subject: quota rcpt\r\n\r\nfor bob only\r\n.\r\n")
        r = c.smtp_reply()
        self.assertRegex(r[0], r"^250 2\.0\.0 Ok: queued as ")
        bob = wait_inbox(self.inst, 1, user="bob")
        self.assertEqual(len(bob), 1)
        self.assertIn(b"for bob only", read(bob[0]))
        # Admin's target was dropped at RCPT: nothing waits for room.
        deadline = time.monotonic() + 10 * harness.SLOW
        while self.inst.cli("queue", "list").stdout != "":
            self.assertLess(time.monotonic(), deadline,
                            self.inst.cli("queue", "list").stdout)
            time.sleep(0.05)
        admin = inbox_files(self.inst)
        self.assertEqual(len(admin), 1)
        self.assertNotIn(b"quota rcpt", read(admin[0]))
        self.assertEqual(c.smtp_cmd("QUIT")[0][:3], "221")


class Interrupted(ServerTest):
    """A client that hangs up in the middle of DATA: nothing is queued or
    stored, and the server serves the next client."""

    def assert_nothing_kept(self):
        self.assertEqual(self.inst.cli("queue", "list").stdout, "")
        self.assertEqual(spool_files(self.inst), [])
        self.assertEqual(inbox_files(self.inst), [])

    def open_data(self):
        c, _ = greet(self, self.inst, "smtp")
        self.assertEqual(c.smtp_cmd("MAIL FROM:<a@remote.test>"), ["250 2.1.0 Sender OK"])
        self.assertEqual(c.smtp_cmd("RCPT TO:<%s>" % RCPT), ["250 2.1.5 Recipient OK"])
        self.assertTrue(c.smtp_cmd("DATA")[0].startswith("354 "))
        return c

    def test_disconnect_mid_data(self):
        cases = (
            # Mid-line, a few bytes.
            b"Subject: cut\r\n\r\nhalf a li",
            # After a CRLF, where ".\r\n" would end it.
            b"Subject: cut\r\n\r\nwhole line\r\n",
            # The terminator begun but not finished.
            b"Subject: cut\r\n\r\nbody\r\n.\r",
            # Large: streamed past the first reads.
            b"Subject: cut\r\n\r\n" + (b"c" * 998 + b"\r\n") * 300,
        )
        for wire in cases:
            with self.subTest(wire=wire[:40]):
                since = self.inst.log_size()
                c = self.open_data()
                c.send(wire)
                c.close()
                line = self.inst.wait_log(lambda l: "event=aborted" in l, since=since)
                self.assertIsNotNone(line, self.inst.log_since(since))
                self.assertIn("svc=smtp", line)
        time.sleep(0.2 * harness.SLOW)
        self.assert_nothing_kept()
        # The server goes on: a whole message on a new connection.
        c = self.open_data()
        c.send(b"Subject: after\r\n\r\nwhole\r\n.\r\n")
        r = c.smtp_reply()
        self.assertRegex(r[0], r"^250 2\.0\.0 Ok: queued as ")
        files = wait_inbox(self.inst, 1)
        self.assertEqual(len(files), 1)
        self.assertIn(b"Subject: after", read(files[0]))
        self.assertNotIn(b"Subject: cut", read(files[0]))


class DataTimeout(ServerTest):
    """A client silent in the middle of DATA past smtp_timeout_secs gets
    421 4.4.2 and is closed; nothing is kept."""
    limits = {"smtp_timeout_secs": 2}

    def test_idle_mid_data_421(self):
        c, _ = greet(self, self.inst, "smtp")
        self.assertEqual(c.smtp_cmd("MAIL FROM:<a@remote.test>"), ["250 2.1.0 Sender OK"])
        self.assertEqual(c.smtp_cmd("RCPT TO:<%s>" % RCPT), ["250 2.1.5 Recipient OK"])
        self.assertTrue(c.smtp_cmd("DATA")[0].startswith("354 "))
        c.send(b"Subject: stalled\r\n\r\nsome of the body\r\n")
        t0 = time.monotonic()
        r = c.smtp_reply(timeout=10 * harness.SLOW)
        waited = time.monotonic() - t0
        self.assertEqual(r, ["421 4.4.2 %s Timeout exceeded, closing connection"
                             % HOSTNAME])
        self.assertGreaterEqual(waited, 1.5)
        rest, closed = c.read_until_closed(timeout=5 * harness.SLOW)
        self.assertTrue(closed)
        self.assertEqual(rest, "")
        self.assertIsNotNone(self.inst.wait_log(
            lambda l: "event=timeout" in l and "svc=smtp" in l))
        self.assertEqual(self.inst.cli("queue", "list").stdout, "")
        self.assertEqual(spool_files(self.inst), [])
        self.assertEqual(inbox_files(self.inst), [])
        # Only that client: the server still answers.
        c2, _ = greet(self, self.inst, "smtp")
        self.assertEqual(c2.smtp_cmd("NOOP"), ["250 2.0.0 OK"])
