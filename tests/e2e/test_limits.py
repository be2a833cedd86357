"""Per-IP connection limit: answered (421 / * BYE), enforced, and released
when a connection closes."""

import ssl
import time

import harness
from harness import ServerTest

CLOSED = "<closed by the server before or during the TLS handshake>"


class PerIpLimit(ServerTest):
    limits = {"max_connections_per_ip": 3}

    def greet(self, service):
        """(client, first line). On the TLS services a refused connection
        may also be closed before or during the handshake: then (None,
        CLOSED)."""
        try:
            c = self.inst.connect(service)
        except (ssl.SSLError, ConnectionResetError, EOFError):
            if service in harness.TLS_SERVICES:
                return None, CLOSED
            raise
        self.addCleanup(c.close)
        try:
            return c, c.readline()
        except (ssl.SSLError, ConnectionResetError, EOFError):
            if service in harness.TLS_SERVICES:
                return None, CLOSED
            raise

    def ok_greeting(self, service, line):
        if service.startswith("imap"):
            return line.startswith("* OK")
        return line.startswith("220 ")

    def refusal(self, service, line):
        if line is CLOSED:
            return True
        if service.startswith("imap"):
            return line.startswith("* BYE")
        return line.startswith("421 ")

    def check(self, service):
        first = []
        deadline = time.monotonic() + 3 * harness.SLOW
        while len(first) < 3:
            c, g = self.greet(service)
            if not self.ok_greeting(service, g):
                # Only tolerated briefly: the server may not have noticed a
                # probe connection of the harness closing yet.
                self.assertTrue(self.refusal(service, g), g)
                self.assertLess(time.monotonic(), deadline,
                                "connection %d of 3 refused: %r"
                                % (len(first) + 1, g))
                if c is not None:
                    c.close()
                time.sleep(0.05)
                continue
            first.append(c)
        # The 4th is answered and closed by the server.
        c4, g4 = self.greet(service)
        self.assertTrue(self.refusal(service, g4),
                        "4th %s connection got %r" % (service, g4))
        if c4 is not None:
            rest, closed = c4.read_until_closed(timeout=5 * harness.SLOW)
            self.assertTrue(closed, "4th connection left open: %r" % rest)
        # The first three are unharmed.
        for i, c in enumerate(first):
            if service.startswith("imap"):
                _, done = c.imap_cmd("t%d" % i, "NOOP")
                self.assertTrue(done.startswith("t%d OK" % i), done)
            else:
                self.assertEqual(c.smtp_cmd("NOOP"), ["250 2.0.0 OK"])
        # Closing one makes room again (the server may need a moment to
        # notice the close).
        first[0].close()
        deadline = time.monotonic() + 5 * harness.SLOW
        attempts = 0
        while True:
            attempts += 1
            c, g = self.greet(service)
            if self.ok_greeting(service, g):
                break
            self.assertTrue(self.refusal(service, g), g)
            if c is not None:
                c.close()
            self.assertLess(time.monotonic(), deadline,
                            "no room after closing a connection")
            time.sleep(0.05)
        # And it is full again.
        c5, g5 = self.greet(service)
        self.assertTrue(self.refusal(service, g5), g5)

    def test_smtp(self):
        self.check("smtp")

    def test_imap(self):
        self.check("imap")

    def test_imaps(self):
        self.check("imaps")

    def test_submissions(self):
        self.check("submissions")


class GlobalLimit(ServerTest):
    """The total cap counts every service together and is answered with
    its own reply (try again later), distinct from the per-IP one."""
    limits = {"max_connections": 4, "max_connections_per_ip": 20}

    def open_ok(self, service, want):
        deadline = time.monotonic() + 3 * harness.SLOW
        while True:
            c = self.inst.connect(service)
            self.addCleanup(c.close)
            line = c.readline()
            if line.startswith(want):
                return c
            # A probe connection of the harness may still be counted.
            self.assertLess(time.monotonic(), deadline, line)
            c.close()
            time.sleep(0.05)

    def test_total_cap_across_services(self):
        held = [self.open_ok("smtp", "220 "), self.open_ok("smtp", "220 "),
                self.open_ok("imap", "* OK"), self.open_ok("imap", "* OK")]
        s = self.inst.connect("smtp")
        self.addCleanup(s.close)
        line = s.readline()
        self.assertTrue(line.startswith("421 4.3.2 "), line)
        self.assertIn("try again later", line)
        self.assertTrue(s.read_until_closed(timeout=5 * harness.SLOW)[1])
        i = self.inst.connect("imap")
        self.addCleanup(i.close)
        line = i.readline()
        self.assertTrue(line.startswith("* BYE [UNAVAILABLE]"), line)
        self.assertTrue(i.read_until_closed(timeout=5 * harness.SLOW)[1])
        for n, c in enumerate(held[2:]):
            _, done = c.imap_cmd("k%d" % n, "NOOP")
            self.assertTrue(done.startswith("k%d OK" % n), done)
        held[0].close()
        self.open_ok("imap", "* OK")
