"""IMAP mailbox management: CREATE (trailing separator, CREATE-SPECIAL-USE
and [USEATTR]), DELETE (INBOX, children, \\Noselect), RENAME (subtree,
INBOX, into itself), SUBSCRIBE/UNSUBSCRIBE and LSUB's "%" rule, STATUS
(items in the order asked, UNSEEN, RECENT, SIZE), NAMESPACE, and LIST:
wildcards, references, INBOX in any case, implied parents, CHILDREN and
special-use attributes, LIST-EXTENDED selection and return options,
multiple patterns, RECURSIVEMATCH's CHILDINFO and LIST-STATUS."""

import re
import subprocess
import time

import harness
from harness import RMAIL_BIN, SLOW, sanitizer_env, sanitizer_reports
from test_imap_session import ImapTestBase, parse_sexp

DEFAULTS = {"INBOX": set(), "Archive": {"\\ARCHIVE"},
            "Drafts": {"\\DRAFTS"}, "Junk": {"\\JUNK"}, "Sent": {"\\SENT"},
            "Trash": {"\\TRASH"}}


def msg(n):
    return ("From: a@example.test\r\nTo: b@example.test\r\n"
            "Subject: m%d\r\n\r\nbody %d\r\n" % (n, n)).encode()


def lists(res, word="LIST"):
    """{name: (set of upper-cased attributes, extended data or None)} of
    the untagged LIST/LSUB lines, and the names in the order sent."""
    out = {}
    order = []
    for u in res.untagged:
        t = parse_sexp(u)
        if len(t) < 5 or t[0] != "*" or t[1].upper() != word:
            continue
        attrs, sep, name = t[2], t[3], t[4]
        assert sep == "/", u
        assert name not in out, "listed twice: %r" % u
        out[name] = (set(a.upper() for a in attrs),
                     t[5] if len(t) > 5 else None)
        order.append(name)
    return out, order


def statuses(res):
    """{name: [(ITEM, value), ...]} of the untagged STATUS lines."""
    out = {}
    for u in res.untagged:
        t = parse_sexp(u)
        if len(t) == 4 and t[0] == "*" and t[1].upper() == "STATUS":
            it = t[3]
            out[t[2]] = [(it[i].upper(), int(it[i + 1]))
                         for i in range(0, len(it), 2)]
    return out


