"""`rmail init`: the DNS records it prints and saves (every record, the
DKIM one equal to `rmail dkim show`), --public-ip, the postmaster@ and
abuse@ aliases, and the interactive setup driven through a pseudo-terminal
(answers typed, password never echoed, a mismatch asked again)."""

import ipaddress
import json
import os
import re
import select
import stat
import time
import unittest

from harness import (Instance, ADMIN, ADMIN_PASSWORD, DOMAIN, HOSTNAME,
                     RMAIL_BIN, SLOW, sanitizer_env)

SRV = {"_submissions._tcp": "submissions", "_submission._tcp": "submission",
       "_imaps._tcp": "imaps", "_imap._tcp": "imap"}


def parse_zone(text):
    """(records, comments): records as a list of (name, type, data) from
    the zone lines of text, comments as the text of every ';' line."""
    recs, comments = [], []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith(";"):
            comments.append(line[1:].strip())
            continue
        m = re.match(r'^(\S+) IN (\S+) (.*)$', line)
        if m is None:
            raise AssertionError("not a zone line: %r" % line)
        recs.append((m.group(1), m.group(2), m.group(3)))
    return recs, comments


def txt_value(data):
    """The joined character-strings of TXT data ( "a" "b" ) or "a"."""
    strings = re.findall(r'"((?:[^"\\]|\\.)*)"', data)
    return "".join(re.sub(r'\\(.)', r'\1', s) for s in strings)


def snippet(stdout):
    """The zone snippet init printed: everything after the heading."""
    m = re.search(r"^DNS records to publish \(saved in (\S+)\):\n\n",
                  stdout, re.M)
    if m is None:
        raise AssertionError("no DNS records section:\n" + stdout)
    return m.group(1), stdout[m.end():]


