"""SMTP sessions: EHLO keywords per service, command sequence, STARTTLS
(reset, injection, twice), relay policy and address tricks on port 25,
error limit, enhanced status codes."""

import socket

import harness
from harness import SharedServerTest, ServerTest, DOMAIN, HOSTNAME
import smtp_util
from smtp_util import greet, starttls, ENHANCED

BASE_KEYWORDS = ["PIPELINING", "SIZE 52428800", "8BITMIME", "SMTPUTF8",
                 "ENHANCEDSTATUSCODES", "CHUNKING"]


def keywords(ehlo):
    return [l[4:] for l in ehlo[1:]]


class Ehlo(SharedServerTest):

    def test_smtp_port(self):
        _, r = greet(self, self.inst, "smtp")
        self.assertTrue(r[0].startswith("250-" + HOSTNAME), r)
        kw = keywords(r)
        for k in BASE_KEYWORDS + ["STARTTLS"]:
            self.assertIn(k, kw)
        self.assertFalse([k for k in kw if k.startswith("AUTH")], kw)

    def test_submission_auth_only_after_starttls(self):
        c, r = greet(self, self.inst, "submission")
        kw = keywords(r)
        self.assertIn("STARTTLS", kw)
        self.assertFalse([k for k in kw if k.startswith("AUTH")], kw)
        # AUTH before TLS: refused, and no password is ever looked at.
        r = c.smtp_cmd("AUTH PLAIN " + smtp_util.plain("admin@" + DOMAIN, "x"))
        self.assertTrue(r[0].startswith("538 5.7.11"), r)
        starttls(self, self.inst, c)
        r = c.smtp_cmd("EHLO client.test")
        kw = keywords(r)
        for k in BASE_KEYWORDS + ["AUTH PLAIN LOGIN"]:
            self.assertIn(k, kw)
        self.assertNotIn("STARTTLS", kw)

    def test_submissions(self):
        _, r = greet(self, self.inst, "submissions")
        kw = keywords(r)
        for k in BASE_KEYWORDS + ["AUTH PLAIN LOGIN"]:
            self.assertIn(k, kw)
        self.assertNotIn("STARTTLS", kw)

    def test_auth_not_on_port_25(self):
        c, _ = greet(self, self.inst, "smtp")
        starttls(self, self.inst, c)
        r = c.smtp_cmd("EHLO client.test")
        self.assertFalse([k for k in keywords(r) if k.startswith("AUTH")])
        r = c.smtp_cmd("AUTH PLAIN " + smtp_util.plain("admin@" + DOMAIN, "x"))
        self.assertTrue(r[0].startswith("503 5.5.1"), r)

    def test_helo_and_simple_commands(self):
        c = self.inst.connect("smtp")
        self.addCleanup(c.close)
        c.smtp_reply()
        self.assertEqual(c.smtp_cmd("HELO client.test"), ["250 " + HOSTNAME])
        self.assertEqual(c.smtp_cmd("RSET"), ["250 2.0.0 OK"])
        self.assertEqual(c.smtp_cmd("NOOP"), ["250 2.0.0 OK"])
        r = c.smtp_cmd("VRFY admin")
        self.assertTrue(r[0].startswith("252 2.5.0"), r)
        r = c.smtp_cmd("VRFY nosuchuser")
        self.assertTrue(r[0].startswith("252 2.5.0"), r)
        r = c.smtp_cmd("HELP")
        self.assertTrue(r[0].startswith("214 2.0.0"), r)
        self.assertEqual(c.smtp_cmd("HELO"), ["501 5.5.4 Syntax: HELO hostname"])

    def test_sequence(self):
        c = self.inst.connect("smtp")
        self.addCleanup(c.close)
        c.smtp_reply()
        self.assertTrue(c.smtp_cmd("MAIL FROM:<a@b.test>")[0].startswith("503 5.5.1"))
        c.smtp_cmd("EHLO client.test")
        self.assertTrue(c.smtp_cmd("RCPT TO:<admin@%s>" % DOMAIN)[0].startswith("503 5.5.1"))
        self.assertTrue(c.smtp_cmd("DATA")[0].startswith("503 5.5.1"))
        self.assertEqual(c.smtp_cmd("MAIL FROM:<a@b.test>"), ["250 2.1.0 Sender OK"])
        self.assertTrue(c.smtp_cmd("MAIL FROM:<a@b.test>")[0].startswith("503 5.5.1"))
        r = c.smtp_cmd("DATA")
        self.assertTrue(r[0].startswith("554 5.5.1") or r[0].startswith("503 5.5.1"), r)
        self.assertTrue(c.smtp_cmd("MAIL FROM:a@b.test")[0].startswith("503"))
        self.assertEqual(c.smtp_cmd("RSET"), ["250 2.0.0 OK"])
        self.assertTrue(c.smtp_cmd("MAIL FROM:a@b.test")[0].startswith("501 5.5.4"))
        r = c.smtp_cmd("MAIL FROM:<a@b.test> FOO=BAR")
        self.assertTrue(r[0].startswith("555 5.5.4"), r)

    def test_every_reply_has_enhanced_code(self):
        c, _ = greet(self, self.inst, "smtp")
        for cmd in ("NOOP", "RSET", "VRFY x", "HELP", "FOO", "MAIL FROM:<>",
                    "RCPT TO:<admin@%s>" % DOMAIN, "RCPT TO:<x@remote.test>",
                    "RCPT TO:<nobody@%s>" % DOMAIN, "RCPT TO:<>",
                    "MAIL FROM:<>", "RSET", "DATA", "BDAT x", "QUIT"):
            for line in c.smtp_cmd(cmd):
                self.assertRegex(line, ENHANCED, cmd)

    def test_bare_lf_command_refused(self):
        c, _ = greet(self, self.inst, "smtp")
        c.send(b"NOOP\n")
        r = c.smtp_reply()
        self.assertTrue(r[0].startswith("500 5.5.2"), r)
        self.assertEqual(c.smtp_cmd("NOOP"), ["250 2.0.0 OK"])


