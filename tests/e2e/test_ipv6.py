"""Listeners on IPv6 alongside IPv4: a service bound to both 127.0.0.1 and
[::1] answers on each, and per-IP accounting keeps the two apart."""

import socket
import unittest

import harness
from harness import Instance


def have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@unittest.skipUnless(have_ipv6_loopback(), "no IPv6 loopback on this machine")
class Ipv6Listeners(unittest.TestCase):

    def setUp(self):
        self.inst = Instance()
        self.addCleanup(self.inst.cleanup)
        port = self.inst.ports["imap"]
        self.inst.edit_config(lambda c: c["listen"].update(
            imap=["127.0.0.1:%d" % port, "[::1]:%d" % port]))
        self.inst.set_limits(max_connections_per_ip=1)
        self.inst.start()
        self.port = port

    def greet(self, family, host):
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(10 * harness.SLOW)
        s.connect((host, self.port))
        self.addCleanup(s.close)
        return s.recv(200).decode()

    def test_both_families_answer_with_separate_caps(self):
        v4 = self.greet(socket.AF_INET, "127.0.0.1")
        self.assertTrue(v4.startswith("* OK"), v4)
        # Another address: not counted against 127.0.0.1's single slot.
        v6 = self.greet(socket.AF_INET6, "::1")
        self.assertTrue(v6.startswith("* OK"), v6)
        again = self.greet(socket.AF_INET6, "::1")
        self.assertTrue(again.startswith("* BYE"), again)
        self.assertIn("ip=::1", self.inst.log())
