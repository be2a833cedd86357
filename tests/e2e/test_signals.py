"""Signals: SIGTERM graceful stop with connections open; SIGHUP reloads users
(via the CLI and explicitly) without dropping connections; a bad config on
SIGHUP keeps the old one."""

import json
import os
import signal
import socket
import threading
import time

import harness
from harness import ServerTest, ADMIN, ADMIN_PASSWORD, imap_quote

NEW_USER = "newuser@example.test"
NEW_PASSWORD = "new-user-password"


def imaps_login(test, user, password):
    """LOGIN over IMAPS on a fresh connection: True on OK, False on NO."""
    c = test.inst.connect("imaps")
    try:
        g = c.readline()
        test.assertTrue(g.startswith("* OK"), g)
        _, done = c.imap_cmd("l", "LOGIN %s %s" % (imap_quote(user),
                                                   imap_quote(password)))
        if done.startswith("l OK"):
            return True
        test.assertTrue(done.startswith("l NO"), done)
        return False
    finally:
        c.close()


class SigTerm(ServerTest):
    limits = {"shutdown_grace_secs": 2}

    def open_all(self):
        """3 idle plaintext and 2 TLS connections (one IMAPS logged in)."""
        clients = []
        for svc in ("smtp", "submission", "imap", "submissions", "imaps"):
            c = self.inst.connect(svc)
            self.addCleanup(c.close)
            g = c.readline()
            self.assertTrue(g.startswith("220 ") or g.startswith("220-")
                            or g.startswith("* OK"), (svc, g))
            clients.append((svc, c))
        imaps = clients[-1][1]
        _, done = imaps.imap_cmd("a", "LOGIN %s %s" % (ADMIN, ADMIN_PASSWORD))
        self.assertTrue(done.startswith("a OK"), done)
        return clients

    def check_goodbyes(self, got):
        for svc, (data, closed) in got.items():
            with self.subTest(service=svc):
                self.assertTrue(closed, "%s: not closed; got %r" % (svc, data))
                lines = data.split("\r\n")
                if svc.startswith("imap"):
                    self.assertTrue(any(l.startswith("* BYE") for l in lines),
                                    "%s: no * BYE in %r" % (svc, data))
                else:
                    self.assertTrue(any(l.startswith("421") for l in lines),
                                    "%s: no 421 in %r" % (svc, data))

    def test_sigterm_with_open_connections(self):
        """Clients that read their goodbye and hang up when the server
        does, as real clients do: the server is gone within 2 s."""
        inst = self.inst
        clients = self.open_all()
        got = {}

        def client(svc, c):
            got[svc] = c.read_until_closed(timeout=10 * harness.SLOW)
            c.close()

        threads = [threading.Thread(target=client, args=sc, daemon=True)
                   for sc in clients]
        for t in threads:
            t.start()
        t0 = time.monotonic()
        inst.signal(signal.SIGTERM)
        rc = inst.wait(timeout=15 * harness.SLOW)
        elapsed = time.monotonic() - t0
        print("\n    SIGTERM, clients hang up on EOF: exit %r after %.3f s"
              % (rc, elapsed))
        self.assertIsNotNone(rc, "server still running 15 s after SIGTERM")
        self.assertEqual(rc, 0, inst.log())
        self.assertLess(elapsed, 2.0 if not harness.ASAN else 6.0)
        for t in threads:
            t.join(15 * harness.SLOW)
        self.check_goodbyes(got)

    def test_sigterm_with_unresponsive_clients(self):
        """Clients that neither read nor close: the server still says
        goodbye and exits 0 by the end of its grace period (default 2 s)."""
        inst = self.inst
        clients = self.open_all()
        t0 = time.monotonic()
        inst.signal(signal.SIGTERM)
        rc = inst.wait(timeout=15 * harness.SLOW)
        elapsed = time.monotonic() - t0
        print("\n    SIGTERM, clients silent: exit %r after %.3f s"
              % (rc, elapsed))
        self.assertIsNotNone(rc, "server still running 15 s after SIGTERM")
        self.assertEqual(rc, 0, inst.log())
        self.assertLess(elapsed, 2.5 if not harness.ASAN else 6.0)
        got = {svc: c.read_until_closed(timeout=5 * harness.SLOW)
               for svc, c in clients}
        self.check_goodbyes(got)


    def test_sigterm_with_stuck_client(self):
        """A client that pipelines commands and never reads, so the server
        cannot flush: it is dropped when the grace period (default 2 s)
        ends, and the server still exits 0 with nothing leaked."""
        inst = self.inst
        c = inst.connect("imap")
        self.assertTrue(c.readline().startswith("* OK"))
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        others = self.open_all()

        def flood():
            try:
                c.sock.settimeout(30 * harness.SLOW)
                c.sock.sendall(b"a NOOP\r\n" * 200000)
            except OSError:
                pass

        threading.Thread(target=flood, daemon=True).start()
        time.sleep(1.0 * harness.SLOW)     # let the output back up
        t0 = time.monotonic()
        inst.signal(signal.SIGTERM)
        rc = inst.wait(timeout=15 * harness.SLOW)
        elapsed = time.monotonic() - t0
        print("\n    SIGTERM, one stuck client: exit %r after %.3f s"
              % (rc, elapsed))
        self.assertIsNotNone(rc, "server still running 15 s after SIGTERM")
        inst.check_sanitizers()
        self.assertEqual(rc, 0, inst.log())
        self.assertLess(elapsed, 3.0 if not harness.ASAN else 8.0)
        got = {svc: c2.read_until_closed(timeout=5 * harness.SLOW)
               for svc, c2 in others}
        self.check_goodbyes(got)


