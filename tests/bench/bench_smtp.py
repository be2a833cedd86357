#!/usr/bin/python3
"""
bench_smtp: SMTP inbound figures as JSON lines on stdout (progress on
stderr), run by `make bench`.

    RMAIL_BIN=./rmail /usr/bin/python3 tests/bench/bench_smtp.py

  smtp_inbound  5,000 messages of 4 KB over 8 concurrent connections to
                port 25 (the MX service), one local recipient each, then
                again with 10 local recipients each: accepted messages/s
                (first MAIL to last 250) and seconds until every copy is
                in the store (files in the users' INBOX shards).

Starts its own server on loopback in a temp dir (tests/e2e/harness.py).
Standard library only; bounded in time.
"""

import os
import smtplib
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))

import harness  # noqa: E402
from benchlib import emit, progress_for  # noqa: E402,E501
note = progress_for("bench_smtp")

MESSAGES = int(os.environ.get("BENCH_SMTP_MESSAGES", "5000"))
CONNECTIONS = 8
SIZE = 4096
EXTRA_USERS = 9
STORE_WAIT_MAX = 600.0


def message(i):
    head = ("From: bench@remote.test\r\nTo: admin@%s\r\nSubject: bench %d\r\n"
            "Message-ID: <bench-%d@remote.test>\r\n\r\n"
            % (harness.DOMAIN, i, i))
    line = "x" * 76 + "\r\n"
    body = line * ((SIZE - len(head)) // len(line))
    return (head + body).encode()


def count_stored(inst, users):
    n = 0
    for u in users:
        local = u.split("@")[0]
        inbox = os.path.join(inst.data_dir, "mail", harness.DOMAIN, local,
                             "mailboxes", "INBOX")
        try:
            shards = os.listdir(inbox)
        except FileNotFoundError:
            continue
        for s in shards:
            if s.isdigit():
                n += sum(1 for f in os.listdir(os.path.join(inbox, s))
                         if f.endswith(".eml"))
    return n


def run(inst, rcpts, label):
    errors = []
    counter = {"next": 0}
    lock = threading.Lock()

    def worker():
        try:
            s = smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=60)
            s.ehlo("bench.remote.test")
            while True:
                with lock:
                    i = counter["next"]
                    if i >= MESSAGES:
                        break
                    counter["next"] += 1
                refused = s.sendmail("bench@remote.test", rcpts, message(i))
                if refused:
                    raise RuntimeError("refused %r" % refused)
            s.quit()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    before = count_stored(inst, rcpts)
    t0 = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(CONNECTIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    accepted = time.monotonic() - t0
    if errors:
        raise RuntimeError("%s: %s" % (label, errors[0]))
    want = before + MESSAGES * len(rcpts)
    while count_stored(inst, rcpts) < want:
        if time.monotonic() - t0 > STORE_WAIT_MAX:
            raise RuntimeError("%s: only %d of %d stored after %.0f s"
                               % (label, count_stored(inst, rcpts), want,
                                  STORE_WAIT_MAX))
        time.sleep(0.05)
    stored = time.monotonic() - t0
    emit(bench="smtp_inbound", recipients=len(rcpts), messages=MESSAGES,
         bytes=SIZE, connections=CONNECTIONS,
         accepted_msgs_per_sec=round(MESSAGES / accepted),
         accepted_seconds=round(accepted, 2),
         seconds_until_stored=round(stored, 2),
         stored_copies_per_sec=round(MESSAGES * len(rcpts) / stored))


def main():
    inst = harness.Instance()
    try:
        users = [harness.ADMIN]
        for k in range(1, EXTRA_USERS + 1):
            addr = "u%d@%s" % (k, harness.DOMAIN)
            r = inst.cli("user", "add", addr, "--password-stdin",
                         input="bench-password\n")
            if r.returncode != 0:
                raise RuntimeError("user add: " + r.stderr)
            users.append(addr)
        inst.start()
        note("1 recipient per message")
        run(inst, users[:1], "1 recipient")
        note("10 recipients per message")
        run(inst, users, "10 recipients")
        inst.stop()
    except Exception as e:  # noqa: BLE001
        emit(bench="smtp_inbound", error=str(e))
        return 1
    finally:
        inst.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
