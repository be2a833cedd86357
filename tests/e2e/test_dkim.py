"""DKIM: `rmail init` makes the RSA key and prints its record, `rmail dkim
generate|show|sign`, and the signatures checked by a real verifier
(python3-dkim, with the TXT records `rmail dkim show` prints as its DNS).

No skips: packaging/deps.sh installs python3-dkim (and python3-nacl for
Ed25519 comes with it); an ImportError is a failure.
"""

import os
import re
import stat
import subprocess
import unittest

import dkim     # python3-dkim

from harness import (Instance, DOMAIN, RMAIL_BIN, SLOW, ServerError,
                     sanitizer_env, sanitizer_reports)

SELECTOR = "rmail"      # what rmail init writes as dkim.selector

MESSAGE = (
    "From: Admin <admin@example.test>\r\n"
    "To: someone@remote.test\r\n"
    "Subject: DKIM  test\r\n"
    "Date: Mon, 01 Jan 2024 12:00:00 +0000\r\n"
    "Message-ID: <dkim-e2e@example.test>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=us-ascii\r\n"
    "\r\n"
    "Hello there,  \r\n"
    "\r\n"
    "this message is signed.\r\n"
)

ZONE_LINE = re.compile(r'^(\S+)\. IN TXT \( ((?:"(?:[^"\\]|\\.)*" ?)+)\)$')


def parse_records(text):
    """{dns name (no trailing dot): TXT value} from `rmail dkim show`
    output; also checks every character-string is at most 255 bytes."""
    recs = {}
    for line in text.splitlines():
        m = ZONE_LINE.match(line)
        if m is None:
            raise AssertionError("not a zone line: %r" % line)
        strings = re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(2))
        for s in strings:
            if len(s.encode()) > 255:
                raise AssertionError("TXT string over 255 bytes: %r" % line)
        recs[m.group(1)] = "".join(
            re.sub(r'\\(.)', r'\1', s) for s in strings).encode()
    return recs


