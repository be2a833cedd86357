"""Running as a service: the systemd notify protocol, `rmail reload`
(good, refused by the CLI, refused by the server, under load), a stop
that lets a transaction in flight finish, the log formats, the packaged
sample config."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import uuid

import harness
from harness import ServerTest, ADMIN, ADMIN_PASSWORD, DOMAIN, HOSTNAME
import smtp_util

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def notify_socket(test, abstract=False):
    """A datagram socket standing in for systemd; (socket, NOTIFY_SOCKET)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    test.addCleanup(s.close)
    if abstract:
        name = "rmail-e2e-%s" % uuid.uuid4().hex
        s.bind("\0" + name)
        return s, "@" + name
    path = os.path.join(test.inst.dir, "notify.sock")
    s.bind(path)
    return s, path


def recv_state(sock, timeout=10.0):
    """The next notification as a dict of its VAR=VALUE lines."""
    sock.settimeout(timeout * harness.SLOW)
    msg = sock.recv(4096).decode()
    return dict(l.split("=", 1) for l in msg.split("\n") if l)


def cert_der(inst, service="imaps"):
    """The certificate a new TLS connection is shown (DER)."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", inst.ports[service]),
                                  timeout=10 * harness.SLOW) as raw:
        with ctx.wrap_socket(raw, server_hostname=HOSTNAME) as t:
            return t.getpeercert(binary_form=True)


def new_cert(inst):
    """Replace the instance's certificate and key with a new self-signed
    pair for the same hostname (as certbot's renewal would)."""
    tls = os.path.dirname(inst.cafile)
    key, crt = os.path.join(tls, "privkey.pem"), os.path.join(tls, "fullchain.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
         "/CN=" + HOSTNAME, "-addext", "subjectAltName=DNS:" + HOSTNAME,
         "-keyout", key + ".new", "-out", crt + ".new"],
        check=True, capture_output=True)
    os.replace(key + ".new", key)
    os.replace(crt + ".new", crt)


class Notify(ServerTest):
    """sd_notify(3)'s datagram protocol, as systemd's Type=notify needs."""
    autostart = False

    def run_cycle(self, abstract):
        sock, addr = notify_socket(self, abstract)
        self.inst.start(env={"NOTIFY_SOCKET": addr})
        st = recv_state(sock)
        self.assertEqual(st.get("READY"), "1", st)
        # READY=1 comes after every listener is bound.
        for svc, port in self.inst.ports.items():
            with socket.create_connection(("127.0.0.1", port), timeout=5):
                pass
        r = self.inst.cli("reload")
        self.assertEqual(r.returncode, 0, r.stderr)
        st = recv_state(sock)
        self.assertEqual(st.get("RELOADING"), "1", st)
        self.assertRegex(st.get("MONOTONIC_USEC", ""), r"^\d+$", st)
        self.assertEqual(recv_state(sock).get("READY"), "1")
        return sock

    def test_ready_reloading_stopping(self):
        sock = self.run_cycle(abstract=False)
        # A reload the server refuses still ends in READY=1: it serves on.
        self.inst.edit_config(lambda c: c.update(hostname="bad host"))
        self.inst.signal(signal.SIGHUP)
        self.assertEqual(recv_state(sock).get("RELOADING"), "1")
        self.assertEqual(recv_state(sock).get("READY"), "1")
        self.assertTrue(self.inst.running())
        self.inst.signal(signal.SIGTERM)
        self.assertEqual(recv_state(sock).get("STOPPING"), "1")
        self.assertEqual(self.inst.wait(10 * harness.SLOW), 0, self.inst.log())

    def test_abstract_socket(self):
        sock = self.run_cycle(abstract=True)
        self.inst.signal(signal.SIGTERM)
        self.assertEqual(recv_state(sock).get("STOPPING"), "1")

    def test_no_socket_no_noise(self):
        # Outside systemd nothing is sent and nothing complains.
        self.inst.start(env={"NOTIFY_SOCKET": ""})
        self.assertEqual(self.inst.cli("reload").returncode, 0)
        self.inst.stop()
        self.assertNotIn("notify", self.inst.log())


