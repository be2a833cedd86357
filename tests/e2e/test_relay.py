"""The outbound relay end to end: mail submitted on 587 (STARTTLS + AUTH)
to remote domains whose MX records a real DNS server (dnsmasq,
dnsserver.py) points at real SMTP sinks (aiosmtpd, smtpsink.py) on
127.0.0.x, all on one port (relay.smtp_port).

Cases: delivered with a DKIM signature python3-dkim accepts against the
TXT record served by dnsmasq (and rejects after one body byte changes),
over STARTTLS, ended with QUIT; first MX refuses, second receives; implicit
MX; 451 then success on retry; `rmail queue flush`; a DNS temporary
failure defers; 550 at RCPT or 554 at DATA -> RFC 3464 bounce in the
sender's INBOX; null MX and NXDOMAIN -> bounce; smarthost with STARTTLS/implicit TLS, AUTH and certificate
verification (a wrong CA keeps the mail deferred, never plaintext);
restart with deferred mail; a bounce to the null sender is dropped; more
than 50 Received headers -> bounce, no hop.

No skips: packaging/deps.sh installs dnsmasq-base, python3-aiosmtpd and
python3-dkim.
"""

import email
import email.policy
import os
import re
import shutil
import signal
import smtplib
import socket
import struct
import tempfile
import time
import unittest

import dkim      # python3-dkim

from dnsserver import DnsServer, build_query
from harness import ADMIN, ADMIN_PASSWORD, DOMAIN, HOSTNAME, SLOW, Instance
from smtp_util import inbox_files
from smtpsink import Sink, free_port, make_cert

# Sink addresses, one per role; every sink listens on the same port.
ADDR = {
    "dom1": "127.0.0.2",        # delivered, DKIM, STARTTLS
    "dom2_mx1": "127.0.0.3",    # nothing listens (pref 10)
    "dom2_mx2": "127.0.0.4",    # receives (pref 20)
    "smarthost": "127.0.0.5",
    "dom3": "127.0.0.6",        # 451 then 250
    "dom4": "127.0.0.7",        # 550
    "dom6": "127.0.0.8",        # MX that the smarthost mode must bypass
    "dom7": "127.0.0.9",        # restart
    "dom8": "127.0.0.10",       # 550 to a null sender's forwarded mail
    "dom9": "127.0.0.11",       # mail loop: must see nothing
    "implicit": "127.0.0.12",   # implicit.test: an A record, no MX
}

RECORDS = dict(
    mx=[
        ("dom1.test", "mx.dom1.test", 10),
        ("dom2.test", "mx1.dom2.test", 10),
        ("dom2.test", "mx2.dom2.test", 20),
        ("dom3.test", "mx.dom3.test", 10),
        ("dom4.test", "mx.dom4.test", 10),
        ("dom6.test", "mx.dom6.test", 10),
        ("dom7.test", "mx.dom7.test", 10),
        ("dom8.test", "mx.dom8.test", 10),
        ("dom9.test", "mx.dom9.test", 10),
    ],
    hosts={
        "mx.dom1.test": [ADDR["dom1"]],
        "mx1.dom2.test": [ADDR["dom2_mx1"]],
        "mx2.dom2.test": [ADDR["dom2_mx2"]],
        "mx.dom3.test": [ADDR["dom3"]],
        "mx.dom4.test": [ADDR["dom4"]],
        "mx.dom6.test": [ADDR["dom6"]],
        "mx.dom7.test": [ADDR["dom7"]],
        "mx.dom8.test": [ADDR["dom8"]],
        "mx.dom9.test": [ADDR["dom9"]],
        "smarthost.test": [ADDR["smarthost"]],
        "implicit.test": [ADDR["implicit"]],
    },
    null_mx=["nullmx.test"],
    # nosuch.test: unknown under the local "test" domain: NXDOMAIN.
)

SELECTOR = "rmail"
ZONE_LINE = re.compile(r'^(\S+)\. IN TXT \( ((?:"(?:[^"\\]|\\.)*" ?)+)\)$')
STATE = re.compile(r"(\S+@[^\s:()]+):([a-z]+)")
RELAY_USER, RELAY_PASS = "relay-user", "relay-secret"


