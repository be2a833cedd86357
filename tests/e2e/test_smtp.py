"""SMTP basics: greeting, NOOP, QUIT, unknown commands, line limits, TLS."""

import socket
import ssl

import harness
from harness import SharedServerTest, HOSTNAME


class SmtpBasics(SharedServerTest):

    def greet(self, service):
        c = self.inst.connect(service)
        self.addCleanup(c.close)
        g = c.smtp_reply()
        self.assertTrue(g[-1].startswith("220 "), g)
        self.assertIn(HOSTNAME, g[0])
        self.assertIn("ESMTP", " ".join(g))
        return c

    def test_greeting_each_service(self):
        for svc in ("smtp", "submission", "submissions"):
            with self.subTest(service=svc):
                self.greet(svc)

    def test_noop(self):
        for svc in ("smtp", "submission", "submissions"):
            with self.subTest(service=svc):
                c = self.greet(svc)
                r = c.smtp_cmd("NOOP")
                self.assertEqual(r, ["250 2.0.0 OK"])

    def test_quit_closes(self):
        for svc in ("smtp", "submission", "submissions"):
            with self.subTest(service=svc):
                c = self.greet(svc)
                r = c.smtp_cmd("QUIT")
                self.assertTrue(r[-1].startswith("221 2.0.0"), r)
                rest, closed = c.read_until_closed(timeout=5 * harness.SLOW)
                self.assertTrue(closed, "server did not close after QUIT")
                self.assertEqual(rest, "")

    def test_unknown_command(self):
        c = self.greet("smtp")
        for cmd in ("FOOBAR", "XYZZY 1 2 3"):
            r = c.smtp_cmd(cmd)
            self.assertTrue(r[-1].startswith("502 5.5.1"), r)
        self.assertEqual(c.smtp_cmd("NOOP"), ["250 2.0.0 OK"])

    def test_line_too_long_default_limit(self):
        # limits.smtp_line_bytes defaults to 4096, CRLF included.
        c = self.greet("smtp")
        c.send(b"NOOP " + b"x" * 5000 + b"\r\n")
        r = c.smtp_reply()
        self.assertEqual(len(r), 1, r)
        self.assertTrue(r[0].startswith("500 5.5.2"), r)
        self.assertIn("Line too long", r[0])
        # The connection still works.
        self.assertEqual(c.smtp_cmd("NOOP"), ["250 2.0.0 OK"])

    def test_line_at_limit_is_not_too_long(self):
        # 4096 bytes including CRLF is still within the limit.
        c = self.greet("smtp")
        line = b"NOOP " + b"x" * (4096 - 2 - 5)
        self.assertEqual(len(line) + 2, 4096)
        c.send(line + b"\r\n")
        r = c.smtp_reply()
        self.assertFalse(r[0].startswith("500 5.5.2"), r)

    def test_100k_line(self):
        c = self.greet("smtp")
        try:
            c.send(b"A" * 100000 + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        r = c.smtp_reply()
        self.assertTrue(r[0].startswith("500 5.5.2"), r)
        self.assertIn("Line too long", r[0])
        # A fresh connection is served.
        c2 = self.greet("smtp")
        self.assertEqual(c2.smtp_cmd("NOOP"), ["250 2.0.0 OK"])

    def test_100k_line_submissions(self):
        c = self.greet("submissions")
        c.send(b"B" * 100000 + b"\r\n")
        r = c.smtp_reply()
        self.assertTrue(r[0].startswith("500 5.5.2"), r)
        self.assertEqual(c.smtp_cmd("NOOP"), ["250 2.0.0 OK"])

    def test_tls_handshake_465(self):
        raw = socket.create_connection(
            ("127.0.0.1", self.inst.ports["submissions"]),
            timeout=10 * harness.SLOW)
        ctx = self.inst.ssl_context()
        self.assertTrue(ctx.check_hostname)
        self.assertEqual(ctx.verify_mode, ssl.CERT_REQUIRED)
        s = ctx.wrap_socket(raw, server_hostname=HOSTNAME)
        c = harness.LineClient(s, self.inst, 10 * harness.SLOW)
        self.addCleanup(c.close)
        self.assertIn(s.version(), ("TLSv1.2", "TLSv1.3"))
        g = c.smtp_reply()
        self.assertTrue(g[-1].startswith("220 "), g)
        self.assertIn("ESMTP", g[0])
        self.assertEqual(c.smtp_cmd("NOOP"), ["250 2.0.0 OK"])

    def test_tls_wrong_hostname_rejected(self):
        # The certificate is for "localhost": verifying must mean something.
        raw = socket.create_connection(
            ("127.0.0.1", self.inst.ports["submissions"]),
            timeout=10 * harness.SLOW)
        self.addCleanup(raw.close)
        with self.assertRaises(ssl.SSLCertVerificationError):
            self.inst.ssl_context().wrap_socket(
                raw, server_hostname="not-this-host.example")
