#!/usr/bin/python3
"""
bench_imap: IMAP figures as JSON lines on stdout (progress on stderr), run
by `make bench`.

    RMAIL_BIN=./rmail /usr/bin/python3 tests/bench/bench_imap.py

  imap_idle_rss     server RSS growth per connection with 5,000 clients
                    logged in (plaintext LOGIN on loopback,
                    tls.plaintext_auth_loopback), INBOX selected, in IDLE
                    ("+ idling" read). All log in as one user, so the
                    mailbox index is shared and counted once (it is opened
                    by the warm-up, before the "before" figure). Target
                    24 KB per connection.
  imap_idle_push    1,000 of those clients stay in IDLE on the same INBOX;
                    50 messages are sent over SMTP (port 25) one at a time;
                    for each, every client's time from the SMTP 250 reply to
                    its "* N EXISTS" line. p50, p99 and max in ms over all
                    50,000 samples. Target p99 50 ms. The figure includes
                    this single-threaded client reading 1,000 sockets, so it
                    is an upper bound. Twice: with 100 ms before each
                    message (gap_ms 100: arrivals at a quiet queue), and
                    back to back (gap_ms 0: each message comes within the
                    queue's 50 ms coalescing window of the previous pass).
  imap_big_mailbox  a 100,000-message INBOX (files written straight into the
                    store layout of DESIGN.md "The store" before the server
                    starts, every other message \\Seen): seconds for SELECT
                    (first open: the scan), UID FETCH 1:* (FLAGS),
                    UID SEARCH UNSEEN, STORE 1:* +FLAGS (\\Seen), and a second
                    SELECT, each read by a raw socket client until the
                    tagged reply.

The user logging in gets a PBKDF2 hash with the minimum iteration count
(100,000, config/users.h) written into the users file, so 5,000 logins
take about 5,000 x 45 ms over the server's worker threads.

Starts its own servers on loopback in temp dirs (tests/e2e/harness.py) and
removes them. Standard library only; bounded in time (a few minutes).
"""

import base64
import hashlib
import json
import os
import re
import resource
import selectors
import smtplib
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))

import harness  # noqa: E402
from benchlib import emit, hard_close, pct, progress_for, raise_nofile, rss_kb  # noqa: E402,E501
progress = progress_for("bench_imap")

IDLE_CONNS = int(os.environ.get("BENCH_IMAP_IDLE_CONNS", "5000"))
RSS_TARGET_KB = 24
PUSH_CONNS = 1000
PUSH_MESSAGES = 50
PUSH_TARGET_P99_MS = 50
# Pause before each message: 0.1 s lets each arrive at a quiet queue; 0 sends
# the next as soon as every client saw the last (the queue then holds a
# message that comes within QUEUE_COALESCE, 50 ms, of its last pass).
PUSH_GAPS = (0.1, 0.0)
BIG_MESSAGES = int(os.environ.get("BENCH_IMAP_BIG_MESSAGES", "100000"))
WARM_CONNS = 50
LOGINS_IN_FLIGHT = 64       # connections between connect and "+ idling"
SETUP_SECS = 600.0          # the whole 5,000-client ramp
ITERATIONS = 100000         # USERS_MIN_ITERATIONS
BENCH_PASSWORD = "bench-password"


# ----- instance setup -----

def pbkdf2_hash(password, iterations):
    salt = os.urandom(16)
    dk = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return "$pbkdf2-sha256$%d$%s$%s" % (
        iterations, base64.b64encode(salt).decode(),
        base64.b64encode(dk).decode())


def add_fast_user(inst, address, password):
    """Add address with a hash of ITERATIONS rounds (the minimum)."""
    r = inst.cli("user", "add", address, "--password-stdin",
                 input=password + "\n")
    if r.returncode != 0:
        raise RuntimeError("user add %s: %s%s" % (address, r.stdout, r.stderr))
    path = inst.load_config()["users_file"]
    with open(path) as f:
        users = json.load(f)
    for u in users["users"]:
        if u["address"] == address:
            u["password"] = pbkdf2_hash(password, ITERATIONS)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(users, f, indent=2)
        f.write("\n")
    os.chmod(tmp, os.stat(path).st_mode & 0o7777)
    os.replace(tmp, path)


