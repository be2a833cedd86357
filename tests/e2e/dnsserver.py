"""
dnsserver: a real DNS server (Debian's dnsmasq-base) on a free loopback
port, answering only from the records it is given. Nothing is forwarded:
names under a local domain that it does not know get NXDOMAIN, names
elsewhere get REFUSED. No test needs the internet.

    dns = DnsServer(
        mx=[("two.test", "mx1.two.test", 10), ("two.test", "mx2.two.test", 20)],
        hosts={"mx1.two.test": ["192.0.2.1", "2001:db8::1"]},
        cname={"alias.test": "mx1.two.test"},
        txt={"two.test": ["v=spf1 -all"]},
        null_mx=["nullmx.test"],
        local=["test"])
    dns.start()
    dns.server        # "127.0.0.1:PORT", for relay.dns_servers
    dns.query("two.test", "MX")   # (rcode, ancount), a tiny stub client
    dns.stop()

or `with DnsServer(...) as dns:`. start() raises unittest.SkipTest when
dnsmasq is not installed (packaging/deps.sh installs dnsmasq-base), and
DnsServerError when it does not come up (its log is in the message).

Standard library only.
"""

import os
import pwd
import grp
import random
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import unittest

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"

QTYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15,
          "TXT": 16, "AAAA": 28}


class DnsServerError(AssertionError):
    pass


def have_dnsmasq():
    return os.access(DNSMASQ, os.X_OK)


def have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def _free_port(v6=False):
    """A port free for both UDP and TCP on the loopback address(es)."""
    for _ in range(200):
        port = random.randint(20000, 60000)
        addrs = [(socket.AF_INET, "127.0.0.1")]
        if v6:
            addrs.append((socket.AF_INET6, "::1"))
        try:
            for fam, host in addrs:
                for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                    with socket.socket(fam, kind) as s:
                        s.bind((host, port))
            return port
        except OSError:
            continue
    raise DnsServerError("no free port for the DNS server")


def _arpa(addr):
    """The reverse name of an IPv4/IPv6 address; names pass through."""
    try:
        return ".".join(reversed(addr.split("."))) + ".in-addr.arpa" \
            if socket.inet_pton(socket.AF_INET, addr) else addr
    except OSError:
        pass
    try:
        b = socket.inet_pton(socket.AF_INET6, addr).hex()
        return ".".join(reversed(b)) + ".ip6.arpa"
    except OSError:
        return addr


def build_query(name, qtype, qid=None):
    qid = random.randint(0, 0xffff) if qid is None else qid
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        b = label.encode("ascii")
        q += bytes([len(b)]) + b
    q += b"\0" + struct.pack("!HH", QTYPES.get(qtype, qtype), 1)
    return qid, q


