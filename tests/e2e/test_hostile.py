"""Hostile and heavy clients (issue 9): slowloris connections that trickle
bytes without ever finishing a line are timed out and starve nobody; a
client that never reads its replies is cut off with the server's memory
bounded; 2,000 concurrent SMTP and 5,000 concurrent IMAP connections are
all served; a flood from one address is capped while other addresses get
in.

Many connections are driven from one thread with selectors. Loopback
source addresses 127.X.Y.Z (the whole of 127/8 is local on Linux) keep the
per-IP cap out of the way where a test is not about it."""

import resource
import selectors
import smtplib
import socket
import time
import uuid

import harness
from harness import ServerTest, ADMIN, ADMIN_PASSWORD, imap_quote

SCALE_SMTP = 2000
SCALE_IMAP = 5000
FD_MARGIN = 200


def raise_nofile(want):
    """Raise this process's descriptor limit to at least want (the server
    started from it inherits the hard limit and takes it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            return
        except (ValueError, OSError):
            raise AssertionError("need %d descriptors, hard limit is %d "
                                 "and cannot be raised" % (want, hard))
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


def source_addrs(net, n, per_addr):
    """n source addresses in 127.<net>.0.0/16, each used per_addr times."""
    out = []
    for i in range(n):
        out.append("127.%d.%d.%d" % (net, 1 + i // (250 * per_addr) % 250,
                                     1 + (i // per_addr) % 250))
    return out


class Conn:
    """One client connection in a Crowd: a non-blocking socket, what it
    received, and a script of (bytes to send, predicate that ends the
    reply) steps."""
    __slots__ = ("sock", "src", "buf", "closed", "err", "step", "script",
                 "done", "greeted", "sent_at")

    def __init__(self, sock, src):
        self.sock = sock
        self.src = src
        self.buf = b""
        self.closed = False
        self.err = None
        self.step = 0
        self.script = None
        self.done = False
        self.greeted = False
        self.sent_at = None

    def lines(self):
        return self.buf.decode("utf-8", "replace").split("\r\n")


def smtp_reply_done(buf):
    """buf ends with a complete final SMTP reply line."""
    if not buf.endswith(b"\r\n"):
        return False
    last = buf[:-2].rsplit(b"\r\n", 1)[-1]
    return len(last) >= 4 and last[3:4] == b" "


def imap_tag_done(tag):
    t = b"\r\n" + tag.encode() + b" "

    def pred(buf):
        return buf.endswith(b"\r\n") and (b"\r\n" + buf).rfind(t) != -1
    return pred


def eof_done(buf):
    return False    # the step ends when the server closes


class Crowd:
    """Many connections driven from one thread."""

    def __init__(self, port):
        self.port = port
        self.sel = selectors.DefaultSelector()
        self.conns = []

    def close(self):
        for c in self.conns:
            if not c.closed:
                self._drop(c)
        self.sel.close()

    def _drop(self, c):
        try:
            self.sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        c.sock.close()
        c.closed = True

    def open(self, srcs, rcvbuf=None):
        """Connect once from each source address (None: default)."""
        new = []
        for src in srcs:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            if rcvbuf is not None:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            if src is not None:
                s.bind((src, 0))
            s.setblocking(False)
            try:
                s.connect(("127.0.0.1", self.port))
            except BlockingIOError:
                pass
            c = Conn(s, src)
            self.sel.register(s, selectors.EVENT_READ, c)
            self.conns.append(c)
            new.append(c)
        return new

    def _read(self, c):
        try:
            data = c.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError as e:   # reset, refused
            c.err = e
            data = b""
        if not data:
            self._drop(c)
            return
        c.buf += data

    def pump(self, timeout):
        for key, _ in self.sel.select(timeout):
            self._read(key.data)

    def wait(self, pred, timeout, tick=None):
        """Pump until pred() holds (True) or timeout passes (False); tick()
        runs between rounds."""
        deadline = time.monotonic() + timeout
        while not pred():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.pump(min(left, 0.2))
            if tick is not None:
                tick()
        return True

    def greet(self, conns, paced, want, timeout):
        """Open conns (a list of source addresses) at most `paced` at a
        time not yet greeted, wait until each got its first line; the
        connections stay open. Returns the Conn list."""
        pending = list(conns)
        out = []

        def waiting():
            return [c for c in out if not c.greeted and not c.closed]

        def tick():
            for c in out:
                if not c.greeted and b"\r\n" in c.buf:
                    c.greeted = True
            n = paced - len(waiting())
            if n > 0 and pending:
                batch, pending[:] = pending[:n], pending[n:]
                out.extend(self.open(batch))

        tick()
        ok = self.wait(lambda: not pending and all(
            c.greeted or c.closed for c in out), timeout, tick)
        bad = [c for c in out if not c.buf.startswith(want)]
        if not ok or bad:
            raise AssertionError(
                "%d of %d connections greeted; first bad: %r"
                % (len(out) - len(bad), len(conns),
                   bad[0].buf[:200] if bad else None))
        return out

    def run_scripts(self, conns, script, timeout):
        """Run script, a list of (bytes to send, complete(buf), ok(buf))
        steps, on every conn at once (one step at a time each). complete
        may be eof_done: the step ends when the server closes. Raises
        with the first failure."""
        for c in conns:
            c.script = script
            c.step = 0
            c.done = False
            c.err = None
            c.buf = b""
            c.sock.send(script[0][0])

        def tick():
            for c in conns:
                if c.done:
                    continue
                _, complete, ok = c.script[c.step]
                if complete is eof_done:
                    if not c.closed:
                        continue
                elif c.closed or not complete(c.buf):
                    continue
                if not ok(c.buf):
                    c.err = "bad reply"
                    c.done = True
                    continue
                c.step += 1
                if c.step == len(c.script):
                    c.done = True
                    continue
                c.sock.send(c.script[c.step][0])
                c.buf = b""

        def finished():
            return all(c.done or (c.closed and c.script[c.step][1]
                                  is not eof_done) for c in conns)

        tick()
        self.wait(finished, timeout, tick)
        failed = [c for c in conns if not c.done or c.err]
        if failed:
            c = failed[0]
            raise AssertionError(
                "%d of %d connections failed; first at step %d (%r): "
                "closed=%s err=%r got %r"
                % (len(failed), len(conns), c.step,
                   c.script[min(c.step, len(c.script) - 1)][0],
                   c.closed, c.err, c.buf[:300]))


def smtp_transaction(inst, token):
    """A whole message through SMTP (port 25) to ADMIN."""
    t = 10 * harness.SLOW
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=t) as s:
        s.ehlo("client.test")
        msg = ("From: friend@remote.test\r\nTo: %s\r\nSubject: %s\r\n\r\n"
               "body %s\r\n" % (ADMIN, token, token))
        refused = s.sendmail("friend@remote.test", [ADMIN], msg)
        if refused:
            raise AssertionError("refused: %r" % refused)


def imap_find(inst, token, timeout):
    """Log in, select INBOX, fetch the message whose subject is token
    (delivery is asynchronous: poll). Returns its body text."""
    import imaplib
    m = imaplib.IMAP4("127.0.0.1", inst.ports["imap"],
                      timeout=10 * harness.SLOW)
    try:
        m.login(ADMIN, ADMIN_PASSWORD)
        deadline = time.monotonic() + timeout
        while True:
            typ, _ = m.select("INBOX")
            if typ != "OK":
                raise AssertionError("SELECT %s" % typ)
            typ, data = m.uid("SEARCH", None, "SUBJECT", imap_quote(token))
            if typ == "OK" and data[0].split():
                uid = data[0].split()[-1]
                typ, data = m.uid("FETCH", uid, "(BODY[TEXT])")
                if typ != "OK":
                    raise AssertionError("FETCH %s" % typ)
                return data[0][1].decode()
            if time.monotonic() > deadline:
                raise AssertionError("message %s never reached INBOX" % token)
            time.sleep(0.1)
    finally:
        try:
            m.logout()
        except Exception:
            pass


class HostileTest(ServerTest):
    """Plaintext LOGIN on loopback (tls.plaintext_auth_loopback), and the
    descriptors NFDS connections need."""
    autostart = False
    NFDS = 0

    def setUp(self):
        if self.NFDS:
            raise_nofile(self.NFDS + FD_MARGIN)
        super().setUp()
        self.inst.edit_config(lambda c: c.setdefault("tls", {}).update(
            plaintext_auth_loopback=True))
        self.inst.start()


class Slowloris(HostileTest):
    """1,000 connections each sending one byte a second and never a whole
    line: the server closes each within its timeout (a deadline for a
    complete line, not an idle timer that every byte resets), and normal
    clients are served meanwhile."""
    TIMEOUT = 3
    NSMTP = 500
    NIMAP = 500
    limits = {"smtp_timeout_secs": TIMEOUT, "login_timeout_secs": TIMEOUT,
              "imap_timeout_secs": TIMEOUT}
    NFDS = NSMTP + NIMAP

    def test_trickling_connections_time_out(self):
        inst = self.inst
        smtp = Crowd(inst.ports["smtp"])
        imap = Crowd(inst.ports["imap"])
        self.addCleanup(smtp.close)
        self.addCleanup(imap.close)
        # 10 per source address: well under the per-IP cap of 20.
        s_conns = smtp.greet(source_addrs(1, self.NSMTP, 10), 200, b"220 ",
                             20 * harness.SLOW)
        i_conns = imap.greet(source_addrs(2, self.NIMAP, 10), 200, b"* OK",
                             20 * harness.SLOW)
        start = time.monotonic()
        trickle = {id(c): b"NOOP and never a line end " * 40
                   for c in s_conns + i_conns}
        pos = [0]
        last = [0.0]

        def tick():
            now = time.monotonic()
            if now - last[0] < 1.0:
                return
            last[0] = now
            pos[0] += 1
            for c in s_conns + i_conns:
                if c.closed:
                    continue
                try:
                    c.sock.send(trickle[id(c)][pos[0] - 1:pos[0]])
                except OSError:
                    pass    # closed by the server: seen by the next read

        def pump_both(seconds):
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                smtp.pump(0.05)
                imap.pump(0.05)
                tick()

        # Let the trickle run for a while, then serve normal clients
        # while every trickling connection is still open.
        pump_both(1.5)
        self.assertLess(time.monotonic() - start, self.TIMEOUT,
                        "setup too slow for the test to mean anything")
        open_now = sum(not c.closed for c in s_conns + i_conns)
        self.assertEqual(open_now, self.NSMTP + self.NIMAP,
                         "trickling connections closed before the timeout")
        token = uuid.uuid4().hex
        smtp_transaction(inst, token)
        pump_both(0)
        body = imap_find(inst, token, 10 * harness.SLOW)
        self.assertIn(token, body)

        # Every trickling connection is closed within the timeout plus
        # the close grace, though each keeps sending a byte a second.
        limit = self.TIMEOUT + 8 * harness.SLOW
        while time.monotonic() - start < limit:
            if all(c.closed for c in s_conns + i_conns):
                break
            pump_both(0.2)
        still = [c for c in s_conns + i_conns if not c.closed]
        if still:
            self.fail("%d of %d trickling connections still open %.0f s "
                      "after they started" % (len(still), len(s_conns) +
                                              len(i_conns), limit))
        for c in s_conns:
            self.assertIn("421 4.4.2", c.buf.decode(), c.buf)
        for c in i_conns:
            self.assertIn("* BYE", c.buf.decode(), c.buf)


class LoginPhaseDeadline(HostileTest):
    """An IMAP client that keeps sending complete commands but never logs
    in is still logged out when the login phase's deadline passes; after
    LOGIN the (longer) idle timeout applies instead."""
    limits = {"login_timeout_secs": 3, "imap_timeout_secs": 30}

    def test_login_deadline(self):
        c = self.inst.connect("imap")
        self.assertTrue(c.readline().startswith("* OK"))
        start = time.monotonic()
        n = 0
        text = ""
        closed = False
        while time.monotonic() - start < 10 * harness.SLOW:
            n += 1
            try:
                c.sendline("n%d NOOP" % n)
                text, closed = c.read_until_closed(timeout=0.5)
            except (BrokenPipeError, ConnectionResetError):
                closed = True
            if closed:
                break
        self.assertTrue(closed, "still connected after %.0f s of NOOPs "
                        "without LOGIN" % (time.monotonic() - start))
        self.assertGreater(n, 3)

        # Logged in: the same NOOPs keep the session.
        m = self.inst.connect("imap")
        self.assertTrue(m.readline().startswith("* OK"))
        _, done = m.imap_cmd("l", "LOGIN %s %s" % (
            imap_quote(ADMIN), imap_quote(ADMIN_PASSWORD)))
        self.assertTrue(done.startswith("l OK"), done)
        end = time.monotonic() + 5
        k = 0
        while time.monotonic() < end:
            k += 1
            _, done = m.imap_cmd("k%d" % k, "NOOP")
            self.assertTrue(done.startswith("k%d OK" % k), done)
            time.sleep(0.5)


def big_message(nbytes, token):
    line = ("%s " % token + "x" * 64)[:70] + "\r\n"
    head = ("From: big@remote.test\r\nTo: %s\r\nSubject: big %s\r\n\r\n"
            % (ADMIN, token))
    return head + line * (nbytes // len(line))


def wait_cut_off(socks, timeout):
    """Wait, without reading (reading would let them progress), until the
    server has closed or reset every socket; the ones still connected."""
    deadline = time.monotonic() + timeout
    while True:
        # TCP_INFO's first byte is the state: 1 is ESTABLISHED.
        left = [s for s in socks
                if s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0] == 1]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def drain(sock, timeout):
    """Read sock until the server closes it: (bytes read, closed)."""
    sock.setblocking(True)
    got = 0
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return got, False
        sock.settimeout(left)
        try:
            data = sock.recv(1 << 20)
        except socket.timeout:
            return got, False
        except OSError:     # reset by the server's abortive close
            return got, True
        if not data:
            return got, True
        got += len(data)


class NonReader(HostileTest):
    """Clients that send commands with large replies and never read them:
    the server stops running their commands once their output backs up,
    keeps its memory bounded, serves everyone else, and cuts them off."""
    TIMEOUT = 3
    NREADERS = 10
    NFETCH = 200
    MSG_BYTES = 2 << 20
    limits = {"output_buffer_bytes": 65536, "imap_timeout_secs": TIMEOUT,
              "login_timeout_secs": TIMEOUT, "smtp_timeout_secs": TIMEOUT}

    def login(self, src=None):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # A small receive window: the kernel holds little for us, so the
        # server's own buffer is what backs up.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(10 * harness.SLOW)
        s.connect(("127.0.0.1", self.inst.ports["imap"]))
        c = harness.LineClient(s, self.inst, 10 * harness.SLOW)
        self.addCleanup(c.close)
        self.assertTrue(c.readline().startswith("* OK"))
        _, done = c.imap_cmd("l", "LOGIN %s %s" % (
            imap_quote(ADMIN), imap_quote(ADMIN_PASSWORD)))
        self.assertTrue(done.startswith("l OK"), done)
        _, done = c.imap_cmd("s", "SELECT INBOX")
        self.assertTrue(done.startswith("s OK"), done)
        return c

    def test_imap_fetch_never_read(self):
        inst = self.inst
        token = uuid.uuid4().hex
        msg = big_message(self.MSG_BYTES, token)
        r = inst.cli("deliver", ADMIN, input=msg)
        self.assertEqual(r.returncode, 0, r.stderr)
        readers = [self.login() for _ in range(self.NREADERS)]
        before = rss_kib(inst.pid)
        cmds = b"".join(b"f%d FETCH 1 BODY[]\r\n" % i
                        for i in range(self.NFETCH))
        for c in readers:
            c.sock.setblocking(False)
            try:
                c.sock.send(cmds)
            except BlockingIOError:
                pass
        asked = self.NREADERS * self.NFETCH * len(msg)

        # While they are stuck, another client fetches the same message,
        # reading it through the same small window: it is held back by
        # the same output bound, never cut off by it.
        m = self.login()
        m.sendline("g FETCH 1 BODY[]")
        head = m.readline()
        self.assertTrue(head.startswith("* 1 FETCH (BODY[] {"), head)
        size = int(head.rsplit("{", 1)[1].rstrip("}"))
        body = b""
        while len(body) < size:
            if not m.buf:
                m._fill()
            take = min(size - len(body), len(m.buf))
            body, m.buf = body + m.buf[:take], m.buf[take:]
        # As delivered, with the trace headers deliver adds on top.
        self.assertTrue(body.decode().endswith(msg))
        self.assertEqual(m.readline(), ")")
        self.assertTrue(m.readline().startswith("g OK"))
        after = rss_kib(inst.pid)
        # Unbounded buffering would hold what they asked for: 4 GiB.
        self.assertLess(after - before, 64 * 1024,
                        "server RSS grew %d KiB for %d bytes of unread "
                        "output" % (after - before, asked))

        # Each non-reader is cut off (timeout, then the close grace)
        # having received a small part of what it asked for.
        left = wait_cut_off([c.sock for c in readers],
                            self.TIMEOUT + 10 * harness.SLOW)
        self.assertEqual(len(left), 0, "%d non-readers still connected"
                         % len(left))
        for c in readers:
            got, closed = drain(c.sock, 10 * harness.SLOW)
            self.assertTrue(closed, "non-reader still connected after "
                            "reading %d bytes" % got)
            self.assertLess(got, 4 * len(msg))
        self.assertTrue(inst.running())
        _, done = self.login().imap_cmd("n", "NOOP")
        self.assertTrue(done.startswith("n OK"), done)

    def test_smtp_pipeline_never_read(self):
        inst = self.inst
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        self.addCleanup(s.close)
        s.connect(("127.0.0.1", inst.ports["smtp"]))
        s.setblocking(False)
        before = rss_kib(inst.pid)
        # 12 MB of commands, over 100 MB of replies: more than every
        # kernel buffer on the way holds. EHLO, not NOOP: a hundred NOOPs
        # would end the session by the junk-command limit instead.
        cmds = b"EHLO pipeline.test\r\n" * 600000
        sent = 0
        end = time.monotonic() + 3 * harness.SLOW
        while sent < len(cmds) and time.monotonic() < end:
            try:
                sent += s.send(cmds[sent:sent + 65536])
            except BlockingIOError:
                time.sleep(0.05)
            except (ConnectionResetError, BrokenPipeError):
                break       # cut off already (a slow build's clock)
        self.assertLess(sent, len(cmds), "the server kept reading "
                        "commands whose replies were not read")
        token = uuid.uuid4().hex
        smtp_transaction(inst, token)
        self.assertLess(rss_kib(inst.pid) - before, 32 * 1024)
        self.assertEqual(wait_cut_off([s], self.TIMEOUT + 10 * harness.SLOW),
                         [], "non-reader still connected")
        got, closed = drain(s, 10 * harness.SLOW)
        self.assertTrue(closed, "non-reader still connected after reading "
                        "%d bytes" % got)
        body = imap_find(inst, token, 10 * harness.SLOW)
        self.assertIn(token, body)


def smtp_ok(want):
    def ok(buf):
        last = buf[:-2].rsplit(b"\r\n", 1)[-1]
        return last.startswith(want)
    return ok


def has(*parts):
    def ok(buf):
        return all(p in buf for p in parts)
    return ok


SMTP_SCRIPT = [
    (b"EHLO scale.test\r\n", smtp_reply_done, smtp_ok(b"250 ")),
    (b"NOOP\r\n", smtp_reply_done, smtp_ok(b"250 ")),
    (b"QUIT\r\n", eof_done, has(b"221 ")),
]
IMAP_SCRIPT = [
    (b"a CAPABILITY\r\n", imap_tag_done("a"), has(b"* CAPABILITY", b"a OK")),
    (b"b NOOP\r\n", imap_tag_done("b"), has(b"b OK")),
    (b"c LOGOUT\r\n", eof_done, has(b"* BYE", b"c OK")),
]


class Scale(HostileTest):
    """2,000 concurrent SMTP and 5,000 concurrent IMAP connections on
    loopback: each is greeted while all the others are open, then all
    run a short exchange at once, without an error."""
    NFDS = max(SCALE_SMTP, SCALE_IMAP)
    PER_ADDR = 1000
    limits = {"max_connections": SCALE_IMAP + 100,
              "max_connections_per_ip": PER_ADDR}

    def crowd(self, service, n, want, script):
        crowd = Crowd(self.inst.ports[service])
        self.addCleanup(crowd.close)
        # From 127.0.4.X, not 127.0.0.1: thousands of ephemeral ports on
        # the address test servers bind would get in their way.
        conns = crowd.greet(source_addrs(4, n, self.PER_ADDR), 500, want,
                            120 * harness.SLOW)
        self.assertEqual(len(conns), n)
        self.assertEqual(sum(c.closed for c in conns), 0)
        crowd.run_scripts(conns, script, 120 * harness.SLOW)
        crowd.close()

    def test_smtp_2000(self):
        self.crowd("smtp", SCALE_SMTP, b"220 ", SMTP_SCRIPT)

    def test_imap_5000(self):
        self.crowd("imap", SCALE_IMAP, b"* OK", IMAP_SCRIPT)


class FloodOneAddress(HostileTest):
    """200 connections at once from one address with a cap of 5: 5 are
    served, the rest refused with the per-address reply and closed; the 5
    keep working, another address gets in during the flood, and the slots
    come back once the 5 close."""
    CAP = 5
    NFLOOD = 200
    NFDS = NFLOOD + 20
    limits = {"max_connections_per_ip": CAP}
    FLOOD_IP = "127.0.3.1"
    OTHER_IP = "127.0.3.2"

    def flood(self, service, ok, refusal, noop):
        t0 = time.monotonic()
        crowd = Crowd(self.inst.ports[service])
        self.addCleanup(crowd.close)
        conns = crowd.open([self.FLOOD_IP] * self.NFLOOD)
        # Every connection is answered; every refused one is closed.
        crowd.wait(lambda: all(
            c.buf.startswith(ok) and b"\r\n" in c.buf or c.closed
            for c in conns), 20 * harness.SLOW)
        served = [c for c in conns if c.buf.startswith(ok)]
        refused = [c for c in conns if c.buf.startswith(refusal)]
        self.assertEqual(len(served), self.CAP)
        self.assertEqual(len(refused), self.NFLOOD - self.CAP,
                         [c.buf for c in conns if c not in served][:3])
        self.assertTrue(all(c.closed for c in refused))
        self.assertFalse(any(c.closed for c in served))

        # Another address is let in while the flood holds its slots.
        other = crowd.open([self.OTHER_IP])
        # Its greeting first: the script's first reply must not be it.
        crowd.wait(lambda: b"\r\n" in other[0].buf or other[0].closed,
                   10 * harness.SLOW)
        self.assertTrue(other[0].buf.startswith(ok), other[0].buf)
        crowd.run_scripts(other, SMTP_SCRIPT if service == "smtp"
                          else IMAP_SCRIPT, 10 * harness.SLOW)
        # The flood's own served connections still work.
        crowd.run_scripts(served, [noop], 10 * harness.SLOW)

        # And a second wave from the flooding address is refused too.
        wave = crowd.open([self.FLOOD_IP] * 20)
        crowd.wait(lambda: all(c.closed for c in wave), 10 * harness.SLOW)
        self.assertTrue(all(c.buf.startswith(refusal) for c in wave))

        # Closing the 5 gives the address its slots back (the server may
        # take a moment to see the closes).
        for c in served:
            crowd._drop(c)
        got = 0
        deadline = time.monotonic() + 5 * harness.SLOW
        while got < self.CAP:
            self.assertLess(time.monotonic(), deadline, "slots not released")
            c = crowd.open([self.FLOOD_IP])[0]
            crowd.wait(lambda: b"\r\n" in c.buf or c.closed, 5 * harness.SLOW)
            if c.buf.startswith(ok):
                got += 1
            else:
                self.assertTrue(c.buf.startswith(refusal), c.buf)
                time.sleep(0.05)

        # Over 200 refusals, but the log is not flooded: a line a second
        # at most, counting the refusals it stands for.
        lines = [l for l in self.inst.log().splitlines() if "event=refused" in l]
        self.assertTrue(lines)
        self.assertLessEqual(len(lines), int(time.monotonic() - t0) + 2, lines)

    def test_smtp(self):
        self.flood("smtp", b"220 ", b"421 4.7.0 ",
                   (b"NOOP\r\n", smtp_reply_done, smtp_ok(b"250 ")))

    def test_imap(self):
        self.flood("imap", b"* OK", b"* BYE [UNAVAILABLE] Too many connections"
                   b" from your address",
                   (b"n NOOP\r\n", imap_tag_done("n"), has(b"n OK")))
