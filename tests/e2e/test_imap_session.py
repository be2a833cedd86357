"""IMAP session: capabilities before and after TLS and login, LOGIN and
AUTHENTICATE (PLAIN with and without SASL-IR, LOGIN), plaintext login on
loopback when the config allows it, RFC 3501 states, the parser (quoted
strings with escapes, literals {n} with "+ ", LITERAL+ {n+}), the command
line limit and literals over their limit refused before they are read,
malformed input (BAD, the session goes on), ID, ENABLE, NAMESPACE.

The first part of this file is the small IMAP toolkit the other
test_imap_*.py files import: a raw client that reads responses with their
literals, a response parser, and cheap per-test users."""

import base64
import hashlib
import imaplib
import json
import os
import re
import signal
import socket
import time

import harness
from harness import (SharedServerTest, ServerTest, HOSTNAME, ADMIN,
                     ADMIN_PASSWORD, DOMAIN, imap_quote)

# ---------------------------------------------------------------------------
# Shared helpers (imported by test_imap_fetch, _search, _multi)
# ---------------------------------------------------------------------------

DATA_DIR = os.path.join(harness.REPO, "tests", "data", "imap")

CAPS_PRE_TLS = {"IMAP4REV1", "LITERAL+", "SASL-IR", "ID", "ENABLE", "IDLE",
                "STARTTLS", "LOGINDISABLED"}
CAPS_PRE_LOGIN_TLS = {"IMAP4REV1", "LITERAL+", "SASL-IR", "ID", "ENABLE",
                      "IDLE", "AUTH=PLAIN", "AUTH=LOGIN"}
CAPS_AUTH = {"IMAP4REV1", "LITERAL+", "SASL-IR", "ID", "ENABLE", "IDLE",
             "NAMESPACE", "UIDPLUS", "MOVE", "UNSELECT", "CHILDREN",
             "LIST-EXTENDED", "LIST-STATUS", "SPECIAL-USE",
             "CREATE-SPECIAL-USE", "MULTIAPPEND", "ESEARCH"}   # + APPENDLIMIT=n


def fixture(name):
    with open(os.path.join(DATA_DIR, name), "rb") as f:
        return f.read()


def users_path(inst):
    p = inst.load_config()["users_file"]
    if not os.path.isabs(p):
        p = os.path.join(os.path.dirname(inst.config), p)
    return p


def cheap_hash(password):
    """A hash at the minimum iteration count (100000): logins stay fast."""
    salt = os.urandom(16)
    dk = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 100000, 32)
    return "$pbkdf2-sha256$100000$%s$%s" % (base64.b64encode(salt).decode(),
                                            base64.b64encode(dk).decode())


def write_users(inst, entries):
    """Add or replace users in the users file: entries is a list of
    (address, password, quota_bytes, quota_messages)."""
    path = users_path(inst)
    try:
        with open(path) as f:
            doc = json.load(f)
    except FileNotFoundError:
        doc = {"version": 1, "users": []}
    byaddr = {u["address"]: u for u in doc["users"]}
    for addr, pw, qb, qm in entries:
        u = byaddr.get(addr)
        if u is None:
            u = {"address": addr}
            doc["users"].append(u)
            byaddr[addr] = u
        u["password"] = cheap_hash(pw)
        u["quota_bytes"] = qb
        u["quota_messages"] = qm
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f)
    os.replace(tmp, path)


def add_users_live(inst, entries):
    """write_users on a running server, then SIGHUP and wait for the
    reload to be logged."""
    since = inst.log_size()
    write_users(inst, entries)
    inst.signal(signal.SIGHUP)
    line = inst.wait_log(lambda l: "event=reloaded" in l
                         or "event=reload-failed" in l, since=since,
                         timeout=10)
    if line is None or "reload-failed" in line:
        raise AssertionError("users reload failed: %r\n%s"
                             % (line, inst.log_since(since)))


_user_counter = [0]


def user_password(addr):
    return "pw-" + addr.split("@")[0]


class Lit:
    """A literal argument for Raw.cmd: synchronising {n} unless plus."""

    def __init__(self, data, plus=False):
        self.data = data if isinstance(data, bytes) else data.encode()
        self.plus = plus


class Resp:
    """A command's result: untagged responses (str, latin-1, literals
    inline as '{n}\\r\\n<bytes>') and the tagged line."""

    def __init__(self, tag, untagged, tagged, conts=()):
        self.tag = tag
        self.untagged = untagged
        self.tagged = tagged
        self.conts = list(conts)     # "+ ..." lines seen

    @property
    def status(self):
        parts = self.tagged.split(" ", 2)
        return parts[1].upper() if len(parts) > 1 else ""

    @property
    def code(self):
        m = re.match(r"^\S+ \S+ \[([^\]]*)\]", self.tagged)
        return m.group(1) if m else None

    def ok(self):
        return self.status == "OK"

    def __str__(self):
        return "\n".join(["S: " + u for u in self.untagged]
                         + ["S: " + c for c in self.conts]
                         + ["S: " + self.tagged])

    def named(self, word):
        """Untagged responses whose first word after '*' (or after a
        number) is word, e.g. named('FETCH'), named('EXISTS')."""
        out = []
        for u in self.untagged:
            w = u.split(" ")
            if len(w) >= 2 and w[1].upper() == word:
                out.append(u)
            elif len(w) >= 3 and w[1].isdigit() and w[2].upper() == word:
                out.append(u)
        return out


