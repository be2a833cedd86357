"""IMAP SEARCH: every RFC 3501 key (sequence sets, UID, flags, keywords,
INTERNALDATE and Date: ranges, sizes, address and text keys over decoded
text, OR/NOT/parenthesised nesting), CHARSET (UTF-8 with a literal, an
unknown one gives NO [BADCHARSET]), RECENT/NEW/OLD, and ESEARCH (RFC 4731)
return options."""

import base64
import re

from harness import imap_quote, DOMAIN
from test_imap_session import (ImapTestBase, Lit, Raw, user_password,
                               parse_sexp)

SUBJ2 = "\u00c7a va \u00e0 la plage"          # Ça va à la plage
BODY2 = "Gr\u00fc\u00dfe aus M\u00fcnchen, bis bald!\r\n"


def msg(headers, body):
    return ("".join("%s: %s\r\n" % h for h in headers) + "\r\n").encode() \
        + (body if isinstance(body, bytes) else body.encode())


M1 = msg([("Date", "Mon, 05 Jan 2026 09:00:00 +0000"),
          ("From", "Alice Smith <alice@example.org>"),
          ("To", "bob@example.test"),
          ("Cc", "Carol <carol@example.net>"),
          ("Bcc", "dave@example.net"),
          ("Subject", "Meeting agenda"),
          ("Message-ID", "<m1@example.org>")],
         "Let's discuss the Budget tomorrow.\r\n")
M2 = msg([("Date", "Tue, 10 Feb 2026 11:00:00 +0000"),
          ("From", "Bob <bob@example.test>"),
          ("To", "alice@example.org"),
          ("Subject", "=?UTF-8?B?%s?=" % base64.b64encode(SUBJ2.encode()).decode()),
          ("Message-ID", "<m2@example.test>"),
          ("MIME-Version", "1.0"),
          ("Content-Type", "text/plain; charset=utf-8"),
          ("Content-Transfer-Encoding", "base64")],
         base64.encodebytes(BODY2.encode()).replace(b"\n", b"\r\n"))
M3 = msg([("Date", "Sun, 15 Mar 2026 12:00:00 +0000"),
          ("From", "carol@example.net"),
          ("To", "alice@example.org"),
          ("Subject", "Big file"),
          ("X-Custom", "hello-world"),
          ("Message-ID", "<m3@example.net>")],
         ("0123456789" * 7 + "\r\n") * 90)
M4 = msg([("Date", "Fri, 20 Mar 2026 08:00:00 +0000"),
          ("From", "Dave <dave@example.net>"),
          ("To", "Bob <bob@example.test>"),
          ("Subject", "Draft plan"),
          ("Message-ID", "<m4@example.net>")],
         "nothing to see\r\n")
M5 = msg([("Date", "Wed, 01 Apr 2026 10:00:00 +0000"),
          ("From", "Alice Smith <alice@example.org>"),
          ("To", "Eve <eve@example.com>"),
          ("Subject", "Re: Meeting agenda"),
          ("Message-ID", "<m5@example.org>"),
          ("MIME-Version", "1.0"),
          ("Content-Type", 'multipart/mixed; boundary="b5"')],
         "--b5\r\n"
         "Content-Type: text/plain; charset=utf-8\r\n"
         "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
         "See attached minutes and my r=C3=A9sum=C3=A9.\r\n\r\n"
         "--b5\r\n"
         "Content-Type: application/octet-stream\r\n"
         "Content-Transfer-Encoding: base64\r\n\r\n"
         "AAECAwQFBgcICQ==\r\n\r\n"
         "--b5--\r\n")

MSGS = [
    (M1, ["\\Seen"], "05-Jan-2026 12:00:00 +0000"),
    (M2, ["\\Flagged", "$Important"], "10-Feb-2026 12:00:00 +0000"),
    (M3, ["\\Answered", "\\Deleted"], "15-Mar-2026 12:00:00 +0000"),
    (M4, ["\\Draft"], "01-Apr-2026 12:00:00 +0000"),
    (M5, [], "02-Apr-2026 12:00:00 +0000"),
]
assert len(M3) > 5000 and all(len(m) < 2000 for m in (M1, M2, M4, M5))

USER = "searcher@" + DOMAIN


