"""Helpers shared by the test_smtp_*.py end-to-end tests."""

import glob
import os
import re
import smtplib
import time

import harness
from harness import ADMIN, ADMIN_PASSWORD, DOMAIN, HOSTNAME

# Every reply but the greeting and EHLO's lines: code, space or dash, and
# an RFC 3463 enhanced status code of the same class.
ENHANCED = re.compile(r"^([245])\d\d[ -]\1\.\d{1,3}\.\d{1,3}( |$)")


def inbox_files(inst, user="admin", domain=DOMAIN):
    return sorted(glob.glob(os.path.join(
        inst.data_dir, "mail", domain, user, "mailboxes", "INBOX",
        "[0-9][0-9][0-9][0-9]", "*.eml")))


def wait_inbox(inst, count, user="admin", timeout=10.0):
    """Wait until the INBOX holds at least count messages; the list."""
    deadline = time.monotonic() + timeout * harness.SLOW
    while True:
        files = inbox_files(inst, user)
        if len(files) >= count or time.monotonic() > deadline:
            return files
        time.sleep(0.05)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def split_added(stored, sent):
    """The headers the server added in front of sent; fails (None) unless
    stored is exactly those headers followed by the sent bytes."""
    if not stored.endswith(sent):
        return None
    added = stored[:len(stored) - len(sent)]
    return added.decode("utf-8", "replace")


def greet(test, inst, service, ehlo="client.test"):
    """A LineClient past the greeting and EHLO; (client, ehlo lines)."""
    c = inst.connect(service)
    test.addCleanup(c.close)
    g = c.smtp_reply()
    test.assertTrue(g[-1].startswith("220 "), g)
    r = c.smtp_cmd("EHLO " + ehlo)
    test.assertTrue(r[-1].startswith("250 "), r)
    return c, r


def starttls(test, inst, c):
    """STARTTLS on a LineClient; the same client, now over TLS."""
    r = c.smtp_cmd("STARTTLS")
    test.assertEqual(r, ["220 2.0.0 Ready to start TLS"])
    c.sock = inst.ssl_context().wrap_socket(c.sock, server_hostname=HOSTNAME)
    return c


def login(test, inst, service="submissions", user=ADMIN, password=ADMIN_PASSWORD):
    """An authenticated LineClient on submission(s), after EHLO."""
    c, _ = greet(test, inst, service)
    if service == "submission":
        starttls(test, inst, c)
        c.smtp_cmd("EHLO client.test")
    r = c.smtp_cmd("AUTH PLAIN " + plain(user, password))
    test.assertEqual(r, ["235 2.7.0 Authentication successful"])
    return c


def plain(user, password, authz=""):
    import base64
    return base64.b64encode(("%s\0%s\0%s" % (authz, user, password))
                            .encode()).decode()


def smtplib_client(inst, service):
    if service == "submissions":
        s = smtplib.SMTP_SSL(HOSTNAME, inst.ports[service],
                             context=inst.ssl_context(),
                             timeout=10 * harness.SLOW)
    else:
        s = smtplib.SMTP(HOSTNAME, inst.ports[service],
                         timeout=10 * harness.SLOW)
    inst._clients.append(s)
    return s


def add_user(inst, address, password):
    r = inst.cli("user", "add", address, "--password-stdin",
                 input=password + "\n")
    if r.returncode != 0:
        raise AssertionError("user add %s: %s%s" % (address, r.stdout, r.stderr))
