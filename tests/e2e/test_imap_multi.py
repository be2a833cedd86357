"""IMAP UIDPLUS (APPENDUID, COPYUID, UID EXPUNGE), COPY, MOVE, EXPUNGE,
CLOSE and UNSELECT, MULTIAPPEND (all or nothing), two sessions on one
mailbox (RFC 2180: EXISTS, FETCH FLAGS and EXPUNGE at the other's next
NOOP, never during its FETCH/STORE/SEARCH; \\Recent for one session),
IDLE, and a message arriving over SMTP in a selected session."""

import re
import smtplib
import socket
import time

import harness
from harness import ADMIN, HOSTNAME, imap_quote
from test_imap_session import (ImapTestBase, Lit, SIMPLE, fetches, flagset,
                               parse_sexp, user_password)


def mk(i, extra=b""):
    return SIMPLE.replace(b"Subject: hello", b"Subject: msg %d" % i) + extra


def parse_uidset(s):
    out = []
    for part in s.split(","):
        if ":" in part:
            a, b = (int(x) for x in part.split(":"))
            # COPYUID sets are ordered pairs; a:b with a > b is legal
            # in a set but COPYUID lists them in order.
            out += list(range(a, b + 1)) if a <= b else list(range(a, b - 1, -1))
        else:
            out.append(int(part))
    return out


def apply_expunges(resp, seqs):
    """Apply the '* n EXPUNGE' responses in order to a list (index =
    sequence number - 1); the list after."""
    seqs = list(seqs)
    for u in resp.untagged:
        m = re.match(r"^\* (\d+) EXPUNGE$", u, re.I)
        if m:
            n = int(m.group(1))
            if not 1 <= n <= len(seqs):
                raise AssertionError("EXPUNGE %d out of range:\n%s" % (n, resp))
            del seqs[n - 1]
    return seqs


def expunges(resp):
    return [u for u in resp.untagged if re.match(r"^\* \d+ EXPUNGE$", u, re.I)]


class MultiBase(ImapTestBase):

    def filled(self, n=3, user=None, flags=None):
        """A new user (or user) with n messages in INBOX, selected."""
        r = self.raw(user)
        for i in range(1, n + 1):
            self.append(r, "INBOX", mk(i), flags=flags)
        res = self.ok(r.cmd("S", "SELECT INBOX"))
        r.uv = int(re.search(r"\[UIDVALIDITY (\d+)\]", "\n".join(res.untagged)).group(1))
        r.uids = self.uids(r)
        return r

    def uids(self, r, tag="U"):
        res = self.ok(r.cmd(tag, "FETCH 1:* UID"))
        f = fetches(res)
        return [int(f[s]["UID"]) for s in sorted(f)]

    def subjects(self, r, tag="J"):
        res = self.ok(r.cmd(tag, "FETCH 1:* BODY.PEEK[HEADER.FIELDS (SUBJECT)]"))
        f = fetches(res)
        return [f[s]["BODY[HEADER.FIELDS (SUBJECT)]"].strip() for s in sorted(f)]

    def count(self, r, box, tag="C"):
        res = self.ok(r.cmd(tag, "STATUS %s (MESSAGES)" % imap_quote(box)))
        st = [u for u in res.untagged if u.upper().startswith("* STATUS")][0]
        t = parse_sexp(st)
        return int(t[3][1])


