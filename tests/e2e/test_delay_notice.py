"""The relay's delay notice (relay.retry.delay_notice_secs): a sender
whose message is still being retried after that long is told once, with
an RFC 3464 report whose recipients are 'delayed', and the message is
still delivered when the remote side recovers."""

import time
import unittest

from harness import ADMIN, SLOW
from test_relay import RelayBase, parse_dsn, recipient


class DelayNotice(RelayBase):

    def test_one_notice_then_delivered(self):
        self.configure(self.dns.server, schedule=[1])
        self.inst.edit_config(
            lambda c: c["relay"]["retry"].update(delay_notice_secs=2))
        sink = self.sink("dom4")
        sink.script_rcpt("slow@dom4.test", "451 4.7.1 greylisted, try later")
        self.inst.start()
        self.submit(["slow@dom4.test"], "waiting a while")

        msgs = self.wait_bounces(1, timeout=10.0)
        self.assertTrue(msgs[0].startswith(b"Return-Path: <>\r\n"), msgs[0][:200])
        m, per_rcpt, per_msg, headers = parse_dsn(msgs[0])
        self.assertIn(ADMIN, m["To"] or "")
        r = recipient(per_rcpt, "slow@dom4.test")
        self.assertEqual(r.get("action", "").lower(), "delayed", r)
        self.assertRegex(r.get("status", ""), r"^4\.\d+\.\d+$", r)
        self.assertIn("greylisted", r.get("diagnostic-code", ""), r)
        self.assertIn("will-retry-until", r, r)
        self.assertIn("Subject: waiting a while", headers)

        # Still retried (deferred), and told only once.
        deadline = time.monotonic() + 3 * SLOW
        while time.monotonic() < deadline:
            time.sleep(0.2)
        self.assertEqual(len(self.inbox()), 1, "a second notice was sent")
        q = self.inst.cli("queue", "list").stdout
        self.assertIn("slow@dom4.test:deferred(remote)", q)

        # The remote side recovers: delivered, and no more reports.
        sink.script_rcpt("slow@dom4.test", "250 2.1.5 OK")
        self.wait_received(sink, timeout=10.0)
        self.wait_queue_empty(timeout=10.0)
        self.assertEqual(len(self.inbox()), 1)


if __name__ == "__main__":
    unittest.main()
