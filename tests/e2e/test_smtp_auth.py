"""SMTP submission: AUTH PLAIN/LOGIN (only over TLS), the same answer for
an unknown user and a wrong password, sender and From: ownership, headers
added on submission, relaying for authenticated users, throttling after
failed AUTH."""

import base64
import concurrent.futures
import json
import os
import signal
import subprocess
import time
import unittest

import harness
from harness import SharedServerTest, ServerTest, ADMIN, ADMIN_PASSWORD, DOMAIN, HOSTNAME
import smtp_util
from smtp_util import greet, starttls, login, plain, ENHANCED


def b64(s):
    return base64.b64encode(s.encode()).decode()


class Auth(SharedServerTest):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        smtp_util.add_user(cls.inst, "bob@" + DOMAIN, "bob-password")

    def test_smtplib_login_starttls(self):
        s = smtp_util.smtplib_client(self.inst, "submission")
        s.starttls(context=self.inst.ssl_context())
        code, _ = s.login(ADMIN, ADMIN_PASSWORD)
        self.assertEqual(code, 235)
        s.quit()

    def test_smtplib_login_465(self):
        s = smtp_util.smtplib_client(self.inst, "submissions")
        code, _ = s.login(ADMIN, ADMIN_PASSWORD)
        self.assertEqual(code, 235)
        s.quit()

    def test_plain_after_challenge(self):
        c, _ = greet(self, self.inst, "submissions")
        self.assertEqual(c.smtp_cmd("AUTH PLAIN"), ["334 "])
        self.assertEqual(c.smtp_cmd(plain(ADMIN, ADMIN_PASSWORD)),
                         ["235 2.7.0 Authentication successful"])
        r = c.smtp_cmd("AUTH PLAIN " + plain(ADMIN, ADMIN_PASSWORD))
        self.assertTrue(r[0].startswith("503 5.5.1"), r)

    def test_login_mechanism(self):
        c, _ = greet(self, self.inst, "submissions")
        self.assertEqual(c.smtp_cmd("AUTH LOGIN"), ["334 VXNlcm5hbWU6"])
        self.assertEqual(c.smtp_cmd(b64(ADMIN)), ["334 UGFzc3dvcmQ6"])
        self.assertEqual(c.smtp_cmd(b64(ADMIN_PASSWORD)),
                         ["235 2.7.0 Authentication successful"])
        c2, _ = greet(self, self.inst, "submissions")
        self.assertEqual(c2.smtp_cmd("AUTH LOGIN " + b64(ADMIN)), ["334 UGFzc3dvcmQ6"])
        self.assertEqual(c2.smtp_cmd(b64(ADMIN_PASSWORD)),
                         ["235 2.7.0 Authentication successful"])

    def test_cancel_and_bad_base64(self):
        c, _ = greet(self, self.inst, "submissions")
        c.smtp_cmd("AUTH LOGIN")
        r = c.smtp_cmd("*")
        self.assertTrue(r[0].startswith("501 5.0.0"), r)
        r = c.smtp_cmd("AUTH PLAIN !!!notbase64")
        self.assertTrue(r[0].startswith("501 5.5.2"), r)
        r = c.smtp_cmd("AUTH CRAM-MD5")
        self.assertTrue(r[0].startswith("504 5.5.4"), r)
        self.assertEqual(c.smtp_cmd("NOOP"), ["250 2.0.0 OK"])

    def test_wrong_password_and_unknown_user_same_reply(self):
        c, _ = greet(self, self.inst, "submissions")
        r1 = c.smtp_cmd("AUTH PLAIN " + plain(ADMIN, "wrong"))
        r2 = c.smtp_cmd("AUTH PLAIN " + plain("nobody@" + DOMAIN, "wrong"))
        self.assertEqual(r1, ["535 5.7.8 Authentication credentials invalid"])
        self.assertEqual(r1, r2)

    def test_sender_must_be_owned(self):
        c = login(self, self.inst)
        r = c.smtp_cmd("MAIL FROM:<bob@%s>" % DOMAIN)
        self.assertEqual(r, ["553 5.7.1 Sender address not owned by authenticated user"])
        r = c.smtp_cmd("MAIL FROM:<someone@remote.test>")
        self.assertTrue(r[0].startswith("553 5.7.1"), r)
        self.assertEqual(c.smtp_cmd("MAIL FROM:<admin+tag@%s>" % DOMAIN),
                         ["250 2.1.0 Sender OK"])

    def submit(self, c, from_hdr, extra=b"", rcpt=None):
        self.assertEqual(c.smtp_cmd("MAIL FROM:<%s>" % ADMIN), ["250 2.1.0 Sender OK"])
        self.assertEqual(c.smtp_cmd("RCPT TO:<%s>" % (rcpt or ADMIN)),
                         ["250 2.1.5 Recipient OK"])
        self.assertTrue(c.smtp_cmd("DATA")[0].startswith("354"))
        c.send(b"From: " + from_hdr + b"\r\n" + extra +
               b"Subject: submit " + self.id().encode() + b"\r\n\r\nbody\r\n.\r\n")
        r = c.smtp_reply()
        return r

    def test_from_header_must_be_owned(self):
        c = login(self, self.inst)
        for hdr in (b"Bob <bob@" + DOMAIN.encode() + b">",
                    b"admin@" + DOMAIN.encode() + b", bob@" + DOMAIN.encode(),
                    b"undisclosed:;"):
            with self.subTest(hdr=hdr):
                r = self.submit(c, hdr)
                self.assertTrue(r[0].startswith("553 5.7.1") or
                                r[0].startswith("550 5.6.0"), r)
        # Two From: fields, the second someone else's.
        r = self.submit(c, ADMIN.encode(), extra=b"From: bob@" + DOMAIN.encode() + b"\r\n")
        self.assertTrue(r[0].startswith("553 5.7.1"), r)

    def test_added_headers_on_submission(self):
        c = login(self, self.inst)
        r = self.submit(c, b"Admin <" + ADMIN.encode() + b">")
        self.assertRegex(r[0], r"^250 2\.0\.0 Ok: queued as ")
        tag = ("submit " + self.id()).encode()
        deadline = time.monotonic() + 10 * harness.SLOW
        while True:
            msgs = [m for m in map(smtp_util.read, smtp_util.inbox_files(self.inst))
                    if tag in m]
            if msgs or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(len(msgs), 1)
        head = msgs[0].split(b"\r\nFrom: ")[0].decode()
        self.assertIn("with ESMTPSA (TLSv1", head)
        self.assertIn(" cipher ", head)
        self.assertNotIn("admin", head.split("Received:")[1].split("for <")[0])
        self.assertIn("\r\nDate: ", head)
        self.assertRegex(head, r"\r\nMessage-ID: <[0-9a-f]+\.\d+@%s>" % HOSTNAME)

    def test_relay_for_authenticated(self):
        c = login(self, self.inst, service="submission")
        self.assertEqual(c.smtp_cmd("MAIL FROM:<%s>" % ADMIN), ["250 2.1.0 Sender OK"])
        self.assertEqual(c.smtp_cmd("RCPT TO:<friend@remote.test>"),
                         ["250 2.1.5 Recipient OK"])


