#!/usr/bin/python3
"""
bench_relay: outbound relay figures as JSON lines on stdout (progress on
stderr), run by `make bench`.

    RMAIL_BIN=./rmail /usr/bin/python3 tests/bench/bench_relay.py

  relay  2,000 messages of 4 KB submitted over 8 concurrent authenticated
         submission connections (587, STARTTLS + AUTH), each to one
         recipient at a random one of 20 domains d1.test .. d20.test.
         dnsmasq (tests/e2e/dnsserver.py) serves their MX records, each
         pointing at its own loopback address 127.0.0.2 .. 127.0.0.21,
         where a real SMTP sink (tests/e2e/smtpsink.py, Debian's
         python3-aiosmtpd) listens on one port number (relay.smtp_port).
         Figures: submission rate (messages / seconds from the first
         connection to the last 250), relay rate (messages / seconds from
         the first connection to the last message accepted by a sink),
         and the time of each message from the 250 at submission to its
         arrival at the sink (the sink's end of DATA), p50/p99/max in ms;
         sink_sessions is how many SMTP sessions the relay opened.

The sinks run in SINK_PROCS separate processes (this script with --sink)
so that Python's GIL in the sinks does not slow the submitting threads;
arrival times are CLOCK_MONOTONIC, shared by every process. The sinks do
not offer STARTTLS unless BENCH_RELAY_SINK_TLS=1 (then each has a
self-signed certificate; the relay's TLS is opportunistic).

Environment: BENCH_RELAY_MESSAGES (2000), BENCH_RELAY_WAIT (seconds to
wait for the sinks after the last submission, 300).

Starts its own dnsmasq, sinks and server on loopback in temp dirs and
removes them. Needs dnsmasq-base and python3-aiosmtpd; bounded in time.
"""

import os
import random
import re
import smtplib
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
E2E = os.path.join(os.path.dirname(HERE), "e2e")
sys.path.insert(0, E2E)

import harness  # noqa: E402
from benchlib import emit, pct, progress_for  # noqa: E402,E501
note = progress_for("bench_relay")

MESSAGES = int(os.environ.get("BENCH_RELAY_MESSAGES", "2000"))
WAIT_MAX = float(os.environ.get("BENCH_RELAY_WAIT", "300"))
SINK_TLS = os.environ.get("BENCH_RELAY_SINK_TLS") == "1"
DOMAINS = 20
CONNECTIONS = 8
SIZE = 4096
SINK_PROCS = 4
SENDER = harness.ADMIN
BENCH_ID = re.compile(rb"\r\nX-Bench-Id: (\d+)\r\n")


def domain(k):
    return "d%d.test" % k


def sink_addr(k):
    return "127.0.0.%d" % (k + 1)


# ----- the sinks (run as `bench_relay.py --sink PORT ADDR...`) -----

def sink_main(argv):
    """Sinks on port at each address; "ready" once all listen, then one
    line per event on stdout: "a ID T" (message ID accepted at monotonic
    time T) or "s" (a session opened). Runs until stdin closes."""
    import smtpsink

    port = int(argv[0])
    addrs = argv[1:]
    out_lock = threading.Lock()

    def out(line):
        with out_lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    class TimedSink(smtpsink.Sink):
        """Reports arrivals instead of keeping the messages."""
        started = False

        def _store(self, msg):
            t = time.monotonic()
            m = BENCH_ID.search(msg.data)
            out("a %s %.6f" % (m.group(1).decode() if m else "?", t))

        def _new_session(self, peer):
            rec = super()._new_session(peer)
            if self.started:
                out("s")
            return rec

    cert = None
    tmp = None
    if SINK_TLS:
        tmp = tempfile.mkdtemp(prefix="rmail-bench-sink-")
        cert = smtpsink.make_cert(tmp, "mx.bench.test", ips=addrs)
    sinks = []
    try:
        for a in addrs:
            s = TimedSink(a, port, starttls=cert)
            s.start()
            s.started = True
            sinks.append(s)
        out("ready")
        sys.stdin.read()
    finally:
        for s in sinks:
            s.stop()
        if tmp is not None:
            import shutil
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


class Sinks:
    """SINK_PROCS processes of sinks, one address per domain."""

    def __init__(self, port, addrs):
        self.port = port
        self.addrs = addrs
        self.procs = []
        self.readers = []
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.arrivals = {}      # bench id -> monotonic time
        self.duplicates = 0
        self.unknown = 0
        self.sessions = 0
        self.ready = 0

    def start(self, timeout=60.0):
        for p in range(SINK_PROCS):
            mine = self.addrs[p::SINK_PROCS]
            if not mine:
                continue
            proc = subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), "--sink",
                 str(self.port)] + mine,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                env=dict(os.environ, PYTHONPATH=E2E))
            self.procs.append(proc)
            t = threading.Thread(target=self._read, args=(proc,), daemon=True)
            t.start()
            self.readers.append(t)
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.ready < len(self.procs):
                left = deadline - time.monotonic()
                if left <= 0 or any(p.poll() is not None for p in self.procs):
                    raise RuntimeError("sinks did not start (%d of %d ready)"
                                       % (self.ready, len(self.procs)))
                self.cond.wait(min(left, 0.5))

    def _read(self, proc):
        for raw in proc.stdout:
            f = raw.decode("ascii", "replace").split()
            with self.cond:
                if not f:
                    continue
                if f[0] == "ready":
                    self.ready += 1
                elif f[0] == "s":
                    self.sessions += 1
                elif f[0] == "a" and len(f) == 3 and f[1].isdigit():
                    i = int(f[1])
                    if i in self.arrivals:
                        self.duplicates += 1
                    else:
                        self.arrivals[i] = float(f[2])
                elif f[0] == "a":
                    self.unknown += 1
                self.cond.notify_all()

    def count(self):
        with self.lock:
            return len(self.arrivals)

    def wait(self, n, timeout):
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.arrivals) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(min(left, 1.0))
            return len(self.arrivals)

    def stop(self):
        for proc in self.procs:
            try:
                proc.stdin.close()
            except OSError:
                pass
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for t in self.readers:
            t.join(5)
        self.procs = []