def search_result(resp, word="SEARCH"):
    lines = [u for u in resp.untagged
             if u.upper().startswith("* %s" % word)]
    if len(lines) != 1:
        raise AssertionError("expected one * %s:\n%s" % (word, resp))
    return [int(x) for x in lines[0].split()[2:]]


def expand_set(s):
    out = []
    for part in s.split(","):
        if ":" in part:
            a, b = part.split(":")
            a, b = int(a), int(b)
            out += list(range(min(a, b), max(a, b) + 1))
        else:
            out.append(int(part))
    return sorted(out)


def parse_esearch(line):
    """'* ESEARCH [(TAG "x")] [UID] k v ...' -> (tag, uid, {K: v})."""
    t = parse_sexp(line)
    assert t[0] == "*" and t[1].upper() == "ESEARCH", line
    i = 2
    tag = None
    if i < len(t) and isinstance(t[i], list):
        assert t[i][0].upper() == "TAG", line
        tag = t[i][1]
        i += 1
    uid = False
    if i < len(t) and not isinstance(t[i], list) and t[i].upper() == "UID":
        uid = True
        i += 1
    rest = t[i:]
    assert len(rest) % 2 == 0, line
    return tag, uid, {rest[j].upper(): rest[j + 1] for j in range(0, len(rest), 2)}