class Throttle(ServerTest):

    def fail_once(self):
        c, _ = greet(self, self.inst, "submissions")
        c.sendline("AUTH PLAIN " + plain(ADMIN, "wrong"))
        return c

    def test_delay_then_lockout(self):
        # Five failures: answered at once.
        for _ in range(5):
            c = self.fail_once()
            self.assertEqual(c.smtp_reply(), ["535 5.7.8 Authentication credentials invalid"])
            c.close()
        # The sixth attempt, even with the right password, waits >= 1 s.
        c, _ = greet(self, self.inst, "submissions")
        t0 = time.monotonic()
        r = c.smtp_cmd("AUTH PLAIN " + plain(ADMIN, ADMIN_PASSWORD))
        self.assertGreaterEqual(time.monotonic() - t0, 0.9)
        self.assertEqual(r, ["235 2.7.0 Authentication successful"])
        # Five more failures in parallel (their answers are delayed; the
        # failures are counted when the check ends).
        since = self.inst.log_size()
        pending = [self.fail_once() for _ in range(5)]
        deadline = time.monotonic() + 20 * harness.SLOW
        while self.inst.log_since(since).count("event=auth-failed") < 5:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.05)
        # Ten failures from this address: 421 and close, before any check.
        c, _ = greet(self, self.inst, "submissions")
        r = c.smtp_cmd("AUTH PLAIN " + plain(ADMIN, ADMIN_PASSWORD))
        self.assertTrue(r[0].startswith("421 4.7.0"), r)
        self.assertTrue(c.read_until_closed(timeout=5 * harness.SLOW)[1])
        for p in pending:
            p.close()


