"""Crash durability (issue 9): 2,000 messages over 8 SMTP connections
while the server is killed with SIGKILL at 5 random moments and restarted.
Afterwards every message that got a 250 is in each of its recipients'
INBOX exactly once (by Message-ID), nothing is half-delivered (every
stored file is the sent bytes behind the server's Return-Path and
Received lines), the queue drains, no tmp file is left behind, and the
next start logs no error and serves the mailboxes over IMAP.

The scenario (run_scenario) is shared with tests/bench/bench_reliability.py.
Under ASan (RMAIL_BUILD=asan) it sends 1,000 messages instead of 2,000.
"""

import glob
import os
import random
import re
import smtplib
import threading
import time
import unittest

import harness
from harness import DOMAIN, SLOW, Instance

# The numbers (about 5 s on the release build). ASan+UBSan takes
# 25 s for those on an idle machine, 60 s on a busy one: half the
# messages there, still 8 connections and 5 kills.
MESSAGES, CONNECTIONS, KILLS = (1000 if harness.ASAN else 2000), 8, 5

USERS = ["admin", "bob", "carol", "dave"]
PASSWORD = "crash-test-password"
SENDER = "sender@remote.test"
# How often one message is tried (each try a new Message-ID) before the
# client gives it up: only a server that never comes back exhausts it.
MAX_TRIES = 8
MSGID_RE = re.compile(rb"^Message-ID: <([^>\r\n]+)>\r$", re.M | re.I)


def recipients(i):
    """Message i's recipients: one local user, every 5th two, every 10th
    three (several copies of one queue file, hard-linked)."""
    n = 3 if i % 10 == 0 else 2 if i % 5 == 0 else 1
    return ["%s@%s" % (USERS[(i + k) % len(USERS)], DOMAIN) for k in range(n)]


def message(msgid, i, rcpts):
    """The bytes sent (CRLF, no line starting with a dot), a few hundred
    bytes with a body that tells a truncation apart."""
    head = ("From: <%s>\r\nTo: %s\r\nSubject: crash %d\r\n"
            "Message-ID: <%s>\r\n\r\n" % (SENDER, ", ".join(rcpts), i, msgid))
    body = "".join("line %d of message %s %s\r\n" % (k, msgid, "z" * 40)
                   for k in range(1 + i % 7))
    return (head + body + "end of %s\r\n" % msgid).encode()


class Tally:
    """What the clients know: every Message-ID tried, with its recipients
    and bytes, and whether a 250 came back (with its queue id)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sent = {}          # msgid -> (rcpts, bytes)
        self.acked = {}         # msgid -> queue id
        self.given_up = []      # message numbers never acknowledged
        self.errors = []        # unexpected replies or exceptions

    def note(self, msgid, rcpts, data):
        with self.lock:
            self.sent[msgid] = (rcpts, data)

    def ack(self, msgid, qid):
        with self.lock:
            self.acked[msgid] = qid


def _connect(inst, deadline):
    """An smtplib client past EHLO, retried while the server restarts;
    None once the deadline passes."""
    while time.monotonic() < deadline:
        try:
            s = smtplib.SMTP("127.0.0.1", inst.ports["smtp"],
                             local_hostname="client.test",
                             timeout=10 * SLOW)
            s.ehlo()
            return s
        except (OSError, smtplib.SMTPException):
            time.sleep(0.02)
    return None


def _close(s):
    if s is None:
        return
    try:
        s.close()
    except Exception:
        pass


def client(inst, tally, work, deadline):
    """Send messages taken from work until it is empty; a try cut by a
    kill (no 250) is sent again under a new Message-ID."""
    s = None
    while True:
        with work["lock"]:
            if work["next"] >= work["n"]:
                break
            i = work["next"]
            work["next"] += 1
        rcpts = recipients(i)
        acked = False
        for t in range(MAX_TRIES):
            if s is None and (s := _connect(inst, deadline)) is None:
                break
            msgid = "crash-%d-%d@remote.test" % (i, t)
            data = message(msgid, i, rcpts)
            tally.note(msgid, rcpts, data)
            try:
                code, reply = s.mail(SENDER)
                if code != 250:
                    raise smtplib.SMTPResponseException(code, reply)
                for r in rcpts:
                    code, reply = s.rcpt(r)
                    if code != 250:
                        raise smtplib.SMTPResponseException(code, reply)
                code, reply = s.data(data)
            except (OSError, smtplib.SMTPServerDisconnected):
                # Killed under us: this try is not acknowledged.
                _close(s)
                s = None
                continue
            except smtplib.SMTPResponseException as e:
                with tally.lock:
                    tally.errors.append("message %d: %d %r"
                                        % (i, e.smtp_code, e.smtp_error))
                _close(s)
                s = None
                continue
            if code == 250:
                m = re.search(rb"queued as ([0-9A-Za-z]+)", reply)
                tally.ack(msgid, m.group(1).decode() if m else "?")
                acked = True
                break
            with tally.lock:
                tally.errors.append("message %d DATA: %d %r" % (i, code, reply))
            _close(s)
            s = None
        if not acked:
            with tally.lock:
                tally.given_up.append(i)
    if s is not None:
        try:
            s.quit()
        except Exception:
            pass
        _close(s)


def killer(inst, tally, n, kills, log, rng, stop):
    """SIGKILL the server kills times, each once a random number of
    messages in its own slice of the run has been acknowledged (and a
    random few milliseconds more, so a kill lands anywhere in a
    transaction or a delivery pass), and start it again at once."""
    lo, hi = int(n * 0.05), int(n * 0.9)
    step = (hi - lo) / kills
    marks = sorted(int(lo + k * step + rng.random() * step)
                   for k in range(kills))
    done = 0
    for mark in marks:
        while True:
            with tally.lock:
                have = len(tally.acked)
            if have >= mark:
                break
            if stop.is_set():
                # The clients gave up before this mark: no run left.
                return done
            time.sleep(0.002)
        # The clients may have passed the mark (even finished) while the
        # last restart was under way: the kill then lands in delivery.
        time.sleep(rng.random() * 0.03)
        inst.kill()
        done += 1
        log.append((mark, time.monotonic()))
        inst.start()
    return done


def add_users(inst):
    for u in USERS[1:]:
        r = inst.cli("user", "add", "%s@%s" % (u, DOMAIN),
                     "--password-stdin", input=PASSWORD + "\n")
        if r.returncode != 0:
            raise AssertionError("user add %s: %s" % (u, r.stderr))


def queue_empty(inst):
    q = os.path.join(inst.data_dir, "queue")
    return all(not [f for f in os.listdir(os.path.join(q, sub))]
               for sub in ("env", "msg"))


def wait_drained(inst, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if queue_empty(inst):
            return True
        time.sleep(0.05)
    return queue_empty(inst)


def user_dir(inst, user):
    return os.path.join(inst.data_dir, "mail", DOMAIN, user)


def scan_store(inst):
    """With the server stopped: {user: [(path, bytes)]} of every message
    file in every user's INBOX shards."""
    out = {}
    for u in USERS:
        files = sorted(glob.glob(os.path.join(
            user_dir(inst, u), "mailboxes", "INBOX", "[0-9]" * 4, "*.eml")))
        out[u] = []
        for p in files:
            with open(p, "rb") as f:
                out[u].append((p, f.read()))
    return out


