"""rmail diagnose, local checks (config, users, DKIM key files, data dir,
disk, certificate, listeners, queue): a healthy instance passes all but
the self-signed certificate; each fault makes exactly its check WARN or
FAIL with its fix, and the exit status follows.

DNS checks belong to another test: every run here asks a DNS server that
is not there (--dns-server 127.0.0.1:1) and only local lines are checked.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import time
import unittest

from harness import Instance, DOMAIN, HOSTNAME

LOCAL_CHECKS = re.compile(
    r"^(config|users|dkim\.key|data_dir|disk|tls\.\w+|listen\.\w+|queue)$")
LINE = re.compile(r"^(PASS|INFO|SKIP|WARN|FAIL)  (\S+)  (.*)$")
SERVICES = ("smtp", "submission", "submissions", "imap", "imaps")
def certbot_fix(cert, key):
    """diagnose's fix for a certificate to replace: certbot with the
    deploy hook that copies it to the config's paths."""
    return ("certbot certonly --standalone -d {h} --deploy-hook "
            "/etc/letsencrypt/renewal-hooks/deploy/rmail, with the hook from "
            "docs/operations.md (\"Certificates with certbot\"): it copies the "
            "certificate to {c} and {k}, readable by the server, and runs "
            "rmail reload").format(h=HOSTNAME, c=cert, k=key)


def parse(text):
    """[(status, check, found, fix or None)] from the text output."""
    out = []
    for line in text.splitlines():
        if line.startswith("      fix: "):
            st, check, found, _ = out[-1]
            out[-1] = (st, check, found, line[len("      fix: "):])
            continue
        m = LINE.match(line)
        assert m, "unexpected line %r" % line
        out.append((m.group(1), m.group(2), m.group(3), None))
    return out