class UidPlus(MultiBase):

    def test_copyuid_of_scattered_uids_is_whole(self):
        # 800 messages in one MULTIAPPEND, then every other one copied:
        # COPYUID names 400 single uids (~1,500 bytes), APPENDUID a range;
        # the tagged lines must come whole, not cut at a buffer size.
        r = self.raw()
        parts = ["APPEND INBOX"]
        for i in range(800):
            parts += [" ", Lit(mk(i), plus=True)]
        res = self.ok(r.cmd("a", *parts))
        self.assertRegex(res.tagged, r"\[APPENDUID \d+ 1:800\]")
        self.ok(r.cmd("s", "SELECT INBOX"))
        odd = ",".join(str(u) for u in range(1, 801, 2))
        res = self.ok(r.cmd("c", "UID COPY %s Archive" % odd))
        m = re.search(r"\[COPYUID (\d+) ([0-9:,]+) ([0-9:,]+)\]", res.tagged)
        self.assertIsNotNone(m, str(res))
        self.assertEqual(parse_uidset(m.group(2)), list(range(1, 801, 2)))
        self.assertEqual(len(parse_uidset(m.group(3))), 400)
        self.assertTrue(res.tagged.endswith("completed"), res.tagged)

    def test_appenduid(self):
        r = self.raw()
        res = self.append(r, "INBOX", mk(1))
        uv, uid = self.appenduid(res)
        res = self.ok(r.cmd("s", "SELECT INBOX"))
        self.assertIn("[UIDVALIDITY %d]" % uv, "\n".join(res.untagged), str(res))
        self.assertEqual(self.uids(r), [int(uid)])
        res = self.append(r, "Archive", mk(2))
        uv2, uid2 = self.appenduid(res)
        res = self.ok(r.cmd("e", "EXAMINE Archive"))
        self.assertIn("[UIDVALIDITY %d]" % uv2, "\n".join(res.untagged), str(res))
        self.assertEqual(self.uids(r, "U2"), [int(uid2)])

    def test_copyuid(self):
        r = self.raw()
        self.append(r, "INBOX", mk(1), flags=["\\Flagged"])
        self.append(r, "INBOX", mk(2), flags=["\\Seen", "Work"])
        self.append(r, "INBOX", mk(3))
        self.ok(r.cmd("s", "SELECT INBOX"))
        src_uids = self.uids(r)
        res = self.ok(r.cmd("c", "COPY 1:2 Archive"))
        m = re.search(r"\[COPYUID (\d+) (\S+) (\S+)\]", res.tagged, re.I)
        self.assertTrue(m, str(res))
        self.assertEqual(sorted(parse_uidset(m.group(2))), src_uids[:2], str(res))
        dst = parse_uidset(m.group(3))
        self.assertEqual(len(dst), 2, str(res))
        # The source is unchanged.
        self.assertEqual(self.uids(r, "U2"), src_uids)
        res = self.ok(r.cmd("e", "EXAMINE Archive"))
        self.assertIn("[UIDVALIDITY %s]" % m.group(1), "\n".join(res.untagged))
        self.assertEqual(sorted(self.uids(r, "U3")), sorted(dst))
        res = self.ok(r.cmd("f", "FETCH 1:* (UID FLAGS BODY.PEEK[])"))
        f = fetches(res)
        byuid = {int(d["UID"]): d for d in f.values()}
        # Pairwise: source uid i -> destination uid i, same message, flags kept.
        pairs = dict(zip(parse_uidset(m.group(2)), dst))
        want = {src_uids[0]: (mk(1), {"\\FLAGGED"}),
                src_uids[1]: (mk(2), {"\\SEEN", "WORK"})}
        for s, d in pairs.items():
            body, flags = want[s]
            self.assertEqual(byuid[d]["BODY[]"].encode("latin-1"), body)
            self.assertEqual(flagset(byuid[d]["FLAGS"]) - {"\\RECENT"}, flags,
                             str(res))

    def test_uid_copy_to_same_mailbox(self):
        r = self.filled(2)
        res = self.ok(r.cmd("c", "UID COPY %d INBOX" % r.uids[1]))
        m = re.search(r"\[COPYUID %d %d (\d+)\]" % (r.uv, r.uids[1]),
                      res.tagged, re.I)
        self.assertTrue(m, str(res))
        new = int(m.group(1))
        self.assertGreater(new, r.uids[1])
        res2 = self.ok(r.cmd("n", "NOOP"))
        self.assertIn("* 3 EXISTS", res.untagged + res2.untagged,
                      "%s\n%s" % (res, res2))
        self.assertEqual(self.uids(r, "U2"), r.uids + [new])

    def test_uid_expunge_only_given(self):
        r = self.filled(3)
        self.ok(r.cmd("d", "STORE 1:3 +FLAGS.SILENT (\\Deleted)"))
        res = self.ok(r.cmd("x", "UID EXPUNGE %d" % r.uids[1]))
        self.assertEqual(expunges(res), ["* 2 EXPUNGE"], str(res))
        self.assertEqual(self.uids(r), [r.uids[0], r.uids[2]])
        res = self.ok(r.cmd("f", "FETCH 1:* FLAGS"))
        for d in fetches(res).values():
            self.assertIn("\\DELETED", flagset(d["FLAGS"]))
        # A UID that is not \Deleted is not expunged.
        self.ok(r.cmd("d2", "STORE 1 -FLAGS.SILENT (\\Deleted)"))
        res = self.ok(r.cmd("x2", "UID EXPUNGE %d:%d" % (r.uids[0], r.uids[2])))
        self.assertEqual(expunges(res), ["* 2 EXPUNGE"], str(res))
        self.assertEqual(self.uids(r, "U2"), [r.uids[0]])

    def test_expunge_sequence_numbers(self):
        r = self.filled(5)
        self.ok(r.cmd("d", "STORE 2,4 +FLAGS (\\Deleted)"))
        res = self.ok(r.cmd("x", "EXPUNGE"))
        self.assertEqual(len(expunges(res)), 2, str(res))
        left = apply_expunges(res, r.uids)
        self.assertEqual(left, [r.uids[0], r.uids[2], r.uids[4]], str(res))
        self.assertEqual(self.uids(r), left)
        self.assertEqual(self.subjects(r), ["Subject: msg 1", "Subject: msg 3",
                                            "Subject: msg 5"])

    def test_close_expunges_silently(self):
        r = self.filled(3)
        self.ok(r.cmd("d", "STORE 2 +FLAGS.SILENT (\\Deleted)"))
        res = self.ok(r.cmd("c", "CLOSE"))
        self.assertEqual(expunges(res), [], str(res))
        res = r.cmd("f", "FETCH 1 FLAGS")
        self.assertEqual(res.status, "BAD", str(res))
        self.assertEqual(self.count(r, "INBOX"), 2)

    def test_close_after_examine_keeps_deleted(self):
        r = self.filled(2)
        self.ok(r.cmd("d", "STORE 1 +FLAGS.SILENT (\\Deleted)"))
        self.ok(r.cmd("e", "EXAMINE INBOX"))
        self.ok(r.cmd("c", "CLOSE"))
        self.assertEqual(self.count(r, "INBOX"), 2)

    def test_unselect_does_not_expunge(self):
        r = self.filled(3)
        self.ok(r.cmd("d", "STORE 2 +FLAGS.SILENT (\\Deleted)"))
        res = self.ok(r.cmd("u", "UNSELECT"))
        self.assertEqual(expunges(res), [], str(res))
        res = r.cmd("f", "FETCH 1 FLAGS")
        self.assertEqual(res.status, "BAD", str(res))
        self.assertEqual(self.count(r, "INBOX"), 3)
        self.ok(r.cmd("s", "SELECT INBOX"))
        self.assertEqual(self.uids(r, "U2"), r.uids)

    def test_expunge_nothing_deleted(self):
        r = self.filled(2)
        res = self.ok(r.cmd("x", "EXPUNGE"))
        self.assertEqual(expunges(res), [], str(res))