class Reload(ServerTest):

    def imaps_logged_in(self):
        c = self.inst.connect("imaps")
        self.assertTrue(c.readline().startswith("* OK"))
        _, done = c.imap_cmd("a", "LOGIN %s %s" % (ADMIN, ADMIN_PASSWORD))
        self.assertTrue(done.startswith("a OK"), done)
        return c

    def test_new_certificate_old_connections_live(self):
        old = self.imaps_logged_in()
        before = cert_der(self.inst)
        new_cert(self.inst)
        r = self.inst.cli("reload")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^rmail: reloaded \(pid %d\)" % self.inst.pid)
        after = cert_der(self.inst)
        self.assertNotEqual(before, after, "new connections still get the old certificate")
        self.assertEqual(after, cert_der(self.inst, "submissions"))
        # The connection made before keeps its session and works on.
        _, done = old.imap_cmd("b", "SELECT INBOX")
        self.assertTrue(done.startswith("b OK"), done)

    def test_cli_refuses_bad_config(self):
        mark = self.inst.log_size()
        with open(self.inst.config) as f:
            text = f.read()
        with open(self.inst.config, "w") as f:
            f.write(text.replace('"hostname"', '"hostnme"', 1))
        r = self.inst.cli("reload")
        self.assertEqual(r.returncode, 1)
        self.assertIn("unknown key \"hostnme\"", r.stderr)
        self.assertIn("rmail.json:", r.stderr)
        self.assertIn("keeps its current configuration", r.stderr)
        time.sleep(0.3 * harness.SLOW)
        self.assertNotIn("event=reload", self.inst.log_since(mark),
                         "the server was signalled for a config that does not load")
        c = self.imaps_logged_in()
        c.close()

    def test_cli_refuses_missing_key(self):
        os.rename(os.path.join(os.path.dirname(self.inst.cafile), "privkey.pem"),
                  os.path.join(self.inst.dir, "key.away"))
        r = self.inst.cli("reload")
        self.assertEqual(r.returncode, 1)
        self.assertIn("privkey.pem", r.stderr)
        # Still serving TLS with the key it loaded at start.
        self.imaps_logged_in().close()

    def test_server_refusal_is_reported(self):
        # The CLI checks the config it is given; the server reloads its
        # own, broken meanwhile: the CLI says what the server said.
        other = os.path.join(self.inst.etc, "other.json")
        shutil.copy(self.inst.config, other)
        self.inst.edit_config(lambda c: c["limits"].update(max_connections=0)
                              if "limits" in c else c.update(limits={"max_connections": 0}))
        r = self.inst.run_bin("reload", "-c", other)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("the server refused the reload", r.stderr)
        self.assertIn("limits.max_connections: must be between 1 and", r.stderr)
        self.assertIn("event=reload-failed", self.inst.log())
        self.imaps_logged_in().close()

    def test_no_server(self):
        self.inst.stop()
        r = self.inst.cli("reload")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no running server", r.stderr)

    def test_reload_under_load_keeps_every_connection(self):
        """Clients on every service keep working through ten reloads that
        each bring a new certificate; not one connection is dropped and
        every message accepted is delivered."""
        inst = self.inst
        stop = threading.Event()
        errors, acked = [], []
        prog = {}       # worker: operations completed so far
        ready = []      # workers past connect, TLS and login
        lock = threading.Lock()

        def imap_worker(name):
            try:
                c = inst.imap4_ssl(timeout=30)
                c.login(ADMIN, ADMIN_PASSWORD)
                c.select("INBOX")
                with lock:
                    ready.append(name)
                while not stop.is_set():
                    typ, _ = c.noop()
                    assert typ == "OK", typ
                    typ, _ = c.uid("SEARCH", "ALL")
                    assert typ == "OK", typ
                    with lock:
                        prog[name] = prog.get(name, 0) + 1
                c.logout()
            except Exception as e:  # noqa: BLE001 (reported below)
                errors.append("%s: %r" % (name, e))

        def smtp_worker(name, service):
            try:
                s = smtp_util.smtplib_client(inst, service)
                s.ehlo("load.test")
                if service == "submission":
                    s.starttls(context=inst.ssl_context())
                    s.ehlo("load.test")
                if service != "smtp":
                    s.login(ADMIN, ADMIN_PASSWORD)
                with lock:
                    ready.append(name)
                n = 0
                while not stop.is_set():
                    mid = "<%s@load.test>" % uuid.uuid4().hex
                    msg = ("From: %s\r\nTo: %s\r\nSubject: load %d\r\n"
                           "Message-ID: %s\r\n\r\nbody\r\n" % (ADMIN, ADMIN, n, mid))
                    s.sendmail(ADMIN, [ADMIN], msg)
                    n += 1
                    with lock:
                        acked.append(mid)
                        prog[name] = n
                    time.sleep(0.02)
                s.quit()
            except Exception as e:  # noqa: BLE001
                errors.append("%s: %r" % (name, e))

        threads = [threading.Thread(target=imap_worker, args=("imap%d" % i,))
                   for i in range(6)]
        for i in range(3):
            for svc in ("smtp", "submission", "submissions"):
                threads.append(threading.Thread(target=smtp_worker,
                                                args=("%s%d" % (svc, i), svc)))
        for t in threads:
            t.start()
        self.addCleanup(stop.set)
        deadline = time.monotonic() + 60 * harness.SLOW
        while len(ready) < len(threads) and not errors and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual((len(ready), errors), (len(threads), []))
        certs = set()
        for _ in range(10):
            new_cert(inst)
            r = inst.cli("reload")
            self.assertEqual(r.returncode, 0, r.stderr)
            certs.add(cert_der(inst))
            time.sleep(0.15 * harness.SLOW)
        # Every connection made before the reloads still works after them.
        with lock:
            before = {name: prog.get(name, 0) for name in ready}
        deadline = time.monotonic() + 30 * harness.SLOW
        while time.monotonic() < deadline and not errors:
            with lock:
                lagging = [n for n in before if prog.get(n, 0) <= before[n]]
            if not lagging:
                break
            time.sleep(0.05)
        stop.set()
        for t in threads:
            t.join(60 * harness.SLOW)
        self.assertEqual(errors, [])
        self.assertEqual(lagging, [], "no progress after the reloads: %s" % prog)
        self.assertEqual(len(certs), 10, "each reload brings its certificate")
        self.assertEqual(inst.log().count("event=reloaded"), 10)
        files = smtp_util.wait_inbox(inst, len(acked), timeout=20)
        got = set()
        for p in files:
            m = re.search(rb"^Message-ID: (<[^>]+>)", smtp_util.read(p), re.M | re.I)
            if m:
                got.add(m.group(1).decode())
        self.assertEqual(set(acked) - got, set(), "accepted but not delivered")