def disk_expected(path):
    """PASS or WARN, as diagnose judges the file system of path."""
    v = os.statvfs(path)
    avail = v.f_bavail * v.f_frsize
    total = v.f_blocks * v.f_frsize
    low = avail < 1 << 30 or (total and avail * 100 // total < 10)
    if v.f_files and v.f_favail * 100 // v.f_files < 10:
        low = True
    return "WARN" if low else "PASS"


class Diagnose(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.inst = Instance()
        cls.inst.start()
        cls.dkim_key = os.path.join(cls.inst.data_dir, "dkim",
                                    "%s.rmail.rsa.key" % DOMAIN)

    @classmethod
    def tearDownClass(cls):
        cls.inst.stop()
        cls.inst.cleanup()

    def setUp(self):
        if not self.inst.running():
            self.inst.start()

    def diagnose(self, *args):
        r = self.inst.cli("diagnose", "--dns-server", "127.0.0.1:1",
                          "--timeout", "2", *args)
        self.assertIn(r.returncode, (0, 1, 2), r.stdout + r.stderr)
        return r

    def local(self, r):
        return [x for x in parse(r.stdout) if LOCAL_CHECKS.match(x[1])]

    def healthy(self):
        """The local results of a healthy running instance."""
        i = self.inst
        addr = lambda s: "127.0.0.1:%d" % i.ports[s]
        return [
            ("PASS", "config", "%s is valid" % i.config, None),
            ("PASS", "users", "%s: 1 account"
             % os.path.join(i.etc, "users.json"), None),
            ("PASS", "dkim.key", "%s: %s (rsa 2048, mode 0600)"
             % (DOMAIN, self.dkim_key), None),
            ("PASS", "data_dir", "%s is writable" % i.data_dir, None),
            ("DISK",),
            ("PASS", "tls.cert", "%s: CN = %s, issued by CN = %s"
             % (i.cafile, HOSTNAME, HOSTNAME), None),
            ("PASS", "tls.key", "%s matches the certificate"
             % os.path.join(i.etc, "tls", "privkey.pem"), None),
            ("PASS", "tls.hostname", "the certificate covers %s" % HOSTNAME,
             None),
            ("EXPIRY",),
            ("WARN", "tls.chain", "self-signed certificate (CN = %s): other "
             "servers and mail clients will not trust it" % HOSTNAME,
             certbot_fix(os.path.join(i.etc, "tls", "fullchain.pem"),
                         os.path.join(i.etc, "tls", "privkey.pem"))),
            ("PASS", "listen.smtp", "%s: 220 greeting" % addr("smtp"), None),
            ("PASS", "listen.submission", "%s: 220 greeting"
             % addr("submission"), None),
            ("PASS", "listen.submissions", "%s: TLSv1.3, 220 greeting"
             % addr("submissions"), None),
            ("PASS", "listen.imap", "%s: * OK greeting" % addr("imap"), None),
            ("PASS", "listen.imaps", "%s: TLSv1.3, * OK greeting"
             % addr("imaps"), None),
            ("PASS", "queue", "0 messages, 0 deferred, oldest -, 0 with "
             "failed recipients in the last 24 h", None),
        ]

    def assert_local(self, r, changes):
        """The local lines equal healthy() with changes {check: result or
        a list of results} applied (None: the check's line left out)."""
        want = []
        for w in self.healthy():
            check = {"DISK": "disk", "EXPIRY": "tls.expiry"}.get(w[0]) or w[1]
            if check in changes:
                ch = changes[check]
                want.extend(ch if isinstance(ch, list) else
                            [] if ch is None else [ch])
            else:
                want.append(w)
        got = self.local(r)
        self.assertEqual(len(got), len(want), r.stdout)
        for g, w in zip(got, want):
            if w == ("DISK",):
                self.assertEqual(g[1], "disk", r.stdout)
                self.assertEqual(g[0], disk_expected(self.inst.data_dir),
                                 r.stdout)
                self.assertRegex(g[2], r"^\d+\.\d GB free \(\d+%\)"
                                 r"(, \d+% of inodes free)?$")
            elif w == ("EXPIRY",):
                self.assertEqual(g[:2], ("PASS", "tls.expiry"), r.stdout)
                self.assertRegex(g[2], r"^valid until \d{4}-\d\d-\d\d "
                                 r"\d\d:\d\d UTC \(\d+ days\)$")
                self.assertIsNone(g[3])
            else:
                self.assertEqual(g, w, r.stdout)

    # ----- healthy -----

    def test_healthy(self):
        r = self.diagnose()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assert_local(r, {})

    def test_json_agrees(self):
        t = self.diagnose()
        j = self.diagnose("--json")
        self.assertEqual(j.returncode, t.returncode)
        doc = json.loads(j.stdout)
        self.assertIsInstance(doc, list)
        for o in doc:
            self.assertEqual(set(o), {"check", "status", "found", "fix"})
        got = [(o["status"], o["check"], o["found"], o["fix"]) for o in doc]
        text = parse(t.stdout)
        self.assertEqual(len(got), len(text))
        for g, x in zip(got, text):
            if x[1] == "disk":      # figures move between runs
                self.assertEqual(g[:2], x[:2])
            else:
                self.assertEqual(g, x)

    def test_usage(self):
        for args in (["--bogus"], ["--public-ip", "not-an-ip"],
                     ["--timeout", "0"], ["extra"], ["--timeout"]):
            r = self.inst.cli("diagnose", *args)
            self.assertEqual(r.returncode, 2, (args, r.stdout, r.stderr))
            self.assertIn("usage: rmail diagnose", r.stderr)

    # ----- faults -----

    def test_invalid_config(self):
        bad = os.path.join(self.inst.dir, "bad.json")
        with open(bad, "w") as f:
            f.write('{"hostname": "x",\n "bogus": 1}\n')
        r = self.inst.run_bin("diagnose", "-c", bad, "--dns-server",
                              "127.0.0.1:1", "--timeout", "2")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        res = parse(r.stdout)
        self.assertEqual(res[0][:2], ("FAIL", "config"))
        self.assertTrue(res[0][2].startswith(bad + ":"), res[0])
        self.assertIn("rmail check-config", res[0][3])
        self.assertIn(("SKIP", "local"), [x[:2] for x in res])
        self.assertEqual([x for x in res if x[0] == "FAIL"], [res[0]])

    def test_dkim_key_mode(self):
        os.chmod(self.dkim_key, 0o644)
        try:
            r = self.diagnose()
        finally:
            os.chmod(self.dkim_key, 0o600)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assert_local(r, {"dkim.key": (
            "WARN", "dkim.key", "%s: %s is mode 0644: readable by others "
            "than the service" % (DOMAIN, self.dkim_key),
            "chmod 600 %s" % self.dkim_key)})

    def test_dkim_key_missing(self):
        os.rename(self.dkim_key, self.dkim_key + ".away")
        try:
            r = self.diagnose()
        finally:
            os.rename(self.dkim_key + ".away", self.dkim_key)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assert_local(r, {"dkim.key": (
            "FAIL", "dkim.key", "%s: %s: No such file or directory"
            % (DOMAIN, self.dkim_key), "rmail dkim generate %s" % DOMAIN)})

    def make_cert(self, start, end):
        """A self-signed certificate for HOSTNAME valid from start to end
        (YYYYMMDDHHMMSSZ), made with `openssl ca` (Debian 12's `openssl
        req` cannot date a certificate in the past). (cert, key) paths."""
        d = os.path.join(self.inst.dir, "ca-%s" % end)
        os.makedirs(d)
        open(os.path.join(d, "index.txt"), "w").close()
        with open(os.path.join(d, "serial"), "w") as f:
            f.write("01\n")
        cnf = os.path.join(d, "ca.cnf")
        with open(cnf, "w") as f:
            f.write("[ca]\ndefault_ca = d\n[d]\ndatabase = %s/index.txt\n"
                    "new_certs_dir = %s\nserial = %s/serial\n"
                    "default_md = sha256\npolicy = p\ncopy_extensions = copy\n"
                    "unique_subject = no\n[p]\ncommonName = supplied\n"
                    % (d, d, d))
        key, csr, cert = (os.path.join(d, n) for n in
                          ("key.pem", "req.csr", "cert.pem"))
        subprocess.run(["openssl", "req", "-new", "-newkey", "rsa:2048",
                        "-nodes", "-keyout", key, "-out", csr, "-subj",
                        "/CN=" + HOSTNAME, "-addext",
                        "subjectAltName=DNS:" + HOSTNAME],
                       check=True, capture_output=True)
        subprocess.run(["openssl", "ca", "-batch", "-config", cnf,
                        "-selfsign", "-keyfile", key, "-in", csr, "-out",
                        cert, "-notext", "-startdate", start, "-enddate", end],
                       check=True, capture_output=True)
        return cert, key

    def with_cert(self, cert, key):
        def edit(c):
            c["tls"]["cert"] = cert
            c["tls"]["key"] = key
        old = self.inst.load_config()
        self.inst.edit_config(edit)
        try:
            # The running server keeps its certificate (no reload): only
            # the certificate checks change.
            return self.diagnose()
        finally:
            self.inst.save_config(old)

    def cert_lines(self, cert, key, expiry):
        return {
            "tls.cert": ("PASS", "tls.cert", "%s: CN = %s, issued by CN = %s"
                         % (cert, HOSTNAME, HOSTNAME), None),
            "tls.key": ("PASS", "tls.key", "%s matches the certificate" % key,
                        None),
            "tls.expiry": expiry,
            "tls.chain": ("WARN", "tls.chain", "self-signed certificate (CN = "
                          "%s): other servers and mail clients will not trust "
                          "it" % HOSTNAME, certbot_fix(cert, key)),
        }

    def test_expired_certificate(self):
        cert, key = self.make_cert("20200101000000Z", "20200201000000Z")
        r = self.with_cert(cert, key)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assert_local(r, self.cert_lines(cert, key, (
            "FAIL", "tls.expiry", "expired on 2020-02-01 00:00 UTC",
            certbot_fix(cert, key))))

    def test_certificate_expires_soon(self):
        now = time.time()
        fmt = lambda t: time.strftime("%Y%m%d%H%M%SZ", time.gmtime(t))
        end = now + 5 * 86400 + 3600
        cert, key = self.make_cert(fmt(now - 86400), fmt(end))
        r = self.with_cert(cert, key)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assert_local(r, self.cert_lines(cert, key, (
            "WARN", "tls.expiry", "expires in 5 days, on %s"
            % time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(end)),
            certbot_fix(cert, key))))

    def not_running(self, taken=None):
        """Results for every listener of a stopped server; taken: the one
        service whose port this process holds."""
        out = {}
        for s in SERVICES:
            a = "127.0.0.1:%d" % self.inst.ports[s]
            if s == taken:
                out["listen." + s] = (
                    "FAIL", "listen." + s, "%s: taken by python3 (pid %d)"
                    % (a, os.getpid()), "stop python3 (pid %d) or move "
                    "rmail's %s listener elsewhere, then restart rmail"
                    % (os.getpid(), s))
            else:
                out["listen." + s] = (
                    "FAIL", "listen." + s, "%s: not listening: is rmail "
                    "serve running?" % a, "start it: rmail serve (or "
                    "systemctl start rmail), and read its log")
        return out

    def test_server_not_running(self):
        self.inst.stop()
        r = self.diagnose()
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assert_local(r, self.not_running())

    def test_port_taken(self):
        self.inst.stop()
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", self.inst.ports["smtp"]))
            s.listen(5)
            r = self.diagnose()
        finally:
            s.close()
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assert_local(r, self.not_running(taken="smtp"))

    def test_queue_old_deferred(self):
        # Stopped, so the server does not act on the hand-made envelope.
        self.inst.stop()
        qdir = os.path.join(self.inst.data_dir, "queue")
        qid = "0DiagOld"
        with open(os.path.join(qdir, "msg", qid), "wb") as f:
            f.write(b"Subject: x\r\n\r\nbody\r\n")
        env = {"version": 1, "id": qid, "from": "a@remote.test",
               "received": int(time.time()) - 3 * 86400 - 60,
               "targets": [{"addr": "b@remote.test", "local": False,
                            "state": "pending", "attempts": 4,
                            "next_try": int(time.time()) + 600}]}
        envp = os.path.join(qdir, "env", qid + ".json")
        with open(envp, "w") as f:
            json.dump(env, f)
        try:
            r = self.diagnose()
        finally:
            os.unlink(envp)
            os.unlink(os.path.join(qdir, "msg", qid))
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        ch = self.not_running()
        ch["queue"] = (
            "WARN", "queue", "1 message, 1 deferred, oldest 3d, 0 with "
            "failed recipients in the last 24 h",
            "rmail queue list -c %s shows each recipient's last error; "
            "rmail queue flush retries now" % self.inst.config)
        self.assert_local(r, ch)


if __name__ == "__main__":
    unittest.main()