class NonInteractive(unittest.TestCase):

    def setUp(self):
        self.inst = Instance(init=False)
        os.makedirs(self.inst.etc, exist_ok=True)

    def tearDown(self):
        self.inst.cleanup()

    def init(self, *extra, admin=ADMIN, rc=0):
        args = ["init", "-c", self.inst.config,
                "--data-dir", self.inst.data_dir,
                "--domain", DOMAIN, "--hostname", HOSTNAME,
                "--listen", "127.0.0.1", "--port-base", str(self.inst.port_base),
                "--non-interactive"] + list(extra)
        if admin:
            args += ["--admin", admin, "--password-stdin"]
        r = self.inst.run_bin(*args, input=ADMIN_PASSWORD + "\n")
        self.assertEqual(r.returncode, rc, r.stdout + r.stderr)
        return r

    def records_file(self):
        return os.path.join(self.inst.data_dir, "dns-records.txt")

    def test_every_record(self):
        r = self.init("--public-ip", "192.0.2.10",
                      "--public-ip", "2001:db8::10")
        path, text = snippet(r.stdout)
        self.assertEqual(path, self.records_file())
        with open(path) as f:
            saved = f.read()
        self.assertEqual(saved, text, "printed and saved records differ")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o644)
        recs, comments = parse_zone(saved)
        host, dom = HOSTNAME + ".", DOMAIN + "."

        def find(name, rtype):
            return [d for n, t, d in recs if n == name and t == rtype]

        self.assertEqual(find(dom, "MX"), ["10 " + host])
        self.assertEqual(find(host, "A"), ["192.0.2.10"])
        self.assertEqual(find(host, "AAAA"), ["2001:db8::10"])
        spf = [txt_value(d) for d in find(dom, "TXT")]
        self.assertEqual(spf, ["v=spf1 ip4:192.0.2.10 ip6:2001:db8::10 mx -all"])
        self.assertEqual(
            [txt_value(d) for d in find("_dmarc." + dom, "TXT")],
            ["v=DMARC1; p=quarantine; rua=mailto:postmaster@" + DOMAIN])
        self.assertEqual(
            [txt_value(d) for d in find("_smtp._tls." + dom, "TXT")],
            ["v=TLSRPTv1; rua=mailto:postmaster@" + DOMAIN])
        for name, svc in SRV.items():
            self.assertEqual(find("%s.%s" % (name, dom), "SRV"),
                             ["0 1 %d %s" % (self.inst.ports[svc], host)],
                             name)
        # DKIM: exactly the line(s) `rmail dkim show` prints.
        show = self.inst.cli("dkim", "show", DOMAIN)
        self.assertEqual(show.returncode, 0, show.stderr)
        dkim_lines = [ln for ln in saved.splitlines() if "_domainkey." in ln]
        self.assertEqual(dkim_lines, show.stdout.splitlines())
        self.assertTrue(txt_value(dkim_lines[0]).startswith("v=DKIM1; k=rsa; p="))
        # PTR for each address, then the next steps.
        self.assertIn("PTR: 192.0.2.10 -> %s" % host, comments)
        self.assertIn("PTR: 2001:db8::10 -> %s" % host, comments)
        self.assertTrue(any("25 465 587 143 993" in c for c in comments))
        self.assertTrue(any("certbot" in c for c in comments))
        self.assertTrue(any("rmail diagnose" in c for c in comments))
        # No placeholder once both families are known.
        self.assertFalse(any("<your public" in c for c in comments), comments)
        # Every record type is there once per domain (one domain here).
        types = sorted(t for _, t, _ in recs)
        self.assertEqual(types.count("MX"), 1)
        self.assertEqual(types.count("SRV"), 4)

    def test_spf_ip4_only_and_aaaa_placeholder(self):
        r = self.init("--public-ip", "127.0.0.7")
        _, text = snippet(r.stdout)
        recs, comments = parse_zone(text)
        self.assertIn((HOSTNAME + ".", "A", "127.0.0.7"), recs)
        self.assertFalse([1 for _, t, _ in recs if t == "AAAA"])
        self.assertIn("%s. IN AAAA <your public IPv6>" % HOSTNAME, comments)
        self.assertIn((DOMAIN + ".", "TXT", '"v=spf1 ip4:127.0.0.7 mx -all"'),
                      recs)
        self.assertIn("PTR: 127.0.0.7 -> %s." % HOSTNAME, comments)

    def test_detected_addresses_are_public(self):
        """Without --public-ip: only global addresses of the interfaces
        (none on a lab host: then the placeholders and plain SPF)."""
        r = self.init()
        _, text = snippet(r.stdout)
        recs, comments = parse_zone(text)
        ips = [d for n, t, d in recs if t in ("A", "AAAA")]
        for ip in ips:
            self.assertTrue(ipaddress.ip_address(ip).is_global, ip)
        spf = [txt_value(d) for n, t, d in recs
               if n == DOMAIN + "." and t == "TXT"]
        if not ips:
            self.assertIn("%s. IN A <your public IPv4>" % HOSTNAME, comments)
            self.assertIn("PTR: <your public IP> -> %s." % HOSTNAME, comments)
            self.assertEqual(spf, ["v=spf1 mx -all"])
        else:
            for ip in ips:
                self.assertIn(ip, spf[0])

    def test_bad_public_ip(self):
        r = self.init("--public-ip", "mail.example.test", rc=2)
        self.assertIn("--public-ip", r.stderr)
        self.assertFalse(os.path.exists(self.inst.config))

    def test_aliases_to_admin(self):
        self.init("--public-ip", "192.0.2.10")
        aliases = self.inst.load_config()["aliases"]
        self.assertEqual(aliases.get("postmaster@" + DOMAIN), [ADMIN])
        self.assertEqual(aliases.get("abuse@" + DOMAIN), [ADMIN])

    def test_admin_is_postmaster(self):
        """postmaster@ as the admin is a mailbox: no alias to itself."""
        pm = "postmaster@" + DOMAIN
        self.init(admin=pm)
        aliases = self.inst.load_config()["aliases"]
        self.assertNotIn(pm, aliases)
        self.assertEqual(aliases.get("abuse@" + DOMAIN), [pm])
        r = self.inst.cli("check-config")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_existing_certificate(self):
        other = Instance()      # a real certificate and key elsewhere
        try:
            cert = os.path.join(other.etc, "tls", "fullchain.pem")
            key = os.path.join(other.etc, "tls", "privkey.pem")
            self.init("--cert", cert, "--key", key)
            tls = self.inst.load_config()["tls"]
            self.assertEqual((tls["cert"], tls["key"]), (cert, key))
            self.assertFalse(os.path.exists(os.path.join(self.inst.etc, "tls")))
            r = self.inst.cli("check-config")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        finally:
            other.cleanup()