class Search(ImapTestBase):
    preusers = [(USER, user_password(USER), 0, 0)]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls._fill()
        except BaseException:
            cls.inst.close_clients()
            cls.inst.stop(check=False)
            cls.inst.cleanup()
            raise

    @classmethod
    def _fill(cls):
        lc = cls.inst.connect("imaps")
        try:
            r = Raw(lc)
            res = r.cmd("L", "LOGIN %s %s" % (USER, user_password(USER)))
            assert res.ok(), str(res)
            cls.uids = []
            for i, (m, flags, date) in enumerate(MSGS):
                res = r.cmd("a%d" % i, "APPEND INBOX (%s) \"%s\" " %
                            (" ".join(flags), date), Lit(m))
                assert res.ok(), str(res)
                mm = re.search(r"\[APPENDUID \d+ (\d+)\]", res.tagged)
                cls.uids.append(int(mm.group(1)) if mm else None)
            r.cmd("z", "LOGOUT")
        finally:
            lc.close()

    def setUp(self):
        self.r = self.raw(USER)
        self.ok(self.r.cmd("s", "EXAMINE INBOX"))
        if None in self.uids:
            res = self.ok(self.r.cmd("u", "FETCH 1:* UID"))
            self.__class__.uids = [int(re.search(r"UID (\d+)", u).group(1))
                                   for u in res.named("FETCH")]

    n = 0

    def s(self, criteria, *lits, uid=False):
        """Run SEARCH criteria (Lit parts appended); the numbers."""
        self.n += 1
        parts = [("UID " if uid else "") + "SEARCH " + criteria]
        parts += list(lits)
        res = self.ok(self.r.cmd("q%d" % self.n, *parts),
                      "SEARCH %s" % criteria)
        return sorted(search_result(res))

    def check(self, table):
        for crit, want in table:
            with self.subTest(criteria=crit):
                self.assertEqual(self.s(crit), want, crit)

    def test_all_and_sequence_sets(self):
        self.check([
            ("ALL", [1, 2, 3, 4, 5]),
            ("2:4", [2, 3, 4]),
            ("2,4:*", [2, 4, 5]),
            ("*", [5]),
            ("*:4", [4, 5]),
            ("1:3 UNSEEN", [2, 3]),
            ("1,5 ALL", [1, 5]),
        ])

    def test_flags(self):
        self.check([
            ("SEEN", [1]), ("UNSEEN", [2, 3, 4, 5]),
            ("FLAGGED", [2]), ("UNFLAGGED", [1, 3, 4, 5]),
            ("ANSWERED", [3]), ("UNANSWERED", [1, 2, 4, 5]),
            ("DELETED", [3]), ("UNDELETED", [1, 2, 4, 5]),
            ("DRAFT", [4]), ("UNDRAFT", [1, 2, 3, 5]),
            ("KEYWORD $Important", [2]), ("KEYWORD $important", [2]),
            ("UNKEYWORD $Important", [1, 3, 4, 5]),
            ("KEYWORD NoSuchKeyword", []),
            ("UNKEYWORD NoSuchKeyword", [1, 2, 3, 4, 5]),
        ])

    def test_internaldate(self):
        self.check([
            ("BEFORE 10-Feb-2026", [1]),
            ("ON 10-Feb-2026", [2]),
            ("SINCE 15-Mar-2026", [3, 4, 5]),
            ("BEFORE 1-Jan-2026", []),
            ("ON 1-Apr-2026", [4]),
            ('ON "1-Apr-2026"', [4]),
            ("SINCE 2-Apr-2026", [5]),
            ("SINCE 1-Feb-2026 BEFORE 1-Apr-2026", [2, 3]),
        ])

    def test_sent_dates(self):
        self.check([
            ("SENTBEFORE 10-Feb-2026", [1]),
            ("SENTON 10-Feb-2026", [2]),
            ("SENTON 20-Mar-2026", [4]),
            ("SENTSINCE 20-Mar-2026", [4, 5]),
            ("SENTON 1-Apr-2026", [5]),
            ("SENTBEFORE 1-Apr-2026", [1, 2, 3, 4]),
            ("SENTON 2-Apr-2026", []),
        ])

    def test_sizes(self):
        self.check([
            ("LARGER 5000", [3]),
            ("SMALLER 5000", [1, 2, 4, 5]),
            ("LARGER %d" % len(M3), []),
            ("LARGER %d" % (len(M3) - 1), [3]),
            ("SMALLER %d" % len(M1), sorted(
                i + 1 for i, (m, _, _) in enumerate(MSGS) if len(m) < len(M1))),
        ])

    def test_address_keys(self):
        self.check([
            ("FROM alice", [1, 5]),
            ('FROM "ALICE SMITH"', [1, 5]),
            ("FROM example.net", [3, 4]),
            ("TO bob", [1, 4]),
            ("TO EVE@example.com", [5]),
            ("CC carol", [1]),
            ("BCC dave", [1]),
            ("BCC nobody", []),
        ])

    def test_subject_and_header(self):
        self.check([
            ("SUBJECT agenda", [1, 5]),
            ("SUBJECT AGENDA", [1, 5]),
            ("SUBJECT plage", [2]),          # RFC 2047 decoded
            ('SUBJECT "re: meeting"', [5]),
            ("HEADER X-Custom hello", [3]),
            ('HEADER X-Custom ""', [3]),
            ("HEADER x-custom HELLO-WORLD", [3]),
            ("HEADER Message-ID example.net", [3, 4]),
            ("HEADER X-Absent x", []),
        ])

    def test_body_and_text(self):
        self.check([
            ("BODY budget", [1]),
            ("BODY BUDGET", [1]),
            ("BODY Meeting", []),            # only in headers
            ("TEXT Meeting", [1, 5]),
            ("TEXT hello-world", [3]),
            ("TEXT budget", [1]),
            ("BODY minutes", [5]),           # in a multipart's text part
            ("BODY nothing", [4]),
        ])

    def test_charset_utf8_literals(self):
        cases = [
            ("SUBJECT", "\u00e7a va", [2]),            # ça va
            ("SUBJECT", "\u00c7A VA \u00c0", [2]),     # ÇA VA À
            ("BODY", "m\u00fcnchen", [2]),             # base64 body
            ("BODY", "GR\u00dc\u00dfE", [2]),
            ("TEXT", "r\u00e9sum\u00e9", [5]),         # QP in a multipart
            ("BODY", "R\u00c9SUM\u00c9", [5]),
            ("SUBJECT", "plage", [2]),
        ]
        for key, text, want in cases:
            with self.subTest(key=key, text=text):
                got = self.s("CHARSET UTF-8 %s " % key, Lit(text.encode()))
                self.assertEqual(got, want)
        # A quoted UTF-8 string also works with CHARSET UTF-8 (RFC 3501
        # says quoted strings are 7-bit; literals are the portable form).
        self.assertEqual(self.s("CHARSET US-ASCII FROM alice"), [1, 5])
        self.assertEqual(self.s("CHARSET utf-8 FROM alice"), [1, 5])

    def test_unknown_charset_badcharset(self):
        res = self.r.cmd("a", "SEARCH CHARSET X-NO-SUCH-CHARSET SUBJECT x")
        self.assertEqual(res.status, "NO", str(res))
        self.assertTrue((res.code or "").upper().startswith("BADCHARSET"),
                        str(res))
        self.ok(self.r.cmd("b", "NOOP"))

    def test_or_not_nesting(self):
        self.check([
            ("OR FLAGGED OR DRAFT ANSWERED", [2, 3, 4]),
            ("NOT SEEN", [2, 3, 4, 5]),
            ("NOT NOT SEEN", [1]),
            ("NOT (SEEN)", [2, 3, 4, 5]),
            ("NOT OR SEEN FLAGGED", [3, 4, 5]),
            ("(FROM alice SUBJECT Re)", [5]),
            ("OR (FROM alice SEEN) DRAFT", [1, 4]),
            ("NOT (OR FROM alice OR DELETED DRAFT)", [2]),
            ("NOT (FROM alice OR DELETED DRAFT)", [1, 2, 3, 4, 5]),
            ("NOT FROM alice NOT OR DELETED DRAFT", [2]),
            ("OR (OR SEEN FLAGGED) (NOT (UNDELETED))", [1, 2, 3]),
            ("((((SEEN))))", [1]),
            ("OR 1 5 NOT SEEN", [5]),
            ("OR SMALLER 100 LARGER 5000", [3]),
        ])

    def test_uid_keys(self):
        u = self.uids
        self.assertEqual(self.s("UID %d" % u[2]), [3])
        self.assertEqual(self.s("UID %d:%d" % (u[1], u[3])), [2, 3, 4])
        self.assertEqual(self.s("UID %d,%d" % (u[0], u[4])), [1, 5])
        self.assertEqual(self.s("UID %d:*" % u[3]), [4, 5])
        self.assertEqual(self.s("ALL", uid=True), sorted(u))
        self.assertEqual(self.s("FROM alice", uid=True), [u[0], u[4]])
        self.assertEqual(self.s("UID %d:%d NOT DRAFT" % (u[1], u[3]), uid=True),
                         [u[1], u[2]])
        self.assertEqual(self.s("2:3", uid=True), [u[1], u[2]])

    def test_bad_searches(self):
        for i, crit in enumerate(["FROBNICATE", "OR SEEN", "NOT", "BEFORE",
                                  "BEFORE 99-Foo-2026", "LARGER x",
                                  "HEADER X-Custom", "(SEEN", "SEEN)",
                                  "KEYWORD", "UID x"]):
            with self.subTest(criteria=crit):
                res = self.r.cmd("b%d" % i, "SEARCH " + crit)
                self.assertEqual(res.status, "BAD", str(res))
        self.ok(self.r.cmd("n", "NOOP"))

    def test_imaplib_search(self):
        m = self.imap(USER)
        m.select("INBOX", readonly=True)
        typ, data = m.search(None, "FROM", '"alice"')
        self.assertEqual(typ, "OK")
        self.assertEqual(sorted(int(x) for x in data[0].split()), [1, 5])
        m.literal = "\u00e7a".encode()
        typ, data = m.search("UTF-8", "SUBJECT")
        self.assertEqual(typ, "OK")
        self.assertEqual(data[0].split(), [b"2"])
        typ, data = m.uid("SEARCH", "UNSEEN")
        self.assertEqual(sorted(int(x) for x in data[0].split()),
                         sorted(self.uids[1:]))

    # ----- ESEARCH -----

    def esearch(self, tag, *cmd):
        res = self.ok(self.r.cmd(tag, *cmd))
        lines = res.named("ESEARCH")
        self.assertEqual(len(lines), 1, str(res))
        self.assertEqual(res.named("SEARCH"), [], str(res))
        return parse_esearch(lines[0]), res

    def test_esearch_uid_min_max_count_all(self):
        u = self.uids
        (tag, uid, d), res = self.esearch("x", "UID SEARCH RETURN (MIN MAX "
                                          "COUNT ALL) 1:*")
        self.assertEqual(tag, "x", str(res))
        self.assertTrue(uid, str(res))
        self.assertEqual(int(d["MIN"]), min(u), str(res))
        self.assertEqual(int(d["MAX"]), max(u), str(res))
        self.assertEqual(int(d["COUNT"]), 5, str(res))
        self.assertEqual(expand_set(d["ALL"]), sorted(u), str(res))
        self.assertRegex(res.named("ESEARCH")[0],
                         r'^\* ESEARCH \(TAG "x"\) UID ')

    def test_esearch_seq(self):
        (tag, uid, d), res = self.esearch("y", "SEARCH RETURN (MIN MAX COUNT) "
                                          "UNSEEN")
        self.assertEqual(tag, "y")
        self.assertFalse(uid, str(res))
        self.assertEqual(d, {"MIN": "2", "MAX": "5", "COUNT": "4"}, str(res))
        (tag, uid, d), res = self.esearch("y2", "SEARCH RETURN (COUNT) FLAGGED")
        self.assertEqual(d, {"COUNT": "1"}, str(res))

    def test_esearch_default_all(self):
        (tag, uid, d), res = self.esearch("z", "SEARCH RETURN () OR SEEN DRAFT")
        self.assertEqual(set(d), {"ALL"}, str(res))
        self.assertEqual(expand_set(d["ALL"]), [1, 4], str(res))

    def test_esearch_no_match(self):
        (tag, uid, d), res = self.esearch("w", "UID SEARCH RETURN (MIN MAX "
                                          "COUNT ALL) KEYWORD NoSuch")
        self.assertTrue(uid)
        self.assertEqual(d, {"COUNT": "0"}, str(res))
        (tag, uid, d), res = self.esearch("w2", "SEARCH RETURN (MIN) DELETED "
                                          "DRAFT")
        self.assertEqual(d, {}, str(res))

    def test_esearch_with_charset(self):
        (tag, uid, d), res = self.esearch(
            "v", "SEARCH RETURN (COUNT) CHARSET UTF-8 BODY ",
            Lit("m\u00fcnchen".encode()))
        self.assertEqual(d, {"COUNT": "1"}, str(res))

    def test_esearch_bad_option(self):
        res = self.r.cmd("a", "SEARCH RETURN (FROB) ALL")
        self.assertEqual(res.status, "BAD", str(res))