def dkim_records(text):
    """{name: [strings]} from `rmail dkim show` output."""
    recs = {}
    for line in text.splitlines():
        m = ZONE_LINE.match(line)
        if m is None:
            raise AssertionError("not a zone line: %r" % line)
        recs[m.group(1)] = [re.sub(r'\\(.)', r'\1', s) for s in
                            re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(2))]
    return recs


class TxtDnsServer(DnsServer):
    """DnsServer with TXT records dnsmasq serves as given: DnsServer
    passes each string in double quotes, which dnsmasq keeps as part of
    the text on its command line ("\"v=DKIM1; ..."). The strings here
    hold no commas, dnsmasq's separator."""

    def args(self):
        a = [x for x in super().args() if not x.startswith("--txt-record=")]
        for name, strings in self.txt.items():
            assert not any("," in s for s in strings), strings
            a.append("--txt-record=%s,%s" % (name, ",".join(strings)))
        return a


def _skip_name(buf, i):
    while True:
        n = buf[i]
        if n == 0:
            return i + 1
        if n & 0xc0 == 0xc0:
            return i + 2
        i += 1 + n


def dns_txt(port, name, timeout=2.0):
    """The TXT records of name from the DNS server on 127.0.0.1:port, each
    as its strings joined (what a DKIM verifier reads); [] if none."""
    qid, q = build_query(name, "TXT")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(q, ("127.0.0.1", port))
        while True:
            r, _ = s.recvfrom(65535)
            if struct.unpack("!H", r[:2])[0] == qid:
                break
    if r[2] & 0x02:
        raise AssertionError("TXT answer truncated for %s" % name)
    qd, an = struct.unpack("!HH", r[4:8])
    i = 12
    for _ in range(qd):
        i = _skip_name(r, i) + 4
    out = []
    for _ in range(an):
        i = _skip_name(r, i)
        rtype, _cls, _ttl, rdlen = struct.unpack("!HHIH", r[i:i + 10])
        i += 10
        rd = r[i:i + rdlen]
        i += rdlen
        if rtype != 16:
            continue
        j, txt = 0, b""
        while j < len(rd):
            n = rd[j]
            txt += rd[j + 1:j + 1 + n]
            j += 1 + n
        out.append(txt)
    return out


def unfold(v):
    return re.sub(r"\s+", " ", str(v)).strip()


def parse_dsn(raw):
    """(message, [per-recipient field dicts], per-message dict, headers
    part text) of an RFC 3464 bounce; AssertionError when not one."""
    m = email.message_from_bytes(raw, policy=email.policy.compat32)
    if m.get_content_type() != "multipart/report":
        raise AssertionError("bounce is %s, not multipart/report:\n%s"
                             % (m.get_content_type(), raw.decode("utf-8",
                                                                 "replace")))
    if (m.get_param("report-type") or "").lower() != "delivery-status":
        raise AssertionError("report-type is %r" % m.get_param("report-type"))
    parts = m.get_payload()
    ds = [p for p in parts if p.get_content_type() == "message/delivery-status"]
    hd = [p for p in parts if p.get_content_type() == "text/rfc822-headers"]
    if len(ds) != 1 or len(hd) != 1:
        raise AssertionError("parts: %s" % [p.get_content_type() for p in parts])
    blocks = ds[0].get_payload()
    if not isinstance(blocks, list) or len(blocks) < 2:
        raise AssertionError("delivery-status part has %r blocks:\n%s"
                             % (blocks, ds[0].as_string()))
    per_msg = {k.lower(): unfold(v) for k, v in blocks[0].items()}
    per_rcpt = [{k.lower(): unfold(v) for k, v in b.items()}
                for b in blocks[1:]]
    headers = hd[0].get_payload(decode=True).decode("utf-8", "replace")
    return m, per_rcpt, per_msg, headers


