"""`rmail diagnose`, checks 4 to 7 (cmd/diagnose_dns.c), against dnsmasq
(dnsserver.py) serving a zone in which everything is right for the
instance: hostname localhost -> 127.0.0.2 (--public-ip 127.0.0.2) with
its PTR, MX of example.test -> localhost, SPF, the DKIM record `rmail dkim
show` prints, DMARC, empty blocklists, and a probe domain whose MX is a
listener on 127.0.0.3 (relay.smtp_port) greeting with 220. Every DNS check
PASSes there; then each test changes one record or condition and checks
that its check FAILs (or WARNs) with its fix, and the exit status.
Without any DNS server every DNS check is one SKIP line.
"""

import base64
import json
import re
import socket
import subprocess
import threading
import unittest

from dnsserver import DnsServer
from harness import DOMAIN, HOSTNAME, Instance

IP = "127.0.0.2"
PROBE_IP = "127.0.0.3"
DNSBLS = ["zen.spamhaus.org", "bl.spamcop.net", "b.barracudacentral.org"]
DNS_CHECKS = {"port25", "dns.host", "dns.ptr", "dns.fcrdns", "dns.mx",
              "dns.spf", "dns.dkim", "dns.dmarc", "dnsbl"}
ZONE_LINE = re.compile(r'^(\S+)\. IN TXT \( ((?:"(?:[^"\\]|\\.)*" ?)+)\)$')
DMARC = "v=DMARC1; p=quarantine; rua=mailto:postmaster@%s" % DOMAIN