class SearchRecent(ImapTestBase):

    def test_recent_new_old(self):
        a = self.raw()
        self.append(a, "INBOX", M1, flags=["\\Seen"])
        self.append(a, "INBOX", M4)
        self.ok(a.cmd("s", "SELECT INBOX"))
        res = self.ok(a.cmd("a", "SEARCH RECENT"))
        self.assertEqual(sorted(search_result(res)), [1, 2], str(res))
        res = self.ok(a.cmd("b", "SEARCH NEW"))
        self.assertEqual(search_result(res), [2], str(res))
        res = self.ok(a.cmd("c", "SEARCH OLD"))
        self.assertEqual(search_result(res), [], str(res))
        # A second session never sees them as recent.
        b = self.raw(a.user)
        self.ok(b.cmd("s", "SELECT INBOX"))
        res = self.ok(b.cmd("a", "SEARCH RECENT"))
        self.assertEqual(search_result(res), [], str(res))
        res = self.ok(b.cmd("b", "SEARCH OLD"))
        self.assertEqual(sorted(search_result(res)), [1, 2], str(res))
        res = self.ok(b.cmd("c", "SEARCH NEW"))
        self.assertEqual(search_result(res), [], str(res))

    def test_body_search_over_many_messages_with_pipelining(self):
        # 450 messages: a BODY search reads them in several steps (other
        # clients are served between steps); the answer is complete, and
        # a command pipelined behind it is answered after it.
        a = self.raw()
        parts = ["APPEND INBOX"]
        for i in range(450):
            body = b"needle %d" % i if i % 7 == 0 else b"hay %d" % i
            parts += [" ", Lit(b"Subject: m%d\r\n\r\n" % i + body + b"\r\n",
                               plus=True)]
        self.ok(a.cmd("ap", *parts))
        self.ok(a.cmd("s", "SELECT INBOX"))
        a.send("q SEARCH BODY needle\r\nn NOOP\r\n")
        res = self.ok(a.wait("q"))
        self.assertEqual(sorted(search_result(res)),
                         [i + 1 for i in range(450) if i % 7 == 0])
        self.ok(a.wait("n"))

    def test_search_sees_store_in_same_session(self):
        a = self.raw()
        self.append(a, "INBOX", M1)
        self.append(a, "INBOX", M2)
        self.ok(a.cmd("s", "SELECT INBOX"))
        self.ok(a.cmd("st", "STORE 2 +FLAGS (\\Seen Later)"))
        res = self.ok(a.cmd("a", "SEARCH SEEN KEYWORD later"))
        self.assertEqual(search_result(res), [2], str(res))
        res = self.ok(a.cmd("b", "SEARCH UNKEYWORD Later"))
        self.assertEqual(search_result(res), [1], str(res))
