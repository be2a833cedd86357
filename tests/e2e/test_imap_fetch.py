"""IMAP APPEND, SELECT/EXAMINE, FETCH (every data item, BODYSTRUCTURE of a
nested MIME message, body sections, partials, \\Seen side effects, macros)
and STORE (FLAGS, +FLAGS, -FLAGS, .SILENT, keywords)."""

import datetime
import imaplib
import re

from harness import imap_quote
from test_imap_session import (ImapTestBase, Lit, SIMPLE, fixture, fetches,
                               flagset, parse_sexp, parse_fetch)

NESTED = fixture("nested.eml")


def seg(start, end):
    i = NESTED.index(start)
    j = NESTED.index(end, i)
    return NESTED[i:j]


TOP_HEADER = NESTED[:NESTED.index(b"\r\n\r\n") + 4]
TOP_TEXT = NESTED[len(TOP_HEADER):]
P1 = seg(b"--alt-boundary\r\n",
         b"\r\n--outer-boundary\r\nContent-Type: application/pdf")
P1_MIME = seg(b"Content-Type: multipart/alternative", b"--alt-boundary\r\n")
P11 = seg(b"Hello Bob,\r\nthe", b"\r\n--alt-boundary\r\nContent-Type: text/html")
P11_MIME = seg(b"Content-Type: text/plain; charset=utf-8", b"Hello Bob,\r\nthe")
P12 = seg(b"<html>", b"\r\n--alt-boundary--")
P12_MIME = seg(b"Content-Type: text/html", b"<html>")
P2 = seg(b"JVBER", b"\r\n--outer-boundary\r\nContent-Type: message/rfc822")
P2_MIME = seg(b"Content-Type: application/pdf", b"JVBER")
P3 = seg(b"Date: Mon, 02", b"\r\n--outer-boundary--")
P3_MIME = seg(b"Content-Type: message/rfc822", b"Date: Mon, 02")
P3_HEADER = seg(b"Date: Mon, 02", b"The numbers")
P3_TEXT = seg(b"The numbers", b"\r\n--outer-boundary--")

assert P11 == b"Hello Bob,\r\nthe report is attached. Caf=C3=A9 at noon?\r\n"
assert P12 == (b"<html><body><p>Hello Bob,</p><p>the report is attached."
               b"</p></body></html>\r\n")
assert P1.endswith(b"--alt-boundary--\r\n")
assert P3_TEXT == b"The numbers look fine.\r\n-- \r\nCarol\r\n"


def nlines(b):
    return b.count(b"\n") + (1 if b and not b.endswith(b"\n") else 0)


def B(s):
    """Response value (latin-1 str) -> bytes."""
    return None if s is None else s.encode("latin-1")


# ----- BODY / BODYSTRUCTURE normalisation (case-insensitive where RFC
# 2045 is; omitted trailing extension fields read as NIL) -----

def norm_params(p):
    if p is None:
        return None
    return {p[i].lower(): p[i + 1] for i in range(0, len(p), 2)}


def norm_dsp(d):
    if d is None:
        return None
    return (d[0].lower(), norm_params(d[1]))


def _ext(d, rest, ext, names):
    if ext:
        rest = list(rest) + [None] * max(0, len(names) - len(rest))
        for n, v in zip(names, rest):
            d[n] = v
        if "dsp" in d:
            d["dsp"] = norm_dsp(d["dsp"])
        if "params" in d and names[0] == "params":
            d["params"] = norm_params(d["params"])
        d["more"] = rest[len(names):]
    else:
        d["more"] = list(rest)
    return d


def norm_body(b, ext):
    if isinstance(b[0], list):
        parts = []
        i = 0
        while isinstance(b[i], list):
            parts.append(norm_body(b[i], ext))
            i += 1
        d = {"parts": parts, "subtype": b[i].lower()}
        return _ext(d, b[i + 1:], ext, ["params", "dsp", "lang", "loc"])
    d = {"type": b[0].lower(), "subtype": b[1].lower(),
         "params": norm_params(b[2]), "id": b[3], "desc": b[4],
         "enc": b[5].lower() if b[5] is not None else None,
         "size": int(b[6])}
    i = 7
    if d["type"] == "message" and d["subtype"] == "rfc822":
        d["env"] = b[7]
        d["body"] = norm_body(b[8], ext)
        d["lines"] = int(b[9])
        i = 10
    elif d["type"] == "text":
        d["lines"] = int(b[7])
        i = 8
    return _ext(d, b[i:], ext, ["md5", "dsp", "lang", "loc"])


def one(type_, sub, params, size, lines=None, id_=None, desc=None,
        enc="7bit", dsp=None, env=None, body=None, ext=True):
    d = {"type": type_, "subtype": sub, "params": params, "id": id_,
         "desc": desc, "enc": enc, "size": size}
    if env is not None:
        d["env"] = env
        d["body"] = body
    if lines is not None:
        d["lines"] = lines
    if ext:
        d.update(md5=None, dsp=dsp, lang=None, loc=None)
    d["more"] = []
    return d


def multi(parts, sub, params, ext=True):
    d = {"parts": parts, "subtype": sub}
    if ext:
        d.update(params=params, dsp=None, lang=None, loc=None)
    d["more"] = []
    return d


ENV_TOP = ["Tue, 03 Mar 2026 10:15:00 +0100", "Quarterly report",
           [["Alice Example", None, "alice", "example.org"]],
           [["Alice Example", None, "alice", "example.org"]],
           [["Alice Example", None, "alice", "example.org"]],
           [["Bob", None, "bob", "example.test"],
            [None, None, "carol", "example.test"]],
           [["Dave", None, "dave", "example.net"]],
           None, None, "<nested-1@example.org>"]
ENV_INNER = ["Mon, 02 Mar 2026 09:00:00 +0000", "Re: numbers",
             [["Carol", None, "carol", "example.test"]],
             [["Carol", None, "carol", "example.test"]],
             [["Carol", None, "carol", "example.test"]],
             [["Alice Example", None, "alice", "example.org"]],
             None, None, None, "<inner-1@example.test>"]