class SharedThrottle(ServerTest):
    """One failure table for the whole server: moving between 587 and
    465 buys an attacker nothing."""

    def open_auth(self, service):
        c, _ = greet(self, self.inst, service)
        if service == "submission":
            starttls(self, self.inst, c)
            r = c.smtp_cmd("EHLO client.test")
            self.assertTrue(r[-1].startswith("250 "), r)
        return c

    def fail_once(self, service):
        c = self.open_auth(service)
        c.sendline("AUTH PLAIN " + plain(ADMIN, "wrong"))
        return c

    def test_failures_across_ports_lock_out_both(self):
        ports = ("submission", "submissions")
        # Five failures, alternating: answered at once (below the delay).
        for i in range(5):
            c = self.fail_once(ports[i % 2])
            self.assertEqual(c.smtp_reply(),
                             ["535 5.7.8 Authentication credentials invalid"])
            c.close()
        # Five more, alternating, in parallel (their answers are delayed;
        # the failures are counted when the check ends).
        since = self.inst.log_size()
        pending = [self.fail_once(ports[i % 2]) for i in range(5)]
        deadline = time.monotonic() + 20 * harness.SLOW
        while self.inst.log_since(since).count("event=auth-failed") < 5:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.05)
        # Ten failures from this address, five on each port: both refuse,
        # even the right password, before any check.
        for service in ports:
            with self.subTest(service=service):
                c = self.open_auth(service)
                r = c.smtp_cmd("AUTH PLAIN " + plain(ADMIN, ADMIN_PASSWORD))
                self.assertTrue(r[0].startswith("421 4.7.0"), r)
                self.assertTrue(c.read_until_closed(timeout=5 * harness.SLOW)[1])
        for p in pending:
            p.close()


class AuthAtShutdown(ServerTest):
    """SIGTERM while password checks run on the worker pool: each client
    gets 421 4.3.2 and no answer to its AUTH, the checks finish (their
    sessions hold conn references until then), the server exits 0, and
    nothing leaks (under ASan, LeakSanitizer reports at exit fail)."""
    autostart = False

    def add_slow_user(self, address, iterations):
        """A user whose hash takes `iterations` PBKDF2 rounds to check;
        random salt and key, so every password is wrong."""
        path = self.inst.load_config()["users_file"]
        if not os.path.isabs(path):
            path = os.path.join(os.path.dirname(self.inst.config), path)
        with open(path) as f:
            doc = json.load(f)
        doc["users"].append({"address": address, "password": "$pbkdf2-sha256$%d$%s$%s" % (
            iterations, base64.b64encode(os.urandom(16)).decode(),
            base64.b64encode(os.urandom(32)).decode())})
        with open(path, "w") as f:
            json.dump(doc, f)

    def auth_then_sigterm(self, user, n):
        clients = []
        for _ in range(n):
            c, _ = greet(self, self.inst, "submissions")
            clients.append(c)
        since = self.inst.log_size()
        for c in clients:
            c.sendline("AUTH PLAIN " + plain(user, "wrong"))
        time.sleep(0.1 * harness.SLOW)     # the server has read them
        self.inst.signal(signal.SIGTERM)
        for c in clients:
            out, closed = c.read_until_closed(timeout=10 * harness.SLOW)
            self.assertTrue(closed, out)
            self.assertTrue(out.startswith("421 4.3.2 "), out)
            self.assertNotIn("535", out)
            c.close()
        rc = self.inst.wait(30 * harness.SLOW)
        log = self.inst.log_since(since)
        self.assertEqual(rc, 0, log)
        self.inst.check_sanitizers()
        # The checks were still running when the shutdown began: their
        # failures are counted (logged) after it.
        after = log.split("event=shutdown", 1)[1]
        self.assertEqual(after.count("event=auth-failed"), n, log)
        return after

    def test_sigterm_during_auth_checks(self):
        self.add_slow_user("slow@" + DOMAIN, 1000000)    # ~0.3 s a check
        self.inst.set_limits(shutdown_grace_secs=int(10 * harness.SLOW))
        self.inst.start()
        after = self.auth_then_sigterm("slow@" + DOMAIN, 4)
        self.assertNotIn("grace period over", after)

    def test_checks_outlive_grace_period(self):
        # The grace period ends first; the server still waits for the
        # checks (their sessions) before it frees what they use.
        # ~2.5 s a check (ASan: slower, fewer rounds do).
        self.add_slow_user("slow@" + DOMAIN, 3000000 if harness.ASAN else 8000000)
        self.inst.set_limits(shutdown_grace_secs=1)
        self.inst.start()
        after = self.auth_then_sigterm("slow@" + DOMAIN, 2)
        grace = after.index("grace period over")
        self.assertIn("event=auth-failed", after[grace:])