class Move(MultiBase):

    def test_move(self):
        r = self.filled(3)
        res = self.ok(r.cmd("m", "MOVE 2 Archive"))
        cu = [u for u in res.untagged if re.match(r"^\* OK \[COPYUID ", u, re.I)]
        self.assertEqual(len(cu), 1, str(res))
        m = re.match(r"^\* OK \[COPYUID (\d+) (\S+) (\S+)\]", cu[0], re.I)
        self.assertEqual(parse_uidset(m.group(2)), [r.uids[1]], str(res))
        self.assertEqual(expunges(res), ["* 2 EXPUNGE"], str(res))
        # COPYUID comes before the EXPUNGE (RFC 6851 4.3).
        self.assertLess(res.untagged.index(cu[0]),
                        res.untagged.index("* 2 EXPUNGE"), str(res))
        self.assertEqual(self.uids(r), [r.uids[0], r.uids[2]])
        self.assertEqual(self.count(r, "Archive"), 1)
        self.ok(r.cmd("e", "EXAMINE Archive"))
        self.assertEqual(self.uids(r, "U2"), parse_uidset(m.group(3)))
        self.assertEqual(self.subjects(r), ["Subject: msg 2"])

    def test_uid_move_several(self):
        r = self.filled(4)
        res = self.ok(r.cmd("m", "UID MOVE %d,%d:%d Trash"
                            % (r.uids[0], r.uids[2], r.uids[3])))
        self.assertEqual(len(expunges(res)), 3, str(res))
        self.assertEqual(apply_expunges(res, r.uids), [r.uids[1]], str(res))
        cu = "\n".join(res.untagged + [res.tagged])
        m = re.search(r"\[COPYUID \d+ (\S+) (\S+)\]", cu, re.I)
        self.assertTrue(m, str(res))
        self.assertEqual(sorted(parse_uidset(m.group(1))),
                         [r.uids[0], r.uids[2], r.uids[3]])
        self.assertEqual(self.count(r, "Trash"), 3)

    def test_move_keeps_flags(self):
        r = self.filled(1)
        self.ok(r.cmd("st", "STORE 1 +FLAGS (\\Answered Later)"))
        self.ok(r.cmd("m", "MOVE 1 Archive"))
        self.ok(r.cmd("e", "EXAMINE Archive"))
        res = self.ok(r.cmd("f", "FETCH 1 FLAGS"))
        self.assertEqual(flagset(fetches(res)[1]["FLAGS"]) - {"\\RECENT"},
                         {"\\ANSWERED", "LATER"}, str(res))