def expected_structure(ext):
    inner = one("text", "plain", {"charset": "us-ascii"}, len(P3_TEXT),
                nlines(P3_TEXT), ext=ext)
    return multi([
        multi([one("text", "plain", {"charset": "utf-8"}, len(P11),
                   nlines(P11), enc="quoted-printable", ext=ext),
               one("text", "html", {"charset": "utf-8"}, len(P12),
                   nlines(P12), ext=ext)],
              "alternative", {"boundary": "alt-boundary"}, ext=ext),
        one("application", "pdf", {"name": "report.pdf"}, len(P2),
            id_="<part2@example.org>", desc="The report", enc="base64",
            dsp=("attachment", {"filename": "report.pdf"}), ext=ext),
        one("message", "rfc822", None, len(P3), nlines(P3), env=ENV_INNER,
            body=inner, ext=ext),
    ], "mixed", {"boundary": "outer-boundary"}, ext=ext)


def parse_internaldate(s):
    return datetime.datetime.strptime(s, "%d-%b-%Y %H:%M:%S %z")


class FetchBase(ImapTestBase):

    def box(self, msgs=(NESTED,), examine=False, flags=None, date=None):
        """A new user with msgs appended to INBOX, selected; the client."""
        r = self.raw()
        for m in msgs:
            self.append(r, "INBOX", m, flags=flags, date=date)
        res = self.ok(r.cmd("S", ("EXAMINE" if examine else "SELECT")
                            + " INBOX"))
        r.select_resp = res
        return r

    def fetch1(self, r, items, seq="1", uid=False, tag="F"):
        res = self.ok(r.cmd(tag, "%sFETCH %s %s" % ("UID " if uid else "",
                                                   seq, items)))
        f = fetches(res)
        self.assertEqual(len(f), 1, str(res))
        return list(f.values())[0], res


