"""
harness: start a real rmail server on 127.0.0.1 with a private temp dir and
drive it with real clients.

    inst = Instance()                 # temp dir, free ports, `rmail init`
    inst.edit_config(lambda c: c["limits"].update(max_connections_per_ip=3))
    inst.start()                      # `rmail serve`, waits for the ports
    ...
    inst.stop()                       # SIGTERM; fails on sanitizer reports
    inst.cleanup()

or `with Instance() as inst:` (starts on enter, stops and cleans up on exit).

Environment:
  RMAIL_BIN    server binary (default: repo-root/rmail)
  RMAIL_BUILD  "rel" (default) or "asan": sanitizer options and longer timeouts
  RMAIL_KEEP=1 keep the temp dir (its path is printed at cleanup)

Standard library only.
"""

import json
import os
import random
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

RMAIL_BIN = os.environ.get("RMAIL_BIN") or os.path.join(REPO, "rmail")
BUILD = os.environ.get("RMAIL_BUILD", "rel")
ASAN = BUILD == "asan"
# Multiply every timeout by this: ASan+UBSan is 2-3x slower.
SLOW = 3.0 if ASAN else 1.0

DOMAIN = "example.test"
HOSTNAME = "localhost"
ADMIN = "admin@example.test"
ADMIN_PASSWORD = "admin-password"

PORT_OFFSETS = {
    "smtp": 25,
    "submission": 587,
    "submissions": 465,
    "imap": 143,
    "imaps": 993,
}
TLS_SERVICES = ("submissions", "imaps")

SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",
)


def sanitizer_env(env=None):
    """The environment for anything running the rmail binary."""
    env = dict(os.environ if env is None else env)
    if ASAN:
        env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0"
        env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    return env


def sanitizer_reports(text):
    """Lines of text that are sanitizer error reports."""
    return [l for l in text.splitlines()
            if any(m in l for m in SANITIZER_MARKERS)]


