"""IMAP with real clients over IMAPS (993) and the instance's self-signed
certificate:

  imaplib2  IDLE with a callback: a message sent over SMTP is announced
            (* N EXISTS) well under a second after the 250.
  mbsync    (isync) both ways: the initial sync pulls existing messages
            into a Maildir; a flag set locally reaches the server; a flag
            set on the server reaches the local file name; a message added
            locally is uploaded; a message expunged on the server is
            removed locally.
  mutt      reads INBOX headless (under a pty, time-bounded) and copies
            every message to a local mbox whose subjects are checked.

No skips: packaging/deps.sh installs python3-imaplib2, isync and mutt, so
a missing client is a failure.
"""

import email
import errno
import fcntl
import glob
import mailbox
import os
import pty
import re
import select
import shutil
import signal
import smtplib
import struct
import subprocess
import tempfile
import termios
import threading
import time

import harness
from harness import ServerTest, ADMIN, ADMIN_PASSWORD, DOMAIN, HOSTNAME
import smtp_util

SENDER = "sender@remote.test"


def raw_message(subject, body="hello\r\n", msgid=None):
    msgid = msgid or "<%s.%d@remote.test>" % (
        re.sub(r"[^A-Za-z0-9]", "-", subject), int(time.time() * 1e6))
    return ("From: Sender <%s>\r\nTo: %s\r\nSubject: %s\r\n"
            "Message-ID: %s\r\nDate: Mon, 01 Jan 2024 10:00:00 +0000\r\n"
            "\r\n%s" % (SENDER, ADMIN, subject, msgid, body)).encode()


def smtp_send(inst, subjects):
    """Send one message per subject over port 25 to ADMIN; the monotonic
    time of each 250 reply to DATA."""
    times = []
    s = smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=10 * harness.SLOW)
    try:
        s.ehlo("client.remote.test")
        for subj in subjects:
            refused = s.sendmail(SENDER, [ADMIN], raw_message(subj))
            times.append(time.monotonic())
            if refused:
                raise AssertionError("refused: %r" % refused)
        s.quit()
    finally:
        s.close()
    return times


def deliver(test, inst, subjects):
    """SMTP the messages and wait until they are all in the store."""
    before = len(smtp_util.inbox_files(inst))
    smtp_send(inst, subjects)
    files = smtp_util.wait_inbox(inst, before + len(subjects))
    test.assertEqual(len(files), before + len(subjects),
                     "messages not stored in time")


def imaps_admin(test, inst):
    m = inst.imap4_ssl()
    test.addCleanup(_quiet_logout, m)
    typ, data = m.login(ADMIN, ADMIN_PASSWORD)
    test.assertEqual(typ, "OK", data)
    return m


def _quiet_logout(m):
    try:
        m.logout()
    except Exception:
        pass
    try:
        m.shutdown()
    except Exception:
        pass