class Fetch(FetchBase):

    def test_body_peek_equals_appended_and_size(self):
        r = self.box()
        d, res = self.fetch1(r, "(BODY.PEEK[] RFC822.SIZE FLAGS)")
        self.assertEqual(B(d["BODY[]"]), NESTED)
        self.assertEqual(int(d["RFC822.SIZE"]), len(NESTED))
        self.assertNotIn("\\SEEN", flagset(d["FLAGS"]))
        d, _ = self.fetch1(r, "FLAGS", tag="F2")
        self.assertNotIn("\\SEEN", flagset(d["FLAGS"]), str(res))

    def test_imaplib_append_fetch_roundtrip(self):
        u = self.new_user()
        m = self.imap(u)
        typ, data = m.append("INBOX", None, None, NESTED)
        self.assertEqual(typ, "OK", data)
        typ, data = m.select("INBOX")
        self.assertEqual(data, [b"1"])
        typ, data = m.fetch("1", "(BODY.PEEK[] RFC822.SIZE)")
        self.assertEqual(typ, "OK")
        self.assertEqual(data[0][1], NESTED)
        self.assertIn(b"RFC822.SIZE %d" % len(NESTED), data[0][0] + data[1])

    def test_bodystructure_nested_exact(self):
        r = self.box()
        d, res = self.fetch1(r, "BODYSTRUCTURE")
        got = norm_body(d["BODYSTRUCTURE"], True)
        self.assertEqual(got, expected_structure(True), str(res))

    def test_body_nonextended_exact(self):
        r = self.box()
        d, res = self.fetch1(r, "BODY")
        got = norm_body(d["BODY"], False)
        self.assertEqual(got, expected_structure(False), str(res))

    def test_envelope_exact(self):
        r = self.box()
        d, res = self.fetch1(r, "ENVELOPE")
        self.assertEqual(d["ENVELOPE"], ENV_TOP, str(res))

    def test_sections(self):
        r = self.box()
        cases = [
            ("HEADER", TOP_HEADER),
            ("TEXT", TOP_TEXT),
            ("1", P1),
            ("1.MIME", P1_MIME),
            ("1.1", P11),
            ("1.1.MIME", P11_MIME),
            ("1.2", P12),
            ("1.2.MIME", P12_MIME),
            ("2", P2),
            ("2.MIME", P2_MIME),
            ("3", P3),
            ("3.MIME", P3_MIME),
            ("3.HEADER", P3_HEADER),
            ("3.TEXT", P3_TEXT),
            ("3.1", P3_TEXT),
            ("HEADER.FIELDS (Subject From)",
             b"From: Alice Example <alice@example.org>\r\n"
             b"Subject: Quarterly report\r\n\r\n"),
            ("HEADER.FIELDS (X-Not-There)", b"\r\n"),
            ("HEADER.FIELDS.NOT (Return-Path Date From To Cc Message-ID "
             "MIME-Version Content-Type)",
             b"Subject: Quarterly report\r\n\r\n"),
            ("3.HEADER.FIELDS (SUBJECT)", b"Subject: Re: numbers\r\n\r\n"),
        ]
        for i, (sec, want) in enumerate(cases):
            with self.subTest(section=sec):
                res = self.ok(r.cmd("f%d" % i, "FETCH 1 (BODY.PEEK[%s])" % sec))
                f = fetches(res)
                self.assertEqual(len(f), 1, str(res))
                d = f[1]
                keys = [k for k in d if k.startswith("BODY[")]
                self.assertEqual(len(keys), 1, str(res))
                self.assertEqual(keys[0].replace(" ", ""),
                                 ("BODY[%s]" % sec).upper().replace(" ", ""),
                                 str(res))
                self.assertEqual(B(d[keys[0]]), want, str(res))
        d, _ = self.fetch1(r, "FLAGS", tag="fl")
        self.assertNotIn("\\SEEN", flagset(d["FLAGS"]))

    def test_body_1_2_of_nested_multipart(self):
        r = self.box()
        d, res = self.fetch1(r, "BODY.PEEK[1.2]")
        self.assertEqual(B(d["BODY[1.2]"]), P12, str(res))

    def test_several_sections_one_fetch(self):
        r = self.box()
        d, res = self.fetch1(r, "(UID BODY.PEEK[1.1] BODY.PEEK[2.MIME] "
                             "BODY.PEEK[HEADER.FIELDS (Message-ID)] RFC822.SIZE)")
        self.assertEqual(B(d["BODY[1.1]"]), P11)
        self.assertEqual(B(d["BODY[2.MIME]"]), P2_MIME)
        self.assertEqual(B(d["BODY[HEADER.FIELDS (MESSAGE-ID)]"]),
                         b"Message-ID: <nested-1@example.org>\r\n\r\n")
        self.assertEqual(int(d["RFC822.SIZE"]), len(NESTED))

    def test_partials(self):
        r = self.box()
        cases = [
            ("BODY.PEEK[]<0.20>", "BODY[]<0>", NESTED[:20]),
            ("BODY.PEEK[]<5.10>", "BODY[]<5>", NESTED[5:15]),
            ("BODY.PEEK[1.2]<10.15>", "BODY[1.2]<10>", P12[10:25]),
            ("BODY.PEEK[TEXT]<%d.1000>" % (len(TOP_TEXT) - 7),
             "BODY[TEXT]<%d>" % (len(TOP_TEXT) - 7), TOP_TEXT[-7:]),
            ("BODY.PEEK[]<100000.10>", "BODY[]<100000>", b""),
            ("BODY.PEEK[HEADER]<0.4>", "BODY[HEADER]<0>", TOP_HEADER[:4]),
        ]
        for i, (item, key, want) in enumerate(cases):
            with self.subTest(item=item):
                res = self.ok(r.cmd("p%d" % i, "FETCH 1 (%s)" % item))
                d = fetches(res)[1]
                self.assertIn(key, d, str(res))
                self.assertEqual(B(d[key]), want, str(res))

    def test_rfc822_items(self):
        r = self.box()
        d, res = self.fetch1(r, "RFC822.HEADER")
        self.assertEqual(B(d["RFC822.HEADER"]), TOP_HEADER)
        self.assertNotIn("FLAGS", d, "RFC822.HEADER must not set \\Seen: %s" % res)
        d, res = self.fetch1(r, "RFC822.TEXT", tag="F2")
        self.assertEqual(B(d["RFC822.TEXT"]), TOP_TEXT)
        self.assertIn("\\SEEN", flagset(d.get("FLAGS", [])),
                      "RFC822.TEXT sets \\Seen and reports it:\n%s" % res)

    def test_rfc822_sets_seen(self):
        r = self.box()
        d, res = self.fetch1(r, "RFC822")
        self.assertEqual(B(d["RFC822"]), NESTED)
        self.assertIn("\\SEEN", flagset(d.get("FLAGS", [])), str(res))

    def test_nonpeek_sets_seen_and_reports_flags(self):
        r = self.box()
        d, res = self.fetch1(r, "BODY[1.1]")
        self.assertEqual(B(d["BODY[1.1]"]), P11)
        self.assertIn("FLAGS", d, "no FLAGS after a non-PEEK fetch:\n%s" % res)
        self.assertIn("\\SEEN", flagset(d["FLAGS"]), str(res))
        d, res = self.fetch1(r, "FLAGS", tag="F2")
        self.assertIn("\\SEEN", flagset(d["FLAGS"]), str(res))
        # Already seen: fetching again is fine.
        d, res = self.fetch1(r, "BODY[]", tag="F3")
        self.assertEqual(B(d["BODY[]"]), NESTED)

    def test_nonpeek_on_examine_does_not_set_seen(self):
        r = self.box(examine=True)
        self.assertIn("[READ-ONLY]", r.select_resp.tagged.upper(),
                      str(r.select_resp))
        d, res = self.fetch1(r, "BODY[TEXT]")
        self.assertEqual(B(d["BODY[TEXT]"]), TOP_TEXT)
        self.assertNotIn("\\SEEN", flagset(d.get("FLAGS", [])), str(res))
        r2 = self.raw(r.user)
        self.ok(r2.cmd("s", "EXAMINE INBOX"))
        d, res = self.fetch1(r2, "FLAGS", tag="F2")
        self.assertNotIn("\\SEEN", flagset(d["FLAGS"]), str(res))

    def test_macros(self):
        r = self.box()
        d, res = self.fetch1(r, "ALL")
        self.assertEqual(set(d), {"FLAGS", "INTERNALDATE", "RFC822.SIZE",
                                  "ENVELOPE"}, str(res))
        self.assertEqual(d["ENVELOPE"], ENV_TOP)
        d, res = self.fetch1(r, "FAST", tag="F2")
        self.assertEqual(set(d), {"FLAGS", "INTERNALDATE", "RFC822.SIZE"},
                         str(res))
        d, res = self.fetch1(r, "FULL", tag="F3")
        self.assertEqual(set(d), {"FLAGS", "INTERNALDATE", "RFC822.SIZE",
                                  "ENVELOPE", "BODY"}, str(res))
        self.assertEqual(norm_body(d["BODY"], False), expected_structure(False))

    def test_internaldate_from_append(self):
        r = self.box(date="03-Mar-2026 10:15:00 +0100")
        d, res = self.fetch1(r, "INTERNALDATE")
        got = parse_internaldate(d["INTERNALDATE"])
        want = parse_internaldate("03-Mar-2026 10:15:00 +0100")
        self.assertEqual(got, want, str(res))
        self.assertRegex(d["INTERNALDATE"],
                         r"^[ 0-3]\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d:\d\d [+-]\d{4}$")

    def test_internaldate_default_is_now(self):
        r = self.box()
        d, res = self.fetch1(r, "INTERNALDATE")
        got = parse_internaldate(d["INTERNALDATE"])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.assertLess(abs((now - got).total_seconds()), 300, str(res))

    def test_uid_fetch_includes_uid(self):
        r = self.box(msgs=(SIMPLE, NESTED))
        d, res = self.fetch1(r, "FLAGS", seq="1", uid=False)
        res = self.ok(r.cmd("u", "UID FETCH 1:* FLAGS"))
        f = fetches(res)
        self.assertEqual(sorted(f), [1, 2], str(res))
        uids = [int(f[s]["UID"]) for s in (1, 2)]
        self.assertLess(uids[0], uids[1])
        # UID FETCH by the second uid returns message 2 only.
        res = self.ok(r.cmd("u2", "UID FETCH %d RFC822.SIZE" % uids[1]))
        f = fetches(res)
        self.assertEqual(list(f), [2], str(res))
        self.assertEqual(int(f[2]["RFC822.SIZE"]), len(NESTED))
        self.assertEqual(int(f[2]["UID"]), uids[1])
        # A UID range past the end names the last message (RFC 3501 6.4.8).
        res = self.ok(r.cmd("u3", "UID FETCH %d:* UID" % (uids[1] + 100)))
        self.assertEqual(list(fetches(res)), [2], str(res))
        # A UID that does not exist: OK, nothing.
        res = self.ok(r.cmd("u4", "UID FETCH %d UID" % (uids[1] + 100)))
        self.assertEqual(fetches(res), {}, str(res))

    def test_sequence_sets(self):
        msgs = [SIMPLE.replace(b"hello", b"m%d" % i) for i in range(1, 6)]
        r = self.box(msgs=msgs)
        for i, (seqs, want) in enumerate([("1:*", [1, 2, 3, 4, 5]),
                                          ("2,4:*", [2, 4, 5]),
                                          ("*:4", [4, 5]),
                                          ("3", [3]),
                                          ("5:3", [3, 4, 5]),
                                          ("1,1,2", [1, 2])]):
            res = self.ok(r.cmd("q%d" % i, "FETCH %s (BODY.PEEK[HEADER.FIELDS"
                                " (Subject)])" % seqs))
            f = fetches(res)
            self.assertEqual(sorted(f), want, "%s\n%s" % (seqs, res))
            for s in f:
                self.assertEqual(B(f[s]["BODY[HEADER.FIELDS (SUBJECT)]"]),
                                 b"Subject: m%d\r\n\r\n" % s)

    def test_fetch_beyond_exists_is_bad_or_no(self):
        r = self.box()
        res = r.cmd("a", "FETCH 5 FLAGS")
        self.assertIn(res.status, ("BAD", "NO"), str(res))
        self.ok(r.cmd("b", "NOOP"))

    def test_simple_message_body_1(self):
        r = self.box(msgs=(SIMPLE,))
        d, res = self.fetch1(r, "(BODY.PEEK[1] BODY.PEEK[TEXT] BODYSTRUCTURE)")
        self.assertEqual(B(d["BODY[1]"]), b"Hello there.\r\n")
        self.assertEqual(B(d["BODY[TEXT]"]), b"Hello there.\r\n")
        bs = norm_body(d["BODYSTRUCTURE"], True)
        self.assertEqual(bs["type"], "text", str(res))
        self.assertEqual(bs["subtype"], "plain", str(res))
        self.assertEqual(bs["size"], 14, str(res))
        self.assertEqual(bs["lines"], 1, str(res))
        self.assertEqual(bs["enc"], "7bit", str(res))

    def test_literal8_or_8bit_body_is_literal(self):
        msg = ("Subject: caf\u00e9\r\nContent-Type: text/plain; charset=utf-8\r\n"
               "Content-Transfer-Encoding: 8bit\r\n\r\nCaf\u00e9 cr\u00e8me\r\n"
               ).encode()
        r = self.box(msgs=(msg,))
        d, res = self.fetch1(r, "BODY.PEEK[]")
        self.assertEqual(B(d["BODY[]"]), msg)
        # 8-bit data is sent as a literal, never in a quoted string.
        fl = [u for u in res.untagged if "FETCH" in u][0]
        self.assertRegex(fl, r"BODY\[\] \{%d\}\r\n" % len(msg))