def plaintext_instance(limits=None):
    inst = harness.Instance()

    def edit(c):
        c.setdefault("tls", {})["plaintext_auth_loopback"] = True
        c.setdefault("limits", {}).update(
            max_connections=20000, max_connections_per_ip=20000,
            **(limits or {}))
    inst.edit_config(edit)
    return inst


# ----- many IDLE clients, non-blocking -----

class Client:
    __slots__ = ("sock", "state", "buf", "lines", "exists", "t_exists")

    def __init__(self, sock):
        self.sock = sock
        self.state = "greet"
        self.buf = b""
        self.exists = None
        self.t_exists = None


def _lines(c, data):
    c.buf += data
    if b"\r\n" not in c.buf:
        return []
    parts = c.buf.split(b"\r\n")
    c.buf = parts.pop()
    return parts


def open_idle_clients(port, user, password, n, deadline):
    """n clients, each logged in, INBOX selected, in IDLE. Keeps at most
    LOGINS_IN_FLIGHT connections short of IDLE so none sits out the login
    timeout waiting for the password workers."""
    sel = selectors.DefaultSelector()
    login = ("a LOGIN %s %s\r\n" % (harness.imap_quote(user),
                                    harness.imap_quote(password))).encode()
    done = []
    pending = 0
    opened = 0
    last_note = time.monotonic()
    try:
        while len(done) < n:
            while pending < LOGINS_IN_FLIGHT and opened < n:
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
                s.setblocking(False)
                c = Client(s)
                sel.register(s, selectors.EVENT_READ, c)
                pending += 1
                opened += 1
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError("only %d of %d clients in IDLE in time"
                                   % (len(done), n))
            for key, _ in sel.select(min(left, 1.0)):
                c = key.data
                try:
                    data = c.sock.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                if not data:
                    raise RuntimeError("server closed a client in state %s "
                                       "(%d in IDLE): %r"
                                       % (c.state, len(done), c.buf))
                for line in _lines(c, data):
                    nxt = _advance(c, line, login)
                    if nxt is not None:
                        c.sock.sendall(nxt)
                    if c.state == "idle":
                        sel.unregister(c.sock)
                        done.append(c)
                        pending -= 1
                        break
            if time.monotonic() - last_note > 10:
                last_note = time.monotonic()
                progress("  %d of %d in IDLE" % (len(done), n))
    except BaseException:
        for c in done:
            hard_close(c.sock)
        for key in list(sel.get_map().values()):
            hard_close(key.fileobj)
        raise
    finally:
        sel.close()
    return done


def _advance(c, line, login):
    """Feed one line to c's state machine; bytes to send, or None."""
    if c.state == "greet":
        if not line.startswith(b"* OK"):
            raise RuntimeError("greeting %r" % line)
        c.state = "login"
        return login
    if c.state == "login":
        if line.startswith(b"a "):
            if not line.startswith(b"a OK"):
                raise RuntimeError("LOGIN: %r" % line)
            c.state = "select"
            return b"b SELECT INBOX\r\n"
        return None
    if c.state == "select":
        if line.startswith(b"* ") and line.endswith(b" EXISTS"):
            c.exists = int(line.split()[1])
        elif line.startswith(b"b "):
            if not line.startswith(b"b OK"):
                raise RuntimeError("SELECT: %r" % line)
            c.state = "idle-wait"
            return b"c IDLE\r\n"
        return None
    if c.state == "idle-wait":
        if line.startswith(b"+"):
            c.state = "idle"
        elif line.startswith(b"c "):
            raise RuntimeError("IDLE: %r" % line)
        return None
    return None


def close_all(clients):
    for c in clients:
        hard_close(c.sock)


def bench_idle(inst, user, password):
    pid = inst.pid
    port = inst.ports["imap"]
    out = {"bench": "imap_idle_rss", "conns": IDLE_CONNS, "tls": False,
           "target_kb": RSS_TARGET_KB}
    clients = []
    try:
        warm = open_idle_clients(port, user, password, WARM_CONNS,
                                 time.monotonic() + 120)
        close_all(warm)
        time.sleep(1.0)
        before = rss_kb(pid)
        t0 = time.monotonic()
        clients = open_idle_clients(port, user, password, IDLE_CONNS,
                                    t0 + SETUP_SECS)
        opened = time.monotonic() - t0
        time.sleep(0.5)
        after = rss_kb(pid)
        per = (after - before) / float(IDLE_CONNS)
        out.update(rss_before_kb=before, rss_after_kb=after,
                   rss_kb_per_conn=round(per, 2), setup_secs=round(opened, 1),
                   ok=per <= RSS_TARGET_KB)
    except Exception as e:  # noqa: BLE001 - reported as the figure
        out.update(error="%s: %s" % (type(e).__name__, e), ok=False)
        emit(**out)
        close_all(clients)
        return None
    emit(**out)
    return clients


