"""
smtpsink: real SMTP servers (Debian's python3-aiosmtpd, each in its own
thread) for the outbound relay tests. The relay connects to every MX on
one port (relay.smtp_port), so the sinks of a test listen on the same
port number at different loopback addresses (127.0.0.2, 127.0.0.3, ...).

    port = free_port(["127.0.0.2", "127.0.0.3"])
    cert = make_cert(tmpdir, "mx.dom1.test", ips=["127.0.0.2"])
    sink = Sink("127.0.0.2", port, starttls=cert)
    sink.script_rcpt("bob@dom1.test", "451 4.3.0 Try again later", "250 OK")
    sink.start()
    ...
    msgs = sink.wait_messages(1, timeout=5)
    msgs[0].mail_from, msgs[0].rcpts, msgs[0].data, msgs[0].tls,
    msgs[0].auth_user
    sink.transcript()          # every session's commands and our replies
    sink.stop()

A sink that is not started is an address where nothing listens: the
relay's connection is refused. Scripted replies: script_rcpt(addr, ...)
and script_data(...) take replies used one per attempt, the last one
repeating ("250 ..." means accept). Options: data_delay=SECONDS (answer
the end of DATA that late; sink.data_started is set when it arrives), starttls=Cert (offer
STARTTLS), implicit_tls=Cert (TLS from the first byte), auth={user:
password} (offer AUTH PLAIN/LOGIN after TLS), auth_required (MAIL needs
AUTH first).

make_cert() runs `openssl req -x509` for a self-signed certificate (its
own CA: the cert file is also the CA file a client can trust).
"""

import asyncio
import os
import random
import re
import socket
import ssl
import subprocess
import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword, Session

ACCEPT = "250 2.0.0 OK"


class _QuietSession(Session):
    """aiosmtpd sets its own deprecated Session.login_data at every AUTH,
    which warns each time (and unittest turns the filters back on)."""

    @property
    def login_data(self):
        return self._login_data

    @login_data.setter
    def login_data(self, value):
        self._login_data = value


class Cert:
    def __init__(self, cert, key):
        self.cert = cert        # PEM certificate, also usable as CA file
        self.key = key

    def server_context(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        return ctx


def make_cert(directory, cn, ips=(), names=()):
    """A self-signed certificate for cn with subjectAltName entries for
    the given IP addresses and DNS names (cn is always one)."""
    os.makedirs(directory, exist_ok=True)
    base = os.path.join(directory, "%s-%d" % (cn, random.randrange(1 << 30)))
    sans = ["DNS:" + cn] + ["DNS:" + n for n in names] + \
        ["IP:" + ip for ip in ips]
    r = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-keyout", base + ".key", "-out", base + ".pem", "-days", "1",
         "-subj", "/CN=" + cn, "-addext", "subjectAltName=" + ",".join(sans),
         "-addext", "basicConstraints=critical,CA:TRUE"],
        capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("openssl req failed: %s" % r.stderr)
    return Cert(base + ".pem", base + ".key")