class GracefulStop(ServerTest):
    limits = {"shutdown_grace_secs": 10}

    def test_transaction_in_flight_finishes(self):
        inst = self.inst
        busy, _ = smtp_util.greet(self, inst, "smtp")
        self.assertEqual(busy.smtp_cmd("MAIL FROM:<far@remote.test>"),
                         ["250 2.1.0 Sender OK"])
        self.assertTrue(busy.smtp_cmd("RCPT TO:<%s>" % ADMIN)[0].startswith("250"))
        self.assertTrue(busy.smtp_cmd("DATA")[0].startswith("354"))
        busy.send(b"Subject: in flight\r\nMessage-ID: <inflight@remote.test>\r\n\r\n")
        idle, _ = smtp_util.greet(self, inst, "smtp")
        imap = inst.connect("imap")
        self.assertTrue(imap.readline().startswith("* OK"))
        time.sleep(0.1 * harness.SLOW)
        mark = inst.log_size()
        inst.signal(signal.SIGTERM)
        # Idle sessions are told at once; new connections are refused.
        self.assertIn("421 4.3.2", idle.read_until_closed(timeout=5 * harness.SLOW)[0])
        self.assertIn("* BYE", imap.read_until_closed(timeout=5 * harness.SLOW)[0])
        inst.wait_log(lambda l: "event=shutdown " in l, since=mark)
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", inst.ports["smtp"]), timeout=2).close()
        self.assertTrue(inst.running())
        # The transaction finishes: its 250 is a promise kept.
        busy.send(b"the rest of the body\r\n.\r\n")
        r = busy.smtp_reply()
        self.assertRegex(r[0], r"^250 2\.0\.0 Ok: queued as \w+$")
        data, closed = busy.read_until_closed(timeout=5 * harness.SLOW)
        self.assertTrue(closed)
        self.assertTrue(data.startswith("421 4.3.2"), data)
        self.assertEqual(inst.wait(10 * harness.SLOW), 0, inst.log())
        self.assertNotIn("grace period over", inst.log())
        inst.start()
        files = smtp_util.wait_inbox(inst, 1)
        self.assertEqual(len(files), 1)
        self.assertIn(b"the rest of the body", smtp_util.read(files[0]))

    def test_grace_period_bounds_a_stalled_transaction(self):
        inst = self.inst
        inst.stop()
        inst.set_limits(shutdown_grace_secs=1)
        inst.start()
        c, _ = smtp_util.greet(self, inst, "smtp")
        c.smtp_cmd("MAIL FROM:<far@remote.test>")
        c.smtp_cmd("RCPT TO:<%s>" % ADMIN)
        self.assertTrue(c.smtp_cmd("DATA")[0].startswith("354"))
        c.send(b"Subject: never finished\r\n\r\nhalf")
        t0 = time.monotonic()
        inst.signal(signal.SIGTERM)
        self.assertEqual(inst.wait(15 * harness.SLOW), 0)
        self.assertLess(time.monotonic() - t0, 5 * harness.SLOW)
        self.assertIn("grace period over", inst.log())
        self.assertEqual(smtp_util.inbox_files(inst), [])