class Select(FetchBase):

    def test_select_responses(self):
        r = self.raw()
        self.append(r, "INBOX", SIMPLE, flags=["\\Seen"])
        self.append(r, "INBOX", NESTED)
        self.append(r, "INBOX", SIMPLE)
        res = self.ok(r.cmd("s", "SELECT INBOX"))
        self.assertRegex(res.tagged, r"^s OK \[READ-WRITE\]", str(res))
        text = "\n".join(res.untagged)
        self.assertIn("* 3 EXISTS", res.untagged, str(res))
        self.assertIn("* 3 RECENT", res.untagged, str(res))
        fl = [u for u in res.untagged if u.upper().startswith("* FLAGS ")]
        self.assertEqual(len(fl), 1, str(res))
        flags = flagset(parse_sexp(fl[0])[2])
        self.assertTrue({"\\ANSWERED", "\\FLAGGED", "\\DELETED", "\\SEEN",
                         "\\DRAFT"} <= flags, str(res))
        pf = re.search(r"^\* OK \[PERMANENTFLAGS \(([^)]*)\)\]", text, re.M)
        self.assertTrue(pf, str(res))
        pflags = set(pf.group(1).upper().split())
        self.assertIn("\\*", pflags, str(res))
        self.assertTrue({"\\ANSWERED", "\\FLAGGED", "\\DELETED", "\\SEEN",
                         "\\DRAFT"} <= pflags, str(res))
        self.assertNotIn("\\RECENT", pflags)
        uv = re.search(r"^\* OK \[UIDVALIDITY (\d+)\]", text, re.M)
        self.assertTrue(uv and int(uv.group(1)) > 0, str(res))
        un = re.search(r"^\* OK \[UIDNEXT (\d+)\]", text, re.M)
        self.assertTrue(un, str(res))
        unseen = re.search(r"^\* OK \[UNSEEN (\d+)\]", text, re.M)
        self.assertTrue(unseen, str(res))
        self.assertEqual(int(unseen.group(1)), 2, str(res))
        # UIDNEXT is above every UID.
        res2 = self.ok(r.cmd("f", "FETCH 1:* UID"))
        uids = [int(v["UID"]) for v in fetches(res2).values()]
        self.assertGreater(int(un.group(1)), max(uids))
        # UIDVALIDITY stays the same on a second select.
        res3 = self.ok(r.cmd("s2", "SELECT INBOX"))
        uv2 = re.search(r"^\* OK \[UIDVALIDITY (\d+)\]", "\n".join(res3.untagged),
                        re.M)
        self.assertEqual(uv.group(1), uv2.group(1))

    def test_examine_read_only(self):
        r = self.raw()
        self.append(r, "INBOX", SIMPLE)
        res = self.ok(r.cmd("e", "EXAMINE INBOX"))
        self.assertRegex(res.tagged, r"^e OK \[READ-ONLY\]", str(res))
        self.assertIn("* 1 EXISTS", res.untagged, str(res))
        res = r.cmd("st", "STORE 1 +FLAGS (\\Seen)")
        self.assertEqual(res.status, "NO", str(res))
        res = r.cmd("ex", "EXPUNGE")
        self.assertEqual(res.status, "NO", str(res))

    def test_select_empty_mailbox(self):
        r = self.raw()
        res = self.ok(r.cmd("s", "SELECT INBOX"))
        self.assertIn("* 0 EXISTS", res.untagged, str(res))
        self.assertIn("* 0 RECENT", res.untagged, str(res))
        self.assertFalse(re.search(r"\[UNSEEN", "\n".join(res.untagged)),
                         str(res))
        res = self.ok(r.cmd("a", "SEARCH ALL"))
        self.assertEqual(res.named("SEARCH"), ["* SEARCH"], str(res))

    def test_append_response_and_status(self):
        r = self.raw()
        res = self.append(r, "INBOX", SIMPLE, flags=["\\Seen", "\\Flagged"],
                          date="01-Jan-2026 00:00:00 +0000")
        uv, uid = self.appenduid(res)
        res = self.ok(r.cmd("st", "STATUS INBOX (MESSAGES RECENT UIDNEXT "
                            "UIDVALIDITY UNSEEN)"))
        st = [u for u in res.untagged if u.upper().startswith("* STATUS")]
        self.assertEqual(len(st), 1, str(res))
        t = parse_sexp(st[0])
        kv = {t[3][i].upper(): int(t[3][i + 1]) for i in range(0, len(t[3]), 2)}
        self.assertEqual(kv["MESSAGES"], 1)
        self.assertEqual(kv["UNSEEN"], 0)
        self.assertEqual(kv["UIDVALIDITY"], uv)
        self.assertGreater(kv["UIDNEXT"], int(uid))
        self.ok(r.cmd("s", "SELECT INBOX"))
        d, res = self.fetch1(r, "(FLAGS UID)")
        self.assertEqual(flagset(d["FLAGS"]) - {"\\RECENT"},
                         {"\\SEEN", "\\FLAGGED"}, str(res))
        self.assertEqual(d["UID"], uid)

    def test_append_to_selected_mailbox_exists(self):
        r = self.raw()
        self.ok(r.cmd("s", "SELECT INBOX"))
        res = self.append(r, "INBOX", SIMPLE)
        if not any(u == "* 1 EXISTS" for u in res.untagged):
            res = self.ok(r.cmd("n", "NOOP"))
            self.assertIn("* 1 EXISTS", res.untagged, str(res))

    def test_append_bad_date_and_flags(self):
        r = self.raw()
        res = r.cmd("a", 'APPEND INBOX "32-Foo-2026 99:00:00 +0000" ', Lit(SIMPLE))
        self.assertEqual(res.status, "BAD", str(res))
        res = r.cmd("b", "APPEND INBOX (\\Seen ", Lit(SIMPLE))
        self.assertEqual(res.status, "BAD", str(res))
        res = self.ok(r.cmd("d", "STATUS INBOX (MESSAGES)"))
        self.assertIn("MESSAGES 0", res.untagged[0].upper(), str(res))

    def test_append_literal_plus(self):
        r = self.raw()
        res = self.ok(r.cmd("a", "APPEND INBOX (\\Draft) ", Lit(SIMPLE, plus=True)))
        self.assertEqual(res.conts, [], str(res))
        self.appenduid(res)


