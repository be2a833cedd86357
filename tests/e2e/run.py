#!/usr/bin/python3
"""
Run the end-to-end tests: tests/e2e/test_*.py with unittest, verbosely.

    RMAIL_BIN=./rmail RMAIL_BUILD=rel /usr/bin/python3 tests/e2e/run.py [FILTER...]

Each FILTER keeps the tests whose id (module.Class.method) contains it.
The last line is exactly "e2e: N passed, M failed" (", K skipped" appended
when some were skipped). Exit 1 on any failure or error, or when no test
ran; else 0.
"""

import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


class CountingResult(unittest.TextTestResult):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.passed = 0
        self._t0 = {}

    def startTest(self, test):
        self._t0[test.id()] = time.monotonic()
        super().startTest(test)

    def addSuccess(self, test):
        self.passed += 1
        t = time.monotonic() - self._t0.get(test.id(), time.monotonic())
        if self.showAll:
            self.stream.write("(%.2fs) " % t)
        super().addSuccess(test)

    def addExpectedFailure(self, test, err):
        self.passed += 1
        super().addExpectedFailure(test, err)


def iter_tests(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from iter_tests(t)
        else:
            yield t


def main(argv):
    filters = argv[1:]
    loader = unittest.TestLoader()
    suite = loader.discover(start_dir=HERE, pattern="test_*.py",
                            top_level_dir=HERE)
    if filters:
        kept = unittest.TestSuite()
        for t in iter_tests(suite):
            # Import failures show up as _FailedTest; keep them so they fail.
            if (any(f in t.id() for f in filters)
                    or type(t).__name__ == "_FailedTest"):
                kept.addTest(t)
        suite = kept

    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2,
                                     resultclass=CountingResult)
    result = runner.run(suite)
    # A test that fails and then errors in tearDown is one failed test.
    failed = len(set(t.id() for t, _ in result.failures + result.errors)
                 | set(t.id() for t in result.unexpectedSuccesses))
    skipped = len(result.skipped)
    line = "e2e: %d passed, %d failed" % (result.passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    sys.stdout.flush()
    print(line, flush=True)
    if failed or result.testsRun == 0:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