class Dkim(unittest.TestCase):

    def setUp(self):
        self.inst = Instance(init=False)
        self.init = self.inst.init()

    def tearDown(self):
        self.inst.cleanup()

    def key_path(self, alg):
        return os.path.join(self.inst.data_dir, "dkim",
                            "%s.%s.%s.key" % (DOMAIN, SELECTOR, alg))

    def cli_ok(self, *args, input=None):
        r = self.inst.cli(*args, input=input)
        self.assertEqual(r.returncode, 0, "rmail %s: %s%s"
                         % (" ".join(args), r.stdout, r.stderr))
        return r

    def records(self):
        return parse_records(self.cli_ok("dkim", "show", DOMAIN).stdout)

    def sign(self, message):
        """`rmail dkim sign` in bytes: the harness's text mode would turn
        CRLF into LF both ways."""
        r = subprocess.run(
            [RMAIL_BIN, "dkim", "sign", "-c", self.inst.config, DOMAIN],
            input=message.encode(), capture_output=True,
            env=sanitizer_env(), timeout=60 * SLOW)
        err = r.stderr.decode(errors="replace")
        if sanitizer_reports(err):
            raise ServerError("sanitizer report from rmail dkim sign:\n" + err)
        self.assertEqual(r.returncode, 0, err)
        return r.stdout

    def verify(self, signed, idx=0):
        recs = self.records()

        def dnsfunc(name, timeout=5):
            return recs.get(name.decode().rstrip("."))
        d = dkim.DKIM(signed)
        try:
            return d.verify(idx=idx, dnsfunc=dnsfunc)
        except dkim.ValidationError:    # body hash mismatch
            return False

    # ----- init -----

    def test_init_makes_rsa_key_and_prints_record(self):
        path = self.key_path("rsa")
        st = os.stat(path)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode),
                         0o700)
        self.assertFalse(os.path.exists(self.key_path("ed25519")))
        self.assertIn(path, self.init.stdout)
        recs = self.records()
        self.assertEqual(list(recs), ["%s._domainkey.%s" % (SELECTOR, DOMAIN)])
        show_line = self.cli_ok("dkim", "show", DOMAIN).stdout.strip()
        self.assertIn(show_line, self.init.stdout)
        self.assertTrue(recs["%s._domainkey.%s" % (SELECTOR, DOMAIN)]
                        .startswith(b"v=DKIM1; k=rsa; p=MII"))

    def test_init_force_keeps_dkim_key(self):
        before = self.records()
        r = self.inst.run_bin(
            "init", "-c", self.inst.config, "--data-dir", self.inst.data_dir,
            "--domain", DOMAIN, "--hostname", "localhost",
            "--listen", "127.0.0.1", "--port-base", str(self.inst.port_base),
            "--non-interactive", "--force")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("kept: the DKIM key", r.stdout)
        self.assertEqual(self.records(), before)

    # ----- generate / show -----

    def test_generate_refuses_overwrite(self):
        before = self.records()
        r = self.inst.cli("dkim", "generate", DOMAIN)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("already exists", r.stderr)
        self.assertIn("--force", r.stderr)
        self.assertEqual(self.records(), before)
        # --ed25519 alone still refuses: the RSA key is generated too.
        r = self.inst.cli("dkim", "generate", DOMAIN, "--ed25519")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertFalse(os.path.exists(self.key_path("ed25519")))
        r = self.cli_ok("dkim", "generate", DOMAIN, "--force")
        self.assertIn("_domainkey", r.stdout)
        self.assertNotEqual(self.records(), before)

    def test_generate_ed25519(self):
        os.unlink(self.key_path("rsa"))
        r = self.cli_ok("dkim", "generate", DOMAIN.upper() + ".", "--ed25519")
        self.assertIn(self.key_path("rsa"), r.stdout)
        self.assertIn(self.key_path("ed25519"), r.stdout)
        for alg in ("rsa", "ed25519"):
            self.assertEqual(
                stat.S_IMODE(os.stat(self.key_path(alg)).st_mode), 0o600)
        recs = self.records()
        self.assertEqual(sorted(recs), sorted([
            "%s._domainkey.%s" % (SELECTOR, DOMAIN),
            "%s-ed25519._domainkey.%s" % (SELECTOR, DOMAIN)]))
        ed = recs["%s-ed25519._domainkey.%s" % (SELECTOR, DOMAIN)]
        self.assertRegex(ed, rb"^v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=$")
        # The RSA record (410 bytes) is split into strings of <= 255.
        out = self.cli_ok("dkim", "show", DOMAIN).stdout
        rsa_line = [l for l in out.splitlines() if "k=rsa" in l][0]
        self.assertEqual(rsa_line.count('" "'), 1, rsa_line)

    def test_show_errors(self):
        r = self.inst.cli("dkim", "show", "other.test")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("other.test", r.stderr)
        os.unlink(self.key_path("rsa"))
        r = self.inst.cli("dkim", "show", DOMAIN)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("rmail dkim generate", r.stderr)
        r = self.inst.cli("dkim", "sign", DOMAIN, input=MESSAGE)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertEqual(r.stdout, "")
        with open(self.key_path("rsa"), "w") as f:
            f.write("junk\n")
        r = self.inst.cli("dkim", "show", DOMAIN)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(self.key_path("rsa"), r.stderr)

    def test_usage(self):
        for args in (["dkim"], ["dkim", "bogus", DOMAIN], ["dkim", "show"],
                     ["dkim", "show", DOMAIN, "--ed25519"],
                     ["dkim", "sign", DOMAIN, "--force"],
                     ["dkim", "show", DOMAIN, "extra"]):
            r = self.inst.cli(*args)
            self.assertEqual(r.returncode, 2, "%s: %s%s"
                             % (args, r.stdout, r.stderr))
            self.assertIn("usage: rmail dkim", r.stderr)
        r = self.inst.run_bin("help", "dkim")
        self.assertEqual(r.returncode, 0)
        self.assertIn("sign", r.stdout)

    # ----- signatures, checked by python3-dkim -----

    def test_sign_verifies_rsa_and_ed25519(self):
        self.cli_ok("dkim", "generate", DOMAIN, "--ed25519", "--force")
        signed = self.sign(MESSAGE)
        self.assertTrue(signed.endswith(MESSAGE.encode()), signed)
        sigs = re.findall(rb"^DKIM-Signature:.*?(?=^\S)", signed,
                          re.M | re.S)
        self.assertEqual(len(sigs), 2, signed)
        self.assertIn(b"a=rsa-sha256;", sigs[0])
        self.assertIn(b"s=%s;" % SELECTOR.encode(), sigs[0])
        self.assertIn(b"a=ed25519-sha256;", sigs[1])
        self.assertIn(b"s=%s-ed25519;" % SELECTOR.encode(), sigs[1])
        for s in sigs:
            self.assertIn(b"c=relaxed/relaxed;", s)
            self.assertIn(b"d=%s;" % DOMAIN.encode(), s)
            flat = re.sub(rb"\s+", b"", s)
            self.assertIn(b"h=from:from:to:subject:date:message-id:"
                          b"mime-version:content-type;", flat)
            for line in s.split(b"\r\n"):
                self.assertLessEqual(len(line.expandtabs(8)), 76, s)
        self.assertTrue(self.verify(signed, 0), "rsa-sha256 does not verify")
        self.assertTrue(self.verify(signed, 1), "ed25519-sha256 does not verify")

        # One body byte changed: both fail.
        bad = signed.replace(b"this message", b"This message")
        self.assertFalse(self.verify(bad, 0))
        self.assertFalse(self.verify(bad, 1))
        # A From added above the signed one: over-signing makes it fail.
        i = signed.index(b"From:")
        forged = signed[:i] + b"From: mallory@evil.test\r\n" + signed[i:]
        self.assertFalse(self.verify(forged, 0))
        self.assertFalse(self.verify(forged, 1))
        # Whitespace that relaxed forgives, and an unsigned header added.
        relaxed = signed.replace(b"Subject: DKIM  test",
                                 b"Subject:\tDKIM test ")
        relaxed = relaxed.replace(b"Hello there,  \r\n", b"Hello  there,\r\n")
        relaxed = relaxed.replace(b"\r\nFrom:", b"\r\nX-Scanned: yes\r\nFrom:")
        self.assertTrue(self.verify(relaxed, 0))
        self.assertTrue(self.verify(relaxed, 1))

    def test_sign_bare_lf_and_empty_body(self):
        signed = self.sign(MESSAGE.replace("\r\n", "\n"))
        self.assertNotIn(b"\n", signed.replace(b"\r\n", b""))
        self.assertTrue(self.verify(signed))
        headers_only = MESSAGE.split("\r\n\r\n")[0] + "\r\n"
        signed = self.sign(headers_only)
        self.assertTrue(self.verify(signed))

    def test_sign_too_large(self):
        self.inst.set_limits(max_message_bytes=2048)
        r = self.inst.cli("dkim", "sign", DOMAIN,
                          input=MESSAGE + "x" * 4096 + "\r\n")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("max_message_bytes", r.stderr)


if __name__ == "__main__":
    unittest.main()
