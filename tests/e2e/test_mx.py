"""`rmail mx DOMAIN` against a real DNS server (dnsmasq on loopback):
preference order, shuffling of equal preferences, implicit MX, RFC 7505
null MX, NXDOMAIN, an MX target that is a CNAME, A+AAAA interleaving,
hosts without an address skipped, temporary failures (REFUSED, timeout),
domain literals, servers as [V6]:PORT."""

import unittest

from dnsserver import DnsServer, SilentServer, have_ipv6_loopback
from harness import Instance, SLOW

RECORDS = dict(
    mx=[
        ("two.test", "mx1.two.test", 10),
        ("two.test", "mx2.two.test", 20),
        ("eq.test", "a.eq.test", 10),
        ("eq.test", "b.eq.test", 10),
        ("eq.test", "c.eq.test", 10),
        ("eq.test", "z.eq.test", 5),
        ("cn.test", "alias.cn.test", 5),
        ("skip.test", "noaddr.skip.test", 10),
        ("skip.test", "mx2.two.test", 20),
        ("dead.test", "noaddr.dead.test", 10),
        ("dual.test", "mx.dual.test", 10),
    ],
    hosts={
        "mx1.two.test": ["192.0.2.1", "2001:db8::1"],
        "mx2.two.test": ["192.0.2.2"],
        "a.eq.test": ["192.0.2.11"],
        "b.eq.test": ["192.0.2.12"],
        "c.eq.test": ["192.0.2.13"],
        "z.eq.test": ["192.0.2.10"],
        "target.cn.test": ["192.0.2.30", "2001:db8::30"],
        "implicit.test": ["192.0.2.40"],
        "mx.dual.test": ["192.0.2.50", "192.0.2.51", "2001:db8::50",
                         "2001:db8::51"],
    },
    cname={"alias.cn.test": "target.cn.test"},
    null_mx=["nullmx.test"],
    txt={"two.test": ["v=spf1 -all"]},
)


def parse(out):
    """[(pref, name, [addrs])] from rmail mx's output."""
    rows = []
    for line in out.splitlines():
        f = line.split()
        rows.append((int(f[0]), f[1], f[2:]))
    return rows