def server_flags_by_subject(test, m):
    """{subject: set of flags} for every message in INBOX (imaplib)."""
    typ, data = m.select("INBOX")
    test.assertEqual(typ, "OK", data)
    n = int(data[0])
    out = {}
    if n == 0:
        return out
    typ, data = m.fetch("1:*", "(UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    test.assertEqual(typ, "OK", data)
    for item in data:
        if not isinstance(item, tuple):
            continue
        meta = item[0].decode()
        fm = re.search(r"FLAGS \(([^)]*)\)", meta)
        test.assertIsNotNone(fm, meta)
        hdr = email.message_from_bytes(item[1])
        out[str(hdr["Subject"])] = set(fm.group(1).split())
    test.assertEqual(len(out), n, data)
    return out


# ---------------------------------------------------------------------------
# imaplib2 IDLE


class Imaplib2Idle(ServerTest):

    def test_idle_callback_on_smtp_delivery(self):
        import imaplib2     # python3-imaplib2; ImportError is a failure

        inst = self.inst
        deliver(self, inst, ["before idle"])
        m = imaplib2.IMAP4_SSL(HOSTNAME, inst.ports["imaps"],
                               ca_certs=inst.cafile,
                               timeout=10 * harness.SLOW)
        self.addCleanup(_quiet_logout, m)
        typ, data = m.login(ADMIN, ADMIN_PASSWORD)
        self.assertEqual(typ, "OK", data)
        typ, data = m.select("INBOX")
        self.assertEqual(typ, "OK", data)
        self.assertEqual(data, [b"1"], "SELECT INBOX should say 1 EXISTS")
        m.response("EXISTS")        # clear the SELECT's EXISTS

        fired = threading.Event()
        got = {}

        def callback(args):
            got["t"] = time.monotonic()
            got["args"] = args
            fired.set()

        m.idle(timeout=60, callback=callback)
        # imaplib2 sends IDLE from its own thread and sets idle_rqb when the
        # server's "+" continuation arrives: wait for it, so the delivery
        # comes while the server holds the session in IDLE.
        deadline = time.monotonic() + 5 * harness.SLOW
        while m.idle_rqb is None and not fired.is_set():
            self.assertLess(time.monotonic(), deadline,
                            "no continuation to IDLE")
            time.sleep(0.01)
        self.assertFalse(fired.is_set(),
                         "IDLE ended before any delivery: %r" % got.get("args"))
        sent_at = smtp_send(inst, ["during idle"])[0]
        self.assertTrue(fired.wait(10 * harness.SLOW),
                        "IDLE callback did not fire within %.0f s of the "
                        "SMTP 250" % (10 * harness.SLOW))
        latency = got["t"] - sent_at
        print("\n    imaplib2 IDLE: callback %.1f ms after the SMTP 250"
              % (latency * 1000))
        response, cb_arg, error = got["args"]
        self.assertIsNone(error, "IDLE ended with an error: %r" % (got["args"],))
        self.assertEqual(response[0], "OK", response)
        typ, exists = m.response("EXISTS")
        self.assertEqual(exists, [b"2"],
                         "IDLE should have reported * 2 EXISTS; %r"
                         % (m.untagged_responses,))
        self.assertLess(latency, 5.0 * harness.SLOW,
                        "EXISTS took %.2f s after the 250" % latency)
        typ, data = m.noop()
        self.assertEqual(typ, "OK", data)


# ---------------------------------------------------------------------------
# mbsync (isync)


MBSYNCRC = """\
IMAPAccount rmail
Host {host}
Port {port}
User {user}
Pass {password}
SSLType IMAPS
CertificateFile {cert}
AuthMechs LOGIN
Timeout 20

IMAPStore rmail-remote
Account rmail

MaildirStore rmail-local
Path {path}/
Inbox {inbox}
SubFolders Verbatim

Channel rmail
Far :rmail-remote:
Near :rmail-local:
Patterns *
Create Both
Expunge Both
SyncState *
"""

# Maildir info letters <-> IMAP flags (isync's mapping).
MAILDIR_FLAGS = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered",
                 "S": "\\Seen", "T": "\\Deleted"}


class MaildirMsg:
    def __init__(self, path):
        self.path = path
        name = os.path.basename(path)
        if ":2," in name:
            self.base, self.flags = name.split(":2,", 1)
        else:
            self.base, self.flags = name, ""
        with open(path, "rb") as f:
            self.data = f.read()
        self.subject = str(email.message_from_bytes(self.data)["Subject"])

    def uid(self):
        m = re.search(r",U=(\d+)", self.base)
        return int(m.group(1)) if m else None