class StartTls(SharedServerTest):

    def test_starttls_resets_session(self):
        c, _ = greet(self, self.inst, "smtp")
        c.smtp_cmd("MAIL FROM:<a@remote.test>")
        starttls(self, self.inst, c)
        # RFC 3207 4.2: no EHLO, no envelope survive the handshake.
        r = c.smtp_cmd("MAIL FROM:<a@remote.test>")
        self.assertTrue(r[0].startswith("503 5.5.1"), r)
        c.smtp_cmd("EHLO client.test")
        self.assertEqual(c.smtp_cmd("MAIL FROM:<a@remote.test>"), ["250 2.1.0 Sender OK"])
        self.assertTrue(c.smtp_cmd("RCPT TO:<admin@%s>" % DOMAIN)[0].startswith("250"))

    def test_starttls_twice(self):
        c, _ = greet(self, self.inst, "submission")
        starttls(self, self.inst, c)
        c.smtp_cmd("EHLO client.test")
        r = c.smtp_cmd("STARTTLS")
        self.assertTrue(r[0].startswith("503 5.5.1"), r)
        self.assertEqual(c.smtp_cmd("NOOP"), ["250 2.0.0 OK"])

    def test_starttls_on_465(self):
        c, _ = greet(self, self.inst, "submissions")
        r = c.smtp_cmd("STARTTLS")
        self.assertTrue(r[0].startswith("503 5.5.1"), r)

    def test_injection_after_starttls_discarded(self):
        c, _ = greet(self, self.inst, "smtp")
        # Everything after STARTTLS in the same packet is the attacker's.
        c.send(b"STARTTLS\r\nEHLO evil\r\nMAIL FROM:<evil@remote.test>\r\n"
               b"RCPT TO:<admin@" + DOMAIN.encode() + b">\r\n")
        r = c.smtp_reply()
        self.assertEqual(r, ["220 2.0.0 Ready to start TLS"])
        self.assertEqual(c.pending(), b"")
        c.sock = self.inst.ssl_context().wrap_socket(c.sock, server_hostname=HOSTNAME)
        # Not greeted, no envelope: the injected commands never ran.
        r = c.smtp_cmd("RCPT TO:<admin@%s>" % DOMAIN)
        self.assertTrue(r[0].startswith("503 5.5.1"), r)
        self.assertEqual(c.smtp_cmd("NOOP"), ["250 2.0.0 OK"])


class Relay(SharedServerTest):

    def rcpt(self, service, addr, sender="<someone@remote.test>"):
        c, _ = greet(self, self.inst, service)
        r = c.smtp_cmd("MAIL FROM:" + sender)
        if not r[0].startswith("250"):
            return r
        return c.smtp_cmd("RCPT TO:<%s>" % addr)

    def test_remote_denied_on_25(self):
        r = self.rcpt("smtp", "victim@remote.test")
        self.assertEqual(r, ["554 5.7.1 Relay access denied"])

    def test_tricks(self):
        cases = [
            ("admin%remote.test@" + DOMAIN, "550 5.1.1"),
            ('"admin@remote.test"@' + DOMAIN, "550 5.1.1"),
            ("admin!remote.test@" + DOMAIN, "550 5.1.1"),
            ("@%s:victim@remote.test" % DOMAIN, "554 5.7.1"),
            ("@%s,@%s:victim@remote.test" % (DOMAIN, DOMAIN), "554 5.7.1"),
            ("victim@remote.test.", "554 5.7.1"),
            ("victim@[127.0.0.1]", "554 5.7.1"),
            ("admin@" + DOMAIN.upper() + ".", "250 2.1.5"),
            ("ADMIN@" + DOMAIN, "250 2.1.5"),
            ("admin+tag@" + DOMAIN, "250 2.1.5"),
            ("nobody@" + DOMAIN, "550 5.1.1"),
            ("postmaster", None),
        ]
        for addr, want in cases:
            with self.subTest(addr=addr):
                r = self.rcpt("smtp", addr)
                if want is None:
                    self.assertRegex(r[0], ENHANCED)
                else:
                    self.assertTrue(r[0].startswith(want), r)

    def test_null_sender_on_25(self):
        r = self.rcpt("smtp", "admin@" + DOMAIN, sender="<>")
        self.assertEqual(r, ["250 2.1.5 Recipient OK"])

    def test_submission_requires_auth(self):
        for svc in ("submission", "submissions"):
            with self.subTest(service=svc):
                c, _ = greet(self, self.inst, svc)
                r = c.smtp_cmd("MAIL FROM:<admin@%s>" % DOMAIN)
                self.assertEqual(r, ["530 5.7.0 Authentication required"])
                r = c.smtp_cmd("RCPT TO:<victim@remote.test>")
                self.assertTrue(r[0].startswith("503") or r[0].startswith("530"), r)

    def test_recipient_limit(self):
        c, _ = greet(self, self.inst, "smtp")
        c.smtp_cmd("MAIL FROM:<a@remote.test>")
        # Pipelined: 100 accepted, then 452 4.5.3.
        rcpts = b"".join(b"RCPT TO:<admin+%d@%s>\r\n" % (i, DOMAIN.encode())
                         for i in range(105))
        c.send(rcpts)
        replies = [c.smtp_reply()[0] for _ in range(105)]
        self.assertEqual(replies[:100], ["250 2.1.5 Recipient OK"] * 100)
        for r in replies[100:]:
            self.assertTrue(r.startswith("452 4.5.3"), r)
        self.assertEqual(c.smtp_cmd("NOOP"), ["250 2.0.0 OK"])