class DelayAtShutdown(ServerTest):
    """A client timed out while its AUTH answer is held back by the
    throttle delay, then SIGTERM before the delay ends: the held answer
    must not keep the session (and its conn) alive past the exit."""
    limits = {"smtp_timeout_secs": 2}

    def test_timeout_during_delay_then_sigterm(self):
        for _ in range(5):
            c, _ = greet(self, self.inst, "submissions")
            r = c.smtp_cmd("AUTH PLAIN " + plain(ADMIN, "wrong"))
            self.assertEqual(r, ["535 5.7.8 Authentication credentials invalid"])
            c.close()
        # Three more at once: answers held 1, 2 and 4 s; the idle timeout
        # (2 s) ends the last one's connection while its delay runs.
        since = self.inst.log_size()
        pending = []
        for _ in range(3):
            c, _ = greet(self, self.inst, "submissions")
            c.sendline("AUTH PLAIN " + plain(ADMIN, "wrong"))
            pending.append(c)
        outs = [c.read_until_closed(timeout=10 * harness.SLOW) for c in pending]
        for c in pending:
            c.close()
        # Timed out with no answer to AUTH: the delay was still running.
        self.assertTrue(any(o.startswith("421 4.4.2") and closed
                            for o, closed in outs), outs)
        self.inst.signal(signal.SIGTERM)
        rc = self.inst.wait(20 * harness.SLOW)
        self.assertEqual(rc, 0, self.inst.log_since(since))
        self.inst.check_sanitizers()


class Swaks(SharedServerTest):
    """swaks is installed by packaging/deps.sh: missing, these fail."""

    def swaks(self, *args):
        return subprocess.run(["swaks", "--server", "127.0.0.1"] + list(args),
                              capture_output=True, text=True,
                              timeout=60 * harness.SLOW)

    def test_submission_starttls_auth(self):
        r = self.swaks("--port", str(self.inst.ports["submission"]), "--tls",
                       "--auth", "PLAIN", "--auth-user", ADMIN,
                       "--auth-password", ADMIN_PASSWORD,
                       "--from", ADMIN, "--to", ADMIN,
                       "--header", "Subject: swaks " + self.id())
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("250 2.0.0 Ok: queued as", r.stdout)

    def test_mx_relay_denied(self):
        r = self.swaks("--port", str(self.inst.ports["smtp"]),
                       "--from", "a@remote.test", "--to", "b@elsewhere.test")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("554 5.7.1 Relay access denied", r.stdout)

    def test_submissions_login(self):
        r = self.swaks("--port", str(self.inst.ports["submissions"]), "--tlsc",
                       "--auth", "LOGIN", "--auth-user", ADMIN,
                       "--auth-password", ADMIN_PASSWORD, "--quit-after", "AUTH")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("235 2.7.0", r.stdout)