class Raw:
    """A raw IMAP client over a harness LineClient: sends commands,
    literals included, and reads whole responses (literals included).
    self.log keeps the exchange for failure messages."""

    def __init__(self, lc):
        self.lc = lc
        self.log = []
        self.greeting = self.read()

    def _line(self, timeout=None):
        while b"\r\n" not in self.lc.buf:
            self.lc._fill(timeout)
        line, self.lc.buf = self.lc.buf.split(b"\r\n", 1)
        return line

    def _bytes(self, n, timeout=None):
        while len(self.lc.buf) < n:
            self.lc._fill(timeout)
        d, self.lc.buf = self.lc.buf[:n], self.lc.buf[n:]
        return d

    def read(self, timeout=None):
        out = b""
        while True:
            line = self._line(timeout)
            out += line
            m = re.search(rb"\{(\d+)\}$", line)
            if not m:
                s = out.decode("latin-1")
                self.log.append("S: " + s[:300])
                return s
            out += b"\r\n" + self._bytes(int(m.group(1)), timeout)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.log.append("C: " + data.decode("latin-1")[:300])
        self.lc.send(data)

    def read_or_fail(self, timeout=None):
        try:
            return self.read(timeout)
        except socket.timeout:
            raise AssertionError("no response in time; exchange so far:\n"
                                 + self.exchange()) from None

    def wait(self, tag, timeout=None, conts=()):
        untagged = []
        conts = list(conts)
        while True:
            r = self.read_or_fail(timeout)
            if r.startswith(tag + " "):
                return Resp(tag, untagged, r, conts)
            if r.startswith("+"):
                conts.append(r)
            else:
                untagged.append(r)

    def cmd(self, tag, *parts, timeout=None):
        """Send 'tag parts...': str parts as they are, Lit parts as
        literals (waiting for '+ ' when synchronising). Returns Resp; if
        the server answers the tag instead of '+ ', that is the Resp."""
        head = tag + " "
        untagged = []
        conts = []
        for p in parts:
            if isinstance(p, Lit):
                n = len(p.data)
                self.send(head + ("{%d+}\r\n" % n if p.plus
                                  else "{%d}\r\n" % n))
                head = ""
                if not p.plus:
                    while True:
                        r = self.read_or_fail(timeout)
                        if r.startswith("+"):
                            conts.append(r)
                            break
                        if r.startswith(tag + " "):
                            return Resp(tag, untagged, r, conts)
                        untagged.append(r)
                self.send(p.data)
            else:
                head += p
        self.send(head + "\r\n")
        resp = self.wait(tag, timeout, conts)
        resp.untagged = untagged + resp.untagged
        return resp

    def exchange(self):
        return "\n".join(self.log[-40:])

    def close(self):
        self.lc.close()


# ----- response parsing -----

class Atom(str):
    pass


class Str(str):
    """A quoted string or literal (latin-1: bytes are chars)."""
    pass


def parse_sexp(s):
    """Parse an IMAP response line (literals inline) into a list of
    Atom, Str, None (NIL) and nested lists."""
    pos = 0
    n = len(s)
    stack = [[]]
    while pos < n:
        c = s[pos]
        if c == " ":
            pos += 1
        elif c == "(":
            stack.append([])
            pos += 1
        elif c == ")":
            if len(stack) < 2:
                raise ValueError("unbalanced ) at %d in %r" % (pos, s[:200]))
            lst = stack.pop()
            stack[-1].append(lst)
            pos += 1
        elif c == '"':
            pos += 1
            out = []
            while True:
                if pos >= n:
                    raise ValueError("unterminated quoted string in %r" % s)
                ch = s[pos]
                if ch == "\\":
                    out.append(s[pos + 1])
                    pos += 2
                elif ch == '"':
                    pos += 1
                    break
                else:
                    out.append(ch)
                    pos += 1
            stack[-1].append(Str("".join(out)))
        elif c == "{" or (c == "~" and pos + 1 < n and s[pos + 1] == "{"):
            if c == "~":
                pos += 1
            m = re.match(r"\{(\d+)\+?\}\r\n", s[pos:])
            if not m:
                raise ValueError("bad literal at %d in %r" % (pos, s[:200]))
            ln = int(m.group(1))
            start = pos + m.end()
            stack[-1].append(Str(s[start:start + ln]))
            pos = start + ln
        else:
            start = pos
            depth = 0
            while pos < n:
                ch = s[pos]
                if ch == "[":
                    depth += 1
                elif ch == "]":
                    depth -= 1
                elif depth == 0 and ch in " ()":
                    break
                pos += 1
            a = s[start:pos]
            stack[-1].append(None if a.upper() == "NIL" else Atom(a))
    if len(stack) != 1:
        raise ValueError("unbalanced ( in %r" % s[:200])
    return stack[0]


def parse_fetch(line):
    """'* N FETCH (k v ...)' -> (N, {KEY: value}) with keys upper-cased."""
    t = parse_sexp(line)
    if len(t) != 4 or t[0] != "*" or t[2].upper() != "FETCH" \
            or not isinstance(t[3], list):
        raise ValueError("not a FETCH response: %r" % line[:300])
    items = t[3]
    if len(items) % 2:
        raise ValueError("odd FETCH item list: %r" % line[:300])
    d = {}
    for i in range(0, len(items), 2):
        d[items[i].upper()] = items[i + 1]
    return int(t[1]), d