class Store(FetchBase):

    def msgs(self, n=3):
        return [SIMPLE.replace(b"hello", b"s%d" % i) for i in range(1, n + 1)]

    def flags_of(self, r, seq="1:*", tag="fl"):
        res = self.ok(r.cmd(tag, "FETCH %s FLAGS" % seq))
        return {s: flagset(d["FLAGS"]) - {"\\RECENT"}
                for s, d in fetches(res).items()}

    def test_store_flags_plus_minus(self):
        r = self.box(msgs=self.msgs())
        res = self.ok(r.cmd("a", "STORE 1 FLAGS (\\Seen \\Flagged)"))
        f = fetches(res)
        self.assertEqual(flagset(f[1]["FLAGS"]) - {"\\RECENT"},
                         {"\\SEEN", "\\FLAGGED"}, str(res))
        res = self.ok(r.cmd("b", "STORE 1:2 +FLAGS (\\Answered)"))
        f = fetches(res)
        self.assertEqual(sorted(f), [1, 2], str(res))
        self.assertEqual(flagset(f[1]["FLAGS"]) - {"\\RECENT"},
                         {"\\SEEN", "\\FLAGGED", "\\ANSWERED"}, str(res))
        self.assertEqual(flagset(f[2]["FLAGS"]) - {"\\RECENT"},
                         {"\\ANSWERED"}, str(res))
        res = self.ok(r.cmd("c", "STORE 1 -FLAGS (\\Flagged)"))
        self.assertEqual(flagset(fetches(res)[1]["FLAGS"]) - {"\\RECENT"},
                         {"\\SEEN", "\\ANSWERED"}, str(res))
        res = self.ok(r.cmd("d", "STORE 2 FLAGS ()"))
        self.assertEqual(flagset(fetches(res)[2]["FLAGS"]) - {"\\RECENT"},
                         set(), str(res))
        self.assertEqual(self.flags_of(r), {1: {"\\SEEN", "\\ANSWERED"},
                                            2: set(), 3: set()})
        # A single flag without parentheses.
        self.ok(r.cmd("e", "STORE 3 +FLAGS \\Draft"))
        self.assertEqual(self.flags_of(r, "3", "fl2"), {3: {"\\DRAFT"}})

    def test_store_silent(self):
        r = self.box(msgs=self.msgs())
        res = self.ok(r.cmd("a", "STORE 1:* +FLAGS.SILENT (\\Deleted)"))
        self.assertEqual(res.named("FETCH"), [], str(res))
        res = self.ok(r.cmd("b", "STORE 2 FLAGS.SILENT (\\Seen)"))
        self.assertEqual(res.named("FETCH"), [], str(res))
        res = self.ok(r.cmd("c", "STORE 1 -FLAGS.SILENT (\\Deleted)"))
        self.assertEqual(res.named("FETCH"), [], str(res))
        self.assertEqual(self.flags_of(r), {1: set(), 2: {"\\SEEN"},
                                            3: {"\\DELETED"}})

    def test_uid_store(self):
        r = self.box(msgs=self.msgs())
        res = self.ok(r.cmd("u", "FETCH 1:* UID"))
        uids = {s: int(d["UID"]) for s, d in fetches(res).items()}
        res = self.ok(r.cmd("a", "UID STORE %d +FLAGS (\\Flagged)" % uids[2]))
        f = fetches(res)
        self.assertEqual(list(f), [2], str(res))
        self.assertEqual(self.flags_of(r), {1: set(), 2: {"\\FLAGGED"},
                                            3: set()})
        # A UID that does not exist: OK, nothing changes.
        self.ok(r.cmd("b", "UID STORE %d +FLAGS (\\Flagged)" % (uids[3] + 50)))

    def test_keywords(self):
        r = self.box(msgs=self.msgs(2))
        res = self.ok(r.cmd("a", "STORE 1 +FLAGS (Project1 $Label2)"))
        self.assertEqual(flagset(fetches(res)[1]["FLAGS"]) - {"\\RECENT"},
                         {"PROJECT1", "$LABEL2"}, str(res))
        # The new keywords show up in FLAGS (this session: an untagged FLAGS
        # at once or at the next SELECT) and PERMANENTFLAGS of a new SELECT.
        r2 = self.raw(r.user)
        res = self.ok(r2.cmd("s", "SELECT INBOX"))
        fl = [u for u in res.untagged if u.upper().startswith("* FLAGS ")]
        self.assertEqual(len(fl), 1, str(res))
        self.assertTrue({"PROJECT1", "$LABEL2"} <= flagset(parse_sexp(fl[0])[2]),
                        str(res))
        pf = re.search(r"^\* OK \[PERMANENTFLAGS \(([^)]*)\)\]",
                       "\n".join(res.untagged), re.M)
        self.assertTrue(pf, str(res))
        self.assertTrue({"PROJECT1", "$LABEL2", "\\*"}
                        <= set(pf.group(1).upper().split()), str(res))
        # Keywords are case-insensitive.
        self.ok(r2.cmd("b", "STORE 1 -FLAGS (project1)"))
        self.assertEqual(self.flags_of(r2, "1"), {1: {"$LABEL2"}})

    def test_imaplib_store_and_fetch(self):
        u = self.new_user()
        m = self.imap(u)
        for msg in self.msgs(2):
            m.append("INBOX", None, None, msg)
        m.select("INBOX")
        typ, data = m.store("1:2", "+FLAGS", "(\\Seen Work)")
        self.assertEqual(typ, "OK")
        typ, data = m.fetch("1:2", "(FLAGS)")
        for line in data:
            self.assertIn(b"\\Seen", line)
            self.assertIn(b"Work", line)
        typ, data = m.uid("STORE", "1:*", "-FLAGS.SILENT", "(Work)")
        self.assertEqual(typ, "OK")
        typ, data = m.fetch("1:2", "(FLAGS)")
        for line in data:
            self.assertNotIn(b"Work", line)