class MultiAppend(MultiBase):

    def test_multiappend_two(self):
        r = self.raw()
        res = self.ok(r.cmd("a", "APPEND INBOX (\\Seen) ", Lit(mk(1)),
                            ' (\\Flagged) "01-Jan-2026 10:00:00 +0000" ',
                            Lit(mk(2))))
        m = re.search(r"\[APPENDUID (\d+) (\S+)\]", res.tagged, re.I)
        self.assertTrue(m, str(res))
        uids = parse_uidset(m.group(2))
        self.assertEqual(len(uids), 2, str(res))
        self.ok(r.cmd("s", "SELECT INBOX"))
        self.assertEqual(self.uids(r), uids)
        res = self.ok(r.cmd("f", "FETCH 1:2 (FLAGS INTERNALDATE BODY.PEEK[])"))
        f = fetches(res)
        self.assertEqual(f[1]["BODY[]"].encode("latin-1"), mk(1))
        self.assertEqual(f[2]["BODY[]"].encode("latin-1"), mk(2))
        self.assertEqual(flagset(f[1]["FLAGS"]) - {"\\RECENT"}, {"\\SEEN"})
        self.assertEqual(flagset(f[2]["FLAGS"]) - {"\\RECENT"}, {"\\FLAGGED"})
        self.assertTrue(f[2]["INTERNALDATE"].startswith("01-Jan-2026"), str(res))

    def test_multiappend_literal_plus(self):
        r = self.raw()
        res = self.ok(r.cmd("a", "APPEND Drafts ", Lit(mk(1), plus=True), " ",
                            Lit(mk(2), plus=True), " ", Lit(mk(3), plus=True)))
        self.assertEqual(res.conts, [], str(res))
        self.assertEqual(self.count(r, "Drafts"), 3)

    def test_multiappend_over_quota_stores_none(self):
        u = self.new_user(quota_messages=1)
        r = self.raw(u)
        res = r.cmd("a", "APPEND INBOX ", Lit(mk(1)), " ", Lit(mk(2)))
        self.status_is(res, "NO", "OVERQUOTA")
        self.assertEqual(self.count(r, "INBOX"), 0)
        # One alone fits.
        self.append(r, "INBOX", mk(3))
        self.assertEqual(self.count(r, "INBOX", "C2"), 1)

    def test_multiappend_over_quota_bytes_stores_none(self):
        u = self.new_user(quota_bytes=len(mk(1)) + len(mk(2)) - 1)
        r = self.raw(u)
        res = r.cmd("a", "APPEND INBOX ", Lit(mk(1)), " ", Lit(mk(2)))
        self.status_is(res, "NO", "OVERQUOTA")
        self.assertEqual(self.count(r, "INBOX"), 0)

    def test_multiappend_malformed_second_stores_none(self):
        r = self.raw()
        res = r.cmd("a", "APPEND INBOX ", Lit(mk(1)), ' "not a date" ',
                    Lit(mk(2)))
        self.assertEqual(res.status, "BAD", str(res))
        self.ok(r.cmd("n", "NOOP"))
        self.assertEqual(self.count(r, "INBOX"), 0)
        res = r.cmd("b", "APPEND INBOX ", Lit(mk(1)), " (\\Seen ", Lit(mk(2)))
        self.assertEqual(res.status, "BAD", str(res))
        self.assertEqual(self.count(r, "INBOX", "C2"), 0)

    def test_multiappend_missing_mailbox(self):
        r = self.raw()
        res = r.cmd("a", "APPEND NoSuchBox ", Lit(mk(1)), " ", Lit(mk(2)))
        self.status_is(res, "NO", "TRYCREATE")


class MultiAppendLimit(MultiBase):
    limits = {"max_message_bytes": 20000}

    def test_second_over_appendlimit_stores_none(self):
        r = self.raw()
        r.send("a APPEND INBOX {%d}\r\n" % len(mk(1)))
        self.assertTrue(r.read().startswith("+"), "\n".join(r.log))
        r.send(mk(1) + b" {20001}\r\n")
        line = r.read()
        self.assertFalse(line.startswith("+"), "\n".join(r.log))
        self.assertRegex(line, r"^a (NO|BAD) \[TOOBIG\]", "\n".join(r.log))
        self.ok(r.cmd("n", "NOOP"))
        self.assertEqual(self.count(r, "INBOX"), 0)