def fetches(resp):
    """{seq: merged items} from every untagged FETCH in resp."""
    out = {}
    for u in resp.named("FETCH"):
        seq, d = parse_fetch(u)
        out.setdefault(seq, {}).update(d)
    return out


def flagset(v):
    return set(f.upper() for f in v)


def caps_of(line):
    m = re.match(r"^\* OK \[CAPABILITY ([^\]]*)\]", line)
    if m:
        words = m.group(1)
    elif line.upper().startswith("* CAPABILITY "):
        words = line[len("* CAPABILITY "):]
    else:
        m = re.match(r"^\S+ OK \[CAPABILITY ([^\]]*)\]", line)
        if not m:
            raise AssertionError("no capability list in %r" % line)
        words = m.group(1)
    return set(w.upper() for w in words.split())


def resp_code_of(line):
    m = re.match(r"^\S+ \S+ \[([^\]]*)\]", line)
    return m.group(1) if m else None


# ----- test base -----

class ImapTestBase(SharedServerTest):
    """A shared server; tests get fresh users (cheap hashes) with
    self.new_user(), raw clients with self.raw(), imaplib ones with
    self.imap(). config_edit(cfg) runs before start."""

    config_edit = None
    preusers = ()          # (address, password, qbytes, qmessages) at start

    @classmethod
    def setUpClass(cls):
        cls.inst = harness.Instance()
        try:
            if cls.limits:
                cls.inst.set_limits(**cls.limits)
            if cls.config_edit is not None:
                cls.inst.edit_config(cls.config_edit)
            if cls.preusers:
                write_users(cls.inst, list(cls.preusers))
            cls.inst.start()
        except BaseException:
            cls.inst.cleanup()
            raise

    def new_user(self, quota_bytes=0, quota_messages=0):
        _user_counter[0] += 1
        addr = "u%d-%d@%s" % (_user_counter[0], os.getpid() % 10000, DOMAIN)
        add_users_live(self.inst, [(addr, user_password(addr), quota_bytes,
                                    quota_messages)])
        return addr

    def connect_raw(self, service="imaps"):
        lc = self.inst.connect(service)
        self.addCleanup(lc.close)
        r = Raw(lc)
        self.assertTrue(r.greeting.startswith("* OK"), r.greeting)
        return r

    def raw(self, user=None, password=None, service="imaps"):
        """A raw client logged in as user (a new user when None)."""
        if user is None:
            user = self.new_user()
        if password is None:
            password = ADMIN_PASSWORD if user == ADMIN else user_password(user)
        r = self.connect_raw(service)
        res = r.cmd("L", "LOGIN %s %s" % (imap_quote(user),
                                          imap_quote(password)))
        self.assertTrue(res.ok(), str(res))
        r.user = user
        return r

    def imap(self, user, password=None):
        if password is None:
            password = ADMIN_PASSWORD if user == ADMIN else user_password(user)
        m = self.inst.imap4_ssl()
        self.addCleanup(quiet_shutdown, m)
        typ, _ = m.login(user, password)
        self.assertEqual(typ, "OK")
        return m

    def ok(self, resp, msg=None):
        self.assertTrue(resp.ok(), (msg + "\n" if msg else "") + str(resp))
        return resp

    def status_is(self, resp, status, code=None):
        self.assertEqual(resp.status, status, str(resp))
        if code is not None:
            c = resp.code or ""
            self.assertTrue(c.upper().split(" ")[0] == code,
                            "expected [%s]:\n%s" % (code, resp))

    def append(self, r, mailbox, msg, flags=None, date=None, tag="A"):
        parts = ["APPEND %s " % imap_quote(mailbox)]
        if flags is not None:
            parts.append("(%s) " % " ".join(flags))
        if date is not None:
            parts.append('"%s" ' % date)
        parts.append(Lit(msg))
        res = r.cmd(tag, *parts)
        self.ok(res)
        return res

    def appenduid(self, res):
        m = re.search(r"\[APPENDUID (\d+) (\S+)\]", res.tagged, re.I)
        self.assertTrue(m, "no APPENDUID in %r" % res.tagged)
        return int(m.group(1)), m.group(2)


def quiet_shutdown(m):
    try:
        m.shutdown()
    except Exception:
        pass


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def sasl_plain(user, pw, authz=""):
    return b64("%s\0%s\0%s" % (authz, user, pw))


SIMPLE = (b"From: Alice <alice@example.org>\r\n"
          b"To: Bob <bob@example.test>\r\n"
          b"Subject: hello\r\n"
          b"Date: Tue, 03 Mar 2026 10:15:00 +0000\r\n"
          b"Message-ID: <simple@example.org>\r\n"
          b"\r\n"
          b"Hello there.\r\n")


# ---------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------