def _bindable(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def pick_port_base(lo=20000, hi=60000, step=1000):
    """A base N in [lo, hi) such that every N+offset is bindable on
    127.0.0.1. Starts at a random point so parallel runs rarely collide."""
    bases = list(range(lo, hi, step))
    start = random.SystemRandom().randrange(len(bases))
    for i in range(len(bases)):
        n = bases[(start + i) % len(bases)]
        if all(_bindable(n + off) for off in PORT_OFFSETS.values()):
            return n
    raise RuntimeError("no free port base in %d..%d" % (lo, hi))


class ServerError(AssertionError):
    """The server failed to start, died, or reported a sanitizer error."""


class Instance:
    def __init__(self, init=True, port_base=None):
        self.dir = tempfile.mkdtemp(prefix="rmail-e2e-")
        self.etc = os.path.join(self.dir, "etc")
        self.config = os.path.join(self.etc, "rmail.json")
        self.data_dir = os.path.join(self.dir, "data")
        self.logpath = os.path.join(self.dir, "serve.log")
        self.port_base = port_base if port_base is not None else pick_port_base()
        self.ports = {k: self.port_base + v for k, v in PORT_OFFSETS.items()}
        self.cafile = os.path.join(self.etc, "tls", "fullchain.pem")
        self.proc = None
        self.pid = None
        self.returncode = None
        self._logf = None
        self._cleaned = False
        self._clients = []      # every client made here, closed by close_clients()
        if init:
            self.init()

    # ----- setup -----

    def init(self):
        os.makedirs(self.etc, exist_ok=True)
        r = self.run_bin(
            "init", "-c", self.config, "--data-dir", self.data_dir,
            "--domain", DOMAIN, "--hostname", HOSTNAME,
            "--listen", "127.0.0.1", "--port-base", str(self.port_base),
            "--admin", ADMIN, "--password-stdin", "--non-interactive",
            input=ADMIN_PASSWORD + "\n")
        if r.returncode != 0:
            raise ServerError("rmail init failed (exit %d):\n%s%s"
                              % (r.returncode, r.stdout, r.stderr))
        # A --port-base instance runs as its caller, root included: init
        # must not name an account to drop to (serve would need it).
        if "user" in self.load_config():
            raise ServerError("rmail init --port-base wrote \"user\"")
        # No test may reach the internet: outbound mail asks a DNS server
        # that is not there (port 1 on loopback refuses at once), so
        # remote recipients are deferred, never looked up for real.
        # Tests of the relay point relay.dns_servers at their dnsmasq.
        cfg = self.load_config()
        cfg.setdefault("relay", {})["dns_servers"] = ["127.0.0.1:1"]
        # Tests stop servers all the time: a short grace period (the
        # default, 10 s, is for real transactions; tests of it set theirs).
        cfg.setdefault("limits", {})["shutdown_grace_secs"] = 2
        self.save_config(cfg)
        # The certificate the config names, if it says.
        try:
            cert = self.load_config().get("tls", {}).get("cert")
            if cert:
                if not os.path.isabs(cert):
                    cert = os.path.join(self.etc, cert)
                self.cafile = cert
        except (OSError, ValueError):
            pass
        return r

    def load_config(self):
        with open(self.config) as f:
            return json.load(f)

    def save_config(self, cfg):
        tmp = self.config + ".tmp"
        with open(tmp, "w") as f:
            json.dump(cfg, f, indent=2)
            f.write("\n")
        os.replace(tmp, self.config)

    def edit_config(self, fn):
        """Load the JSON config, call fn(cfg) (it edits in place or returns
        a new dict), save it."""
        cfg = self.load_config()
        out = fn(cfg)
        self.save_config(cfg if out is None else out)

    def set_limits(self, **limits):
        self.edit_config(lambda c: c.setdefault("limits", {}).update(limits))

    # ----- the binary -----

    def run_bin(self, *args, input=None, timeout=None, env=None):
        """Run RMAIL_BIN with exactly args; CompletedProcess (text).
        Under ASan a sanitizer report on stderr fails the caller."""
        r = subprocess.run(
            [RMAIL_BIN] + [str(a) for a in args], input=input,
            capture_output=True, text=True, env=sanitizer_env(env),
            timeout=timeout if timeout is not None else 60 * SLOW)
        reps = sanitizer_reports(r.stderr)
        if reps:
            raise ServerError("sanitizer report from rmail %s:\n%s"
                              % (" ".join(map(str, args)), r.stderr))
        return r

    def cli(self, *args, input=None, timeout=None):
        """`rmail ARGS... -c CONFIG`."""
        return self.run_bin(*(list(args) + ["-c", self.config]),
                            input=input, timeout=timeout)

    # ----- the server -----

    def start(self, timeout=10.0, env=None):
        """Run `rmail serve` (env: extra environment variables) and wait
        until it accepts on the IMAP and SMTP ports."""
        if self.proc is not None:
            raise RuntimeError("already started")
        self._logf = open(self.logpath, "ab")
        self.proc = subprocess.Popen(
            [RMAIL_BIN, "serve", "-c", self.config],
            stdin=subprocess.DEVNULL, stdout=self._logf, stderr=self._logf,
            env=sanitizer_env(None if env is None else dict(os.environ, **env)))
        self.pid = self.proc.pid
        self.returncode = None
        deadline = time.monotonic() + timeout * SLOW
        want = [self.ports["imap"], self.ports["smtp"]]
        while True:
            rc = self.proc.poll()
            if rc is not None:
                self._closelog()
                self.returncode = rc
                self.proc = None
                raise ServerError("rmail serve exited with %d during start; "
                                  "log:\n%s" % (rc, self.log()))
            if all(self._accepts(p) for p in want):
                # Let the server see the probes' closes before a test that
                # counts connections opens its own.
                time.sleep(0.1 * SLOW)
                return self
            if time.monotonic() > deadline:
                self.kill()
                raise ServerError("rmail serve did not open ports %s within "
                                  "%.0f s; log:\n%s"
                                  % (want, timeout * SLOW, self.log()))
            time.sleep(0.05)

    @staticmethod
    def _accepts(port):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=1)
        except OSError:
            return False
        s.close()
        return True

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def wait(self, timeout):
        """Wait for the server to exit; its exit code, or None on timeout."""
        if self.proc is None:
            return self.returncode
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._reaped(rc)
        return rc

    def _reaped(self, rc):
        self.returncode = rc
        self.proc = None
        self._closelog()

    def stop(self, timeout=10.0, check=True):
        """SIGTERM, wait (SIGKILL after timeout), return the exit code.
        With check, raise ServerError if the log holds a sanitizer report."""
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    self.proc.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
            try:
                rc = self.proc.wait(timeout * SLOW)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait()
            self._reaped(rc)
        if check:
            self.check_sanitizers()
        return self.returncode

    def kill(self):
        if self.proc is not None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass
            self._reaped(self.proc.wait())

    def check_sanitizers(self):
        reps = sanitizer_reports(self.log())
        if reps:
            raise ServerError("sanitizer report in server log:\n" + self.log())

    def signal(self, sig):
        os.kill(self.pid, sig)

    def _closelog(self):
        if self._logf is not None:
            self._logf.close()
            self._logf = None

    def log(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_size(self):
        try:
            return os.path.getsize(self.logpath)
        except OSError:
            return 0

    def log_since(self, offset):
        with open(self.logpath, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")

    def wait_log(self, pred, since=0, timeout=5.0):
        """Poll the log after byte offset since until pred(line) holds for a
        line; that line, or None on timeout."""
        deadline = time.monotonic() + timeout * SLOW
        while True:
            for line in self.log_since(since).splitlines():
                if pred(line):
                    return line
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)

    def cleanup(self):
        if self._cleaned:
            return
        self._cleaned = True
        if self.proc is not None:
            self.kill()
        if os.environ.get("RMAIL_KEEP") == "1":
            sys.stderr.write("RMAIL_KEEP: instance kept in %s\n" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc):
        try:
            if exc[0] is None:
                self.stop()
            else:
                self.stop(check=False)
        finally:
            self.cleanup()
        return False

    # ----- clients -----

    def ssl_context(self):
        ctx = ssl.create_default_context(cafile=self.cafile)
        ctx.check_hostname = True
        return ctx

    def connect(self, service, tls=None, timeout=None):
        """A LineClient to one of the services. tls defaults to implicit TLS
        for submissions and imaps."""
        if tls is None:
            tls = service in TLS_SERVICES
        t = (timeout if timeout is not None else 10.0) * SLOW
        s = socket.create_connection(("127.0.0.1", self.ports[service]),
                                     timeout=t)
        if tls:
            s = self.ssl_context().wrap_socket(s, server_hostname=HOSTNAME)
        c = LineClient(s, self, t)
        self._clients.append(c)
        return c

    def close_clients(self):
        """Close every client this instance handed out (tests stop the
        server with their clients gone unless they test otherwise)."""
        for c in self._clients:
            try:
                if hasattr(c, "shutdown"):      # imaplib
                    c.shutdown()
                else:
                    c.close()
            except Exception:
                pass
        self._clients = []

    def imap4(self, timeout=None):
        """imaplib.IMAP4 on the plaintext IMAP port (host "localhost", so a
        later starttls() checks the certificate's name)."""
        import imaplib
        m = imaplib.IMAP4(HOSTNAME, self.ports["imap"],
                          timeout=(timeout or 10.0) * SLOW)
        self._clients.append(m)
        return m

    def imap4_ssl(self, timeout=None):
        import imaplib
        m = imaplib.IMAP4_SSL(HOSTNAME, self.ports["imaps"],
                              ssl_context=self.ssl_context(),
                              timeout=(timeout or 10.0) * SLOW)
        self._clients.append(m)
        return m


class LineClient:
    """A CRLF line client over a (possibly TLS) socket with a timeout."""

    def __init__(self, sock, inst=None, timeout=10.0):
        self.sock = sock
        self.inst = inst
        self.timeout = timeout
        self.buf = b""
        self.sock.settimeout(timeout)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def sendline(self, line):
        self.send((line if isinstance(line, bytes) else line.encode()) + b"\r\n")

    def _fill(self, timeout=None):
        self.sock.settimeout(self.timeout if timeout is None else timeout)
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("connection closed by server")
        self.buf += data

    def readline(self, timeout=None):
        """One line without its CRLF, as str. EOFError when closed first,
        socket.timeout when nothing complete arrives in time."""
        while b"\r\n" not in self.buf:
            self._fill(timeout)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def pending(self):
        return self.buf

    def read_until_closed(self, timeout=None):
        """Everything until EOF (or a reset); returns (data, closed)."""
        out = self.buf
        self.buf = b""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return out.decode("utf-8", "replace"), False
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return out.decode("utf-8", "replace"), False
            except (ConnectionResetError, BrokenPipeError):
                return out.decode("utf-8", "replace"), True
            except ssl.SSLError:
                # A TLS peer closing without close_notify, etc.
                return out.decode("utf-8", "replace"), True
            if not data:
                return out.decode("utf-8", "replace"), True
            out += data

    # SMTP

    def smtp_reply(self, timeout=None):
        """Read one (possibly multi-line) SMTP reply; list of lines."""
        lines = []
        while True:
            l = self.readline(timeout)
            lines.append(l)
            if len(l) < 4 or l[3] != "-":
                return lines

    def smtp_cmd(self, cmd, timeout=None):
        self.sendline(cmd)
        return self.smtp_reply(timeout)

    # IMAP

    def imap_cmd(self, tag, cmd, timeout=None):
        """Send 'TAG CMD'; return (untagged lines, tagged line)."""
        self.sendline("%s %s" % (tag, cmd))
        return self.imap_wait(tag, timeout)

    def imap_wait(self, tag, timeout=None):
        untagged = []
        while True:
            l = self.readline(timeout)
            if l.startswith(tag + " "):
                return untagged, l
            untagged.append(l)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def imap_quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


import unittest  # noqa: E402  (kept at the end: only the base classes need it)


class ServerTest(unittest.TestCase):
    """One fresh Instance per test: self.inst. Set `limits` to a dict to
    change limits before start, `autostart = False` to start yourself."""
    limits = None
    autostart = True

    def setUp(self):
        self.inst = Instance()
        self.addCleanup(self.inst.cleanup)
        if self.limits:
            self.inst.set_limits(**self.limits)
        if self.autostart:
            self.inst.start()

    def tearDown(self):
        # Clients first, so stopping does not wait out the grace period;
        # then stop, which fails the test on a sanitizer report (ASan).
        self.inst.close_clients()
        self.inst.stop()


class SharedServerTest(unittest.TestCase):
    """One Instance for the whole class: cls.inst. Only for tests that
    leave the server as they found it."""
    limits = None

    @classmethod
    def setUpClass(cls):
        cls.inst = Instance()
        try:
            if cls.limits:
                cls.inst.set_limits(**cls.limits)
            cls.inst.start()
        except BaseException:
            cls.inst.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.inst.close_clients()
            cls.inst.stop()
        finally:
            cls.inst.cleanup()