class TwoSessions(MultiBase):
    """RFC 2180 section 4 and RFC 3501 7.4.1."""

    def pair(self, n=3):
        a = self.filled(n)
        b = self.raw(a.user)
        self.ok(b.cmd("s", "SELECT INBOX"))
        return a, b

    def test_new_message_exists_at_noop(self):
        a, b = self.pair()
        self.append(a, "INBOX", mk(9))
        res = self.ok(b.cmd("n", "NOOP"))
        self.assertIn("* 4 EXISTS", res.untagged, str(res))
        self.assertEqual(len(self.uids(b)), 4)

    def test_flag_change_fetch_at_noop(self):
        a, b = self.pair()
        self.ok(a.cmd("st", "STORE 2 +FLAGS (\\Flagged)"))
        res = self.ok(b.cmd("n", "NOOP"))
        f = fetches(res)
        self.assertIn(2, f, str(res))
        self.assertIn("\\FLAGGED", flagset(f[2]["FLAGS"]), str(res))
        self.assertNotIn(1, f, str(res))

    def test_expunge_not_during_fetch_store_search(self):
        a, b = self.pair(3)
        self.ok(a.cmd("d", "STORE 2 +FLAGS.SILENT (\\Deleted)"))
        self.ok(a.cmd("x", "EXPUNGE"))
        # B's FETCH: no EXPUNGE in it (the message may be returned, or the
        # command may fail with NO), and B is not disconnected.
        res = b.cmd("f", "FETCH 1:* (UID FLAGS)")
        self.assertIn(res.status, ("OK", "NO"), str(res))
        self.assertEqual(expunges(res), [], str(res))
        f = fetches(res)
        self.assertTrue(set(f) <= {1, 2, 3}, str(res))
        if 1 in f:
            self.assertEqual(int(f[1]["UID"]), a.uids[0])
        if 3 in f:
            self.assertEqual(int(f[3]["UID"]), a.uids[2])
        res = b.cmd("st", "STORE 3 +FLAGS (\\Seen)")
        self.assertIn(res.status, ("OK", "NO"), str(res))
        self.assertEqual(expunges(res), [], str(res))
        res = b.cmd("se", "SEARCH ALL")
        self.assertIn(res.status, ("OK", "NO"), str(res))
        self.assertEqual(expunges(res), [], str(res))
        # The next NOOP tells.
        res = self.ok(b.cmd("n", "NOOP"))
        self.assertEqual(expunges(res), ["* 2 EXPUNGE"], str(res))
        # Numbers agree from here on.
        self.assertEqual(self.uids(b), [a.uids[0], a.uids[2]])
        res = self.ok(b.cmd("f2", "FETCH 2 FLAGS"))
        self.assertIn("\\SEEN", flagset(fetches(res)[2]["FLAGS"]), str(res))

    def test_fetch_body_of_expunged_message(self):
        a, b = self.pair(2)
        self.ok(a.cmd("d", "STORE 1 +FLAGS.SILENT (\\Deleted)"))
        self.ok(a.cmd("x", "EXPUNGE"))
        res = b.cmd("f", "FETCH 1 (BODY.PEEK[] RFC822.SIZE)")
        self.assertIn(res.status, ("OK", "NO"), str(res))
        self.assertEqual(expunges(res), [], str(res))
        f = fetches(res)
        if 1 in f and "BODY[]" in f[1]:
            self.assertEqual(f[1]["BODY[]"].encode("latin-1"), mk(1))
        res = b.cmd("f2", "FETCH 1 (BODY[TEXT] BODYSTRUCTURE ENVELOPE)")
        self.assertIn(res.status, ("OK", "NO"), str(res))
        res = self.ok(b.cmd("n", "NOOP"))
        self.assertEqual(expunges(res), ["* 1 EXPUNGE"], str(res))
        res = self.ok(b.cmd("f3", "FETCH 1 BODY.PEEK[]"))
        self.assertEqual(fetches(res)[1]["BODY[]"].encode("latin-1"), mk(2))

    def test_expunge_and_new_message_together(self):
        a, b = self.pair(3)
        self.ok(a.cmd("d", "STORE 1 +FLAGS.SILENT (\\Deleted)"))
        self.ok(a.cmd("x", "EXPUNGE"))
        self.append(a, "INBOX", mk(4))
        res = self.ok(b.cmd("n", "NOOP"))
        left = apply_expunges(res, a.uids)
        self.assertEqual(left, a.uids[1:], str(res))
        ex = [u for u in res.untagged if re.match(r"^\* \d+ EXISTS$", u)]
        self.assertTrue(ex, str(res))
        # EXISTS counts after the expunges it follows, or before them
        # (then it says 4); what B ends with is 3 messages.
        self.assertEqual(len(self.uids(b)), 3, str(res))

    def test_move_by_other_session_is_expunge_at_noop(self):
        a, b = self.pair(3)
        self.ok(a.cmd("m", "MOVE 1 Archive"))
        res = b.cmd("f", "FETCH 1:* UID")
        self.assertEqual(expunges(res), [], str(res))
        res = self.ok(b.cmd("n", "NOOP"))
        self.assertEqual(expunges(res), ["* 1 EXPUNGE"], str(res))
        self.assertEqual(self.uids(b), a.uids[1:])

    def test_examiner_sees_flag_changes(self):
        a = self.filled(2)
        b = self.raw(a.user)
        self.ok(b.cmd("e", "EXAMINE INBOX"))
        self.ok(a.cmd("st", "STORE 2 +FLAGS (\\Answered)"))
        res = self.ok(b.cmd("n", "NOOP"))
        f = fetches(res)
        self.assertIn(2, f, str(res))
        self.assertIn("\\ANSWERED", flagset(f[2]["FLAGS"]), str(res))
        res = b.cmd("x", "UID EXPUNGE %d" % a.uids[0])
        self.assertEqual(res.status, "NO", str(res))

    def test_recent_to_one_session(self):
        u = self.new_user()
        w = self.raw(u)
        self.append(w, "INBOX", mk(1))
        self.append(w, "INBOX", mk(2))
        a = self.raw(u)
        res = self.ok(a.cmd("s", "SELECT INBOX"))
        self.assertIn("* 2 RECENT", res.untagged, str(res))
        b = self.raw(u)
        res = self.ok(b.cmd("s", "SELECT INBOX"))
        self.assertIn("* 0 RECENT", res.untagged, str(res))
        # A message arriving while both are selected: recent in one only.
        self.append(w, "INBOX", mk(3))
        self.ok(a.cmd("n", "NOOP"))
        self.ok(b.cmd("n", "NOOP"))
        ra = self.ok(a.cmd("r", "SEARCH RECENT"))
        rb = self.ok(b.cmd("r", "SEARCH RECENT"))
        sa = [int(x) for x in ra.named("SEARCH")[0].split()[2:]]
        sb = [int(x) for x in rb.named("SEARCH")[0].split()[2:]]
        self.assertEqual(sorted(sa + sb).count(3), 1, "%s\n%s" % (ra, rb))
        self.assertEqual([s for s in sa if s != 3], [1, 2], str(ra))
        self.assertEqual([s for s in sb if s != 3], [], str(rb))

    def test_session_b_select_after_a_keyword(self):
        a, b = self.pair(1)
        self.ok(a.cmd("st", "STORE 1 +FLAGS (NewKeyword)"))
        res = self.ok(b.cmd("n", "NOOP"))
        # B learns the new keyword: an untagged FLAGS listing it comes
        # before the FETCH that uses it (RFC 3501 7.2.6).
        fl = [u for u in res.untagged if u.upper().startswith("* FLAGS ")]
        f = fetches(res)
        self.assertIn(1, f, str(res))
        self.assertIn("NEWKEYWORD", flagset(f[1]["FLAGS"]), str(res))
        self.assertTrue(fl and "NEWKEYWORD" in flagset(parse_sexp(fl[-1])[2]),
                        str(res))


