#!/usr/bin/python3
"""
bench: figures for rmail as JSON lines on stdout (progress on stderr).

    RMAIL_BIN=./rmail /usr/bin/python3 tests/bench/bench.py

  idle_conn_rss  server RSS growth per idle connection: 5,000 plaintext IMAP
                 connections (greeting read), then 1,000 IMAPS connections
                 (handshake + greeting). Targets 16 KB and 64 KB.
  accept_rate    connect + read the SMTP greeting + close, sequentially and
                 from 4 threads, ~3 s each: connections per second.

Starts its own server on loopback with a temp dir (tests/e2e/harness.py).
Standard library only; bounded in time.
"""

import os
import resource
import socket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))

import harness  # noqa: E402
from benchlib import emit, hard_close, progress_for, raise_nofile, rss_kb  # noqa: E402,E501
progress = progress_for("bench")

PLAIN_CONNS = 5000
TLS_CONNS = 1000
PLAIN_TARGET_KB = 16
TLS_TARGET_KB = 64
ACCEPT_SECONDS = 3.0
ACCEPT_THREADS = 4
BATCH = 200


def read_line(sock, deadline):
    buf = b""
    while b"\r\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("no greeting in time")
        sock.settimeout(left)
        data = sock.recv(4096)
        if not data:
            raise EOFError("closed before greeting: %r" % buf)
        buf += data
    return buf.split(b"\r\n", 1)[0]


def open_plain(port, n, expect, deadline):
    socks = []
    while len(socks) < n:
        batch = []
        for _ in range(min(BATCH, n - len(socks))):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            batch.append(s)
        for s in batch:
            line = read_line(s, deadline)
            if not line.startswith(expect):
                raise RuntimeError("unexpected greeting %r after %d conns"
                                   % (line, len(socks)))
        socks.extend(batch)
    return socks


def open_tls(inst, port, n, expect, deadline, threads=8):
    """n TLS connections, handshake and greeting done, opened from a few
    threads so per-connection latency does not dominate the run time."""
    ctx = inst.ssl_context()
    socks = []
    errors = []
    lock = threading.Lock()

    def worker(count):
        try:
            for _ in range(count):
                if time.monotonic() > deadline:
                    raise socket.timeout("TLS connections too slow")
                raw = socket.create_connection(("127.0.0.1", port), timeout=10)
                s = ctx.wrap_socket(raw, server_hostname=harness.HOSTNAME)
                with lock:
                    socks.append(s)
                line = read_line(s, deadline)
                if not line.startswith(expect):
                    raise RuntimeError("unexpected greeting %r" % line)
        except Exception as e:
            errors.append(e)

    per = [n // threads + (1 if i < n % threads else 0) for i in range(threads)]
    ts = [threading.Thread(target=worker, args=(c,)) for c in per if c]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        for s in socks:
            hard_close(s)
        raise errors[0]
    return socks


def settle(pid, secs=0.5):
    time.sleep(secs)
    return rss_kb(pid)


def bench_rss(inst, tls, n, target):
    pid = inst.pid
    port = inst.ports["imaps" if tls else "imap"]
    # Warm up allocator pools and TLS state so "before" is fair.
    warm = (open_tls(inst, port, 20, b"* OK", time.monotonic() + 60) if tls
            else open_plain(port, 50, b"* OK", time.monotonic() + 60))
    for s in warm:
        hard_close(s)
    before = settle(pid, 1.0)
    t0 = time.monotonic()
    socks = []
    out = {"bench": "idle_conn_rss", "proto": "imap", "tls": tls,
           "conns": n, "target_kb": target}
    try:
        if tls:
            socks = open_tls(inst, port, n, b"* OK", t0 + 120)
        else:
            socks = open_plain(port, n, b"* OK", t0 + 120)
        opened = time.monotonic() - t0
        after = settle(pid)
        per = (after - before) / float(n)
        out.update(rss_before_kb=before, rss_after_kb=after,
                   rss_kb_per_conn=round(per, 2), open_secs=round(opened, 2),
                   ok=per <= target)
    except Exception as e:
        out.update(error="%s after %d conns: %s"
                   % (type(e).__name__, len(socks), e), ok=False)
    finally:
        for s in socks:
            hard_close(s)
    emit(**out)
    time.sleep(1.0)     # let the server drop them before the next figure


def accept_loop(port, seconds, counts, idx, errors):
    n = 0
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            try:
                line = read_line(s, time.monotonic() + 10)
                if not line.startswith(b"220"):
                    raise RuntimeError("greeting %r" % line)
            finally:
                hard_close(s)
            n += 1
    except Exception as e:
        errors.append("%s: %s" % (type(e).__name__, e))
    counts[idx] = n


def bench_accept(inst, threads):
    port = inst.ports["smtp"]
    counts = [0] * threads
    errors = []
    t0 = time.monotonic()
    ts = [threading.Thread(target=accept_loop,
                           args=(port, ACCEPT_SECONDS, counts, i, errors))
          for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(ACCEPT_SECONDS + 30)
    secs = time.monotonic() - t0
    total = sum(counts)
    out = {"bench": "accept_rate", "proto": "smtp", "tls": False,
           "threads": threads, "seconds": round(secs, 2), "conns": total,
           "conns_per_sec": round(total / secs, 1)}
    if errors:
        out["error"] = errors[0]
    emit(**out)


def main():
    soft, hard = raise_nofile()
    progress("RLIMIT_NOFILE %d/%d" % (soft, hard))
    need = PLAIN_CONNS + 200
    if soft != resource.RLIM_INFINITY and soft < need:
        progress("warning: RLIMIT_NOFILE %d < %d; figures may fail"
                 % (soft, need))
    inst = harness.Instance()
    try:
        inst.set_limits(max_connections=20000, max_connections_per_ip=20000)
        inst.start()
        progress("server pid %d, port base %d" % (inst.pid, inst.port_base))
        bench_rss(inst, False, PLAIN_CONNS, PLAIN_TARGET_KB)
        bench_rss(inst, True, TLS_CONNS, TLS_TARGET_KB)
        bench_accept(inst, 1)
        bench_accept(inst, ACCEPT_THREADS)
        rc = inst.stop()
        if rc != 0:
            progress("server exited %r; log tail:\n%s"
                     % (rc, inst.log()[-2000:]))
    finally:
        inst.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
