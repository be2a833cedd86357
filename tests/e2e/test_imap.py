"""IMAP scaffold: greeting and capabilities, NOOP, LOGOUT, STARTTLS (and
injection after it), LOGIN over TLS only, line limits, unknown commands."""

import imaplib
import re
import socket
import ssl

import harness
from harness import (SharedServerTest, ServerTest, HOSTNAME, ADMIN,
                     ADMIN_PASSWORD, imap_quote)

CAP_RE = re.compile(r"^\* OK \[CAPABILITY ([^\]]*)\]")


def caps_of(line):
    """Capabilities (upper-cased set) from a greeting or * CAPABILITY line."""
    m = CAP_RE.match(line)
    if m:
        words = m.group(1)
    elif line.upper().startswith("* CAPABILITY "):
        words = line[len("* CAPABILITY "):]
    else:
        raise AssertionError("no capability list in %r" % line)
    return set(w.upper() for w in words.split())


def quiet_shutdown(m):
    try:
        m.shutdown()
    except Exception:
        pass


class ImapBasics(SharedServerTest):

    def open(self, service="imap"):
        c = self.inst.connect(service)
        self.addCleanup(c.close)
        g = c.readline()
        self.assertTrue(g.startswith("* OK [CAPABILITY IMAP4rev1"), g)
        return c, g

    def capability(self, c, tag="cap"):
        untagged, done = c.imap_cmd(tag, "CAPABILITY")
        self.assertTrue(done.startswith(tag + " OK"), done)
        lines = [l for l in untagged if l.upper().startswith("* CAPABILITY ")]
        self.assertEqual(len(lines), 1, untagged)
        caps = caps_of(lines[0])
        self.assertIn("IMAP4REV1", caps)
        return caps

    def test_greeting_143(self):
        c, g = self.open("imap")
        caps = caps_of(g)
        self.assertIn("IMAP4REV1", caps)
        self.assertIn("STARTTLS", caps)
        self.assertIn("LOGINDISABLED", caps)

    def test_capability_143(self):
        c, _ = self.open("imap")
        caps = self.capability(c)
        self.assertIn("STARTTLS", caps)
        self.assertIn("LOGINDISABLED", caps)

    def test_greeting_993_tls(self):
        raw = socket.create_connection(("127.0.0.1", self.inst.ports["imaps"]),
                                       timeout=10 * harness.SLOW)
        s = self.inst.ssl_context().wrap_socket(raw, server_hostname=HOSTNAME)
        c = harness.LineClient(s, self.inst, 10 * harness.SLOW)
        self.addCleanup(c.close)
        self.assertIn(s.version(), ("TLSv1.2", "TLSv1.3"))
        g = c.readline()
        self.assertTrue(g.startswith("* OK [CAPABILITY IMAP4rev1"), g)
        caps = caps_of(g)
        self.assertIn("AUTH=PLAIN", caps)
        self.assertNotIn("LOGINDISABLED", caps)
        caps = self.capability(c)
        self.assertIn("AUTH=PLAIN", caps)
        self.assertNotIn("LOGINDISABLED", caps)

    def test_noop(self):
        for svc in ("imap", "imaps"):
            with self.subTest(service=svc):
                c, _ = self.open(svc)
                _, done = c.imap_cmd("a", "NOOP")
                self.assertTrue(done.startswith("a OK"), done)
                _, done = c.imap_cmd("a2", "noop")
                self.assertTrue(done.startswith("a2 OK"), done)

    def test_logout(self):
        for svc in ("imap", "imaps"):
            with self.subTest(service=svc):
                c, _ = self.open(svc)
                untagged, done = c.imap_cmd("a", "LOGOUT")
                self.assertTrue(any(l.startswith("* BYE") for l in untagged),
                                untagged)
                self.assertTrue(done.startswith("a OK"), done)
                rest, closed = c.read_until_closed(timeout=5 * harness.SLOW)
                self.assertTrue(closed, "server did not close after LOGOUT")

    def test_unknown_command(self):
        c, _ = self.open("imap")
        _, done = c.imap_cmd("a", "FOOBAR")
        self.assertTrue(done.startswith("a BAD"), done)
        _, done = c.imap_cmd("b", "NOOP")
        self.assertTrue(done.startswith("b OK"), done)

    def test_login_plaintext_refused(self):
        c, _ = self.open("imap")
        _, done = c.imap_cmd("a", "LOGIN %s %s" % (ADMIN, ADMIN_PASSWORD))
        self.assertTrue(done.startswith("a NO [PRIVACYREQUIRED]"), done)
        _, done = c.imap_cmd("b", "NOOP")
        self.assertTrue(done.startswith("b OK"), done)

    def _long_line(self, service, nbytes):
        c, _ = self.open(service)
        try:
            c.send(b"a NOOP " + b"x" * nbytes + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        line = c.readline()
        parts = line.split(" ", 2)
        self.assertTrue(len(parts) >= 2 and parts[0] in ("a", "*")
                        and parts[1] == "BAD", line)
        # Still working on this connection.
        _, done = c.imap_cmd("b", "NOOP")
        self.assertTrue(done.startswith("b OK"), done)
        # And for a fresh one.
        c2, _ = self.open(service)
        _, done = c2.imap_cmd("c", "NOOP")
        self.assertTrue(done.startswith("c OK"), done)

    def test_line_too_long_default_limit(self):
        # limits.imap_line_bytes defaults to 65536.
        self._long_line("imap", 70000)

    def test_100k_line(self):
        self._long_line("imap", 100000)

    def test_100k_line_imaps(self):
        self._long_line("imaps", 100000)

    def test_starttls_then_capability(self):
        c, _ = self.open("imap")
        _, done = c.imap_cmd("a", "STARTTLS")
        self.assertTrue(done.startswith("a OK"), done)
        self.assertEqual(c.pending(), b"")
        s = self.inst.ssl_context().wrap_socket(c.sock,
                                                server_hostname=HOSTNAME)
        self.assertIn(s.version(), ("TLSv1.2", "TLSv1.3"))
        t = harness.LineClient(s, self.inst, c.timeout)
        self.addCleanup(t.close)
        caps = self.capability(t)
        self.assertNotIn("LOGINDISABLED", caps)
        self.assertNotIn("STARTTLS", caps)
        # A second STARTTLS inside TLS is refused.
        _, done = t.imap_cmd("b", "STARTTLS")
        self.assertFalse(done.startswith("b OK"), done)
        _, done = t.imap_cmd("c", "NOOP")
        self.assertTrue(done.startswith("c OK"), done)

    def test_starttls_injection_discarded(self):
        c, _ = self.open("imap")
        # Both commands in ONE write: "b NOOP" is plaintext pipelined after
        # STARTTLS and must be thrown away, never answered.
        c.send(b"a STARTTLS\r\nb NOOP\r\n")
        _, done = c.imap_wait("a")
        self.assertTrue(done.startswith("a OK"), done)
        self.assertEqual(c.pending(), b"",
                         "server sent plaintext after 'a OK' to STARTTLS")
        try:
            s = self.inst.ssl_context().wrap_socket(c.sock,
                                                    server_hostname=HOSTNAME)
        except ssl.SSLError as e:
            self.fail("TLS handshake after STARTTLS failed (plaintext "
                      "response to the injected command?): %r" % e)
        t = harness.LineClient(s, self.inst, c.timeout)
        self.addCleanup(t.close)
        seen = []
        try:
            while True:
                seen.append(t.readline(timeout=0.5 * harness.SLOW))
        except socket.timeout:
            pass
        self.assertFalse([l for l in seen if l.startswith("b ")],
                         "injected command was answered: %r" % seen)
        untagged, done = t.imap_cmd("c", "NOOP")
        self.assertTrue(done.startswith("c OK"), done)
        self.assertFalse([l for l in untagged if l.startswith("b ")],
                         "injected command was answered: %r" % untagged)


class ImapLogin(ServerTest):
    """Fresh server per test, so auth-failure limits cannot leak between
    tests."""

    def open_tls(self):
        c = self.inst.connect("imaps")
        self.addCleanup(c.close)
        g = c.readline()
        self.assertTrue(g.startswith("* OK"), g)
        return c

    def test_imaplib_starttls_login(self):
        m = self.inst.imap4()
        self.addCleanup(quiet_shutdown, m)
        self.assertIn("STARTTLS", m.capabilities)
        self.assertIn("LOGINDISABLED", m.capabilities)
        typ, _ = m.starttls(self.inst.ssl_context())
        self.assertEqual(typ, "OK")
        self.assertIn(m.sock.version(), ("TLSv1.2", "TLSv1.3"))
        self.assertNotIn("LOGINDISABLED", m.capabilities)
        typ, _ = m.login(ADMIN, ADMIN_PASSWORD)
        self.assertEqual(typ, "OK")
        typ, _ = m.noop()
        self.assertEqual(typ, "OK")
        typ, _ = m.logout()
        self.assertEqual(typ, "BYE")

    def test_imaplib_imaps_login(self):
        m = self.inst.imap4_ssl()
        self.addCleanup(quiet_shutdown, m)
        self.assertIn(m.sock.version(), ("TLSv1.2", "TLSv1.3"))
        typ, _ = m.login(ADMIN, ADMIN_PASSWORD)
        self.assertEqual(typ, "OK")
        m.logout()

    def test_imaplib_imaps_wrong_password(self):
        m = self.inst.imap4_ssl()
        self.addCleanup(quiet_shutdown, m)
        with self.assertRaises(imaplib.IMAP4.error):
            m.login(ADMIN, "wrong-password")

    def test_raw_login_atoms_and_quoted(self):
        c = self.open_tls()
        _, done = c.imap_cmd("a", "LOGIN %s %s" % (ADMIN, ADMIN_PASSWORD))
        self.assertTrue(done.startswith("a OK"), done)
        c2 = self.open_tls()
        _, done = c2.imap_cmd("b", "LOGIN %s %s" % (imap_quote(ADMIN),
                                                     imap_quote(ADMIN_PASSWORD)))
        self.assertTrue(done.startswith("b OK"), done)
        # Case-insensitive address.
        c3 = self.open_tls()
        _, done = c3.imap_cmd("c", "LOGIN %s %s" % (ADMIN.upper(),
                                                     ADMIN_PASSWORD))
        self.assertTrue(done.startswith("c OK"), done)

    def test_raw_login_wrong_password(self):
        c = self.open_tls()
        _, done = c.imap_cmd("a", "LOGIN %s wrong-password" % ADMIN)
        self.assertTrue(done.startswith("a NO [AUTHENTICATIONFAILED]"), done)
        _, done = c.imap_cmd("b", "NOOP")
        self.assertTrue(done.startswith("b OK"), done)

    def test_raw_login_unknown_user(self):
        c = self.open_tls()
        _, done = c.imap_cmd("a", "LOGIN nobody@example.test %s"
                             % imap_quote(ADMIN_PASSWORD))
        self.assertTrue(done.startswith("a NO [AUTHENTICATIONFAILED]"), done)