class Idle(MultiBase):

    def test_idle_exists_and_done(self):
        a = self.filled(1)
        w = self.raw(a.user)
        a.send("i IDLE\r\n")
        line = a.read()
        self.assertTrue(line.startswith("+"), "\n".join(a.log))
        self.append(w, "INBOX", mk(2))
        got = []
        deadline = time.monotonic() + 5 * harness.SLOW
        while "* 2 EXISTS" not in got and time.monotonic() < deadline:
            try:
                got.append(a.read(timeout=max(0.1, deadline - time.monotonic())))
            except socket.timeout:
                break
        self.assertIn("* 2 EXISTS", got, "\n".join(a.log))
        # A flag change by another session while idling.
        self.ok(w.cmd("s", "SELECT INBOX"))
        self.ok(w.cmd("st", "STORE 1 +FLAGS.SILENT (\\Flagged)"))
        deadline = time.monotonic() + 5 * harness.SLOW
        fl = None
        while fl is None and time.monotonic() < deadline:
            try:
                l = a.read(timeout=max(0.1, deadline - time.monotonic()))
            except socket.timeout:
                break
            if re.match(r"^\* 1 FETCH ", l):
                fl = l
        self.assertTrue(fl and "\\FLAGGED" in fl.upper(), "\n".join(a.log))
        a.send("DONE\r\n")
        res = a.wait("i")
        self.ok(res)
        self.ok(a.cmd("n", "NOOP"))

    def test_idle_expunge(self):
        a = self.filled(2)
        w = self.raw(a.user)
        self.ok(w.cmd("s", "SELECT INBOX"))
        a.send("i IDLE\r\n")
        self.assertTrue(a.read().startswith("+"), "\n".join(a.log))
        self.ok(w.cmd("d", "STORE 1 +FLAGS.SILENT (\\Deleted)"))
        self.ok(w.cmd("x", "EXPUNGE"))
        deadline = time.monotonic() + 5 * harness.SLOW
        got = []
        while "* 1 EXPUNGE" not in got and time.monotonic() < deadline:
            try:
                got.append(a.read(timeout=max(0.1, deadline - time.monotonic())))
            except socket.timeout:
                break
        self.assertIn("* 1 EXPUNGE", got, "\n".join(a.log))
        a.send("DONE\r\n")
        self.ok(a.wait("i"))
        self.assertEqual(self.uids(a), [a.uids[1]])

    def test_idle_bad_continuation(self):
        a = self.filled(1)
        a.send("i IDLE\r\n")
        self.assertTrue(a.read().startswith("+"), "\n".join(a.log))
        a.send("NOTDONE\r\n")
        res = a.wait("i")
        self.assertEqual(res.status, "BAD", str(res))
        self.ok(a.cmd("n", "NOOP"))

    def test_idle_authenticated_state(self):
        r = self.raw()
        r.send("i IDLE\r\n")
        self.assertTrue(r.read().startswith("+"), "\n".join(r.log))
        r.send("DONE\r\n")
        self.ok(r.wait("i"))

    def test_imaplib_idle_style_noop_after_append(self):
        u = self.new_user()
        m = self.imap(u)
        m.select("INBOX")
        w = self.raw(u)
        self.append(w, "INBOX", mk(1))
        typ, data = m.noop()
        self.assertEqual(typ, "OK")
        typ, data = m.response("EXISTS")
        self.assertEqual(data[-1], b"1")