def deep_message(depth):
    """A multipart nested depth levels, a text/plain leaf at the bottom."""
    head = b"Subject: deep\r\nMIME-Version: 1.0\r\n"
    body = b"leaf text\r\n"
    part = b"Content-Type: text/plain; charset=us-ascii\r\n\r\n" + body
    for i in range(depth):
        b = b"b%d" % i
        part = (b'Content-Type: multipart/mixed; boundary="' + b + b'"\r\n\r\n'
                + b"--" + b + b"\r\n" + part + b"\r\n--" + b + b"--\r\n")
    return head + part


class FetchEdges(FetchBase):

    def test_section_edge_cases(self):
        r = self.box()
        # Partial of count 0: an empty string.
        res = self.ok(r.cmd("a", "FETCH 1 BODY.PEEK[1.1]<0.0>"))
        self.assertEqual(fetches(res)[1]["BODY[1.1]<0>"], "", str(res))
        # Part numbers start at 1; header lists are not empty.
        for i, sec in enumerate(["0", "1.0", "HEADER.FIELDS ()",
                                 "1.FOO", "MIME", "TEXT.HEADER",
                                 "HEADER.FIELDS"]):
            res = r.cmd("b%d" % i, "FETCH 1 BODY.PEEK[%s]" % sec)
            self.assertEqual(res.status, "BAD", "BODY[%s]\n%s" % (sec, res))
        # A part that does not exist: an empty string or NIL, or NO;
        # never a broken response.
        for i, sec in enumerate(["4", "1.3", "2.1.1", "3.2", "1.1.1.1.1"]):
            res = r.cmd("c%d" % i, "FETCH 1 BODY.PEEK[%s]" % sec)
            self.assertIn(res.status, ("OK", "NO"), str(res))
            if res.ok():
                d = fetches(res)[1]
                v = d["BODY[%s]" % sec]
                self.assertIn(v, ("", None), str(res))
        self.ok(r.cmd("n", "NOOP"))

    def test_single_digit_day_date_time(self):
        r = self.raw()
        self.append(r, "INBOX", SIMPLE, date=" 5-Jan-2026 08:09:10 -0230")
        self.ok(r.cmd("s", "SELECT INBOX"))
        d, res = self.fetch1(r, "INTERNALDATE")
        self.assertEqual(parse_internaldate(d["INTERNALDATE"].strip()),
                         parse_internaldate("05-Jan-2026 08:09:10 -0230"),
                         str(res))

    def test_deeply_nested_mime(self):
        msg = deep_message(60)
        r = self.box(msgs=(msg,))
        res = self.ok(r.cmd("a", "FETCH 1 (BODYSTRUCTURE BODY RFC822.SIZE)"))
        d = fetches(res)[1]
        self.assertEqual(int(d["RFC822.SIZE"]), len(msg))
        self.assertIsInstance(d["BODYSTRUCTURE"], list, str(res))
        # Three levels down is still a multipart with one child.
        res = self.ok(r.cmd("b", "FETCH 1 BODY.PEEK[1.1.1.MIME]"))
        self.assertEqual(B(fetches(res)[1]["BODY[1.1.1.MIME]"]),
                         b'Content-Type: multipart/mixed; boundary="b56"\r\n\r\n',
                         str(res))
        self.ok(r.cmd("c", "SEARCH BODY leaf"))
        self.ok(r.cmd("n", "NOOP"))

    def test_big_message_roundtrip(self):
        line = b"".join(b"%07d abcdefghijklmnopqrstuvwxyz0123456789\r\n" % i
                        for i in range(25000))
        msg = b"Subject: big\r\nContent-Type: text/plain\r\n\r\n" + line
        self.assertGreater(len(msg), 1000000)
        r = self.box(msgs=(msg,))
        d, res = self.fetch1(r, "(RFC822.SIZE BODY.PEEK[])")
        self.assertEqual(int(d["RFC822.SIZE"]), len(msg))
        self.assertTrue(B(d["BODY[]"]) == msg, "BODY[] differs from the "
                        "appended 1 MB message")
        d, res = self.fetch1(r, "BODY.PEEK[TEXT]<500000.100>", tag="F2")
        self.assertEqual(B(d["BODY[TEXT]<500000>"]), line[500000:500100])

    def test_many_messages_one_fetch(self):
        r = self.raw()
        parts = ["APPEND INBOX"]
        for i in range(200):
            parts += [" ", Lit(SIMPLE.replace(b"hello", b"n%03d" % i), plus=True)]
        res = self.ok(r.cmd("a", *parts))
        self.ok(r.cmd("s", "SELECT INBOX"))
        res = self.ok(r.cmd("f", "FETCH 1:* (UID RFC822.SIZE "
                            "BODY.PEEK[HEADER.FIELDS (SUBJECT)])"))
        f = fetches(res)
        self.assertEqual(sorted(f), list(range(1, 201)))
        for s in f:
            self.assertEqual(f[s]["BODY[HEADER.FIELDS (SUBJECT)]"],
                             "Subject: n%03d\r\n\r\n" % (s - 1))
        uids = [int(f[s]["UID"]) for s in sorted(f)]
        self.assertEqual(uids, sorted(set(uids)))
        res = self.ok(r.cmd("q", "SEARCH SUBJECT n1"))
        self.assertEqual(len(res.named("SEARCH")[0].split()) - 2, 100)

    def test_pipelined_commands_answered_in_order(self):
        r = self.box(msgs=(SIMPLE,))
        r.send("".join("p%d FETCH 1 (UID FLAGS)\r\n" % i for i in range(100)))
        for i in range(100):
            res = r.wait("p%d" % i)
            self.ok(res)
            self.assertEqual(len(res.named("FETCH")), 1, str(res))

    def test_command_split_across_writes(self):
        import time as _t
        r = self.box(msgs=(SIMPLE,))
        for piece in [b"a FE", b"TCH 1 (BODY.PEEK[HEA", b"DER.FIELDS (Sub",
                      b"ject)])\r", b"\n"]:
            r.send(piece)
            _t.sleep(0.02)
        res = self.ok(r.wait("a"))
        self.assertEqual(fetches(res)[1]["BODY[HEADER.FIELDS (SUBJECT)]"],
                         "Subject: hello\r\n\r\n", str(res))
        # An APPEND literal arriving in small pieces.
        r.send("b APPEND INBOX {%d}\r\n" % len(NESTED))
        self.assertTrue(r.read().startswith("+"), r.exchange())
        for i in range(0, len(NESTED), 300):
            r.send(NESTED[i:i + 300])
            _t.sleep(0.01)
        r.send("\r\n")
        self.ok(r.wait("b"))
        d, res = self.fetch1(r, "BODY.PEEK[]", seq="2")
        self.assertEqual(B(d["BODY[]"]), NESTED)

    def test_keyword_capacity_and_permanentflags(self):
        # Keywords past what the mailbox can hold are refused, and then
        # PERMANENTFLAGS no longer offers \* (RFC 3501 7.1).
        r = self.box(msgs=(SIMPLE,))
        stored = []
        refused = []
        for i in range(40):
            res = r.cmd("k%d" % i, "STORE 1 +FLAGS.SILENT (Kw%d)" % i)
            self.assertIn(res.status, ("OK", "NO"), str(res))
            (stored if res.ok() else refused).append("KW%d" % i)
        d, res = self.fetch1(r, "FLAGS")
        self.assertEqual(flagset(d["FLAGS"]) - {"\\RECENT"}, set(stored),
                         str(res))
        r2 = self.raw(r.user)
        res = self.ok(r2.cmd("s", "SELECT INBOX"))
        pf = re.search(r"^\* OK \[PERMANENTFLAGS \(([^)]*)\)\]",
                       "\n".join(res.untagged), re.M)
        pflags = set(pf.group(1).upper().split())
        self.assertTrue(set(stored) <= pflags, str(res))
        if refused:
            self.assertNotIn("\\*", pflags,
                             "keywords %s were refused but PERMANENTFLAGS "
                             "still has \\*:\n%s" % (refused, res))
        # Existing keywords still work when the set is full.
        self.ok(r2.cmd("a", "STORE 1 -FLAGS (%s)" % stored[0]))
        self.ok(r2.cmd("b", "STORE 1 +FLAGS (%s)" % stored[0]))

    def test_next_command_after_large_fetch_response(self):
        # A response bigger than the socket buffers (the server has to wait
        # for the client to read) must not disturb the next command.
        msg = b"Subject: big\r\n\r\n" + b"x" * 200000 + b"\r\n"
        r = self.box(msgs=(msg,))
        d, res = self.fetch1(r, "BODY.PEEK[]", tag="f1")
        self.assertEqual(B(d["BODY[]"]), msg)
        res = r.cmd("f2", "FETCH 1 UID", timeout=3)
        self.ok(res)
        self.assertEqual(res.untagged, ["* 1 FETCH (UID 1)"], r.exchange())

    def test_next_command_after_many_fetch_responses(self):
        # The same with 300 small FETCH responses adding up to ~130 KB.
        r = self.raw()
        parts = ["APPEND INBOX"]
        for i in range(300):
            parts += [" ", Lit(b"Subject: m%d\r\n\r\n" % i + b"y" * 400 + b"\r\n",
                               plus=True)]
        self.ok(r.cmd("a", *parts))
        self.ok(r.cmd("s", "SELECT INBOX"))
        res = self.ok(r.cmd("f1", "FETCH 1:* BODY.PEEK[]"))
        self.assertEqual(len(fetches(res)), 300)
        res = r.cmd("f2", "NOOP", timeout=3)
        self.ok(res)
        # Pipelined behind the big one.
        r.send("p1 FETCH 1:* BODY.PEEK[]\r\np2 NOOP\r\n")
        self.ok(r.wait("p1"))
        self.ok(r.wait("p2", timeout=3))