class Greeter:
    """A TCP listener on PROBE_IP that greets each connection with 220."""

    def __init__(self, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((PROBE_IP, port))
        self.sock.listen(8)
        self.conns = 0
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns += 1
            with c:
                try:
                    c.sendall(b"220 probe.test ESMTP\r\n")
                    c.settimeout(2)
                    c.recv(100)
                except OSError:
                    pass

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def free_port(addr):
    """A TCP port bindable on addr."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((addr, 0))
        return s.getsockname()[1]


def other_rsa_p():
    """p= of a fresh RSA key: a DKIM record of another key."""
    key = subprocess.run(["openssl", "genpkey", "-algorithm", "RSA",
                          "-pkeyopt", "rsa_keygen_bits:1024"],
                         capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubout", "-outform", "DER"],
                         input=key, capture_output=True, check=True).stdout
    return base64.b64encode(der).decode()


class DiagnoseDnsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = Instance()
        cls.port = free_port(PROBE_IP)
        cls.inst.edit_config(
            lambda c: c.setdefault("relay", {}).update(smtp_port=cls.port))
        r = cls.inst.cli("dkim", "show", DOMAIN)
        if r.returncode != 0:
            raise AssertionError(r.stdout + r.stderr)
        cls.dkim = {}
        for line in r.stdout.splitlines():
            m = ZONE_LINE.match(line)
            if m:
                cls.dkim[m.group(1)] = [
                    re.sub(r'\\(.)', r'\1', s) for s in
                    re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(2))]
        if not cls.dkim:
            raise AssertionError("no DKIM record in:\n" + r.stdout)

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()

    def zone(self):
        """The records of a setup where everything is right."""
        txt = {DOMAIN: ["v=spf1 ip4:%s mx -all" % IP],
               "_dmarc." + DOMAIN: [DMARC],
               "_smtp._tls." + DOMAIN: ["v=TLSRPTv1; rua=mailto:tls@"
                                        + DOMAIN]}
        txt.update(self.dkim)
        return dict(
            mx=[(DOMAIN, HOSTNAME, 10), ("probe.test", "probe-mx.test", 10)],
            a_noptr={HOSTNAME: [IP], "probe-mx.test": [PROBE_IP]},
            ptr={IP: HOSTNAME},
            txt=txt,
            local=["test", HOSTNAME, "in-addr.arpa"] + DNSBLS)

    def diagnose(self, zone, greeter=True):
        dns = DnsServer(txt_raw=True, **zone)
        dns.start()
        self.addCleanup(dns.stop)
        if greeter:
            g = Greeter(self.port)
            self.addCleanup(g.close)
        r = self.inst.cli("diagnose", "--json", "--public-ip", IP,
                          "--dns-server", dns.server, "--probe-domain",
                          "probe.test", "--timeout", "2", timeout=60)
        try:
            results = json.loads(r.stdout)
        except ValueError:
            raise AssertionError("not JSON (exit %d):\n%s\n%s"
                                 % (r.returncode, r.stdout, r.stderr))
        self.assertEqual(r.returncode,
                         1 if any(x["status"] == "FAIL" for x in results)
                         else 0, r.stdout)
        return r, results

    def dns_results(self, results):
        return [x for x in results if x["check"] in DNS_CHECKS]

    def bad(self, results):
        """{check: [results]} of the DNS checks that WARN or FAIL."""
        out = {}
        for x in self.dns_results(results):
            if x["status"] in ("WARN", "FAIL"):
                out.setdefault(x["check"], []).append(x)
        return out

    def assert_only(self, results, checks, status, fix):
        bad = self.bad(results)
        self.assertEqual(set(bad), set(checks), json.dumps(results, indent=1))
        for c in checks:
            for x in bad[c]:
                self.assertEqual(x["status"], status, x)
        fixes = [x["fix"] for c in checks for x in bad[c]]
        self.assertIn(fix, fixes, json.dumps(results, indent=1))

    def test_all_pass(self):
        r, results = self.diagnose(self.zone())
        dns = self.dns_results(results)
        self.assertEqual({x["check"] for x in dns}, DNS_CHECKS, r.stdout)
        for x in dns:
            if x["status"] != "INFO":
                self.assertEqual(x["status"], "PASS", r.stdout)
        self.assertEqual(len([x for x in dns if x["check"] == "dnsbl"]), 3)
        self.assertIn("greets '220", [x for x in dns
                                      if x["check"] == "port25"][0]["found"])
        info = {x["check"]: x["found"] for x in results
                if x["status"] == "INFO"}
        self.assertIn("quarantine", info.get("dns.dmarc", ""), r.stdout)
        self.assertIn('"v=TLSRPTv1; rua=mailto:tls@example.test"',
                      info.get("dns.tlsrpt", ""), r.stdout)
        self.assertIn("dns.mta_sts", info, r.stdout)
        # The text output says the same.
        r2 = self.inst.cli("diagnose", "--public-ip", IP, "--dns-server",
                           "127.0.0.1:1", "--timeout", "1")
        self.assertIn("SKIP  dns.mx  DNS unavailable", r2.stdout)

    def test_wrong_mx(self):
        z = self.zone()
        z["mx"] = [(DOMAIN, "mx.elsewhere.test", 10),
                   ("probe.test", "probe-mx.test", 10)]
        r, results = self.diagnose(z)
        self.assertEqual(r.returncode, 1)
        self.assert_only(results, ["dns.mx"], "FAIL",
                         "%s. IN MX 10 %s." % (DOMAIN, HOSTNAME))

    def test_missing_ptr(self):
        z = self.zone()
        z["ptr"] = {}
        r, results = self.diagnose(z)
        self.assertEqual(r.returncode, 1)
        self.assert_only(results, ["dns.ptr"], "FAIL",
                         "ask your VPS provider to set the reverse DNS "
                         "(PTR) of %s to %s" % (IP, HOSTNAME))

    def test_ptr_without_forward_match(self):
        # The PTR names a host that does not resolve back to the address.
        # It is not the hostname either, so dns.ptr fails with it.
        z = self.zone()
        z["ptr"] = {IP: "rev.example.test"}
        z["a_noptr"]["rev.example.test"] = ["127.0.0.9"]
        r, results = self.diagnose(z)
        self.assertEqual(r.returncode, 1)
        self.assert_only(results, ["dns.fcrdns", "dns.ptr"], "FAIL",
                         "ask your VPS provider to set the reverse DNS "
                         "(PTR) of %s to %s" % (IP, HOSTNAME))
        fc = self.bad(results)["dns.fcrdns"][0]
        self.assertIn("does not resolve back", fc["found"])

    def test_spf_missing(self):
        z = self.zone()
        del z["txt"][DOMAIN]
        r, results = self.diagnose(z)
        self.assertEqual(r.returncode, 1)
        self.assert_only(results, ["dns.spf"], "FAIL",
                         '%s. IN TXT "v=spf1 mx -all"' % DOMAIN)

    def test_two_spf_records(self):
        z = self.zone()
        z["txt"][DOMAIN] = ["v=spf1 ip4:%s -all" % IP]
        # Two TXT records at one name: one more --txt-record for it.
        r, results = self.diagnose_with_extra(
            z, ["--txt-record=%s,v=spf1 mx -all" % DOMAIN])
        self.assertEqual(r.returncode, 1)
        bad = self.bad(results)
        self.assertEqual(set(bad), {"dns.spf"}, results)
        self.assertIn("2 SPF records", bad["dns.spf"][0]["found"])
        self.assertIn('%s. IN TXT "v=spf1 mx -all"' % DOMAIN,
                      bad["dns.spf"][0]["fix"])

    def diagnose_with_extra(self, zone, extra):
        """diagnose against the zone plus extra dnsmasq arguments."""
        class Extra(DnsServer):
            def args(self):
                return super().args() + extra

        dns = Extra(txt_raw=True, **zone)
        dns.start()
        self.addCleanup(dns.stop)
        g = Greeter(self.port)
        self.addCleanup(g.close)
        r = self.inst.cli("diagnose", "--json", "--public-ip", IP,
                          "--dns-server", dns.server, "--probe-domain",
                          "probe.test", "--timeout", "2", timeout=60)
        return r, json.loads(r.stdout)

    def test_spf_not_covering_ip(self):
        z = self.zone()
        z["txt"][DOMAIN] = ["v=spf1 ip4:127.0.0.9 -all"]
        r, results = self.diagnose(z)
        self.assertEqual(r.returncode, 1)
        self.assert_only(results, ["dns.spf"], "FAIL",
                         'authorise %s in the SPF record, e.g. %s. IN TXT '
                         '"v=spf1 mx ip4:%s -all"' % (IP, DOMAIN, IP))
        self.assertIn("does not authorise", self.bad(results)["dns.spf"][0]
                      ["found"])

    def test_spf_over_ten_lookups(self):
        z = self.zone()
        z["txt"][DOMAIN] = ["v=spf1 " + "a:probe-mx.test " * 11
                            + "ip4:%s -all" % IP]
        r, results = self.diagnose(z)
        self.assertEqual(r.returncode, 1)
        bad = self.bad(results)
        self.assertEqual(set(bad), {"dns.spf"}, results)
        self.assertIn("more than 10 DNS lookups", bad["dns.spf"][0]["found"])
        self.assertIn('%s. IN TXT "v=spf1 mx -all"' % DOMAIN,
                      bad["dns.spf"][0]["fix"])

    def test_dkim_other_key(self):
        z = self.zone()
        name = sorted(self.dkim)[0]
        value = "".join(self.dkim[name])
        other = re.sub(r"p=[A-Za-z0-9+/=]+", "p=" + other_rsa_p(), value)
        z["txt"][name] = [other[i:i + 255] for i in range(0, len(other), 255)]
        r, results = self.diagnose(z)
        self.assertEqual(r.returncode, 1)
        bad = self.bad(results)
        self.assertEqual(set(bad), {"dns.dkim"}, results)
        x = bad["dns.dkim"][0]
        self.assertIn("different", x["found"])
        show = self.inst.cli("dkim", "show", DOMAIN).stdout
        line = [ln for ln in show.splitlines() if ln.startswith(name + ".")]
        self.assertTrue(line, show)
        self.assertIn(line[0], x["fix"])

    def test_dmarc_missing(self):
        z = self.zone()
        del z["txt"]["_dmarc." + DOMAIN]
        r, results = self.diagnose(z)
        self.assert_only(results, ["dns.dmarc"], "WARN",
                         '_dmarc.%s. IN TXT "%s"' % (DOMAIN, DMARC))

    def test_port25_unreachable(self):
        r, results = self.diagnose(self.zone(), greeter=False)
        self.assert_only(results, ["port25"], "WARN",
                         "outbound port 25 seems blocked (many VPS providers "
                         "block it; ask yours to open it, or use "
                         "relay.smarthost)")

    def test_no_dns(self):
        # The harness' default: a DNS server that refuses at once.
        r = self.inst.cli("diagnose", "--json", "--public-ip", IP,
                          "--timeout", "1", timeout=60)
        results = json.loads(r.stdout)
        dns = self.dns_results(results)
        self.assertTrue(dns)
        for x in dns:
            self.assertEqual(x["status"], "SKIP", x)
            self.assertTrue(x["found"].startswith("DNS unavailable: "), x)
        self.assertEqual(len(dns), len({x["check"] for x in dns}))


if __name__ == "__main__":
    unittest.main()