class DnsServer:
    def __init__(self, mx=(), hosts=None, cname=None, txt=None, null_mx=(),
                 local=("test",), ttl=0, ipv6=False, ptr=None,
                 a_noptr=None, txt_raw=False):
        """mx: (domain, host, preference) triples; hosts: name -> list of
        IPv4/IPv6 addresses; cname: alias -> target (a name dnsmasq knows);
        txt: name -> list of strings; null_mx: domains with the RFC 7505
        record (MX 0 "."); local: domains dnsmasq is authoritative for
        (NXDOMAIN for unknown names); ttl: of host records (dnsmasq's
        default 0 keeps resolvers from caching); ipv6: listen on ::1
        too (server6 then gives "[::1]:PORT"); ptr: IPv4 address (or
        in-addr.arpa/ip6.arpa name) -> host name of its PTR record;
        a_noptr: name -> IPv4 addresses served as A records without the
        PTR records --host-record adds; txt_raw: pass the TXT strings to
        dnsmasq without quotes, which it would keep (strings then must
        not hold commas, dnsmasq's separator)."""
        self.mx = list(mx)
        self.hosts = dict(hosts or {})
        self.cname = dict(cname or {})
        self.txt = dict(txt or {})
        self.null_mx = list(null_mx)
        self.local = list(local)
        self.ttl = ttl
        self.ipv6 = ipv6
        self.ptr = dict(ptr or {})
        self.a_noptr = dict(a_noptr or {})
        self.txt_raw = txt_raw
        self.port = None
        self.proc = None
        self.dir = None
        self.logpath = None

    @property
    def server(self):
        return "127.0.0.1:%d" % self.port

    @property
    def server6(self):
        return "[::1]:%d" % self.port

    def args(self):
        a = [DNSMASQ, "--no-daemon", "--conf-file=/dev/null", "--no-resolv",
             "--no-hosts", "--no-poll", "--pid-file=",
             "--port=%d" % self.port, "--bind-interfaces",
             "--listen-address=127.0.0.1" + (",::1" if self.ipv6 else ""),
             "--log-queries", "--cache-size=0"]
        # Stay who we are: as root dnsmasq would switch to "nobody"; as
        # anyone else it cannot switch at all.
        try:
            a.append("--user=" + pwd.getpwuid(os.getuid()).pw_name)
            a.append("--group=" + grp.getgrgid(os.getgid()).gr_name)
        except KeyError:
            pass
        if self.ttl:
            a.append("--local-ttl=%d" % self.ttl)
        for d in self.local:
            a.append("--local=/%s/" % d)
        for dom, host, pref in self.mx:
            a.append("--mx-host=%s,%s,%d" % (dom, host, pref))
        for dom in self.null_mx:
            # MX RDATA: preference 0, exchange the root (one zero byte).
            a.append("--dns-rr=%s,15,000000" % dom)
        for name, addrs in self.hosts.items():
            for addr in addrs:
                a.append("--host-record=%s,%s" % (name, addr))
        for alias, target in self.cname.items():
            a.append("--cname=%s,%s" % (alias, target))
        for name, strings in self.txt.items():
            if self.txt_raw:
                assert not any("," in s for s in strings), strings
                a.append("--txt-record=%s,%s" % (name, ",".join(strings)))
            else:
                a.append("--txt-record=%s,%s" % (
                    name, ",".join('"%s"' % s for s in strings)))
        for addr, host in self.ptr.items():
            a.append("--ptr-record=%s,%s" % (_arpa(addr), host))
        for name, addrs in self.a_noptr.items():
            for addr in addrs:
                # Raw RDATA (type 1): four bytes in hex.
                a.append("--dns-rr=%s,1,%s" % (
                    name, socket.inet_aton(addr).hex()))
        return a

    def start(self, timeout=5.0):
        if not have_dnsmasq():
            raise unittest.SkipTest(
                "dnsmasq not installed (apt-get install dnsmasq-base, "
                "or sh packaging/deps.sh as root)")
        self.dir = tempfile.mkdtemp(prefix="rmail-dns-")
        self.logpath = os.path.join(self.dir, "dnsmasq.log")
        last = ""
        for _ in range(5):
            self.port = _free_port(self.ipv6)
            with open(self.logpath, "w") as log:
                self.proc = subprocess.Popen(
                    self.args(), stdin=subprocess.DEVNULL, stdout=log,
                    stderr=subprocess.STDOUT)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if self.query("ready.invalid", "A", timeout=0.2) is not None:
                    return self
                time.sleep(0.05)
            last = self.log()
            self._kill()
            if "Address already in use" not in last:
                break
        raise DnsServerError("dnsmasq did not start:\n%s\n%s"
                             % (" ".join(self.args()), last))

    def query(self, name, qtype="A", timeout=2.0):
        """(rcode, ancount) of one UDP query, or None on a timeout."""
        qid, q = build_query(name, qtype)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(timeout)
            try:
                s.sendto(q, ("127.0.0.1", self.port))
                while True:
                    r, _ = s.recvfrom(4096)
                    if len(r) >= 12 and struct.unpack("!H", r[:2])[0] == qid:
                        return r[3] & 0x0f, struct.unpack("!H", r[6:8])[0]
            except (socket.timeout, ConnectionRefusedError):
                return None

    def log(self):
        try:
            with open(self.logpath, errors="replace") as f:
                return f.read()
        except (OSError, TypeError):
            return ""

    def _kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def stop(self):
        self._kill()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class SilentServer:
    """A UDP and TCP port on 127.0.0.1 that takes queries and never
    answers: the resolver times out."""

    def __init__(self):
        self.port = _free_port()
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.bind(("127.0.0.1", self.port))
        self.tcp.listen(8)

    @property
    def server(self):
        return "127.0.0.1:%d" % self.port

    def close(self):
        self.udp.close()
        self.tcp.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