MALFORMED = [
    # Boundary never closed, preamble only.
    b"Subject: a\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\nno parts here\r\n",
    # Empty boundary parameter.
    b'Subject: b\r\nContent-Type: multipart/alternative; boundary=""\r\n\r\n--\r\nx\r\n',
    # Unterminated multipart with one part.
    b"Subject: c\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\n"
    b"Content-Type: text/plain\r\n\r\nbody without end",
    # Broken base64 and quoted-printable.
    b"Subject: d\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\n!!!*** not base64 ===\r\n",
    b"Subject: e\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=ZZ=\r\n=4",
    # No blank line: all header.
    b"Subject: f\r\nX-Only: headers",
    # No header at all.
    b"\r\njust a body\r\n",
    # A header line without a colon, 8-bit junk, an unknown charset.
    b"Subject: g\r\nthis is not a header\r\nContent-Type: text/plain; "
    b"charset=x-unknown-42\r\n\r\n\xff\xfe\xfd caf\xe9\r\n",
    # A 100 KB folded header.
    b"Subject: h\r\nX-Long: " + b"w " * 20000 + b"\r\n " + b"v" * 60000
    + b"\r\n\r\nbody\r\n",
    # message/rfc822 that is empty, and encoded.
    b"Subject: i\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\n"
    b"Content-Type: message/rfc822\r\n\r\n\r\n--m\r\nContent-Type: message/rfc822\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\nU3ViamVjdDogeA0KDQp5DQo=\r\n--m--\r\n",
    # Bare LFs.
    b"Subject: j\nContent-Type: multipart/mixed; boundary=lf\n\n--lf\n"
    b"Content-Type: text/plain\n\nlf body\n--lf--\n",
    # Addresses that are not addresses; groups; encoded-word junk.
    b"From: <>, @@@, \"unterminated\r\nTo: undisclosed-recipients:;\r\n"
    b"Cc: Group: a@b.c, d@e.f;, g@h\r\nSubject: =?utf-8?B?!!?= =?x?Q?a?=\r\n"
    b"Date: not a date\r\n\r\nx\r\n",
]