def check_store(store, tally):
    """Compare the store with what the clients know. A dict of figures
    and a list of problems (empty when all is well):
    lost       acknowledged copies missing from a recipient's INBOX
    duplicates copies stored more than once
    partial    files that are not exactly added headers + a sent message,
               and unacknowledged messages stored for only some recipients
    stray      copies in the INBOX of a user the message was not for
    """
    problems = []
    counts = {}
    partial = stray = 0
    added_re = re.compile(rb"\AReturn-Path: <[^>\r\n]*>\r\n"
                          rb"Received: [^\r\n]*\r\n(?:[ \t][^\r\n]*\r\n)*\Z")
    for u, files in store.items():
        addr = "%s@%s" % (u, DOMAIN)
        for path, data in files:
            m = MSGID_RE.search(data.split(b"\r\n\r\n", 1)[0] + b"\r\n")
            msgid = m.group(1).decode() if m else None
            if msgid not in tally.sent:
                partial += 1
                problems.append("%s: no known Message-ID (%r)"
                                % (path, data[:120]))
                continue
            rcpts, sent = tally.sent[msgid]
            added = data[:len(data) - len(sent)]
            if not data.endswith(sent) or not added_re.match(added):
                partial += 1
                problems.append("%s: not the sent bytes of <%s> (%d bytes "
                                "stored, %d sent)"
                                % (path, msgid, len(data), len(sent)))
                continue
            if addr not in rcpts:
                stray += 1
                problems.append("%s: <%s> was not for %s" % (path, msgid, addr))
                continue
            counts[(addr, msgid)] = counts.get((addr, msgid), 0) + 1
    duplicates = sum(c - 1 for c in counts.values() if c > 1)
    for (addr, msgid), c in sorted(counts.items()):
        if c > 1:
            problems.append("<%s> stored %d times for %s" % (msgid, c, addr))
    lost = 0
    for msgid, qid in sorted(tally.acked.items()):
        for addr in tally.sent[msgid][0]:
            if counts.get((addr, msgid), 0) == 0:
                lost += 1
                problems.append("<%s> (queue id %s) acknowledged but not in "
                                "%s's INBOX" % (msgid, qid, addr))
    # A try without a 250 was committed or not: in every recipient's
    # INBOX, or in none.
    unacked = {msgid for (_, msgid) in counts if msgid not in tally.acked}
    for msgid in sorted(unacked):
        missing = [a for a in tally.sent[msgid][0] if (a, msgid) not in counts]
        if missing:
            partial += 1
            problems.append("<%s> (no 250) stored for some recipients, not "
                            "for %s" % (msgid, ", ".join(missing)))
    unacked_stored = len(unacked)
    return ({"lost": lost, "duplicates": duplicates, "partial": partial,
             "stray": stray, "unacked_stored": unacked_stored}, problems)