class Logs(ServerTest):
    autostart = False

    def deliver_two(self):
        """One message to a local user and a remote one (deferred: DNS
        refuses in tests); its queue id."""
        s = smtp_util.smtplib_client(self.inst, "submissions")
        s.login(ADMIN, ADMIN_PASSWORD)
        s.sendmail(ADMIN, [ADMIN, "someone@remote.test"],
                   "From: %s\r\nSubject: trace me\r\n\r\nhi\r\n" % ADMIN)
        s.quit()
        line = self.inst.wait_log(lambda l: "event=accepted" in l or
                                  '"event":"accepted"' in l)
        self.assertIsNotNone(line, self.inst.log())
        qid = re.search(r'id[=":]+(\w+)', line.split("accepted", 1)[1]).group(1)
        self.inst.wait_log(lambda l: qid in l and "deferred" in l, timeout=10)
        self.inst.wait_log(lambda l: qid in l and "delivered" in l, timeout=10)
        return qid

    def test_grep_queue_id_tells_the_story(self):
        self.inst.start()
        qid = self.deliver_two()
        story = [l for l in self.inst.log().splitlines() if qid in l]
        events = [re.search(r"event=([\w-]+)", l).group(1) for l in story]
        self.assertIn("accepted", events)
        self.assertIn("delivered", events)
        self.assertIn("deferred", events)
        acc = next(l for l in story if "event=accepted" in l)
        for key in ("svc=submissions", "from=%s" % ADMIN, "rcpts=2", "size=",
                    "user=%s" % ADMIN, "tls=TLSv1.", "cipher="):
            self.assertIn(key, acc)
        self.assertIn("to=%s" % ADMIN, next(l for l in story if "event=delivered" in l))
        self.assertIn("to=someone@remote.test",
                      next(l for l in story if "event=deferred" in l))

    def test_json_format(self):
        self.inst.edit_config(lambda c: c.update(log={"format": "json"}))
        self.inst.start()
        qid = self.deliver_two()
        # Hostile bytes in a logged value stay inside one JSON string.
        hostile = '"x\\"}{\\"level\\":\\"error\\""'
        c, _ = smtp_util.greet(self, self.inst, "smtp")
        c.smtp_cmd("MAIL FROM:<a@remote.test>")
        r = c.smtp_cmd("RCPT TO:<%s@remote.test>" % hostile)
        self.assertTrue(r[0].startswith("5"), r)
        c.close()
        self.inst.stop()
        lines = [l for l in self.inst.log().splitlines() if l.strip()]
        objs = [json.loads(l) for l in lines]      # every line is JSON
        refused = [o for o in objs if o.get("event") == "rcpt-rejected"]
        self.assertEqual(len(refused), 1, lines)
        self.assertEqual(refused[0]["to"], hostile + "@remote.test")
        self.assertTrue(all("ts" in o and o["level"] in ("debug", "info", "warn", "error")
                            for o in objs))
        story = [o for o in objs if o.get("id") == qid]
        self.assertEqual({o["event"] for o in story} >= {"accepted", "delivered", "deferred"},
                         True, story)
        acc = next(o for o in story if o["event"] == "accepted")
        self.assertEqual(acc["svc"], "submissions")
        self.assertEqual(acc["user"], ADMIN)
        self.assertEqual(acc["rcpts"], "2")
        self.assertFalse(any(o["level"] == "error" for o in objs), lines)

    def test_journal_stream_leaves_time_to_journald(self):
        # As under systemd: JOURNAL_STREAM names the stream stderr is on.
        open(self.inst.logpath, "ab").close()
        st = os.stat(self.inst.logpath)
        self.inst.start(env={"JOURNAL_STREAM": "%d:%d" % (st.st_dev, st.st_ino)})
        self.inst.stop()
        lines = [l for l in self.inst.log().splitlines() if "level=" in l]
        self.assertTrue(lines)
        self.assertTrue(all(l.startswith("level=") for l in lines), lines[:3])