class Smtp(MultiBase):

    def test_smtp_message_appears_in_selected_session(self):
        r = self.raw(ADMIN)
        res = self.ok(r.cmd("s", "SELECT INBOX"))
        n0 = int([u for u in res.untagged if u.endswith(" EXISTS")][0].split()[1])
        s = smtplib.SMTP(HOSTNAME, self.inst.ports["smtp"], timeout=10 * harness.SLOW)
        self.inst._clients.append(s)
        s.sendmail("sender@remote.test", [ADMIN],
                   b"From: sender@remote.test\r\nTo: %s\r\nSubject: via smtp\r\n"
                   b"\r\nover the wire\r\n" % ADMIN.encode())
        s.quit()
        deadline = time.monotonic() + 10 * harness.SLOW
        seen = False
        i = 0
        while not seen and time.monotonic() < deadline:
            i += 1
            res = self.ok(r.cmd("n%d" % i, "NOOP"))
            seen = "* %d EXISTS" % (n0 + 1) in res.untagged
            if not seen:
                time.sleep(0.05)
        self.assertTrue(seen, "\n".join(r.log[-20:]))
        res = self.ok(r.cmd("f", "FETCH %d (BODY.PEEK[TEXT] "
                            "BODY.PEEK[HEADER.FIELDS (SUBJECT)])" % (n0 + 1)))
        d = fetches(res)[n0 + 1]
        self.assertEqual(d["BODY[TEXT]"], "over the wire\r\n")
        self.assertEqual(d["BODY[HEADER.FIELDS (SUBJECT)]"],
                         "Subject: via smtp\r\n\r\n")