def recipient(per_rcpt, addr):
    want = "rfc822; " + addr.lower()
    for r in per_rcpt:
        fr = re.sub(r"\s*;\s*", "; ", r.get("final-recipient", "")).lower()
        if fr == want:
            return r
    raise AssertionError("no Final-Recipient %s in %r" % (want, per_rcpt))


class RelayBase(unittest.TestCase):
    """A DNS server and a sink port per class; an rmail Instance per test,
    relay.dns_servers and relay.smtp_port pointing at them."""

    schedule = [60]     # retry schedule; long unless a test retries

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="rmail-relay-")
        try:
            cls.dns = DnsServer(**RECORDS)
            cls.dns.start()
            cls.port = free_port(list(ADDR.values()))
            cls.mx_cert = make_cert(cls.tmp, "mx.test",
                                    ips=list(ADDR.values()))
        except BaseException:
            cls._teardown_class()
            raise

    @classmethod
    def _teardown_class(cls):
        if getattr(cls, "dns", None) is not None:
            cls.dns.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def tearDownClass(cls):
        cls._teardown_class()

    def setUp(self):
        self.sinks = []
        self.inst = Instance()
        self.addCleanup(self.inst.cleanup)
        self.configure(self.dns.server)

    def tearDown(self):
        self.inst.close_clients()
        self.inst.stop()

    def configure(self, dns_server, smarthost=None, schedule=None):
        def f(c):
            c["relay"].update(
                dns_servers=[dns_server], smtp_port=self.port,
                retry={"schedule_secs": schedule or self.schedule,
                       "max_age_secs": 600, "delay_notice_secs": 0})
            if smarthost is not None:
                c["relay"]["smarthost"] = smarthost
        self.inst.edit_config(f)

    def sink(self, role, start=True, **kw):
        kw.setdefault("starttls", self.mx_cert)
        s = Sink(ADDR[role], self.port, **kw)
        self.sinks.append(s)
        self.addCleanup(s.stop)
        if start:
            s.start()
        return s

    # ----- diagnostics -----

    def diag(self):
        parts = ["--- sinks:"] + [s.transcript() for s in self.sinks]
        r = self.inst.cli("queue", "list")
        parts.append("--- rmail queue list:\n" + r.stdout + r.stderr)
        parts.append("--- server log (tail):\n" + self.inst.log()[-4000:])
        return "\n".join(parts)

    # ----- submission -----

    def message(self, to, subject, body="Hello from the relay test.\r\n",
                extra=""):
        return (
            "From: Admin <%s>\r\n"
            "To: %s\r\n"
            "Subject: %s\r\n"
            "Date: Mon, 01 Jan 2024 12:00:00 +0000\r\n"
            "Message-ID: <%s.%d@example.test>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n"
            "%s"
            "\r\n%s" % (ADMIN, ", ".join(to), subject,
                        re.sub(r"\W", "-", subject), os.getpid(), extra,
                        body)).encode()

    def submit(self, rcpts, subject="relay test", data=None, **kw):
        """Submit on 587 with STARTTLS and AUTH as ADMIN; the bytes sent."""
        if data is None:
            data = self.message(rcpts, subject, **kw)
        s = smtplib.SMTP(HOSTNAME, self.inst.ports["submission"],
                         timeout=10 * SLOW)
        try:
            s.ehlo("client.test")
            s.starttls(context=self.inst.ssl_context())
            s.ehlo("client.test")
            s.login(ADMIN, ADMIN_PASSWORD)
            refused = s.sendmail(ADMIN, rcpts, data)
            self.assertEqual(refused, {})
            s.quit()
        finally:
            s.close()
        return data

    # ----- the queue -----

    def queue_list(self):
        r = self.inst.cli("queue", "list")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout

    def states(self):
        """{recipient: state word} over the whole queue."""
        return {a.lower(): st for a, st in STATE.findall(self.queue_list())}

    def wait_state(self, addr, state, timeout=5.0):
        deadline = time.monotonic() + timeout * SLOW
        seen = []
        while True:
            st = self.states().get(addr.lower())
            if not seen or seen[-1] != st:
                seen.append(st)
            if st == state:
                return seen
            if time.monotonic() > deadline:
                self.fail("%s never %s (states seen: %s)\n%s"
                          % (addr, state, seen, self.diag()))
            time.sleep(0.05)

    def wait_queue_empty(self, timeout=5.0):
        deadline = time.monotonic() + timeout * SLOW
        while True:
            out = self.queue_list()
            if out == "":
                return
            if time.monotonic() > deadline:
                self.fail("queue not empty:\n%s\n%s" % (out, self.diag()))
            time.sleep(0.05)

    def wait_received(self, sink, n=1, timeout=5.0):
        msgs = sink.wait_messages(n, timeout * SLOW)
        if len(msgs) < n:
            self.fail("sink %s got %d message(s), want %d\n%s"
                      % (sink.addr, len(msgs), n, self.diag()))
        return msgs

    # ----- the INBOX -----

    def inbox(self):
        """Every message in admin's INBOX over IMAPS (BODY.PEEK[])."""
        m = self.inst.imap4_ssl()
        try:
            m.login(ADMIN, ADMIN_PASSWORD)
            typ, _ = m.select("INBOX", readonly=True)
            self.assertEqual(typ, "OK")
            typ, data = m.search(None, "ALL")
            out = []
            for num in data[0].split():
                typ, d = m.fetch(num, "(BODY.PEEK[])")
                self.assertEqual(typ, "OK")
                out.append(d[0][1])
            m.logout()
        finally:
            self.inst.close_clients()
        return out

    def wait_bounces(self, n=1, timeout=5.0):
        deadline = time.monotonic() + timeout * SLOW
        while len(inbox_files(self.inst)) < n:
            if time.monotonic() > deadline:
                self.fail("no bounce in %s's INBOX\n%s" % (ADMIN, self.diag()))
            time.sleep(0.05)
        return self.inbox()

    def check_bounce(self, raw, rcpt, subject, status_class="5",
                     diagnostic=None):
        """The RFC 3464 checks every bounce must pass; the recipient's
        per-recipient fields."""
        self.assertTrue(raw.startswith(b"Return-Path: <>\r\n"),
                        "bounce not from the null sender:\n%r" % raw[:300])
        m, per_rcpt, per_msg, headers = parse_dsn(raw)
        self.assertIn("mailer-daemon", (m["From"] or "").lower(), m["From"])
        self.assertIn(ADMIN, m["To"] or "")
        self.assertIn("reporting-mta", per_msg, per_msg)
        r = recipient(per_rcpt, rcpt)
        self.assertEqual(r.get("action", "").lower(), "failed", r)
        self.assertRegex(r.get("status", ""),
                         r"^%s\.\d{1,3}\.\d{1,3}$" % status_class, r)
        if diagnostic is not None:
            self.assertIn("diagnostic-code", r, r)
            self.assertRegex(r["diagnostic-code"], r"^(?i:smtp); ", r)
            self.assertIn(diagnostic, r["diagnostic-code"], r)
        self.assertIn("Subject: %s" % subject, headers)
        self.assertNotIn("Hello from the relay test", headers,
                         "text/rfc822-headers carries the body")
        return r, per_rcpt