def bench_push(inst, clients, user, gap):
    out = {"bench": "imap_idle_push", "clients": len(clients),
           "messages": PUSH_MESSAGES, "gap_ms": int(gap * 1000),
           "target_p99_ms": PUSH_TARGET_P99_MS}
    sel = selectors.DefaultSelector()
    for c in clients:
        sel.register(c.sock, selectors.EVENT_READ, c)
    samples = []
    missed = 0
    try:
        exists = clients[0].exists
        if any(c.exists != exists for c in clients):
            raise RuntimeError("clients disagree on EXISTS before the run")
        smtp = smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30)
        smtp.ehlo("bench.remote.test")
        for i in range(PUSH_MESSAGES):
            time.sleep(gap)
            exists += 1
            want = exists
            msg = ("From: bench@remote.test\r\nTo: %s\r\n"
                   "Subject: push %d\r\nMessage-ID: <push-%d-%d@remote.test>"
                   "\r\n\r\nhello\r\n" % (user, i, gap * 1000, i)).encode()
            refused = smtp.sendmail("bench@remote.test", [user], msg)
            t250 = time.monotonic()
            if refused:
                raise RuntimeError("refused %r" % refused)
            waiting = len(clients)
            deadline = t250 + 10.0
            while waiting:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                for key, _ in sel.select(left):
                    c = key.data
                    try:
                        data = c.sock.recv(65536)
                    except (BlockingIOError, InterruptedError):
                        continue
                    now = time.monotonic()
                    if not data:
                        raise RuntimeError("server closed an IDLE client")
                    for line in _lines(c, data):
                        if line.endswith(b" EXISTS") and line.startswith(b"* "):
                            n = int(line.split()[1])
                            if n >= want and (c.exists or 0) < want:
                                samples.append((now - t250) * 1000.0)
                                waiting -= 1
                            c.exists = n
            missed += waiting
            for c in clients:       # a late one must not count next round
                c.exists = max(c.exists or 0, want)
        smtp.quit()
        samples.sort()
        out.update(samples=len(samples), missed=missed,
                   p50_ms=round(pct(samples, 50), 2),
                   p99_ms=round(pct(samples, 99), 2),
                   max_ms=round(samples[-1], 2),
                   ok=missed == 0 and pct(samples, 99) <= PUSH_TARGET_P99_MS)
    except Exception as e:  # noqa: BLE001
        out.update(error="%s: %s" % (type(e).__name__, e), samples=len(samples),
                   missed=missed, ok=False)
    finally:
        sel.close()
    emit(**out)


# ----- the 100,000-message mailbox -----