class Capabilities(ImapTestBase):
    limits = {"max_message_bytes": 1234567}

    def test_capability_143_before_tls_exact(self):
        r = self.connect_raw("imap")
        self.assertEqual(caps_of(r.greeting), CAPS_PRE_TLS, r.greeting)
        res = self.ok(r.cmd("a", "CAPABILITY"))
        caps = [u for u in res.untagged if u.upper().startswith("* CAPABILITY ")]
        self.assertEqual(len(caps), 1, str(res))
        self.assertEqual(caps_of(caps[0]), CAPS_PRE_TLS, str(res))

    def test_capability_after_starttls_exact(self):
        r = self.connect_raw("imap")
        res = self.ok(r.cmd("a", "STARTTLS"))
        r.lc.sock = self.inst.ssl_context().wrap_socket(
            r.lc.sock, server_hostname=HOSTNAME)
        res = self.ok(r.cmd("b", "CAPABILITY"))
        caps = [u for u in res.untagged if u.upper().startswith("* CAPABILITY ")]
        self.assertEqual(len(caps), 1, str(res))
        self.assertEqual(caps_of(caps[0]), CAPS_PRE_LOGIN_TLS, str(res))

    def test_capability_993_before_login_exact(self):
        r = self.connect_raw("imaps")
        self.assertEqual(caps_of(r.greeting), CAPS_PRE_LOGIN_TLS, r.greeting)
        res = self.ok(r.cmd("a", "CAPABILITY"))
        caps = [u for u in res.untagged if u.upper().startswith("* CAPABILITY ")]
        self.assertEqual(caps_of(caps[0]), CAPS_PRE_LOGIN_TLS, str(res))

    def test_capability_after_login_exact(self):
        r = self.raw()
        res = self.ok(r.cmd("a", "CAPABILITY"))
        caps = [u for u in res.untagged if u.upper().startswith("* CAPABILITY ")]
        self.assertEqual(len(caps), 1, str(res))
        self.assertEqual(caps_of(caps[0]),
                         CAPS_AUTH | {"APPENDLIMIT=1234567"}, str(res))

    def test_login_ok_capability_code_is_post_login_list(self):
        u = self.new_user()
        r = self.connect_raw()
        res = self.ok(r.cmd("a", "LOGIN %s %s" % (u, imap_quote(user_password(u)))))
        if res.code and res.code.upper().startswith("CAPABILITY"):
            self.assertEqual(caps_of(res.tagged),
                             CAPS_AUTH | {"APPENDLIMIT=1234567"}, str(res))

    def test_imaplib_sees_capabilities(self):
        u = self.new_user()
        m = self.imap(u)
        typ, data = m.capability()
        self.assertEqual(typ, "OK")
        caps = set(data[0].decode().upper().split())
        self.assertIn("APPENDLIMIT=1234567", caps)
        self.assertIn("UIDPLUS", caps)