class Delivery(RelayBase):

    def test_stop_waits_for_a_delivery_in_flight(self):
        """SIGTERM while a remote is inside DATA: the server waits for its
        answer (within the grace period) and records the delivery, so
        the message is not sent a second time after the restart."""
        sink = self.sink("dom1", data_delay=1.0 * SLOW)
        self.inst.set_limits(shutdown_grace_secs=int(10 * SLOW))
        self.inst.start()
        self.submit(["user@dom1.test"], "in flight at stop")
        self.assertTrue(sink.data_started.wait(10 * SLOW), self.diag())
        self.inst.signal(signal.SIGTERM)
        self.assertEqual(self.inst.wait(15 * SLOW), 0, self.inst.log())
        log = self.inst.log()
        self.assertNotIn("grace period over", log)
        self.assertRegex(log, r"event=delivered id=\w+ to=user@dom1.test relay=")
        self.assertEqual(len(sink.messages), 1)
        self.inst.start()
        self.assertEqual(self.inst.cli("queue", "list").stdout.strip(), "")
        time.sleep(1.0 * SLOW)
        self.assertEqual(len(sink.messages), 1, self.diag())

    def test_delivered_signed_over_starttls(self):
        # The DKIM key is this instance's (rmail init made it): its TXT
        # record goes into a DNS server of its own.
        r = self.inst.cli("dkim", "show", DOMAIN)
        self.assertEqual(r.returncode, 0, r.stderr)
        txt = dkim_records(r.stdout)
        name = "%s._domainkey.%s" % (SELECTOR, DOMAIN)
        self.assertIn(name, txt)
        dns = TxtDnsServer(txt=txt, **RECORDS)
        dns.start()
        self.addCleanup(dns.stop)
        self.configure(dns.server)
        self.assertEqual(dns_txt(dns.port, name),
                         ["".join(txt[name]).encode()])
        sink = self.sink("dom1")
        self.inst.start()

        sent = self.submit(["user@dom1.test"], "signed and sent",
                           body="this message is signed.\r\n"
                           ".a line with a leading dot\r\n..two\r\n")
        got = self.wait_received(sink)[0]
        self.assertEqual(got.mail_from, ADMIN)
        self.assertEqual(got.rcpts, ["user@dom1.test"])
        self.assertTrue(got.tls, "STARTTLS offered but not used\n"
                        + sink.transcript())
        self.assertEqual(got.helo, HOSTNAME)
        # What was submitted arrives after the added trace/signature
        # headers, untouched.
        self.assertTrue(got.data.endswith(sent.split(b"\r\n\r\n", 1)[1]),
                        got.data)
        self.assertEqual(got.data.count(b"\r\nSubject: signed and sent\r\n"), 1)

        def dnsfunc(qname, timeout=5):
            recs = dns_txt(dns.port, qname.decode().rstrip("."))
            return recs[0] if recs else None

        self.assertIn(b"DKIM-Signature:", got.data)
        sigs = re.findall(rb"^DKIM-Signature:.*?(?=^\S)", got.data,
                          re.M | re.S)
        self.assertEqual(len(sigs), 1, got.data)
        self.assertIn(b"d=%s;" % DOMAIN.encode(), sigs[0])
        self.assertIn(b"s=%s;" % SELECTOR.encode(), sigs[0])
        self.assertIn(b"a=rsa-sha256;", sigs[0])
        self.assertTrue(dkim.verify(got.data, dnsfunc=dnsfunc),
                        "python3-dkim rejects the signature:\n%s"
                        % got.data.decode("utf-8", "replace"))
        bad = got.data.replace(b"this message is signed",
                               b"this message is sigmed")
        self.assertNotEqual(bad, got.data)
        self.assertFalse(dkim.verify(bad, dnsfunc=dnsfunc))

        # One session, ended with QUIT (RFC 5321 4.1.1.10: MUST).
        self.assertEqual(len(sink.sessions), 1, sink.transcript())
        self.assertTrue(sink.wait_closed(0, 5 * SLOW), sink.transcript())
        self.assertTrue(sink.sent_quit(0), "no QUIT before the close:\n"
                        + sink.transcript())
        self.wait_queue_empty()
        self.assertEqual(len(sink.messages), 1)

    def test_first_mx_refuses_second_receives(self):
        down = self.sink("dom2_mx1", start=False)    # nothing listens
        sink = self.sink("dom2_mx2", starttls=None)   # no STARTTLS offered
        self.inst.start()
        self.submit(["user@dom2.test"], "second mx")
        # The schedule is 60 s: this is the first attempt.
        got = self.wait_received(sink)
        self.assertEqual(got[0].rcpts, ["user@dom2.test"])
        self.assertFalse(got[0].tls)      # opportunistic: plaintext is fine
        self.assertEqual(down.sessions, [])
        self.wait_queue_empty()

    def test_451_then_delivered_on_retry(self):
        self.configure(self.dns.server, schedule=[2])
        sink = self.sink("dom3")
        sink.script_rcpt("user@dom3.test", "451 4.3.0 Try again later",
                         "250 2.1.5 OK")
        self.inst.start()
        self.submit(["user@dom3.test"], "retry me")
        # In between: deferred (the retry is 2 s away).
        seen = self.wait_state("user@dom3.test", "deferred", timeout=3)
        self.assertNotIn("bounced", seen)
        got = self.wait_received(sink, timeout=8)
        self.assertEqual(got[0].rcpts, ["user@dom3.test"])
        self.assertGreaterEqual(len(sink.sessions), 2, sink.transcript())
        gap = sink.sessions[1].started - sink.sessions[0].started
        self.assertGreater(gap, 1.5, "retried after %.2f s, schedule is 2 s"
                           % gap)
        self.wait_queue_empty()
        self.assertEqual(len(sink.messages), 1)
        self.assertEqual(inbox_files(self.inst), [], "a bounce or notice")

    def test_implicit_mx(self):
        sink = self.sink("implicit")
        self.inst.start()
        self.submit(["user@implicit.test"], "implicit mx")
        got = self.wait_received(sink)
        self.assertEqual(got[0].rcpts, ["user@implicit.test"])
        self.wait_queue_empty()

    def test_dns_temporary_failure_defers(self):
        # dnsmasq forwards nothing: example.com is REFUSED, a temporary
        # failure (issue 6: SERVFAIL and timeouts are temporary).
        self.inst.start()
        self.submit(["user@example.com"], "dns trouble")
        self.wait_state("user@example.com", "deferred")
        self.assertEqual(inbox_files(self.inst), [], "bounced:\n"
                         + self.diag())

    def test_flush_retries_deferred_now(self):
        self.configure(self.dns.server, schedule=[3600])
        sink = self.sink("dom3")
        sink.script_rcpt("user@dom3.test", "451 4.3.0 Try again later",
                         "250 2.1.5 OK")
        self.inst.start()
        self.submit(["user@dom3.test"], "flush me")
        self.wait_state("user@dom3.test", "deferred")
        r = self.inst.cli("queue", "flush")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        got = self.wait_received(sink)
        self.assertEqual(got[0].rcpts, ["user@dom3.test"])
        self.wait_queue_empty()

    def test_restart_with_deferred_mail(self):
        self.configure(self.dns.server, schedule=[2])
        sink = self.sink("dom7", start=False)       # down
        self.inst.start()
        self.submit(["user@dom7.test"], "survives a restart")
        self.wait_state("user@dom7.test", "deferred")
        # The sink comes back while the retry is still 2 s away, so the
        # server is down only for the restart itself (another run could
        # take its free ports meanwhile).
        sink.start()
        self.assertEqual(self.inst.stop(), 0)
        stopped = time.monotonic()
        self.assertEqual(sink.sessions, [], "retried before the restart")
        # The deferral is on disk, seen with the server stopped.
        self.assertEqual(self.states().get("user@dom7.test"), "deferred",
                         self.queue_list())
        off = self.inst.log_size()
        self.inst.start()
        self.assertIsNotNone(self.inst.wait_log(
            lambda l: "event=ready" in l and "pid=%d" % self.inst.pid in l,
            since=off), "not our server on our ports:\n" + self.inst.log())
        got = self.wait_received(sink, timeout=10)
        self.assertGreater(sink.sessions[0].started, stopped)
        self.assertEqual(got[0].rcpts, ["user@dom7.test"])
        self.assertIn(b"Subject: survives a restart\r\n", got[0].data)
        self.wait_queue_empty()
        self.assertEqual(len(sink.messages), 1)