class MailboxEdges(MultiBase):

    def test_uidvalidity_or_uids_after_recreate(self):
        # RFC 3501 2.3.1.1: a mailbox deleted and created again under the
        # same name gets a new UIDVALIDITY, or UIDs above the old ones.
        r = self.raw()
        self.ok(r.cmd("c", "CREATE Box"))
        uv1, uid1 = self.appenduid(self.append(r, "Box", mk(1)))
        self.append(r, "Box", mk(2))
        self.ok(r.cmd("d", "DELETE Box"))
        self.ok(r.cmd("c2", "CREATE Box"))
        uv2, uid2 = self.appenduid(self.append(r, "Box", mk(3)))
        if uv1 == uv2:
            self.assertGreater(int(uid2), int(uid1) + 1,
                               "same UIDVALIDITY %d and UID reused" % uv1)

    def test_rename_inbox_moves_messages(self):
        r = self.raw()
        self.append(r, "INBOX", mk(1))
        self.append(r, "INBOX", mk(2))
        self.ok(r.cmd("r", "RENAME INBOX Old"))
        self.assertEqual(self.count(r, "INBOX"), 0)
        self.assertEqual(self.count(r, "Old", "C2"), 2)
        self.ok(r.cmd("e", "EXAMINE Old"))
        self.assertEqual(self.subjects(r), ["Subject: msg 1", "Subject: msg 2"])
        self.append(r, "INBOX", mk(3))
        self.assertEqual(self.count(r, "INBOX", "C3"), 1)

    def test_copy_out_of_range_copies_nothing(self):
        r = self.filled(2)
        res = r.cmd("c", "COPY 1:3 Archive")
        self.assertIn(res.status, ("BAD", "NO"), str(res))
        self.assertEqual(self.count(r, "Archive"), 0)
        # UID COPY of UIDs that are gone is OK with nothing copied.
        res = self.ok(r.cmd("c2", "UID COPY %d Archive" % (r.uids[-1] + 10)))
        self.assertEqual(self.count(r, "Archive", "C2"), 0)

    def test_mutf7_mailbox_messages(self):
        r = self.raw()
        self.ok(r.cmd("c", 'CREATE "&AOQ-"'))
        self.append(r, "&AOQ-", mk(1))
        self.ok(r.cmd("s", 'SELECT "&AOQ-"'))
        self.assertEqual(self.subjects(r), ["Subject: msg 1"])
        res = self.ok(r.cmd("m", 'MOVE 1 "Archive"'))
        self.ok(r.cmd("s2", "SELECT INBOX"))
        res = self.ok(r.cmd("c2", 'COPY 1:* "&AOQ-"'))
        res = r.cmd("c3", 'CREATE "&Jjo"')
        self.assertIn(res.status, ("BAD", "NO"), str(res))
        res = r.cmd("a", 'APPEND "&Jjo" ', Lit(mk(2)))
        self.assertIn(res.status, ("BAD", "NO"), str(res))

    def test_select_other_mailbox_resets_view(self):
        r = self.filled(3)
        self.append(r, "Archive", mk(7))
        res = self.ok(r.cmd("s", "SELECT Archive"))
        self.assertIn("* 1 EXISTS", res.untagged, str(res))
        self.assertEqual(self.subjects(r), ["Subject: msg 7"])
        res = r.cmd("f", "FETCH 2 FLAGS")
        self.assertIn(res.status, ("BAD", "NO"), str(res))

    def test_delete_selected_mailbox_by_other_session(self):
        a = self.raw()
        self.ok(a.cmd("c", "CREATE Doomed"))
        self.append(a, "Doomed", mk(1))
        self.append(a, "Doomed", mk(2))
        self.ok(a.cmd("s", "SELECT Doomed"))
        b = self.raw(a.user)
        self.ok(b.cmd("d", "DELETE Doomed"))
        # A goes on without crashing: NOOP and FETCH answer (OK, NO, or
        # BYE), and the server keeps serving.
        for i, c in enumerate(["NOOP", "FETCH 1:* (FLAGS BODY.PEEK[])",
                               "STORE 1 +FLAGS (\\Seen)", "SEARCH ALL",
                               "EXPUNGE", "NOOP"]):
            try:
                res = a.cmd("x%d" % i, c)
            except EOFError:
                break
            self.assertIn(res.status, ("OK", "NO", "BAD"), str(res))
        self.ok(b.cmd("n", "NOOP"))
        self.assertEqual(b.cmd("st", "STATUS Doomed (MESSAGES)").status, "NO")

    def test_delete_or_rename_own_selected_mailbox_deselects(self):
        # As Dovecot: the session leaves the selected state and goes on.
        a = self.raw()
        for box, how in (("Gone1", "DELETE Gone1"),
                         ("Gone2", "RENAME Gone2 Moved2")):
            self.ok(a.cmd("c", "CREATE " + box))
            self.append(a, box, mk(1))
            self.ok(a.cmd("s", "SELECT " + box))
            self.ok(a.cmd("d", how))
            res = a.cmd("f", "FETCH 1 FLAGS")
            self.assertEqual(res.status, "BAD", str(res))
            self.ok(a.cmd("n", "NOOP"))
        res = self.ok(a.cmd("s2", "SELECT Moved2"))
        self.assertIn("* 1 EXISTS", res.untagged, str(res))

    def test_message_that_came_and_went_is_announced_first(self):
        # B appends a message and expunges it between two of A's
        # commands: A hears EXISTS before the EXPUNGE (never an EXPUNGE
        # of a sequence number it was not told of), and ends consistent.
        a = self.filled(2)
        b = self.raw(a.user)
        self.ok(b.cmd("s", "SELECT INBOX"))
        self.append(b, "INBOX", mk(3))
        self.ok(b.cmd("d", "STORE 3 +FLAGS.SILENT (\\Deleted)"))
        self.ok(b.cmd("x", "EXPUNGE"))
        res = self.ok(a.cmd("n", "NOOP"))
        lines = [u.upper() for u in res.untagged]
        self.assertIn("* 3 EXISTS", lines, str(res))
        self.assertIn("* 3 EXPUNGE", lines, str(res))
        self.assertLess(lines.index("* 3 EXISTS"), lines.index("* 3 EXPUNGE"),
                        str(res))
        self.assertEqual(self.uids(a), a.uids)


class IdleEdges(MultiBase):

    def test_disconnect_while_idling(self):
        a = self.filled(1)
        a.send("i IDLE\r\n")
        self.assertTrue(a.read().startswith("+"), "\n".join(a.log))
        a.close()
        w = self.raw(a.user)
        self.append(w, "INBOX", mk(2))
        self.ok(w.cmd("s", "SELECT INBOX"))
        self.ok(w.cmd("n", "NOOP"))

    def test_idle_many_sessions_all_notified(self):
        u = self.new_user()
        idlers = []
        for i in range(5):
            r = self.raw(u)
            self.ok(r.cmd("s", "SELECT INBOX"))
            r.send("i IDLE\r\n")
            self.assertTrue(r.read().startswith("+"), "\n".join(r.log))
            idlers.append(r)
        w = self.raw(u)
        self.append(w, "INBOX", mk(1))
        for r in idlers:
            deadline = time.monotonic() + 5 * harness.SLOW
            got = []
            while "* 1 EXISTS" not in got and time.monotonic() < deadline:
                try:
                    got.append(r.read(timeout=max(0.1, deadline - time.monotonic())))
                except socket.timeout:
                    break
            self.assertIn("* 1 EXISTS", got, "\n".join(r.log))
            r.send("DONE\r\n")
            self.ok(r.wait("i"))