class Interactive(unittest.TestCase):
    """Run on a terminal without flags, init asks for everything."""

    def setUp(self):
        self.inst = Instance(init=False)
        os.makedirs(self.inst.etc, exist_ok=True)

    def tearDown(self):
        self.inst.cleanup()

    def converse(self, args, script):
        """Run rmail ARGS on a pty. script: (prompt text, answer) pairs,
        each answer typed once its prompt has appeared after the previous
        one. Returns (exit status, transcript, prompts not reached)."""
        import pty
        pid, fd = pty.fork()
        if pid == 0:
            env = sanitizer_env()
            os.execve(RMAIL_BIN, [RMAIL_BIN] + args, env)
        out, pos = b"", 0
        pending = list(script)
        deadline = time.monotonic() + 60 * SLOW
        while time.monotonic() < deadline:
            r, _, _ = select.select([fd], [], [], 0.2)
            if r:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    break       # EIO: the child closed the terminal
                if not chunk:
                    break
                out += chunk
            while pending:
                i = out.find(pending[0][0].encode(), pos)
                if i == -1:
                    break
                pos = i + len(pending[0][0])
                time.sleep(0.05)
                os.write(fd, pending.pop(0)[1].encode() + b"\n")
        _, status = os.waitpid(pid, 0)
        os.close(fd)
        return (os.waitstatus_to_exitcode(status),
                out.decode(errors="replace"), pending)

    def test_asks_everything(self):
        data = os.path.join(self.inst.dir, "typed-data")
        secret = "Pty-Secret-8812"
        rc, out, left = self.converse(
            ["init", "-c", self.inst.config, "--listen", "127.0.0.1",
             "--port-base", str(self.inst.port_base),
             "--public-ip", "192.0.2.44"],
            [("Mail domain", "Example.TEST"),
             ("Hostname", ""),                  # default mail.example.test
             ("Admin address", ""),             # default admin@example.test
             ("New password for", secret),
             ("Repeat the password", "not-the-same"),
             ("New password for", secret),
             ("Repeat the password", secret),
             ("Data directory", data),
             ("TLS certificate", "")])          # default self-signed
        self.assertEqual(rc, 0, out)
        self.assertEqual(left, [], out)
        self.assertNotIn(secret, out, "the password was echoed")
        self.assertNotIn("not-the-same", out, "the password was echoed")
        self.assertIn("do not match", out)
        self.assertIn("[mail.example.test]", out)
        self.assertIn("[admin@example.test]", out)
        cfg = self.inst.load_config()
        self.assertEqual(cfg["hostname"], "mail.example.test")
        self.assertEqual(cfg["domains"], ["example.test"])
        self.assertEqual(cfg["data_dir"], data)
        self.assertEqual(cfg["aliases"]["postmaster@example.test"],
                         ["admin@example.test"])
        self.assertEqual(cfg["aliases"]["abuse@example.test"],
                         ["admin@example.test"])
        self.assertTrue(os.path.exists(cfg["tls"]["cert"]))
        r = self.inst.cli("user", "list")
        self.assertIn("admin@example.test", r.stdout)
        with open(os.path.join(data, "dns-records.txt")) as f:
            recs, _ = parse_zone(f.read())
        self.assertIn(("example.test.", "MX", "10 mail.example.test."), recs)
        self.assertIn(("mail.example.test.", "A", "192.0.2.44"), recs)
        # The password typed is the one stored: IMAP login works.
        # (the certificate names mail.example.test: not checked here)
        import imaplib
        import ssl
        self.inst.start()
        try:
            imap = imaplib.IMAP4_SSL(
                "127.0.0.1", self.inst.ports["imaps"],
                ssl_context=ssl._create_unverified_context(),
                timeout=10 * SLOW)
            imap.login("admin@example.test", secret)
            imap.logout()
        finally:
            self.inst.stop()

    def test_invalid_answers_asked_again_and_certificate(self):
        other = Instance()
        try:
            cert = os.path.join(other.etc, "tls", "fullchain.pem")
            rc, out, left = self.converse(
                ["init", "-c", self.inst.config, "--listen", "127.0.0.1",
                 "--port-base", str(self.inst.port_base),
                 "--data-dir", self.inst.data_dir,
                 "--admin", "boss@example.test"],
                [("Mail domain", "not a domain"),
                 ("Mail domain", "example.test"),
                 ("Hostname", "mx1.example.test"),
                 ("New password for", "pw-123456"),
                 ("Repeat the password", "pw-123456"),
                 ("TLS certificate", "/nonexistent/fullchain.pem"),
                 ("TLS certificate", cert),
                 ("private key", "")])      # default: privkey.pem beside it
            self.assertEqual(rc, 0, out)
            self.assertEqual(left, [], out)
            self.assertNotIn("Admin address", out)   # given by --admin
            self.assertNotIn("Data directory", out)  # given by --data-dir
            self.assertIn("is not a domain name", out)
            self.assertIn("cannot read", out)
            cfg = self.inst.load_config()
            self.assertEqual(cfg["hostname"], "mx1.example.test")
            self.assertEqual(cfg["tls"]["cert"], cert)
            self.assertEqual(cfg["tls"]["key"],
                             os.path.join(os.path.dirname(cert), "privkey.pem"))
            self.assertEqual(cfg["aliases"]["postmaster@example.test"],
                             ["boss@example.test"])
        finally:
            other.cleanup()

    def test_end_of_input_writes_nothing(self):
        rc, out, left = self.converse(
            ["init", "-c", self.inst.config], [("Mail domain", "\x04")])
        self.assertEqual(rc, 1, out)
        self.assertIn("cancelled", out)
        self.assertFalse(os.path.exists(self.inst.config))

    def test_not_a_terminal_needs_flags(self):
        r = self.inst.run_bin("init", "-c", self.inst.config, input="")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("--domain", r.stderr)


if __name__ == "__main__":
    unittest.main()