class Bounces(RelayBase):

    def test_550_bounces_to_sender(self):
        sink = self.sink("dom4")
        text = "5.1.1 <user@dom4.test>: no such mailbox here"
        sink.script_rcpt("user@dom4.test", "550 " + text)
        self.inst.start()
        self.submit(["user@dom4.test", "ok@dom4.test"], "will bounce")
        # The other recipient is delivered; only the refused one bounces.
        got = self.wait_received(sink)
        self.assertEqual(got[0].rcpts, ["ok@dom4.test"])
        # One connection carried both recipients.
        self.assertEqual(len(sink.sessions), 1, sink.transcript())
        self.assertEqual(len([c for c in sink.commands()
                              if c.upper().startswith("RCPT")]), 2)
        msgs = self.wait_bounces()
        self.assertEqual(len(msgs), 1)
        r, per_rcpt = self.check_bounce(msgs[0], "user@dom4.test",
                                        "will bounce", diagnostic="550 " + text)
        self.assertEqual(r["status"], "5.1.1", r)
        self.assertEqual(len(per_rcpt), 1, per_rcpt)
        self.wait_queue_empty()

    def test_data_rejected_bounces(self):
        sink = self.sink("dom4")
        sink.script_data("554 5.6.0 Message content rejected here")
        self.inst.start()
        self.submit(["a@dom4.test", "b@dom4.test"], "refused at data")
        msgs = self.wait_bounces()
        self.assertEqual(len(msgs), 1)
        for rcpt in ("a@dom4.test", "b@dom4.test"):
            r, per_rcpt = self.check_bounce(
                msgs[0], rcpt, "refused at data",
                diagnostic="554 5.6.0 Message content rejected here")
            self.assertEqual(r["status"], "5.6.0", r)
        self.assertEqual(len(per_rcpt), 2, per_rcpt)
        self.assertEqual(sink.messages, [])
        self.wait_queue_empty()

    def test_null_mx_bounces(self):
        self.inst.start()
        self.submit(["user@nullmx.test"], "null mx")
        msgs = self.wait_bounces()
        self.assertEqual(len(msgs), 1)
        self.check_bounce(msgs[0], "user@nullmx.test", "null mx")
        self.wait_queue_empty()
        # RFC 7505: no connection attempt at all.
        self.assertNotIn("event=relay-connect", self.inst.log())

    def test_nxdomain_bounces(self):
        self.inst.start()
        self.submit(["user@nosuch.test"], "no such domain")
        msgs = self.wait_bounces()
        self.assertEqual(len(msgs), 1)
        self.check_bounce(msgs[0], "user@nosuch.test", "no such domain")
        self.wait_queue_empty()

    def test_bounce_to_null_sender_dropped(self):
        self.inst.edit_config(lambda c: c["aliases"].update(
            {"fwd@" + DOMAIN: ["x@dom8.test"]}))
        sink = self.sink("dom8")
        sink.script_rcpt("x@dom8.test", "550 5.1.1 <x@dom8.test>: no such user")
        self.inst.start()
        off = self.inst.log_size()
        s = smtplib.SMTP("127.0.0.1", self.inst.ports["smtp"],
                         timeout=10 * SLOW)
        try:
            s.ehlo("remote.test")
            refused = s.sendmail("", ["fwd@" + DOMAIN], self.message(
                ["fwd@" + DOMAIN], "from the null sender"))
            self.assertEqual(refused, {})
            s.quit()
        finally:
            s.close()
        # The relay tried the forward, and was refused.
        self.assertIsNotNone(
            sink.wait_command(lambda c: c.upper().startswith("RCPT")
                              and "x@dom8.test" in c, 5 * SLOW),
            self.diag())
        self.wait_queue_empty()
        line = self.inst.wait_log(lambda l: "dropped" in l.lower(), since=off)
        self.assertIsNotNone(line, "no 'dropped' in the log\n" + self.diag())
        time.sleep(0.3 * SLOW)
        self.assertEqual(inbox_files(self.inst), [], self.diag())
        self.assertEqual(self.queue_list(), "")
        self.assertEqual(sink.messages, [])

    def test_mail_loop_bounces_without_hop(self):
        sink = self.sink("dom9")
        self.inst.start()
        received = "".join(
            "Received: from hop%d.test (hop%d.test [192.0.2.%d])\r\n"
            "\tby hop%d.test; Mon, 01 Jan 2024 11:%02d:00 +0000\r\n"
            % (i, i, i + 1, i + 1, i) for i in range(51))
        data = received.encode() + self.message(["user@dom9.test"],
                                                "looping")
        self.submit(["user@dom9.test"], data=data)
        msgs = self.wait_bounces()
        self.assertEqual(len(msgs), 1)
        self.check_bounce(msgs[0], "user@dom9.test", "looping")
        self.wait_queue_empty()
        self.assertEqual(sink.messages, [])
        self.assertEqual(sink.sessions, [], sink.transcript())