class Mbsync(ServerTest):

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="rmail-mbsync-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.path = os.path.join(self.tmp, "mail")
        self.inbox = os.path.join(self.tmp, "inbox")
        os.makedirs(self.path)
        self.rc = os.path.join(self.tmp, "mbsyncrc")
        with open(self.rc, "w") as f:
            # Host "localhost": isync 1.4 matches only DNS names of the
            # certificate, not its IP address entries.
            f.write(MBSYNCRC.format(host=HOSTNAME,
                                    port=self.inst.ports["imaps"], user=ADMIN,
                                    password=ADMIN_PASSWORD,
                                    cert=self.inst.cafile, path=self.path,
                                    inbox=self.inbox))
        self.runs = []

    def mbsync(self):
        if shutil.which("mbsync") is None:
            self.fail("mbsync not installed (packaging/deps.sh installs isync)")
        try:
            r = subprocess.run(["mbsync", "-c", self.rc, "-V", "-a"],
                               capture_output=True, text=True,
                               timeout=30 * harness.SLOW,
                               env=dict(os.environ, HOME=self.tmp))
        except subprocess.TimeoutExpired as e:
            self.fail("mbsync timed out; output:\n%s%s" % (e.stdout, e.stderr))
        out = r.stdout + r.stderr
        self.runs.append(out)
        self.assertEqual(r.returncode, 0,
                         "mbsync exit %d; output:\n%s" % (r.returncode, out))
        return out

    def local(self):
        """{subject: MaildirMsg} in the local INBOX (cur and new)."""
        out = {}
        for sub in ("cur", "new"):
            for p in glob.glob(os.path.join(self.inbox, sub, "*")):
                msg = MaildirMsg(p)
                self.assertNotIn(msg.subject, out, "duplicate local copy")
                out[msg.subject] = msg
        return out

    def initial(self, subjects):
        deliver(self, self.inst, subjects)
        self.mbsync()
        loc = self.local()
        self.assertEqual(sorted(loc), sorted(subjects),
                         "initial sync; mbsync said:\n%s" % self.runs[-1])
        for msg in loc.values():
            self.assertIsNotNone(msg.uid(), msg.path)
        return loc

    def set_local_flags(self, msg, letters):
        flags = "".join(sorted(set(msg.flags) | set(letters)))
        new = os.path.join(self.inbox, "cur", "%s:2,%s" % (msg.base, flags))
        os.rename(msg.path, new)

    def test_initial_sync_pulls_messages(self):
        loc = self.initial(["pull one", "pull two", "pull three"])
        # The bodies are the stored messages (CRLF in the store; isync
        # writes LF locally).
        for subj, msg in loc.items():
            self.assertIn(b"hello", msg.data)
            self.assertNotIn("S", msg.flags, "%s arrived as \\Seen" % subj)
        # Every default folder was created locally too (Patterns *).
        for folder in ("Sent", "Drafts", "Trash"):
            self.assertTrue(os.path.isdir(os.path.join(self.path, folder)),
                            "folder %s not synced; mbsync said:\n%s"
                            % (folder, self.runs[-1]))
        # A second sync with nothing changed changes nothing.
        self.mbsync()
        self.assertEqual({s: m.path for s, m in self.local().items()},
                         {s: m.path for s, m in loc.items()})

    def test_local_flag_reaches_server(self):
        loc = self.initial(["flag me seen", "flag me flagged", "leave me"])
        self.set_local_flags(loc["flag me seen"], "S")
        self.set_local_flags(loc["flag me flagged"], "F")
        self.mbsync()
        m = imaps_admin(self, self.inst)
        flags = server_flags_by_subject(self, m)
        self.assertIn("\\Seen", flags["flag me seen"], flags)
        self.assertIn("\\Flagged", flags["flag me flagged"], flags)
        self.assertNotIn("\\Seen", flags["flag me flagged"], flags)
        self.assertNotIn("\\Seen", flags["leave me"], flags)
        self.assertNotIn("\\Flagged", flags["leave me"], flags)

    def test_server_flag_reaches_local(self):
        self.initial(["server flags me", "server leaves me"])
        m = imaps_admin(self, self.inst)
        flags = server_flags_by_subject(self, m)    # selects INBOX
        typ, data = m.search(None, 'SUBJECT "server flags me"')
        self.assertEqual(typ, "OK", data)
        nums = data[0].split()
        self.assertEqual(len(nums), 1, data)
        typ, data = m.store(nums[0].decode(), "+FLAGS", "(\\Flagged)")
        self.assertEqual(typ, "OK", data)
        flags = server_flags_by_subject(self, m)
        self.assertIn("\\Flagged", flags["server flags me"], flags)
        self.mbsync()
        loc = self.local()
        self.assertIn("F", loc["server flags me"].flags,
                      "local file %s; mbsync said:\n%s"
                      % (loc["server flags me"].path, self.runs[-1]))
        self.assertNotIn("F", loc["server leaves me"].flags)

    def test_local_message_is_uploaded(self):
        self.initial(["already there"])
        name = "%d.local1.host:2,S" % int(time.time())
        data = ("From: me@%s\nTo: %s\nSubject: written locally\n"
                "Message-ID: <local-1@example.test>\n"
                "Date: Mon, 01 Jan 2024 11:00:00 +0000\n\nlocal body\n"
                % (DOMAIN, ADMIN)).encode()
        with open(os.path.join(self.inbox, "cur", name), "wb") as f:
            f.write(data)
        self.mbsync()
        m = imaps_admin(self, self.inst)
        flags = server_flags_by_subject(self, m)
        self.assertEqual(sorted(flags), ["already there", "written locally"],
                         "mbsync said:\n%s" % self.runs[-1])
        self.assertIn("\\Seen", flags["written locally"])
        typ, data = m.search(None, 'SUBJECT "written locally"')
        self.assertEqual(typ, "OK", data)
        typ, data = m.fetch(data[0].split()[0].decode(), "(BODY.PEEK[TEXT])")
        self.assertEqual(typ, "OK", data)
        self.assertEqual(data[0][1], b"local body\r\n")
        # The local copy now carries the server's UID; nothing duplicated.
        loc = self.local()
        self.assertEqual(sorted(loc), ["already there", "written locally"])
        self.assertIsNotNone(loc["written locally"].uid(),
                             loc["written locally"].path)

    def test_server_expunge_removes_local(self):
        self.initial(["expunge me", "keep me"])
        m = imaps_admin(self, self.inst)
        server_flags_by_subject(self, m)
        typ, data = m.search(None, 'SUBJECT "expunge me"')
        self.assertEqual(typ, "OK", data)
        nums = data[0].split()
        self.assertEqual(len(nums), 1, data)
        typ, data = m.store(nums[0].decode(), "+FLAGS", "(\\Deleted)")
        self.assertEqual(typ, "OK", data)
        typ, data = m.expunge()
        self.assertEqual(typ, "OK", data)
        self.assertEqual(sorted(server_flags_by_subject(self, m)), ["keep me"])
        self.mbsync()
        self.assertEqual(sorted(self.local()), ["keep me"],
                         "mbsync said:\n%s" % self.runs[-1])


