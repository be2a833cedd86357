#!/bin/sh
# Run each cmocka unit test binary; fail if any fails. cmocka prints its own
# "[  PASSED  ] N test(s)." summary per binary.
set -u
failed=0
for t in "$@"; do
	echo "== $t"
	if ! "$t"; then
		echo "FAILED: $t"
		failed=$((failed + 1))
	fi
done
if [ "$failed" -ne 0 ]; then
	echo "unit: $failed test program(s) failed"
	exit 1
fi
echo "unit: all $# test programs passed"