class Smarthost(RelayBase):

    schedule = [1]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sh_cert = make_cert(cls.tmp, "smarthost.test",
                                ips=[ADDR["smarthost"]])

    # By name (resolved through relay.dns_servers) unless a test says
    # otherwise: test_starttls_auth_by_ip covers an IP address as host.

    def smarthost(self, host=ADDR["smarthost"], tls="starttls", ca=None,
                  **kw):
        sink = self.sink("smarthost", auth={RELAY_USER: RELAY_PASS},
                         auth_required=True, **kw)
        self.configure(self.dns.server, smarthost={
            "host": host, "port": self.port, "tls": tls,
            "username": RELAY_USER, "password": RELAY_PASS,
            "ca_file": ca or self.sh_cert.cert})
        return sink

    def check_through(self, sink, mx):
        self.inst.start()
        rcpts = ["user@dom6.test", "someone@nosuch.test"]
        self.submit(rcpts, "via the smarthost")
        deadline = time.monotonic() + 5 * SLOW
        while True:
            got = sink.wait_messages(1, 0.1)
            seen = sorted(r for m in got for r in m.rcpts)
            if seen == sorted(rcpts) or time.monotonic() > deadline:
                break
        self.assertEqual(seen, sorted(rcpts), self.diag())
        for m in got:
            self.assertTrue(m.tls, sink.transcript())
            self.assertEqual(m.auth_user, RELAY_USER, sink.transcript())
            self.assertEqual(m.mail_from, ADMIN)
        self.assertEqual(mx.sessions, [], "the MX was used:\n"
                         + mx.transcript())
        self.wait_queue_empty()

    def test_starttls_auth_by_ip(self):
        sink = self.smarthost(starttls=self.sh_cert)
        mx = self.sink("dom6")
        self.check_through(sink, mx)

    def test_starttls_auth_by_name(self):
        sink = self.smarthost(host="smarthost.test", starttls=self.sh_cert)
        mx = self.sink("dom6")
        self.check_through(sink, mx)

    def test_implicit_tls(self):
        sink = self.smarthost(host="smarthost.test", tls="tls", starttls=None,
                              implicit_tls=self.sh_cert)
        mx = self.sink("dom6")
        self.check_through(sink, mx)

    def test_wrong_ca_stays_deferred(self):
        # The CA file names a different certificate (the server's own).
        sink = self.smarthost(host="smarthost.test", starttls=self.sh_cert,
                              ca=self.inst.cafile)
        self.inst.start()
        self.submit(["user@dom6.test"], "not to be sent")
        self.wait_state("user@dom6.test", "deferred")
        self.assertGreaterEqual(sink.wait_sessions(1, 2 * SLOW), 1)
        # A retry (schedule 1 s) fails the same way: never in plaintext.
        self.assertGreaterEqual(sink.wait_sessions(2, 4 * SLOW), 2,
                                self.diag())
        sink.wait_closed(1, 2 * SLOW)
        self.assertEqual(self.states().get("user@dom6.test"), "deferred",
                         self.diag())
        cmds = [c.split(" ")[0].upper() for c in sink.commands()]
        self.assertNotIn("MAIL", cmds, sink.transcript())
        self.assertNotIn("AUTH", cmds, sink.transcript())
        self.assertEqual(sink.messages, [])
        self.assertEqual(inbox_files(self.inst), [], "bounced")


if __name__ == "__main__":
    unittest.main()