# ---------------------------------------------------------------------------
# mutt


MUTTRC = """\
set imap_user="{user}"
set imap_pass="{password}"
set imap_authenticators="login"
set folder="imaps://127.0.0.1:{port}/"
set spoolfile="+INBOX"
set certificate_file="{certs}"
set ssl_verify_host=no
set ssl_force_tls=yes
set header_cache=""
set message_cachedir=""
set mbox_type=mbox
set confirmappend=no
set confirmcreate=no
set move=no
set quit=yes
set wait_key=no
set beep=no
set mail_check_stats=no
set imap_check_subscribed=no
set sort=date-sent
set timeout=30
set tmpdir="{tmp}"
"""


def run_pty(argv, env, timeout):
    """Run argv on a pty (80x24); (exit status, screen bytes). Kills the
    child after timeout seconds."""
    pid, fd = pty.fork()
    if pid == 0:    # child
        try:
            os.execvpe(argv[0], argv, env)
        finally:
            os._exit(127)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    out = b""
    deadline = time.monotonic() + timeout
    timed_out = False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            r, _, _ = select.select([fd], [], [], min(left, 0.5))
            if not r:
                continue
            try:
                data = os.read(fd, 65536)
            except OSError as e:
                if e.errno == errno.EIO:
                    break
                raise
            if not data:
                break
            out += data
    finally:
        if timed_out:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    if timed_out:
        return None, out
    return os.waitstatus_to_exitcode(status), out


def screen_text(raw):
    """The pty output with escape sequences dropped, for messages."""
    t = re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1b[=>]", b" ",
               raw)
    t = re.sub(rb"[\x00-\x08\x0e-\x1f]", b"", t)
    return re.sub(rb" {2,}", b" ", t).decode("utf-8", "replace")[-3000:]


class Mutt(ServerTest):

    def test_mutt_reads_inbox(self):
        mutt = shutil.which("mutt")
        if mutt is None:
            self.fail("mutt not installed (packaging/deps.sh installs it)")
        subjects = ["mutt one", "mutt two", "mutt three"]
        deliver(self, self.inst, subjects)
        tmp = tempfile.mkdtemp(prefix="rmail-mutt-")
        self.addCleanup(shutil.rmtree, tmp, True)
        certs = os.path.join(tmp, "certificates")
        shutil.copyfile(self.inst.cafile, certs)
        out_mbox = os.path.join(tmp, "out.mbox")
        rc = os.path.join(tmp, "muttrc")
        with open(rc, "w") as f:
            f.write(MUTTRC.format(user=ADMIN, password=ADMIN_PASSWORD,
                                  port=self.inst.ports["imaps"], certs=certs,
                                  tmp=tmp))
            # Tag every message, copy the tagged ones to a local mbox, quit.
            f.write('push "<tag-pattern>~A<enter><tag-prefix>'
                    '<copy-message>%s<enter><quit>"\n' % out_mbox)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "HOME": tmp, "TERM": "vt100", "LANG": "C.UTF-8",
               "MAIL": os.path.join(tmp, "spool")}
        status, screen = run_pty([mutt, "-n", "-F", rc, "-f", "+INBOX"],
                                 env, 30 * harness.SLOW)
        self.assertIsNotNone(status, "mutt did not finish in time; screen:\n"
                             + screen_text(screen))
        self.assertTrue(os.path.exists(out_mbox),
                        "mutt wrote no mbox (exit %r); screen:\n%s"
                        % (status, screen_text(screen)))
        got = sorted(str(msg["Subject"]) for msg in mailbox.mbox(out_mbox))
        self.assertEqual(got, sorted(subjects),
                         "screen:\n" + screen_text(screen))
        self.assertEqual(status, 0, "mutt exit %r; screen:\n%s"
                         % (status, screen_text(screen)))
        # Copying must not have changed the messages on the server.
        m = imaps_admin(self, self.inst)
        flags = server_flags_by_subject(self, m)
        self.assertEqual(sorted(flags), sorted(subjects))
        for s in subjects:
            self.assertNotIn("\\Deleted", flags[s])