class Malformed(FetchBase):

    def test_malformed_messages_fetch_and_search(self):
        r = self.raw()
        for m in MALFORMED:
            self.append(r, "INBOX", m)
        self.ok(r.cmd("s", "SELECT INBOX"))
        for i, m in enumerate(MALFORMED, 1):
            with self.subTest(message=i):
                res = self.ok(r.cmd(
                    "f%d" % i, "FETCH %d (RFC822.SIZE BODY.PEEK[] BODYSTRUCTURE "
                    "ENVELOPE BODY.PEEK[1] BODY.PEEK[1.MIME] BODY.PEEK[TEXT] "
                    "BODY.PEEK[HEADER.FIELDS (Subject)] BODY.PEEK[1.1.1])" % i))
                d = fetches(res)[i]
                # Bare LFs (invalid in RFC 5322) may be stored as CRLF; the
                # size always matches what BODY[] returns.
                self.assertIn(B(d["BODY[]"]),
                              (m, re.sub(rb"(?<!\r)\n", b"\r\n", m)))
                self.assertEqual(int(d["RFC822.SIZE"]), len(d["BODY[]"]))
                self.assertIsInstance(d["BODYSTRUCTURE"], list)
                self.assertIsInstance(d["ENVELOPE"], list)
                self.assertEqual(len(d["ENVELOPE"]), 10, str(res)[:1000])
        for i, crit in enumerate(["TEXT zzz", "BODY caf", "FROM x", "SUBJECT a",
                                  "SENTBEFORE 1-Jan-2030", "HEADER X-Long v"]):
            self.ok(r.cmd("q%d" % i, "SEARCH " + crit))
        res = self.ok(r.cmd("u", "SEARCH CHARSET UTF-8 BODY ", Lit(b"\xff\xfe")))
        self.ok(r.cmd("n", "NOOP"))

    def test_many_header_fields_requested(self):
        r = self.box(msgs=(SIMPLE,))
        names = " ".join("X-F%d" % i for i in range(300))
        res = r.cmd("a", "FETCH 1 BODY.PEEK[HEADER.FIELDS (%s Subject)]" % names)
        self.assertIn(res.status, ("OK", "BAD"), str(res)[:500])
        if res.ok():
            v = list(fetches(res)[1].values())[0]
            self.assertEqual(v, "Subject: hello\r\n\r\n")
        self.ok(r.cmd("n", "NOOP"))