def free_port(addrs, lo=20000, hi=60000):
    """A TCP port bindable on every one of addrs."""
    for _ in range(500):
        port = random.randint(lo, hi)
        try:
            for a in addrs:
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind((a, port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port on %s" % (addrs,))


class Received:
    """One message the sink accepted."""

    def __init__(self, session, mail_from, rcpts, data, tls, tls_version,
                 auth_user, helo, peer):
        self.session = session  # index into Sink.sessions
        self.mail_from = mail_from
        self.rcpts = rcpts
        self.data = data        # bytes as received (CRLF, dot-unstuffed)
        self.tls = tls
        self.tls_version = tls_version
        self.auth_user = auth_user
        self.helo = helo
        self.peer = peer

    def __repr__(self):
        return ("Received(from=%r rcpts=%r tls=%r auth=%r %d bytes)"
                % (self.mail_from, self.rcpts, self.tls, self.auth_user,
                   len(self.data)))


class _Session:
    def __init__(self, peer):
        self.peer = peer
        self.started = time.monotonic()
        self.raw = b""          # every byte the client sent (after TLS:
                                # decrypted), whether or not aiosmtpd
                                # got to read it before the close
        self.lines = []         # "C: ..." / "S: ..." / "-- ..."

    def __repr__(self):
        return "session from %s:\n  %s" % (self.peer, "\n  ".join(self.lines))


class _SinkSMTP(SMTP):
    """aiosmtpd's SMTP, recording sessions for Sink."""

    def __init__(self, sink, *a, **kw):
        self._sink = sink
        self._rec = None
        super().__init__(*a, **kw)
        if sink.implicit_tls is not None:
            # aiosmtpd counts only STARTTLS as TLS for offering AUTH.
            self._auth_require_tls = False

    def _create_session(self):
        return _QuietSession(self.loop)

    def connection_made(self, transport):
        starttls_done = self._original_transport is not None
        super().connection_made(transport)
        if not starttls_done:
            self._rec = self._sink._new_session(
                transport.get_extra_info("peername"))
        else:
            self._sink._note(self._rec, "-- TLS established (%s)" %
                             _tls_version(transport))

    def data_received(self, data):
        # aiosmtpd drops unread input at EOF: a QUIT sent just before
        # the close is seen only here.
        if self._rec is not None:
            self._sink._raw(self._rec, data)
        super().data_received(data)

    def connection_lost(self, error):
        if self._rec is not None:
            self._sink._note(self._rec, "-- closed")
        super().connection_lost(error)

    async def push(self, status):
        if self._rec is not None:
            self._sink._note(self._rec, "S: " + status)
        return await super().push(status)

    async def smtp_STARTTLS(self, arg):
        self._sink._note(self._rec, "C: STARTTLS")
        return await super().smtp_STARTTLS(arg)

    async def smtp_EHLO(self, arg):
        self._sink._note(self._rec, "C: EHLO %s" % arg)
        self._sink_helo = arg
        return await super().smtp_EHLO(arg)

    async def smtp_HELO(self, arg):
        self._sink._note(self._rec, "C: HELO %s" % arg)
        self._sink_helo = arg
        return await super().smtp_HELO(arg)

    async def smtp_AUTH(self, arg):
        mech = (arg or "").split(" ")[0]
        self._sink._note(self._rec, "C: AUTH %s ..." % mech)
        return await super().smtp_AUTH(arg)

    async def smtp_MAIL(self, arg):
        self._sink._note(self._rec, "C: MAIL %s" % arg)
        return await super().smtp_MAIL(arg)

    async def smtp_RCPT(self, arg):
        self._sink._note(self._rec, "C: RCPT %s" % arg)
        return await super().smtp_RCPT(arg)

    async def smtp_DATA(self, arg):
        self._sink._note(self._rec, "C: DATA")
        return await super().smtp_DATA(arg)

    async def smtp_RSET(self, arg):
        self._sink._note(self._rec, "C: RSET")
        return await super().smtp_RSET(arg)

    async def smtp_QUIT(self, arg):
        self._sink._note(self._rec, "C: QUIT")
        return await super().smtp_QUIT(arg)


def _tls_version(transport):
    obj = transport.get_extra_info("ssl_object") if transport else None
    return obj.version() if obj is not None else None


class _Handler:
    def __init__(self, sink):
        self.sink = sink

    async def handle_MAIL(self, server, session, envelope, address, options):
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, options):
        reply = self.sink._next_reply(("RCPT", address.lower()))
        if reply.startswith("250"):
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.extend(options)
        return reply

    async def handle_exception(self, error):
        # A TLS handshake the client gave up, a reset: into the
        # transcript of the session it ended, not onto stderr.
        self.sink._exception(error)
        return "500 Error: (%s) %s" % (error.__class__.__name__, error)

    async def handle_DATA(self, server, session, envelope):
        if self.sink.data_delay:
            self.sink.data_started.set()
            await asyncio.sleep(self.sink.data_delay)
        reply = self.sink._next_reply(("DATA",))
        if reply.startswith("250"):
            tr = server.transport
            obj = tr.get_extra_info("ssl_object") if tr else None
            auth = None
            if session.authenticated and isinstance(session.auth_data,
                                                    LoginPassword):
                auth = session.auth_data.login.decode("utf-8", "replace")
            self.sink._store(Received(
                server._rec, envelope.mail_from, list(envelope.rcpt_tos),
                envelope.original_content, obj is not None,
                obj.version() if obj is not None else None, auth,
                getattr(server, "_sink_helo", None), session.peer))
        return reply


class Sink:
    def __init__(self, addr, port, starttls=None, implicit_tls=None,
                 auth=None, auth_required=False, hostname=None,
                 data_size_limit=None, data_delay=0):
        self.addr = addr
        # Seconds to wait before answering the end of DATA (a slow
        # remote); data_started is set when a message's DATA is in.
        self.data_delay = data_delay
        self.data_started = threading.Event()
        self.port = port
        self.starttls = starttls
        self.implicit_tls = implicit_tls
        self.auth = dict(auth) if auth else None
        self.auth_required = auth_required
        self.hostname = hostname or "sink-%s.test" % addr.replace(".", "-")
        self.data_size_limit = data_size_limit
        self.messages = []
        self.sessions = []
        self.auth_attempts = []     # (mechanism, user, ok)
        self._scripts = {}
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._controller = None

    # ----- scripting -----

    def script_rcpt(self, addr, *replies):
        """Replies to RCPT TO:<addr>, one per attempt; the last repeats."""
        with self._lock:
            self._scripts[("RCPT", addr.lower())] = list(replies)

    def script_data(self, *replies):
        """Replies at the end of DATA, one per message; the last repeats."""
        with self._lock:
            self._scripts[("DATA",)] = list(replies)

    def _next_reply(self, key):
        with self._lock:
            s = self._scripts.get(key)
            if not s:
                return ACCEPT if key[0] == "DATA" else "250 2.1.5 OK"
            return s.pop(0) if len(s) > 1 else s[0]

    # ----- records -----

    def _new_session(self, peer):
        with self._cond:
            rec = _Session(peer)
            self.sessions.append(rec)
            self._cond.notify_all()
            return rec

    def _note(self, rec, line):
        if rec is None:
            return
        with self._lock:
            rec.lines.append(line)

    def _exception(self, error):
        with self._lock:
            if self.sessions:
                self.sessions[-1].lines.append(
                    "-- exception %s: %s" % (error.__class__.__name__, error))

    def _raw(self, rec, data):
        with self._lock:
            rec.raw += data

    def _store(self, msg):
        with self._cond:
            self.messages.append(msg)
            self._cond.notify_all()

    def transcript(self):
        with self._lock:
            return "\n".join(
                "[%s:%d] %r" % (self.addr, self.port, s)
                for s in self.sessions) or "[%s:%d] no sessions" % (
                    self.addr, self.port)

    def commands(self):
        """Every client command seen, over all sessions."""
        with self._lock:
            return [l[3:] for s in self.sessions for l in s.lines
                    if l.startswith("C: ")]

    def wait_closed(self, session, timeout=5.0):
        """Wait until session (an index) is closed; whether it is."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if "-- closed" in self.sessions[session].lines:
                    return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)

    def sent_quit(self, session):
        """Did the client send QUIT in session (an index), read or not?"""
        with self._lock:
            raw = self.sessions[session].raw
        return re.search(rb"(?:^|\r\n)QUIT\r\n", raw, re.I) is not None

    def wait_messages(self, n, timeout=5.0):
        """Wait until at least n messages arrived; the list (maybe shorter)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.messages) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return list(self.messages)

    def wait_sessions(self, n, timeout=5.0):
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.sessions) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return len(self.sessions)

    def wait_command(self, pred, timeout=5.0):
        """Wait for a client command for which pred(cmd) holds; it or None."""
        deadline = time.monotonic() + timeout
        while True:
            for c in self.commands():
                if pred(c):
                    return c
            if time.monotonic() > deadline:
                return None
            time.sleep(0.02)

    # ----- running -----

    def _authenticator(self, server, session, envelope, mechanism, data):
        ok = False
        user = None
        if isinstance(data, LoginPassword):
            user = data.login.decode("utf-8", "replace")
            pw = data.password.decode("utf-8", "replace")
            ok = self.auth is not None and self.auth.get(user) == pw
        with self._lock:
            self.auth_attempts.append((mechanism, user, ok))
        return AuthResult(success=ok, auth_data=data if ok else None)

    def start(self):
        sink = self
        kw = dict(server_hostname=self.hostname, ident="smtpsink")
        if self.starttls is not None:
            kw["tls_context"] = self.starttls.server_context()
        if self.auth is not None:
            kw["authenticator"] = self._authenticator
            kw["auth_required"] = self.auth_required
            kw["auth_require_tls"] = True
        if self.data_size_limit is not None:
            kw["data_size_limit"] = self.data_size_limit

        class _Ctl(Controller):
            def factory(self):
                return _SinkSMTP(sink, self.handler, **self.SMTP_kwargs)

        ssl_ctx = (self.implicit_tls.server_context()
                   if self.implicit_tls is not None else None)
        self._controller = _Ctl(_Handler(self), hostname=self.addr,
                                port=self.port, ssl_context=ssl_ctx,
                                ready_timeout=10.0, **kw)
        self._controller.start()
        # Forget the controller's own readiness probe.
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            with self._lock:
                if self.sessions and "-- closed" in self.sessions[0].lines:
                    break
            time.sleep(0.01)
        with self._lock:
            self.sessions = []
            self.messages = []
        return self

    def stop(self):
        if self._controller is not None:
            self._controller.stop(no_assert=True)
            self._controller = None

    def running(self):
        return self._controller is not None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
