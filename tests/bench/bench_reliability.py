#!/usr/bin/python3
"""
bench_reliability: the crash scenario of tests/e2e/test_crash.py as JSON
lines on stdout (progress on stderr), run by `make bench`.

    RMAIL_BIN=./rmail /usr/bin/python3 tests/bench/bench_reliability.py

  reliability  2,000 small messages (every 5th to two local users, every
               10th to three) over 8 SMTP connections to port 25 while
               the server is killed with SIGKILL at 5 random moments and
               restarted; a try cut by a kill is sent again under a new
               Message-ID. Then the queue drains, the server stops, and
               every INBOX is read from disk:
                 messages_lost   acknowledged (250) copies missing: must be 0
                 duplicates      copies stored more than once: must be 0
                 partial         stored files that are not exactly a sent
                                 message behind the added trace lines: 0
                 acknowledged    messages that got a 250
                 unacknowledged  tries cut by a kill (no 250)
                 kills           SIGKILLs done
                 seconds         from the first MAIL to the queue drained

One JSON line per figure ({"bench":"reliability","metric":...,"value":...}).
Exit 1 when a figure that must be 0 is not, or the run fails.
BENCH_RELIABILITY_MESSAGES, _KILLS and _SEED change the run.
Starts its own server on loopback in a temp dir (tests/e2e/harness.py).
Standard library only; bounded in time.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))

import harness  # noqa: E402
import test_crash  # noqa: E402
from benchlib import emit, progress_for  # noqa: E402
note = progress_for("bench_reliability")

MESSAGES = int(os.environ.get("BENCH_RELIABILITY_MESSAGES", "2000"))
KILLS = int(os.environ.get("BENCH_RELIABILITY_KILLS", "5"))
CONNECTIONS = 8
SEED = os.environ.get("BENCH_RELIABILITY_SEED")


def figure(metric, value):
    emit(bench="reliability", metric=metric, value=value)


def main():
    inst = harness.Instance()
    try:
        test_crash.add_users(inst)
        inst.start()
        note("%d messages over %d connections, %d kills"
             % (MESSAGES, CONNECTIONS, KILLS))
        tally, kills, secs, drained = test_crash.run_scenario(
            inst, n=MESSAGES, connections=CONNECTIONS, kills=KILLS,
            seed=int(SEED) if SEED else None, drain_timeout=120.0)
        inst.stop(check=False)
        figures, problems = test_crash.check_store(
            test_crash.scan_store(inst), tally)
        for p in problems[:20]:
            note(p)
        if not drained:
            note("the queue did not drain")
        if tally.errors:
            note("unexpected replies: %s" % tally.errors[:5])
        figure("messages_lost", figures["lost"])
        figure("duplicates", figures["duplicates"])
        figure("partial", figures["partial"])
        figure("acknowledged", len(tally.acked))
        figure("unacknowledged", len(tally.sent) - len(tally.acked))
        figure("kills", kills)
        figure("seconds", round(secs, 2))
        bad = (figures["lost"] or figures["duplicates"] or
               figures["partial"] or figures["stray"] or not drained)
        return 1 if bad else 0
    except Exception as e:  # noqa: BLE001
        emit(bench="reliability", error="%s: %s" % (type(e).__name__, e))
        return 1
    finally:
        inst.cleanup()


if __name__ == "__main__":
    sys.exit(main())