def leftovers(inst):
    """Files a crash may leave that nothing would clean: anything in the
    queue's folders or a user's tmp/, and dot-files (half-written
    status.json, envelopes) in the mailboxes."""
    out = []
    q = os.path.join(inst.data_dir, "queue")
    for sub in ("env", "msg", "tmp"):
        out += [os.path.join(q, sub, f) for f in os.listdir(os.path.join(q, sub))]
    for u in USERS:
        d = user_dir(inst, u)
        tmp = os.path.join(d, "tmp")
        if os.path.isdir(tmp):
            out += [os.path.join(tmp, f) for f in os.listdir(tmp)]
        for root, _, files in os.walk(os.path.join(d, "mailboxes")):
            # .lock is the mailbox's lock file, there to stay.
            out += [os.path.join(root, f) for f in files
                    if f.startswith(".") and f != ".lock"]
    return out


def run_scenario(inst, n=MESSAGES, connections=CONNECTIONS, kills=KILLS,
                 seed=None, drain_timeout=60.0):
    """Run the crash scenario against a started instance whose users
    exist (add_users). Returns (tally, kills done, seconds of sending
    and draining, drained?). The server is left running."""
    rng = random.Random(seed)
    tally = Tally()
    work = {"lock": threading.Lock(), "next": 0, "n": n}
    t0 = time.monotonic()
    deadline = t0 + 300 * SLOW
    kill_log = []
    result = {}
    stop = threading.Event()

    def kill_thread():
        result["kills"] = killer(inst, tally, n, kills, kill_log, rng, stop)

    threads = [threading.Thread(target=client,
                                args=(inst, tally, work, deadline))
               for _ in range(connections)]
    k = threading.Thread(target=kill_thread)
    for t in threads:
        t.start()
    k.start()
    for t in threads:
        t.join()
    # Every client is done: a mark not reached (only when messages were
    # given up) never will be.
    stop.set()
    k.join()
    drained = wait_drained(inst, drain_timeout * SLOW)
    return tally, result.get("kills", 0), time.monotonic() - t0, drained


def imap_check(test, inst, expect):
    """Log in as each user over IMAPS, SELECT INBOX: EXISTS is the number
    of files, and the Message-IDs IMAP lists are the ones on disk."""
    for u in USERS:
        m = inst.imap4_ssl(timeout=30)
        pw = harness.ADMIN_PASSWORD if u == "admin" else PASSWORD
        typ, _ = m.login("%s@%s" % (u, DOMAIN), pw)
        test.assertEqual(typ, "OK")
        typ, data = m.select("INBOX")
        test.assertEqual(typ, "OK", data)
        test.assertEqual(int(data[0]), len(expect[u]), u)
        ids = []
        if expect[u]:
            typ, data = m.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS "
                                "(MESSAGE-ID)])")
            test.assertEqual(typ, "OK")
            for item in data:
                if isinstance(item, tuple):
                    mm = re.search(rb"<([^>]+)>", item[1])
                    ids.append(mm.group(1).decode() if mm else None)
        test.assertEqual(sorted(ids), sorted(expect[u]), u)
        m.logout()


class CrashDurability(unittest.TestCase):

    def setUp(self):
        self.inst = Instance()
        self.addCleanup(self.inst.cleanup)
        add_users(self.inst)
        self.inst.start()

    def tearDown(self):
        self.inst.close_clients()
        self.inst.stop(check=False)

    def test_kill9_during_load(self):
        inst = self.inst
        tally, kills, secs, drained = run_scenario(inst)
        self.assertEqual(kills, KILLS)
        self.assertEqual(tally.errors, [])
        self.assertEqual(tally.given_up, [])
        self.assertTrue(drained, "the queue did not drain:\n%s"
                        % inst.cli("queue", "list").stdout[:2000])
        r = inst.cli("queue", "list")
        self.assertEqual((r.returncode, r.stdout), (0, ""))
        # The sanitizers see every run but the killed ones.
        self.assertEqual(inst.stop(), 0)

        store = scan_store(inst)
        figures, problems = check_store(store, tally)
        self.assertEqual(problems[:20], [], figures)
        self.assertEqual(figures["lost"], 0)
        self.assertEqual(figures["duplicates"], 0)
        self.assertEqual(len(tally.acked), MESSAGES)

        # What a crash left is gone once the server has run (and stopped
        # cleanly), or never mattered.
        self.assertEqual(leftovers(inst), [], figures)

        # The next start is clean: no error logged, every INBOX selects
        # and lists exactly what is on disk.
        off = inst.log_size()
        inst.start()
        expect = {u: [MSGID_RE.search(d).group(1).decode()
                      for _, d in files] for u, files in store.items()}
        imap_check(self, inst, expect)
        inst.close_clients()
        self.assertEqual(inst.stop(), 0)
        errors = [l for l in inst.log_since(off).splitlines()
                  if "level=error" in l]
        self.assertEqual(errors, [])


if __name__ == "__main__":
    unittest.main()