def build_big_mailbox(inst, user, n):
    """Deliver one message with `rmail deliver` (it creates the mailbox
    tree and status.json), then write messages 2..n straight into the
    shards and raise uidnext. Every even UID is \\Seen."""
    r = inst.cli("deliver", user, input=big_message(1).decode())
    if r.returncode != 0:
        raise RuntimeError("deliver: %s%s" % (r.stdout, r.stderr))
    local = user.split("@")[0]
    inbox = os.path.join(inst.data_dir, "mail", harness.DOMAIN, local,
                         "mailboxes", "INBOX")
    first = os.listdir(os.path.join(inbox, "0000"))
    if first != ["00000001_.eml"]:
        raise RuntimeError("unexpected store layout: %r" % first)
    made = set()
    for uid in range(2, n + 1):
        shard = os.path.join(inbox, "%04d" % (uid // 1000))
        if shard not in made:
            os.makedirs(shard, exist_ok=True)
            made.add(shard)
        name = "%08d_%s.eml" % (uid, "S" if uid % 2 == 0 else "")
        with open(os.path.join(shard, name), "wb") as f:
            f.write(big_message(uid))
    st_path = os.path.join(inbox, "status.json")
    with open(st_path) as f:
        st = json.load(f)
    st["uidnext"] = n + 1
    tmp = st_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(st, f, indent=1)
    os.chmod(tmp, os.stat(st_path).st_mode & 0o7777)
    os.replace(tmp, st_path)
    for shard in made:
        fd = os.open(shard, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)


def big_message(uid):
    return ("Return-Path: <bench@remote.test>\r\n"
            "From: Bench <bench@remote.test>\r\nTo: big@%s\r\n"
            "Subject: message %d\r\nMessage-ID: <big-%d@remote.test>\r\n"
            "Date: Mon, 01 Jan 2024 10:00:00 +0000\r\n\r\n"
            "body of message %d\r\n" % (harness.DOMAIN, uid, uid, uid)).encode()


STRAY_TAGGED = re.compile(rb"\r\n(t\d+) (?:OK|NO|BAD)\b")


class ProtocolError(Exception):
    pass


class RawImap:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=120)
        self.buf = b""
        self.n = 0
        greeting = self.read_line()
        if not greeting.startswith(b"* OK"):
            raise RuntimeError("greeting %r" % greeting)

    def read_line(self):
        while b"\r\n" not in self.buf:
            data = self.sock.recv(1 << 20)
            if not data:
                raise EOFError("closed")
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def cmd(self, text):
        """Send a command; (seconds to its tagged reply, untagged line count,
        bytes read, tagged line, untagged bytes). A tagged reply carrying
        another tag (an earlier command's) is a ProtocolError at once."""
        self.n += 1
        tag = b"t%d" % self.n
        t0 = time.monotonic()
        self.sock.sendall(tag + b" " + text.encode() + b"\r\n")
        marker = b"\r\n" + tag + b" "
        data = bytearray(b"\r\n" + self.buf)   # every line follows a CRLF
        self.buf = b""
        scan = 0        # no tagged line starts before data[scan:]
        while True:
            i = data.find(marker, scan)
            if i != -1:
                end = data.find(b"\r\n", i + 2)
                if end != -1:
                    secs = time.monotonic() - t0
                    tagged = bytes(data[i + 2:end])
                    body = bytes(data[2:i + 2])
                    self.buf = bytes(data[end + 2:])
                    return secs, body.count(b"\r\n"), len(body), tagged, body
                scan = i        # the tagged line is incomplete
            else:
                scan = max(0, len(data) - len(marker))
            m = STRAY_TAGGED.search(data, max(0, scan - 64))
            if m and m.group(1) != tag:
                end = data.find(b"\r\n", m.start() + 2)
                raise ProtocolError("%s: got %r instead of a %s reply"
                                    % (text, bytes(data[m.start() + 2:end]
                                                   if end != -1 else
                                                   data[m.start() + 2:]),
                                       tag.decode()))
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError("closed during %s" % text)
            data += chunk

    def close(self):
        hard_close(self.sock)


def bench_big(user, password):
    out = {"bench": "imap_big_mailbox", "messages": BIG_MESSAGES}
    inst = plaintext_instance()
    try:
        add_fast_user(inst, user, password)
        t0 = time.monotonic()
        build_big_mailbox(inst, user, BIG_MESSAGES)
        out["build_secs"] = round(time.monotonic() - t0, 1)
        progress("built %d messages in %.1f s" % (BIG_MESSAGES,
                                                   out["build_secs"]))
        inst.start()
        conn = {}

        def connect(select):
            if conn.get("c") is not None:
                conn["c"].close()
            c = conn["c"] = RawImap(inst.ports["imap"])
            _, _, _, tagged, _ = c.cmd("LOGIN %s %s" % (
                harness.imap_quote(user), harness.imap_quote(password)))
            if b" OK" not in tagged:
                raise RuntimeError("LOGIN: %r" % tagged)
            if select:
                _, _, _, tagged, _ = c.cmd("SELECT INBOX")
                if b" OK" not in tagged:
                    raise RuntimeError("SELECT: %r" % tagged)

        def timed(key, text, check=None):
            """Time one command; on a failure record KEY_error and go on
            with a fresh, selected connection."""
            try:
                secs, lines, nbytes, tagged, body = conn["c"].cmd(text)
                if not tagged.split(b" ", 2)[1:2] == [b"OK"]:
                    raise ProtocolError("%s: %r" % (text, tagged[:200]))
                if check is not None:
                    check(body)
            except (ProtocolError, OSError, EOFError) as e:
                out[key + "_error"] = "%s: %s" % (type(e).__name__, e)
                out["ok"] = False
                progress("%s failed: %s" % (text, e))
                connect(True)
                return None
            out[key + "_secs"] = round(secs, 3)
            progress("%s: %.3f s, %d lines, %d bytes"
                     % (text, secs, lines, nbytes))
            return body

        def exists_is(body):
            if (b"* %d EXISTS" % BIG_MESSAGES) not in body:
                raise ProtocolError("SELECT did not say %d EXISTS: %r"
                                    % (BIG_MESSAGES, body[:300]))

        def fetch_count(body):
            n = body.count(b" FETCH (")
            if n != BIG_MESSAGES:
                raise ProtocolError("UID FETCH returned %d of %d"
                                    % (n, BIG_MESSAGES))

        def unseen(want):
            def check(body):
                line = [l for l in body.split(b"\r\n")
                        if l.startswith(b"* SEARCH")]
                n = len(line[0].split()) - 2 if line else -1
                if n != want:
                    raise ProtocolError("UID SEARCH UNSEEN found %d, not %d"
                                        % (n, want))
            return check

        out["ok"] = True
        connect(False)
        timed("select", "SELECT INBOX", check=exists_is)
        timed("uid_fetch_flags", "UID FETCH 1:* (FLAGS)", check=fetch_count)
        timed("uid_search_unseen", "UID SEARCH UNSEEN",
              check=unseen(BIG_MESSAGES - BIG_MESSAGES // 2))
        timed("store_seen", "STORE 1:* +FLAGS (\\Seen)")
        timed("uid_search_unseen_after_store", "UID SEARCH UNSEEN",
              check=unseen(0))
        timed("close", "CLOSE")
        timed("select_again", "SELECT INBOX", check=exists_is)
        conn["c"].cmd("LOGOUT")
        conn["c"].close()
        out["rss_kb"] = rss_kb(inst.pid)
        inst.stop()
    except Exception as e:  # noqa: BLE001
        out.update(error="%s: %s" % (type(e).__name__, e), ok=False)
    finally:
        inst.cleanup()
    emit(**out)


def main():
    soft, hard = raise_nofile()
    progress("RLIMIT_NOFILE %d/%d" % (soft, hard))
    need = IDLE_CONNS + 500
    if soft != resource.RLIM_INFINITY and soft < need:
        progress("warning: RLIMIT_NOFILE %d < %d; figures may fail"
                 % (soft, need))
    user = "bench@" + harness.DOMAIN
    inst = plaintext_instance()
    try:
        add_fast_user(inst, user, BENCH_PASSWORD)
        inst.start()
        progress("server pid %d, port base %d; %d clients into IDLE"
                 % (inst.pid, inst.port_base, IDLE_CONNS))
        clients = bench_idle(inst, user, BENCH_PASSWORD)
        if clients is None:
            # Still measure push latency on its own set of clients.
            clients = []
            try:
                clients = open_idle_clients(inst.ports["imap"], user,
                                            BENCH_PASSWORD, PUSH_CONNS,
                                            time.monotonic() + SETUP_SECS)
            except Exception as e:  # noqa: BLE001
                emit(bench="imap_idle_push", error="%s: %s"
                     % (type(e).__name__, e), ok=False)
        if clients:
            close_all(clients[PUSH_CONNS:])
            clients = clients[:PUSH_CONNS]
            time.sleep(1.0)
            for gap in PUSH_GAPS:
                progress("push latency over %d IDLE clients, %d ms between "
                         "messages" % (len(clients), gap * 1000))
                bench_push(inst, clients, user, gap)
            close_all(clients)
        rc = inst.stop()
        if rc != 0:
            progress("server exited %r; log tail:\n%s"
                     % (rc, inst.log()[-2000:]))
    finally:
        inst.cleanup()
    progress("%d-message mailbox" % BIG_MESSAGES)
    bench_big("big@" + harness.DOMAIN, BENCH_PASSWORD)
    return 0


if __name__ == "__main__":
    sys.exit(main())