class Auth(ImapTestBase):

    def test_login_then_select_inbox(self):
        r = self.raw()
        self.ok(r.cmd("a", "SELECT INBOX"))

    def test_login_wrong_password_authenticationfailed(self):
        u = self.new_user()
        r = self.connect_raw()
        res = r.cmd("a", "LOGIN %s wrong" % u)
        self.status_is(res, "NO", "AUTHENTICATIONFAILED")
        self.ok(r.cmd("b", "NOOP"))
        # Still not authenticated.
        res = r.cmd("c", "SELECT INBOX")
        self.assertIn(res.status, ("BAD", "NO"), str(res))

    def test_login_literal_password(self):
        u = self.new_user()
        r = self.connect_raw()
        res = r.cmd("a", "LOGIN ", Lit(u), " ", Lit(user_password(u)))
        self.ok(res)
        self.assertEqual(len(res.conts), 2, str(res))
        self.ok(r.cmd("b", "SELECT INBOX"))

    def test_login_literal_plus_password(self):
        u = self.new_user()
        r = self.connect_raw()
        res = r.cmd("a", "LOGIN ", Lit(u, plus=True), " ",
                    Lit(user_password(u), plus=True))
        self.ok(res)
        self.assertEqual(res.conts, [], "LITERAL+ got a continuation: %s" % res)

    def test_login_quoted_with_escapes(self):
        u = self.new_user()
        pw = 'p"a\\ss'
        add_users_live(self.inst, [(u, pw, 0, 0)])
        r = self.connect_raw()
        res = r.cmd("a", 'LOGIN "%s" "p\\"a\\\\ss"' % u)
        self.ok(res)

    def test_authenticate_plain_sasl_ir(self):
        u = self.new_user()
        r = self.connect_raw()
        res = r.cmd("a", "AUTHENTICATE PLAIN " + sasl_plain(u, user_password(u)))
        self.ok(res)
        self.assertEqual(res.conts, [], str(res))
        self.ok(r.cmd("b", "SELECT INBOX"))

    def test_authenticate_plain_continuation(self):
        u = self.new_user()
        r = self.connect_raw()
        r.send("a AUTHENTICATE PLAIN\r\n")
        line = r.read()
        self.assertTrue(line.startswith("+"), r.exchange())
        r.send(sasl_plain(u, user_password(u)) + "\r\n")
        res = r.wait("a")
        self.ok(res)
        self.ok(r.cmd("b", "SELECT INBOX"))

    def test_authenticate_plain_wrong(self):
        u = self.new_user()
        r = self.connect_raw()
        res = r.cmd("a", "AUTHENTICATE PLAIN " + sasl_plain(u, "nope"))
        self.status_is(res, "NO", "AUTHENTICATIONFAILED")
        self.ok(r.cmd("b", "NOOP"))

    def test_authenticate_cancel(self):
        r = self.connect_raw()
        r.send("a AUTHENTICATE PLAIN\r\n")
        self.assertTrue(r.read().startswith("+"), r.exchange())
        r.send("*\r\n")
        res = r.wait("a")
        self.assertEqual(res.status, "BAD", str(res))
        self.ok(r.cmd("b", "NOOP"))

    def test_authenticate_login(self):
        u = self.new_user()
        r = self.connect_raw()
        r.send("a AUTHENTICATE LOGIN\r\n")
        l1 = r.read()
        self.assertTrue(l1.startswith("+"), r.exchange())
        r.send(b64(u) + "\r\n")
        l2 = r.read()
        self.assertTrue(l2.startswith("+"), r.exchange())
        r.send(b64(user_password(u)) + "\r\n")
        res = r.wait("a")
        self.ok(res)
        self.ok(r.cmd("b", "SELECT INBOX"))

    def test_authenticate_plain_authzid(self):
        u = self.new_user()
        v = self.new_user()
        r = self.connect_raw()
        # Acting as another user is refused...
        res = r.cmd("a", "AUTHENTICATE PLAIN " + sasl_plain(u, user_password(u), v))
        self.assertEqual(res.status, "NO", str(res))
        # ...acting as oneself is fine.
        res = r.cmd("b", "AUTHENTICATE PLAIN " + sasl_plain(u, user_password(u), u))
        self.ok(res)

    def test_authenticate_unknown_mechanism_and_bad_base64(self):
        r = self.connect_raw()
        res = r.cmd("a", "AUTHENTICATE CRAM-MD5")
        self.assertIn(res.status, ("NO", "BAD"), str(res))
        res = r.cmd("b", "AUTHENTICATE PLAIN !!!notbase64!!!")
        self.assertIn(res.status, ("NO", "BAD"), str(res))
        res = r.cmd("c", "AUTHENTICATE PLAIN =")
        self.assertIn(res.status, ("NO", "BAD"), str(res))
        self.ok(r.cmd("d", "NOOP"))
        res = r.cmd("e", "SELECT INBOX")
        self.assertIn(res.status, ("NO", "BAD"), str(res))

    def test_login_utf8_password_literal(self):
        u = self.new_user()
        pw = "p\u00e4ss-w\u00f6rd"
        add_users_live(self.inst, [(u, pw, 0, 0)])
        r = self.connect_raw()
        self.ok(r.cmd("a", "LOGIN %s " % u, Lit(pw.encode())))

    def test_imaplib_authenticate_plain(self):
        u = self.new_user()
        m = self.inst.imap4_ssl()
        self.addCleanup(quiet_shutdown, m)
        typ, _ = m.authenticate(
            "PLAIN", lambda _: ("\0%s\0%s" % (u, user_password(u))).encode())
        self.assertEqual(typ, "OK")
        typ, data = m.select("INBOX")
        self.assertEqual(typ, "OK")

    def test_authenticate_plain_refused_without_tls(self):
        u = self.new_user()
        r = self.connect_raw("imap")
        res = r.cmd("a", "AUTHENTICATE PLAIN " + sasl_plain(u, user_password(u)))
        self.assertIn(res.status, ("NO", "BAD"), str(res))
        res = r.cmd("c", "SELECT INBOX")
        self.assertIn(res.status, ("NO", "BAD"), str(res))
        self.ok(r.cmd("b", "NOOP"))

    def test_login_refused_without_tls_privacyrequired(self):
        u = self.new_user()
        r = self.connect_raw("imap")
        res = r.cmd("a", "LOGIN %s %s" % (u, user_password(u)))
        self.status_is(res, "NO", "PRIVACYREQUIRED")

    def test_logout_says_bye(self):
        r = self.raw()
        res = self.ok(r.cmd("z", "LOGOUT"))
        self.assertTrue(any(u.startswith("* BYE") for u in res.untagged), str(res))
        _, closed = r.lc.read_until_closed(timeout=5 * harness.SLOW)
        self.assertTrue(closed)


class PlaintextLoopback(ImapTestBase):
    """tls.plaintext_auth_loopback: loopback clients log in on 143."""

    @staticmethod
    def config_edit(cfg):
        cfg.setdefault("tls", {})["plaintext_auth_loopback"] = True

    def test_capability_without_logindisabled(self):
        r = self.connect_raw("imap")
        caps = caps_of(r.greeting)
        self.assertNotIn("LOGINDISABLED", caps, r.greeting)
        self.assertIn("STARTTLS", caps)
        res = self.ok(r.cmd("a", "CAPABILITY"))
        caps = caps_of([u for u in res.untagged
                        if u.upper().startswith("* CAPABILITY ")][0])
        self.assertNotIn("LOGINDISABLED", caps, str(res))

    def test_plaintext_login_on_loopback(self):
        u = self.new_user()
        r = self.connect_raw("imap")
        self.ok(r.cmd("a", "LOGIN %s %s" % (u, user_password(u))))
        self.ok(r.cmd("b", "SELECT INBOX"))

    def test_imaplib_plain_login(self):
        u = self.new_user()
        m = self.inst.imap4()
        self.addCleanup(quiet_shutdown, m)
        typ, _ = m.login(u, user_password(u))
        self.assertEqual(typ, "OK")