# ----- submission -----

def message(i, rcpt):
    head = ("From: %s\r\nTo: %s\r\nSubject: relay bench %d\r\n"
            "Message-ID: <relay-bench-%d@%s>\r\nX-Bench-Id: %d\r\n\r\n"
            % (SENDER, rcpt, i, i, harness.DOMAIN, i))
    line = "x" * 76 + "\r\n"
    body = line * ((SIZE - len(head)) // len(line))
    return (head + body).encode()


def submit(inst, plan):
    """Send plan[i] = recipient of message i over CONNECTIONS threads.
    (t0, accepted) where accepted[i] is the monotonic time of its 250."""
    accepted = [None] * len(plan)
    errors = []
    counter = {"next": 0}
    lock = threading.Lock()
    ctx = inst.ssl_context()

    def worker():
        try:
            s = smtplib.SMTP(harness.HOSTNAME, inst.ports["submission"],
                             timeout=60)
            s.ehlo("bench.example.test")
            s.starttls(context=ctx)
            s.ehlo("bench.example.test")
            s.login(harness.ADMIN, harness.ADMIN_PASSWORD)
            while True:
                with lock:
                    i = counter["next"]
                    if i >= len(plan):
                        break
                    counter["next"] += 1
                refused = s.sendmail(SENDER, [plan[i]], message(i, plan[i]))
                accepted[i] = time.monotonic()
                if refused:
                    raise RuntimeError("refused %r" % refused)
            s.quit()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(CONNECTIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError("submission: " + errors[0])
    return t0, accepted


def run(inst, sinks):
    rnd = random.Random(6)
    plan = ["user%d@%s" % (i, domain(rnd.randint(1, DOMAINS)))
            for i in range(MESSAGES)]
    out = dict(bench="relay", messages=MESSAGES, domains=DOMAINS,
               bytes=SIZE, connections=CONNECTIONS, sink_tls=SINK_TLS)
    note("submitting %d messages over %d connections"
         % (MESSAGES, CONNECTIONS))
    t0, accepted = submit(inst, plan)
    t_sub = max(accepted)
    note("submitted in %.2f s; %d at the sinks so far"
         % (t_sub - t0, sinks.count()))
    deadline = time.monotonic() + WAIT_MAX
    while True:
        n = sinks.wait(MESSAGES, min(5.0, max(0.0,
                                             deadline - time.monotonic())))
        if n >= MESSAGES or time.monotonic() >= deadline:
            break
        note("%d of %d at the sinks" % (n, MESSAGES))
    with sinks.lock:
        arrivals = dict(sinks.arrivals)
        dups, unknown = sinks.duplicates, sinks.unknown
        sessions = sinks.sessions
    out.update(submit_msgs_per_sec=round(MESSAGES / (t_sub - t0)),
               submit_seconds=round(t_sub - t0, 2),
               sink_sessions=sessions)
    if dups or unknown:
        out.update(duplicates=dups, unknown=unknown)
    if len(arrivals) < MESSAGES:
        out.update(error="only %d of %d messages reached the sinks within "
                   "%.0f s of the last submission"
                   % (len(arrivals), MESSAGES, WAIT_MAX),
                   delivered=len(arrivals))
        emit(**out)
        return 1
    t_end = max(arrivals.values())
    lat = sorted((arrivals[i] - accepted[i]) * 1000.0
                 for i in range(MESSAGES))
    out.update(relay_msgs_per_sec=round(MESSAGES / (t_end - t0)),
               seconds_until_delivered=round(t_end - t0, 2),
               latency_p50_ms=round(pct(lat, 50), 1),
               latency_p99_ms=round(pct(lat, 99), 1),
               latency_max_ms=round(lat[-1], 1))
    emit(**out)
    return 0


def main():
    from dnsserver import DnsServer
    try:
        import smtpsink
    except ImportError as e:
        emit(bench="relay", error="%s (apt-get install python3-aiosmtpd; "
             "run with /usr/bin/python3)" % e)
        return 1

    dns = sinks = inst = None
    rc = 1
    try:
        addrs = [sink_addr(k) for k in range(1, DOMAINS + 1)]
        dns = DnsServer(
            mx=[(domain(k), "mx." + domain(k), 10)
                for k in range(1, DOMAINS + 1)],
            hosts={"mx." + domain(k): [sink_addr(k)]
                   for k in range(1, DOMAINS + 1)},
            local=["test"])
        dns.start()
        port = smtpsink.free_port(addrs)
        note("dnsmasq on %s; %d sinks on port %d%s"
             % (dns.server, DOMAINS, port, " with STARTTLS" if SINK_TLS
                else ""))
        sinks = Sinks(port, addrs)
        sinks.start()
        inst = harness.Instance()
        inst.edit_config(lambda c: c.setdefault("relay", {}).update(
            dns_servers=[dns.server], smtp_port=port))
        inst.start()
        rc = run(inst, sinks)
        inst.stop()
    except Exception as e:  # noqa: BLE001
        emit(bench="relay", error="%s: %s" % (type(e).__name__, e))
        rc = 1
    finally:
        if inst is not None:
            inst.cleanup()
        if sinks is not None:
            sinks.stop()
        if dns is not None:
            dns.stop()
    return rc


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--sink":
        sys.exit(sink_main(sys.argv[2:]))
    sys.exit(main())