class SigHup(ServerTest):

    def pidfile(self):
        return os.path.join(self.inst.data_dir, "rmail.pid")

    def open_idle(self):
        """A plaintext IMAP and a logged-in IMAPS connection."""
        p = self.inst.connect("imap")
        self.addCleanup(p.close)
        self.assertTrue(p.readline().startswith("* OK"))
        t = self.inst.connect("imaps")
        self.addCleanup(t.close)
        self.assertTrue(t.readline().startswith("* OK"))
        _, done = t.imap_cmd("a", "LOGIN %s %s" % (ADMIN, ADMIN_PASSWORD))
        self.assertTrue(done.startswith("a OK"), done)
        s = self.inst.connect("smtp")
        self.addCleanup(s.close)
        self.assertTrue(s.smtp_reply()[-1].startswith("220 "))
        return [p, t, s]

    def assert_alive(self, conns):
        p, t, s = conns
        for tag, c in (("n1", p), ("n2", t)):
            _, done = c.imap_cmd(tag, "NOOP")
            self.assertTrue(done.startswith(tag + " OK"), done)
        self.assertEqual(s.smtp_cmd("NOOP"), ["250 2.0.0 OK"])

    def test_pidfile(self):
        with open(self.pidfile()) as f:
            self.assertEqual(int(f.read().strip()), self.inst.pid)

    def test_cli_user_add_reloads(self):
        conns = self.open_idle()
        self.assertFalse(imaps_login(self, NEW_USER, NEW_PASSWORD))
        mark = self.inst.log_size()
        r = self.inst.cli("user", "add", NEW_USER, "--password-stdin",
                          input=NEW_PASSWORD + "\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        line = self.inst.wait_log(lambda l: "reloaded" in l, since=mark)
        self.assertIsNotNone(line, "no 'reloaded' in log after `rmail user "
                             "add`:\n" + self.inst.log_since(mark))
        self.assertTrue(imaps_login(self, NEW_USER, NEW_PASSWORD))
        self.assertTrue(imaps_login(self, ADMIN, ADMIN_PASSWORD))
        self.assert_alive(conns)

    def test_explicit_sighup(self):
        conns = self.open_idle()
        pf = self.pidfile()
        self.assertTrue(os.path.exists(pf), "no %s" % pf)
        os.rename(pf, pf + ".away")
        self.addCleanup(lambda: os.path.exists(pf + ".away")
                        and os.rename(pf + ".away", pf))
        mark = self.inst.log_size()
        r = self.inst.cli("user", "add", NEW_USER, "--password-stdin",
                          input=NEW_PASSWORD + "\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        time.sleep(0.3 * harness.SLOW)
        self.assertNotIn("reloaded", self.inst.log_since(mark),
                         "server reloaded without a signal")
        self.assertFalse(imaps_login(self, NEW_USER, NEW_PASSWORD),
                         "new user logged in before any SIGHUP")
        mark = self.inst.log_size()
        os.kill(self.inst.pid, signal.SIGHUP)
        line = self.inst.wait_log(lambda l: "reloaded" in l, since=mark)
        self.assertIsNotNone(line, "no 'reloaded' in log after SIGHUP:\n"
                             + self.inst.log_since(mark))
        self.assertTrue(imaps_login(self, NEW_USER, NEW_PASSWORD))
        self.assert_alive(conns)
        # A second reload is just as fine.
        mark = self.inst.log_size()
        os.kill(self.inst.pid, signal.SIGHUP)
        self.assertIsNotNone(self.inst.wait_log(lambda l: "reloaded" in l,
                                                since=mark))
        self.assert_alive(conns)

    def _bad_reload(self, text, conns):
        with open(self.inst.config, "w") as f:
            f.write(text)
        mark = self.inst.log_size()
        os.kill(self.inst.pid, signal.SIGHUP)
        line = self.inst.wait_log(
            lambda l: "reload" in l and "level=error" in l, since=mark)
        self.assertIsNotNone(line, "no error mentioning 'reload' after "
                             "SIGHUP with a bad config; log since:\n"
                             + self.inst.log_since(mark))
        time.sleep(0.2 * harness.SLOW)
        self.assertNotIn("reloaded", self.inst.log_since(mark))
        self.assertTrue(self.inst.running(), self.inst.log())
        self.assert_alive(conns)
        # Fresh connections work, and the old users still log in.
        c = self.inst.connect("imap")
        self.addCleanup(c.close)
        self.assertTrue(c.readline().startswith("* OK"))
        _, done = c.imap_cmd("z", "NOOP")
        self.assertTrue(done.startswith("z OK"), done)
        self.assertTrue(imaps_login(self, ADMIN, ADMIN_PASSWORD))
        return line

    def test_bad_config_on_sighup_keeps_old(self):
        conns = self.open_idle()
        with open(self.inst.config) as f:
            good = f.read()
        self.addCleanup(self._restore, good)
        line = self._bad_reload('{"hostname": "x",\n  this is not json\n',
                                conns)
        print("\n    bad JSON on SIGHUP: %s" % line)
        cfg = json.loads(good)
        cfg.setdefault("limits", {})["max_mesage_bytes"] = 1000
        line = self._bad_reload(json.dumps(cfg, indent=2) + "\n", conns)
        print("    unknown key on SIGHUP: %s" % line)
        # Put the good config back: a reload works again.
        self._restore(good)
        mark = self.inst.log_size()
        os.kill(self.inst.pid, signal.SIGHUP)
        self.assertIsNotNone(self.inst.wait_log(lambda l: "reloaded" in l,
                                                since=mark))
        self.assert_alive(conns)

    def _restore(self, good):
        with open(self.inst.config, "w") as f:
            f.write(good)


class CertReload(ServerTest):
    """SIGHUP picks up a renewed certificate (what certbot's deploy hook
    does); connections opened before keep working on the old one, and a
    certificate that does not match its key is refused."""

    def _peer_der(self, svc="imaps"):
        raw = socket.create_connection(("127.0.0.1", self.inst.ports[svc]),
                                       timeout=10 * harness.SLOW)
        ctx = harness.ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = harness.ssl.CERT_NONE
        with ctx.wrap_socket(raw, server_hostname="localhost") as t:
            t.recv(200)
            return t.getpeercert(binary_form=True)

    def _other_instance_tls(self):
        """A second, independent certificate and key made by `rmail init`."""
        d = os.path.join(self.inst.dir, "other")
        r = self.inst.run_bin(
            "init", "-c", os.path.join(d, "rmail.json"), "--data-dir",
            os.path.join(d, "data"), "--domain", "example.test",
            "--hostname", "localhost", "--port-base", "1000",
            "--non-interactive")
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(d, "tls", "fullchain.pem"), "rb") as f:
            cert = f.read()
        with open(os.path.join(d, "tls", "privkey.pem"), "rb") as f:
            key = f.read()
        return cert, key

    def _paths(self):
        cfg = self.inst.load_config()
        return cfg["tls"]["cert"], cfg["tls"]["key"]

    def test_renewed_certificate_is_served_after_sighup(self):
        before = self._peer_der()
        old = self.inst.connect("imaps")
        self.addCleanup(old.close)
        self.assertTrue(old.readline().startswith("* OK"))
        cert, key = self._other_instance_tls()
        cpath, kpath = self._paths()
        with open(kpath, "wb") as f:
            f.write(key)
        with open(cpath, "wb") as f:
            f.write(cert)
        mark = self.inst.log_size()
        os.kill(self.inst.pid, signal.SIGHUP)
        self.assertIsNotNone(self.inst.wait_log(lambda l: "reloaded" in l,
                                                since=mark),
                             self.inst.log_since(mark))
        after = self._peer_der()
        self.assertNotEqual(before, after, "still serving the old certificate")
        self.assertEqual(after, harness.ssl.PEM_cert_to_DER_cert(cert.decode()))
        _, done = old.imap_cmd("n", "NOOP")
        self.assertTrue(done.startswith("n OK"), done)

    def test_mismatched_key_is_refused(self):
        before = self._peer_der()
        _, key = self._other_instance_tls()
        _, kpath = self._paths()
        with open(kpath, "wb") as f:
            f.write(key)
        mark = self.inst.log_size()
        os.kill(self.inst.pid, signal.SIGHUP)
        line = self.inst.wait_log(
            lambda l: "reload-failed" in l and "tls.key" in l,
            since=mark)
        self.assertIsNotNone(line, self.inst.log_since(mark))
        self.assertEqual(self._peer_der(), before)