class ErrorLimit(ServerTest):

    def test_too_many_errors(self):
        c, _ = greet(self, self.inst, "smtp")
        for i in range(9):
            r = c.smtp_cmd("BOGUS %d" % i)
            self.assertTrue(r[0].startswith("502 5.5.1"), r)
        c.sendline("BOGUS last")
        self.assertTrue(c.smtp_reply()[0].startswith("502 5.5.1"))
        r = c.smtp_reply()
        self.assertTrue(r[0].startswith("421 4.7.0"), r)
        _, closed = c.read_until_closed(timeout=5 * harness.SLOW)
        self.assertTrue(closed)


class JunkLimit(ServerTest):
    """Commands that do nothing cannot hold a session for ever: after 100
    (NOOP, RSET, VRFY, HELP) each counts as an error, and ten errors end
    it. A client that delivers mail starts afresh with each message."""

    def test_idle_commands_end_the_session(self):
        c, _ = greet(self, self.inst, "smtp")
        cmds = ("NOOP", "RSET", "VRFY someone", "HELP")
        for i in range(100):
            r = c.smtp_cmd(cmds[i % 4])
            self.assertTrue(r[-1][:3] in ("250", "252", "214"), (i, r))
        for i in range(9):
            self.assertEqual(c.smtp_cmd("NOOP"), ["250 2.0.0 OK"])
        c.sendline("NOOP")
        self.assertEqual(c.smtp_reply(), ["250 2.0.0 OK"])
        r = c.smtp_reply()
        self.assertTrue(r[0].startswith("421 4.7.0"), r)
        _, closed = c.read_until_closed(timeout=5 * harness.SLOW)
        self.assertTrue(closed)

    def test_delivering_client_is_not_junk(self):
        # smtplib-style: RSET and NOOP around each of 60 messages.
        c, _ = greet(self, self.inst, "smtp")
        for i in range(60):
            for cmd in ("RSET", "NOOP"):
                self.assertEqual(c.smtp_cmd(cmd), ["250 2.0.0 OK"], i)
            c.smtp_cmd("MAIL FROM:<far@remote.test>")
            c.smtp_cmd("RCPT TO:<admin@%s>" % DOMAIN)
            self.assertTrue(c.smtp_cmd("DATA")[0].startswith("354"))
            r = c.smtp_cmd("Subject: %d\r\n\r\nhi\r\n." % i)
            self.assertTrue(r[0].startswith("250 2.0.0 Ok: queued"), (i, r))
        self.assertEqual(c.smtp_cmd("QUIT")[0][:3], "221")


class Utf8(SharedServerTest):

    def test_non_ascii_addresses(self):
        c, _ = greet(self, self.inst, "smtp")
        r = c.smtp_cmd("MAIL FROM:<jos\u00e9@remote.test>")
        self.assertTrue(r[0].startswith("553 5.6.7"), r)
        c.send(b"MAIL FROM:<jos\xe9@remote.test> SMTPUTF8\r\n")   # Latin-1
        self.assertTrue(c.smtp_reply()[0].startswith("553 5.6.7"))
        r = c.smtp_cmd("MAIL FROM:<jos\u00e9@remote.test> SMTPUTF8")
        self.assertEqual(r, ["250 2.1.0 Sender OK"])
        c.send(b"RCPT TO:<\xc0\xafadmin@" + DOMAIN.encode() + b">\r\n")  # overlong
        self.assertTrue(c.smtp_reply()[0].startswith("553 5.6.7"))