class Mx(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.dns = DnsServer(ipv6=have_ipv6_loopback(), **RECORDS)
        cls.dns.start()
        try:
            cls.inst = Instance()
            cls.inst.edit_config(
                lambda c: c["relay"].update(dns_servers=[cls.dns.server]))
        except BaseException:
            cls.dns.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()
        cls.dns.stop()

    def mx(self, domain, rc=0):
        r = self.inst.cli("mx", domain)
        self.assertEqual(r.returncode, rc, "rmail mx %s: %s%s\ndnsmasq:\n%s"
                         % (domain, r.stdout, r.stderr, self.dns.log()[-3000:]))
        return r

    def test_preference_order(self):
        rows = parse(self.mx("two.test").stdout)
        self.assertEqual([(p, n) for p, n, _ in rows],
                         [(10, "mx1.two.test"), (20, "mx2.two.test")])
        self.assertEqual(rows[0][2], ["2001:db8::1", "192.0.2.1"])
        self.assertEqual(rows[1][2], ["192.0.2.2"])

    def test_case_and_trailing_dot(self):
        rows = parse(self.mx("TWO.Test.").stdout)
        self.assertEqual([n for _, n, _ in rows],
                         ["mx1.two.test", "mx2.two.test"])

    def test_equal_preferences_shuffled(self):
        orders = set()
        for _ in range(30):
            rows = parse(self.mx("eq.test").stdout)
            self.assertEqual(rows[0][:2], (5, "z.eq.test"))
            names = tuple(n for _, n, _ in rows[1:])
            self.assertEqual(sorted(names),
                             ["a.eq.test", "b.eq.test", "c.eq.test"])
            self.assertTrue(all(p == 10 for p, _, _ in rows[1:]))
            orders.add(names)
            if len(orders) >= 3:
                break
        # 30 draws of 6 equally likely orders: fewer than 3 distinct ones
        # happens with probability below 1e-15.
        self.assertGreaterEqual(len(orders), 3, orders)

    def test_implicit_mx(self):
        r = self.mx("implicit.test")
        self.assertEqual(parse(r.stdout),
                         [(0, "implicit.test", ["192.0.2.40"])])
        self.assertIn("implicit MX", r.stderr)

    def test_null_mx(self):
        r = self.mx("nullmx.test", rc=1)
        self.assertEqual(r.stdout, "")
        self.assertIn("null MX: nullmx.test does not accept mail (RFC 7505)",
                      r.stderr)

    def test_nxdomain(self):
        r = self.mx("nosuch.test", rc=1)
        self.assertEqual(r.stdout, "")
        self.assertIn("NXDOMAIN", r.stderr)
        self.assertIn("nosuch.test", r.stderr)

    def test_mx_target_is_cname(self):
        rows = parse(self.mx("cn.test").stdout)
        self.assertEqual(rows, [(5, "alias.cn.test",
                                 ["2001:db8::30", "192.0.2.30"])])

    def test_host_without_address_skipped(self):
        r = self.mx("skip.test")
        self.assertEqual(parse(r.stdout),
                         [(20, "mx2.two.test", ["192.0.2.2"])])
        self.assertIn("1 MX host of skip.test skipped", r.stderr)

    def test_no_host_has_an_address(self):
        r = self.mx("dead.test", rc=1)
        self.assertIn("no MX host has an address", r.stderr)

    def test_families_interleaved_v6_first(self):
        rows = parse(self.mx("dual.test").stdout)
        self.assertEqual(len(rows), 1)
        addrs = rows[0][2]
        self.assertEqual(sorted(addrs), sorted(RECORDS["hosts"]["mx.dual.test"]))
        fams = ["6" if ":" in a else "4" for a in addrs]
        self.assertEqual(fams, ["6", "4", "6", "4"])

    def test_refused_is_temporary(self):
        # dnsmasq forwards nothing: a name outside its local domains is
        # REFUSED.
        r = self.mx("example.com", rc=1)
        self.assertIn("temporary DNS failure: MX example.com", r.stderr)

    def test_literals(self):
        self.assertEqual(parse(self.mx("[192.0.2.99]").stdout),
                         [(0, "[192.0.2.99]", ["192.0.2.99"])])
        self.assertEqual(parse(self.mx("[IPv6:2001:db8::99]").stdout),
                         [(0, "[IPv6:2001:db8::99]", ["2001:db8::99"])])
        r = self.mx("[999.1.1.1]", rc=1)
        self.assertIn("invalid address literal", r.stderr)

    def test_invalid_domain(self):
        r = self.mx("bad_name..test", rc=1)
        self.assertIn("invalid domain name", r.stderr)

    def test_dns_server_option(self):
        r = self.inst.run_bin("mx", "--dns-server", self.dns.server,
                              "two.test")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(parse(r.stdout)), 2)

    @unittest.skipUnless(have_ipv6_loopback(), "no IPv6 loopback")
    def test_ipv6_server(self):
        r = self.inst.run_bin("mx", "--dns-server", self.dns.server6,
                              "two.test")
        self.assertEqual(r.returncode, 0, r.stderr + self.dns.log()[-2000:])
        self.assertEqual(len(parse(r.stdout)), 2)

    def test_usage(self):
        r = self.inst.run_bin("mx")
        self.assertEqual(r.returncode, 2)
        self.assertIn("usage: rmail mx", r.stderr)
        r = self.inst.run_bin("mx", "--dns-server", "not-an-ip", "x.test")
        self.assertEqual(r.returncode, 2)
        self.assertIn("invalid DNS server", r.stderr)


class MxTimeout(unittest.TestCase):

    def test_silent_server_is_temporary(self):
        inst = Instance(init=False)
        try:
            with SilentServer() as silent:
                r = inst.run_bin("mx", "--dns-server", silent.server,
                                 "two.test", timeout=30 * SLOW)
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn("temporary DNS failure: MX two.test: timeout",
                          r.stderr)
        finally:
            inst.cleanup()


if __name__ == "__main__":
    unittest.main()