class SampleConfig(unittest.TestCase):
    """The config a package installs before `rmail init` has run."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="rmail-e2e-sample-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.config = os.path.join(self.dir, "rmail.json")
        with open(os.path.join(REPO, "packaging", "rmail.json.sample")) as f:
            cfg = json.load(f)
        cfg["data_dir"] = os.path.join(self.dir, "data")
        with open(self.config, "w") as f:
            json.dump(cfg, f)
        self.inst = harness.Instance(init=False)
        self.addCleanup(self.inst.cleanup)

    def test_serve_and_check_config_refuse_it(self):
        for args in (["serve"], ["check-config"], ["user", "list"]):
            r = self.inst.run_bin(*args, "-c", self.config, timeout=10)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn("sample config the package installed", r.stderr)
            self.assertIn("rmail init", r.stderr)

    def test_init_replaces_it_without_force(self):
        r = self.inst.run_bin(
            "init", "-c", self.config, "--data-dir", os.path.join(self.dir, "data"),
            "--domain", DOMAIN, "--hostname", HOSTNAME, "--listen", "127.0.0.1",
            "--port-base", str(self.inst.port_base), "--non-interactive")
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(self.config) as f:
            self.assertNotIn("sample", json.load(f))
        # A real config is not replaced without --force.
        r = self.inst.run_bin(
            "init", "-c", self.config, "--domain", DOMAIN, "--hostname",
            HOSTNAME, "--port-base", str(self.inst.port_base), "--non-interactive")
        self.assertEqual(r.returncode, 1)
        self.assertIn("already exists", r.stderr)


if __name__ == "__main__":
    unittest.main()