class Mailboxes(ImapTestBase):

    def deliver(self, user, data):
        r = subprocess.run(
            [RMAIL_BIN, "deliver", "-c", self.inst.config, user],
            input=data, capture_output=True, env=sanitizer_env(),
            timeout=60 * SLOW)
        err = r.stderr.decode("utf-8", "replace")
        self.assertFalse(sanitizer_reports(err), err)
        self.assertEqual(r.returncode, 0, err)

    def list(self, r, args, word="LIST"):
        res = self.ok(r.cmd("l", "%s %s" % (word, args)))
        return lists(res, word)[0]

    # ----- LIST -----

    def test_list_defaults(self):
        r = self.raw()
        got = self.list(r, '"" "*"')
        self.assertEqual(set(got), set(DEFAULTS), got)
        for name, special in DEFAULTS.items():
            attrs, ext = got[name]
            self.assertEqual(attrs, {"\\HASNOCHILDREN"} | special, name)
            self.assertIsNone(ext)
        res = self.ok(r.cmd("a", 'LIST "" "*"'))
        self.assertIn('* LIST (\\HasNoChildren \\Sent) "/" Sent',
                      res.untagged)
        self.assertIn('* LIST (\\HasNoChildren) "/" INBOX', res.untagged)

    def test_list_root(self):
        r = self.raw()
        res = self.ok(r.cmd("a", 'LIST "" ""'))
        self.assertEqual(res.untagged, ['* LIST (\\Noselect) "/" ""'])
        res = self.ok(r.cmd("b", 'LIST "Sent/" ""'))
        self.assertEqual(res.untagged, ['* LIST (\\Noselect) "/" ""'])

    def test_list_inbox_any_case(self):
        r = self.raw()
        for pat in ("inbox", "Inbox", "INBOX", "inB%", "i*x"):
            got = self.list(r, '"" "%s"' % pat)
            self.assertEqual(list(got), ["INBOX"], pat)
        self.ok(r.cmd("c", "CREATE inbox/Sub"))
        got = self.list(r, '"inbox/" "%"')
        self.assertEqual(list(got), ["INBOX/Sub"])
        self.assertEqual(self.list(r, '"" "INBOX"')["INBOX"][0],
                         {"\\HASCHILDREN"})
        # Only INBOX is case-insensitive.
        self.assertEqual(self.list(r, '"" "sent"'), {})

    def test_hierarchy_and_wildcards(self):
        r = self.raw()
        self.ok(r.cmd("a", "CREATE A/B/C"))
        self.ok(r.cmd("b", "CREATE A/B2"))
        got = self.list(r, '"" "%"')
        self.assertEqual(set(got), set(DEFAULTS) | {"A"})
        self.assertEqual(got["A"][0], {"\\NOSELECT", "\\HASCHILDREN"})
        got = self.list(r, '"" "A/%"')
        self.assertEqual(set(got), {"A/B", "A/B2"})
        self.assertEqual(got["A/B"][0], {"\\NOSELECT", "\\HASCHILDREN"})
        self.assertEqual(got["A/B2"][0], {"\\HASNOCHILDREN"})
        self.assertEqual(set(self.list(r, '"A/" "%"')), {"A/B", "A/B2"})
        self.assertEqual(set(self.list(r, '"A" "/%"')), {"A/B", "A/B2"})
        self.assertEqual(set(self.list(r, '"" "A*"')),
                         {"A", "A/B", "A/B/C", "A/B2", "Archive"})
        self.assertEqual(set(self.list(r, '"" "A/*"')),
                         {"A/B", "A/B/C", "A/B2"})
        self.assertEqual(set(self.list(r, '"" "A/%/%"')), {"A/B/C"})
        self.assertEqual(set(self.list(r, '"" "*C"')), {"A/B/C"})
        self.assertEqual(set(self.list(r, '"" "%C"')), set())
        # LIST-EXTENDED says \NonExistent for an implied parent.
        got = self.list(r, '() "" "%"')
        self.assertEqual(got["A"][0], {"\\NONEXISTENT", "\\HASCHILDREN"})
        # SELECT of an implied parent fails; STATUS is NONEXISTENT.
        self.assertEqual(r.cmd("c", "SELECT A").status, "NO")
        self.status_is(r.cmd("d", "STATUS A (MESSAGES)"), "NO", "NONEXISTENT")

    def test_list_bad(self):
        r = self.raw()
        for args in ('""', '"" "*" extra', '(BOGUS) "" "*"',
                     '(RECURSIVEMATCH) "" "*"', '"" "*" RETURN (BOGUS)',
                     '"" "*" RETURN', '"" ()',
                     '"" "*" RETURN (STATUS (BOGUS))'):
            res = r.cmd("a", "LIST " + args)
            self.assertEqual(res.status, "BAD", args + "\n" + str(res))
        self.assertEqual(r.cmd("b", 'LSUB "" ("*")').status, "BAD")
        self.ok(r.cmd("c", "NOOP"))

    def test_multiple_patterns(self):
        r = self.raw()
        res = self.ok(r.cmd("a", 'LIST "" ("Sent" "inbox" "S*" "Nope")'))
        got, order = lists(res)
        self.assertEqual(order, ["INBOX", "Sent"])
        # Extended: no \Subscribed unless asked.
        self.assertEqual(got["Sent"][0], {"\\HASNOCHILDREN", "\\SENT"})

    def test_special_use_selection(self):
        r = self.raw()
        self.ok(r.cmd("a", "CREATE Plain"))
        got = self.list(r, '(SPECIAL-USE) "" "*"')
        self.assertEqual(set(got), set(DEFAULTS) - {"INBOX"})
        got = self.list(r, '"" "*" RETURN (SPECIAL-USE)')
        self.assertEqual(got["Trash"][0], {"\\HASNOCHILDREN", "\\TRASH"})
        self.assertIn("Plain", got)

    # ----- CREATE -----

    def test_create_trailing_separator(self):
        r = self.raw()
        self.ok(r.cmd("a", "CREATE Proj/"))
        got = self.list(r, '"" "Proj*"')
        self.assertEqual(got, {"Proj": ({"\\HASNOCHILDREN"}, None)})
        self.ok(r.cmd("b", "SELECT Proj"))
        self.status_is(r.cmd("c", 'CREATE "Proj"'), "NO", "ALREADYEXISTS")
        self.assertEqual(r.cmd("d", 'CREATE "/"').status, "NO")
        self.assertEqual(r.cmd("e", 'CREATE "x//"').status, "NO")

    def test_create_special_use(self):
        r = self.raw()
        self.ok(r.cmd("a", "CREATE MySent (USE (\\Sent))"))
        self.ok(r.cmd("b", "CREATE Bin (USE (\\trash))"))
        self.ok(r.cmd("c", "CREATE NoUse (USE ())"))
        got = self.list(r, '"" "*"')
        self.assertEqual(got["MySent"][0], {"\\HASNOCHILDREN", "\\SENT"})
        self.assertEqual(got["Bin"][0], {"\\HASNOCHILDREN", "\\TRASH"})
        self.assertEqual(got["NoUse"][0], {"\\HASNOCHILDREN"})
        for use in ("\\All", "\\Flagged", "\\Bogus", "\\Sent \\Trash"):
            res = r.cmd("d", "CREATE X (USE (%s))" % use)
            self.status_is(res, "NO", "USEATTR")
        for params in ("(FOO)", "(USE \\Sent)", "USE", "(USE (Sent))"):
            res = r.cmd("e", "CREATE X %s" % params)
            self.assertEqual(res.status, "BAD", params + "\n" + str(res))
        self.assertNotIn("X", self.list(r, '"" "*"'))

    def test_create_inbox_and_mutf7(self):
        r = self.raw()
        self.status_is(r.cmd("a", "CREATE inbox"), "NO", "ALREADYEXISTS")
        self.ok(r.cmd("b", "CREATE &ZeVnLIqe-"))
        self.assertIn("&ZeVnLIqe-", self.list(r, '"" "&*"'))
        self.assertEqual(r.cmd("c", "CREATE &Jjo").status, "NO")
        self.assertEqual(r.cmd("d", 'CREATE "a*b"').status, "NO")

    # ----- DELETE -----

    def test_delete(self):
        r = self.raw()
        self.status_is(r.cmd("a", "DELETE INBOX"), "NO", "CANNOT")
        self.status_is(r.cmd("b", "DELETE inbox"), "NO", "CANNOT")
        self.status_is(r.cmd("c", "DELETE Nope"), "NO", "NONEXISTENT")
        self.ok(r.cmd("d", "CREATE P/Q"))
        self.ok(r.cmd("e", "CREATE P"))
        # Implied parent gone, then real: delete with children -> \Noselect.
        self.ok(r.cmd("f", "DELETE P"))
        got = self.list(r, '"" "P*"')
        self.assertEqual(got["P"][0], {"\\NOSELECT", "\\HASCHILDREN"})
        self.status_is(r.cmd("g", "DELETE P"), "NO", "CANNOT")
        self.status_is(r.cmd("h", "STATUS P (MESSAGES)"), "NO", "NONEXISTENT")
        self.ok(r.cmd("i", "DELETE P/Q"))
        got = self.list(r, '"" "P*"')
        self.assertEqual(got, {"P": ({"\\NOSELECT", "\\HASNOCHILDREN"},
                                     None)})
        # CREATE makes a \Noselect mailbox selectable again.
        self.ok(r.cmd("j", "CREATE P"))
        self.ok(r.cmd("k", "SELECT P"))
        self.ok(r.cmd("l", "DELETE Junk"))
        self.assertNotIn("Junk", self.list(r, '"" "*"'))

    # ----- RENAME -----

    def test_rename(self):
        r = self.raw()
        self.ok(r.cmd("a", "CREATE R/S"))
        self.ok(r.cmd("b", "CREATE R"))
        self.ok(r.cmd("c", "RENAME R T"))
        self.assertEqual(set(self.list(r, '"" "T*"')), {"T", "T/S", "Trash"})
        self.assertEqual(self.list(r, '"" "R*"'), {})
        self.status_is(r.cmd("d", "RENAME T Sent"), "NO", "ALREADYEXISTS")
        self.status_is(r.cmd("e", "RENAME T INBOX"), "NO", "ALREADYEXISTS")
        self.status_is(r.cmd("f", "RENAME Nope X"), "NO", "NONEXISTENT")
        self.status_is(r.cmd("g", "RENAME T T/U"), "NO", "CANNOT")
        self.assertEqual(r.cmd("h", "RENAME T").status, "BAD")

    def test_rename_inbox(self):
        u = self.new_user()
        r = self.raw(u)
        self.deliver(u, msg(1))
        self.deliver(u, msg(2))
        self.ok(r.cmd("a", "RENAME inbox Old"))
        st = statuses(self.ok(r.cmd("b", "STATUS Old (MESSAGES UIDNEXT)")))
        self.assertEqual(st["Old"], [("MESSAGES", 2), ("UIDNEXT", 3)])
        st = statuses(self.ok(r.cmd("c", "STATUS INBOX (MESSAGES)")))
        self.assertEqual(st["INBOX"], [("MESSAGES", 0)])
        self.assertIn("INBOX", self.list(r, '"" "*"'))

    # ----- SUBSCRIBE, LSUB, LIST (SUBSCRIBED) -----

    def test_subscriptions(self):
        r = self.raw()
        got = self.list(r, '"" "*"', "LSUB")
        self.assertEqual(set(got), set(DEFAULTS))
        self.ok(r.cmd("a", "UNSUBSCRIBE Junk"))
        self.status_is(r.cmd("b", "SUBSCRIBE Nope"), "NO", "NONEXISTENT")
        self.assertNotIn("Junk", self.list(r, '"" "*"', "LSUB"))
        self.ok(r.cmd("c", "CREATE F/G"))
        self.ok(r.cmd("d", "CREATE F"))
        self.ok(r.cmd("e", "UNSUBSCRIBE F"))
        # RFC 3501 6.3.9: "%" shows F, not subscribed, as \Noselect.
        got = self.list(r, '"" "F%"', "LSUB")
        self.assertEqual(got, {"F": ({"\\NOSELECT"}, None)})
        got = self.list(r, '"" "F*"', "LSUB")
        self.assertEqual(got, {"F/G": (set(), None)})
        # LIST-EXTENDED.
        got = self.list(r, '(SUBSCRIBED) "" "*"')
        self.assertEqual(set(got), set(DEFAULTS) - {"Junk"} | {"F/G"})
        self.assertIn("\\SUBSCRIBED", got["Sent"][0])
        got = self.list(r, '"" "*" RETURN (SUBSCRIBED)')
        self.assertNotIn("\\SUBSCRIBED", got["Junk"][0])
        self.assertIn("\\SUBSCRIBED", got["Trash"][0])
        self.assertNotIn("\\SUBSCRIBED", got["F"][0])
        got = self.list(r, '(SUBSCRIBED RECURSIVEMATCH) "" "%"')
        self.assertEqual(got["F"], ({"\\HASCHILDREN"},
                                    ["CHILDINFO", ["SUBSCRIBED"]]))
        self.assertEqual(got["Sent"][1], None)
        self.assertNotIn("Junk", got)
        self.ok(r.cmd("f", "SUBSCRIBE F"))
        got = self.list(r, '(SUBSCRIBED RECURSIVEMATCH) "" "%"')
        self.assertEqual(got["F"], ({"\\SUBSCRIBED", "\\HASCHILDREN"},
                                    ["CHILDINFO", ["SUBSCRIBED"]]))
        got = self.list(r, '(SUBSCRIBED RECURSIVEMATCH) "" "*"')
        self.assertEqual(got["F"][1], None)

    # ----- STATUS, LIST-STATUS -----

    def test_status(self):
        u = self.new_user()
        r = self.raw(u)
        # The hub's handle is open (and lingers): what arrives is \Recent.
        self.ok(r.cmd("a", "STATUS INBOX (MESSAGES)"))
        for i in range(3):
            self.deliver(u, msg(i))
        deadline = time.monotonic() + 5 * SLOW
        while True:
            st = statuses(self.ok(r.cmd(
                "b", "STATUS INBOX (UNSEEN MESSAGES RECENT UIDNEXT SIZE "
                "UIDVALIDITY MESSAGES)")))["INBOX"]
            if st[1] == ("MESSAGES", 3) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        items = [k for k, _ in st]
        self.assertEqual(items, ["UNSEEN", "MESSAGES", "RECENT", "UIDNEXT",
                                 "SIZE", "UIDVALIDITY"])
        d = dict(st)
        self.assertEqual(d["MESSAGES"], 3)
        self.assertEqual(d["UNSEEN"], 3)
        self.assertEqual(d["RECENT"], 3)
        self.assertEqual(d["UIDNEXT"], 4)
        # Delivery adds trace headers: SIZE is the sum of RFC822.SIZE.
        self.assertGreater(d["SIZE"], sum(len(msg(i)) for i in range(3)))
        sizes = re.findall(r"RFC822\.SIZE (\d+)", " ".join(self.ok(r.cmd(
            "x", "EXAMINE INBOX")) and self.ok(r.cmd(
                "y", "FETCH 1:* RFC822.SIZE")).untagged))
        self.assertEqual(d["SIZE"], sum(int(x) for x in sizes))
        self.ok(r.cmd("z", "CLOSE"))
        self.assertGreater(d["UIDVALIDITY"], 0)
        # Another session selects and claims \Recent; it marks one seen.
        r2 = self.raw(u)
        self.ok(r2.cmd("c", "SELECT INBOX"))
        self.ok(r2.cmd("d", "STORE 1 +FLAGS (\\Seen)"))
        st = dict(statuses(self.ok(r.cmd(
            "e", "STATUS inbox (RECENT UNSEEN)")))["INBOX"])
        self.assertEqual(st, {"RECENT": 0, "UNSEEN": 2})
        st = dict(statuses(self.ok(r2.cmd(
            "f", "STATUS INBOX (RECENT)")))["INBOX"])
        self.assertEqual(st, {"RECENT": 3})
        for bad in ("STATUS INBOX ()", "STATUS INBOX (BOGUS)",
                    "STATUS INBOX", "STATUS INBOX MESSAGES"):
            self.assertEqual(r.cmd("g", bad).status, "BAD", bad)
        self.status_is(r.cmd("h", "STATUS Nope (MESSAGES)"), "NO",
                       "NONEXISTENT")

    def test_list_status(self):
        u = self.new_user()
        r = self.raw(u)
        self.deliver(u, msg(1))
        self.ok(r.cmd("a", "CREATE V/W"))
        res = self.ok(r.cmd("b", 'LIST "" "%" RETURN (STATUS (MESSAGES '
                            'UNSEEN) CHILDREN)'))
        st = statuses(res)
        self.assertEqual(set(st), set(DEFAULTS))  # not V: \NonExistent
        self.assertEqual(st["INBOX"], [("MESSAGES", 1), ("UNSEEN", 1)])
        self.assertEqual(st["Sent"], [("MESSAGES", 0), ("UNSEEN", 0)])
        # Each STATUS right after its mailbox's LIST line.
        for i, u_ in enumerate(res.untagged):
            if u_.startswith("* STATUS "):
                prev = parse_sexp(res.untagged[i - 1])
                self.assertEqual(prev[1], "LIST")
                self.assertEqual(prev[4], parse_sexp(u_)[2])

    # ----- NAMESPACE, imaplib -----

    def test_namespace(self):
        r = self.raw()
        res = self.ok(r.cmd("a", "NAMESPACE"))
        self.assertEqual(res.untagged, ['* NAMESPACE (("" "/")) NIL NIL'])

    def test_imaplib(self):
        u = self.new_user()
        m = self.imap(u)
        self.assertEqual(m.create("Work/2024")[0], "OK")
        typ, data = m.list("Work/")
        self.assertEqual(typ, "OK")
        self.assertEqual(data, [b'(\\HasNoChildren) "/" Work/2024'])
        typ, data = m.list('""', "Work/*")
        self.assertEqual(data, [b'(\\HasNoChildren) "/" Work/2024'])
        typ, data = m.status("Work/2024", "(MESSAGES UIDNEXT)")
        self.assertEqual(data, [b'Work/2024 (MESSAGES 0 UIDNEXT 1)'])
        self.assertEqual(m.rename("Work/2024", "Work/2025")[0], "OK")
        self.assertEqual(m.subscribe("Work/2025")[0], "OK")
        self.assertEqual(m.unsubscribe("Work/2025")[0], "OK")
        self.assertEqual(m.delete("Work/2025")[0], "OK")
        typ, data = m.list('""', "Work*")
        self.assertEqual(data, [None])