class States(ImapTestBase):

    def test_select_before_login(self):
        r = self.connect_raw()
        for i, c in enumerate(["SELECT INBOX", "EXAMINE INBOX",
                               "LIST \"\" *", "CREATE foo", "STATUS INBOX (MESSAGES)",
                               "APPEND INBOX {3+}\r\nabc"]):
            res = r.cmd("s%d" % i, c)
            self.assertIn(res.status, ("BAD", "NO"), str(res))
        self.ok(r.cmd("n", "NOOP"))

    def test_fetch_without_select(self):
        r = self.raw()
        for i, c in enumerate(["FETCH 1 FLAGS", "STORE 1 +FLAGS (\\Seen)",
                               "SEARCH ALL", "UID FETCH 1 FLAGS", "COPY 1 INBOX",
                               "EXPUNGE", "CLOSE", "UNSELECT", "MOVE 1 INBOX"]):
            res = r.cmd("f%d" % i, c)
            self.assertEqual(res.status, "BAD", str(res))
        self.ok(r.cmd("n", "NOOP"))

    def test_login_twice_is_bad(self):
        r = self.raw()
        res = r.cmd("a", "LOGIN %s %s" % (r.user, user_password(r.user)))
        self.assertEqual(res.status, "BAD", str(res))
        res = r.cmd("b", "AUTHENTICATE PLAIN " + sasl_plain(r.user, user_password(r.user)))
        self.assertEqual(res.status, "BAD", str(res))

    def test_starttls_after_login_refused(self):
        r = self.raw(service="imaps")
        res = r.cmd("a", "STARTTLS")
        self.assertIn(res.status, ("BAD", "NO"), str(res))
        self.ok(r.cmd("b", "NOOP"))

    def test_select_nonexistent_mailbox(self):
        r = self.raw()
        res = r.cmd("a", "SELECT NoSuchBox")
        self.status_is(res, "NO", "NONEXISTENT")
        # A failed SELECT leaves the session authenticated (not selected).
        res = r.cmd("b", "FETCH 1 FLAGS")
        self.assertEqual(res.status, "BAD", str(res))

    def test_failed_select_deselects(self):
        r = self.raw()
        self.ok(r.cmd("a", "SELECT INBOX"))
        res = r.cmd("b", "SELECT NoSuchBox")
        self.assertEqual(res.status, "NO", str(res))
        res = r.cmd("c", "SEARCH ALL")
        self.assertEqual(res.status, "BAD", str(res))


class Parser(ImapTestBase):

    def test_malformed_inputs_bad_and_continue(self):
        r = self.raw()
        self.ok(r.cmd("s", "SELECT INBOX"))
        bad = [
            "FETCH",                        # missing args
            "FETCH 1 (FLAGS",               # unbalanced
            "FETCH 1 FLAGS)",
            "FETCH x FLAGS",                # bad sequence set
            "FETCH 1:2:3 FLAGS",
            "FETCH 0 FLAGS",
            "FETCH 1 BODY[",                # unterminated section
            "FETCH 1 BODY[FOO]",
            "FETCH 1 NOSUCHATTR",
            "STORE 1 FROBNICATE (\\Seen)",
            "SEARCH FROBNICATE",
            "SEARCH OR ALL",
            "SELECT \"unterminated",
            "NOOP extra",
            "LIST",
            "UID",
            "UID FROB 1",
        ]
        for i, c in enumerate(bad):
            res = r.cmd("b%d" % i, c)
            self.assertEqual(res.status, "BAD", "%r:\n%s" % (c, res))
        # Not even a tag.
        r.send("\r\n")
        r.send("  \r\n")
        r.send("(\r\n")
        r.send("tagonly\r\n")
        res = r.cmd("n", "NOOP")
        self.ok(res)
        for u in res.untagged:
            self.assertTrue(u.startswith("* BAD") or u.startswith("tagonly BAD")
                            or u.startswith("* "), str(res))
        self.ok(r.cmd("s2", "SELECT INBOX"))

    def test_binary_junk_and_nul(self):
        r = self.raw()
        r.send(b"a NOOP \x00\x01\xff\r\n")
        res = r.wait("a")
        self.assertEqual(res.status, "BAD", str(res))
        self.ok(r.cmd("b", "NOOP"))

    def test_quoted_escapes_in_mailbox_name(self):
        r = self.raw()
        res = self.ok(r.cmd("a", 'CREATE "we\\"ird\\\\box"'))
        res = self.ok(r.cmd("b", 'LIST "" "we*"'))
        self.assertTrue(any('we\\"ird\\\\box' in u or "we\"ird\\box" in u
                            for u in res.untagged), str(res))
        self.ok(r.cmd("c", "SELECT ", Lit(b'we"ird\\box')))

    def test_quoted_bad_escape_is_bad(self):
        r = self.raw()
        res = r.cmd("a", 'SELECT "IN\\BOX"')
        self.assertEqual(res.status, "BAD", str(res))
        self.ok(r.cmd("b", "NOOP"))

    def test_literal_sync_continuation_text(self):
        r = self.raw()
        r.send("a SELECT {5}\r\n")
        line = r.read()
        self.assertTrue(line.startswith("+ ") or line == "+", r.exchange())
        r.send("INBOX\r\n")
        self.ok(r.wait("a"))

    def test_literal_plus_pipelined(self):
        r = self.raw()
        # Two commands with non-synchronising literals in one write.
        r.send(b"a SELECT {5+}\r\nINBOX\r\nb STATUS {5+}\r\nINBOX (MESSAGES)\r\n")
        ra = r.wait("a")
        self.ok(ra)
        self.assertEqual(ra.conts, [], str(ra))
        rb = r.wait("b")
        self.ok(rb)
        self.assertEqual(rb.conts, [], str(rb))

    def test_literal_with_crlf_and_binaryish_content(self):
        r = self.raw()
        self.ok(r.cmd("s", "SELECT INBOX"))
        res = self.ok(r.cmd("a", "SEARCH HEADER ", Lit("X-T"), " ",
                            Lit("a\r\nb")))
        self.assertEqual(res.named("SEARCH"), ["* SEARCH"], str(res))

    def test_literal_zero_length(self):
        r = self.raw()
        self.ok(r.cmd("s", "SELECT INBOX"))
        res = self.ok(r.cmd("a", "SEARCH SUBJECT ", Lit(b"")))

    def test_lowercase_commands_and_keywords(self):
        r = self.raw()
        self.append(r, "INBOX", SIMPLE)
        self.ok(r.cmd("a", "select inbox"))
        self.ok(r.cmd("b", "fetch 1:* (flags)"))
        self.ok(r.cmd("c", "uid search all"))
        self.ok(r.cmd("d", "noop"))


