"""benchlib: what every benchmark script shares: figures as JSON lines on
stdout, progress on stderr, percentiles, descriptor limits, RSS, and
closing sockets without TIME_WAIT. Standard library only."""

import json
import resource
import socket
import struct
import sys


def emit(**kw):
    """One figure: a JSON line on stdout."""
    print(json.dumps(kw, separators=(",", ":")), flush=True)


def progress_for(name):
    """A function writing 'name: msg' progress lines to stderr."""
    def progress(msg):
        print("%s: %s" % (name, msg), file=sys.stderr, flush=True)
    return progress


def pct(sorted_vals, p):
    """The p-th percentile (nearest rank) of sorted values, or None."""
    if not sorted_vals:
        return None
    k = min(len(sorted_vals) - 1, max(0, int(round(p / 100.0 *
                                                    (len(sorted_vals) - 1)))))
    return sorted_vals[k]


def raise_nofile():
    """Raise the soft descriptor limit to the hard one; (soft, hard)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def rss_kb(pid):
    """Resident set size of pid, in KB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for pid %d" % pid)


def hard_close(sock):
    """Close with RST: no TIME_WAIT, so we never run out of ports."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()