class Limits(ImapTestBase):
    limits = {"imap_line_bytes": 4096, "max_message_bytes": 20000}

    def test_line_over_limit_bad_session_continues(self):
        r = self.raw()
        r.send("a NOOP " + "x" * 6000 + "\r\n")
        line = r.read()
        self.assertRegex(line, r"^(a|\*) BAD", r.exchange())
        self.ok(r.cmd("b", "NOOP"))

    def test_line_limit_excludes_literals(self):
        # 3000 bytes of command text + a 3000-byte literal + 500 more bytes:
        # each line is under 4096 and so is the text without the literal.
        r = self.raw()
        self.ok(r.cmd("s", "SELECT INBOX"))
        res = r.cmd("a", "SEARCH " + "SUBJECT x " * 250 + "HEADER X ",
                    Lit("y" * 3000), " " + "NOT SEEN " * 40 + "ALL")
        self.ok(res)

    def test_text_over_limit_across_literals_refused(self):
        # Each line is short, but the command text without its literals
        # adds up past imap_line_bytes.
        r = self.raw()
        self.ok(r.cmd("s", "SELECT INBOX"))
        parts = ["SEARCH"]
        for _ in range(5):
            parts += [" " + "NOT SEEN " * 150 + "SUBJECT ", Lit("z", plus=True)]
        res = r.cmd("a", *parts)
        self.assertEqual(res.status, "BAD", str(res))
        self.ok(r.cmd("b", "NOOP"))

    def test_sync_literal_too_big_refused_without_continuation(self):
        r = self.raw()
        r.send("a SELECT {100000000}\r\n")
        line = r.read()
        self.assertFalse(line.startswith("+"), r.exchange())
        self.assertRegex(line, r"^a (NO|BAD) \[TOOBIG\]", r.exchange())
        self.ok(r.cmd("b", "NOOP"))

    def test_append_sync_literal_over_appendlimit(self):
        r = self.raw()
        r.send("a APPEND INBOX {20001}\r\n")
        line = r.read()
        self.assertFalse(line.startswith("+"), r.exchange())
        self.assertRegex(line, r"^a (NO|BAD) \[TOOBIG\]", r.exchange())
        self.ok(r.cmd("b", "NOOP"))
        res = self.ok(r.cmd("c", "STATUS INBOX (MESSAGES)"))
        self.assertIn("MESSAGES 0", " ".join(res.untagged).upper(), str(res))

    def test_append_at_appendlimit_accepted(self):
        r = self.raw()
        body = b"Subject: big\r\n\r\n" + b"x" * (20000 - 18) + b"\r\n"
        self.assertEqual(len(body), 20000)
        self.append(r, "INBOX", body)

    def test_append_nonsync_literal_over_limit(self):
        # RFC 7888: the server refuses it ([TOOBIG]); the bytes already sent
        # are not taken as commands; the session goes on (or closes).
        r = self.raw()
        r.send(b"a APPEND INBOX {20001+}\r\n" + b"b NOOP\r\n" * 2500 + b"x\r\n")
        r.send(b"c NOOP\r\n")
        try:
            res = r.wait("a")
        except EOFError:
            return      # closing the connection is allowed
        self.assertRegex(res.tagged, r"^a (NO|BAD) \[TOOBIG\]", str(res))
        res = r.wait("c")
        self.ok(res)
        self.assertFalse([u for u in res.untagged if u.startswith("b ")],
                         str(res))

    def test_appendlimit_in_capability(self):
        r = self.raw()
        res = self.ok(r.cmd("a", "CAPABILITY"))
        self.assertIn("APPENDLIMIT=20000", " ".join(res.untagged).upper())


class Misc(ImapTestBase):

    def test_id(self):
        r = self.raw()
        res = self.ok(r.cmd("a", 'ID ("name" "e2e" "version" "1")'))
        ids = res.named("ID")
        self.assertEqual(len(ids), 1, str(res))
        t = parse_sexp(ids[0])
        self.assertIsInstance(t[2], list, ids[0])
        kv = dict(zip([k.lower() for k in t[2][0::2]], t[2][1::2]))
        self.assertEqual(kv.get("name"), "rmail", ids[0])
        res = self.ok(r.cmd("b", "ID NIL"))
        self.assertEqual(len(res.named("ID")), 1, str(res))

    def test_id_before_login(self):
        r = self.connect_raw()
        res = self.ok(r.cmd("a", "ID NIL"))
        self.assertEqual(len(res.named("ID")), 1, str(res))

    def test_enable_unknown(self):
        r = self.raw()
        res = self.ok(r.cmd("a", "ENABLE FOO"))
        en = res.named("ENABLED")
        self.assertEqual([e.rstrip() for e in en], ["* ENABLED"], str(res))

    def test_namespace(self):
        r = self.raw()
        res = self.ok(r.cmd("a", "NAMESPACE"))
        ns = res.named("NAMESPACE")
        self.assertEqual(len(ns), 1, str(res))
        t = parse_sexp(ns[0])
        # Personal namespace ("" "/") or ("" "."); others NIL.
        personal = t[2]
        self.assertIsInstance(personal, list, ns[0])
        self.assertEqual(personal[0][0], "", ns[0])
        self.assertIn(personal[0][1], ("/", "."), ns[0])
        self.assertIsNone(t[3], ns[0])
        self.assertIsNone(t[4], ns[0])

    def test_check_and_noop_selected(self):
        r = self.raw()
        self.ok(r.cmd("a", "SELECT INBOX"))
        self.ok(r.cmd("b", "CHECK"))
        self.ok(r.cmd("c", "NOOP"))

    def test_create_alreadyexists_delete_nonexistent(self):
        r = self.raw()
        self.ok(r.cmd("a", "CREATE Projects"))
        self.status_is(r.cmd("b", "CREATE Projects"), "NO", "ALREADYEXISTS")
        self.status_is(r.cmd("c", "DELETE NoSuch"), "NO", "NONEXISTENT")
        self.status_is(r.cmd("d", "RENAME NoSuch Other"), "NO", "NONEXISTENT")
        self.status_is(r.cmd("e", "STATUS NoSuch (MESSAGES)"), "NO",
                       "NONEXISTENT")

    def test_delete_inbox_cannot(self):
        r = self.raw()
        res = r.cmd("a", "DELETE INBOX")
        self.status_is(res, "NO", "CANNOT")

    def test_overquota_append(self):
        u = self.new_user(quota_messages=1)
        r = self.raw(u)
        self.append(r, "INBOX", SIMPLE)
        res = r.cmd("b", "APPEND INBOX ", Lit(SIMPLE))
        self.status_is(res, "NO", "OVERQUOTA")
        res = self.ok(r.cmd("c", "STATUS INBOX (MESSAGES)"))
        self.assertIn("MESSAGES 1", " ".join(res.untagged).upper(), str(res))

    def test_overquota_bytes_copy(self):
        u = self.new_user(quota_bytes=len(SIMPLE) + 10)
        r = self.raw(u)
        self.append(r, "INBOX", SIMPLE)
        self.ok(r.cmd("s", "SELECT INBOX"))
        res = r.cmd("b", "COPY 1 Trash")
        self.status_is(res, "NO", "OVERQUOTA")

    def test_append_to_missing_mailbox_trycreate(self):
        r = self.raw()
        res = r.cmd("a", "APPEND NoSuchBox ", Lit(SIMPLE))
        self.status_is(res, "NO", "TRYCREATE")
        self.append(r, "INBOX", SIMPLE)
        self.ok(r.cmd("s", "SELECT INBOX"))
        res = r.cmd("b", "COPY 1 NoSuchBox")
        self.status_is(res, "NO", "TRYCREATE")
        res = r.cmd("c", "MOVE 1 NoSuchBox")
        self.status_is(res, "NO", "TRYCREATE")


class Robustness(ImapTestBase):

    def test_deep_nesting_refused_not_crashing(self):
        r = self.raw()
        self.append(r, "INBOX", SIMPLE)
        self.ok(r.cmd("s", "SELECT INBOX"))
        for i, crit in enumerate(["(" * 5000 + "ALL" + ")" * 5000,
                                  "NOT " * 5000 + "ALL",
                                  "OR ALL " * 3000 + "ALL"]):
            res = r.cmd("d%d" % i, "SEARCH " + crit)
            self.assertIn(res.status, ("OK", "BAD"), str(res)[:500])
        res = r.cmd("f", "FETCH 1 " + "(" * 3000 + "FLAGS" + ")" * 3000)
        self.assertEqual(res.status, "BAD", str(res)[:500])
        self.ok(r.cmd("n", "NOOP"))

    def test_many_arguments(self):
        r = self.raw()
        self.append(r, "INBOX", SIMPLE)
        self.ok(r.cmd("s", "SELECT INBOX"))
        res = r.cmd("a", "FETCH 1 (" + " ".join(["FLAGS"] * 6000) + ")")
        self.assertIn(res.status, ("OK", "BAD"), str(res)[:500])
        res = r.cmd("b", "FETCH " + ",".join(["1"] * 6000) + " FLAGS")
        self.assertIn(res.status, ("OK", "BAD"), str(res)[:500])
        self.ok(r.cmd("n", "NOOP"))

    def test_disconnect_mid_append_stores_nothing(self):
        u = self.new_user()
        r = self.raw(u)
        r.send("a APPEND INBOX {5000}\r\n")
        self.assertTrue(r.read().startswith("+"), r.exchange())
        r.send(b"Subject: cut\r\n\r\n" + b"x" * 1000)
        r.close()
        r2 = self.raw(u)
        res = self.ok(r2.cmd("c", "STATUS INBOX (MESSAGES)"))
        self.assertIn("MESSAGES 0", res.untagged[0].upper(), str(res))

    def test_tag_required_and_odd_tags(self):
        r = self.raw()
        res = r.cmd("a.b-c_1", "NOOP")
        self.ok(res)
        r.send("* NOOP\r\n")
        r.send("+ NOOP\r\n")
        res = self.ok(r.cmd("z", "NOOP"))
        bads = [u for u in res.untagged if " BAD" in u]
        self.assertEqual(len(bads), 2, str(res))
        self.assertFalse([u for u in res.untagged if " OK" in u
                          and not u.startswith("* OK")], str(res))
