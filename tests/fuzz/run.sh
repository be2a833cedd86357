#!/bin/sh
# Smoke-run libFuzzer targets (make fuzz-smoke; tests/fuzz/README.md).
#
#   FUZZ_OUT=build/fuzz FUZZ_SECS=15 sh tests/fuzz/run.sh NAME...
#
# For each NAME: run every file in tests/fuzz/regress/NAME/ once, then
# fuzz for FUZZ_SECS seconds (one process) over a scratch copy of
# tests/fuzz/corpus/NAME/ (the repository's corpus is never written),
# with tests/fuzz/dict/NAME.dict when there is one. Prints one JSON line
# per target and a total line; exits 1 if any target crashed, leaked or
# tripped a sanitizer, the input being left in FUZZ_OUT/crashes/ and the
# log in FUZZ_OUT/logs/NAME.log.
set -u
out=${FUZZ_OUT:-build/fuzz}
secs=${FUZZ_SECS:-15}
src=$(dirname "$0")
mkdir -p "$out/crashes" "$out/logs" "$out/smoke"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

now() { date +%s.%N; }
total=0 failed=0 findings=0 t0=$(now)
for name in "$@"; do
	bin=$out/fuzz_$name
	log=$out/logs/$name.log
	scratch=$out/smoke/$name
	crashes=0 execs=0
	rm -rf "$scratch"
	mkdir -p "$scratch"
	[ -d "$src/corpus/$name" ] && cp "$src/corpus/$name"/* "$scratch"/ 2>/dev/null
	: > "$log"
	start=$(now)
	if [ -d "$src/regress/$name" ] && [ -n "$(ls "$src/regress/$name")" ]; then
		if ! "$bin" -artifact_prefix="$out/crashes/$name-" \
		    "$src/regress/$name"/* >>"$log" 2>&1; then
			crashes=$((crashes + 1))
		fi
	fi
	if [ "$crashes" -eq 0 ]; then
		dict=
		[ -f "$src/dict/$name.dict" ] && dict="-dict=$src/dict/$name.dict"
		# shellcheck disable=SC2086
		if ! "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		    -print_final_stats=1 -artifact_prefix="$out/crashes/$name-" \
		    $dict "$scratch" >>"$log" 2>&1; then
			crashes=$((crashes + 1))
		fi
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" |
		    tail -n 1)
		execs=${execs:-0}
	fi
	el=$(echo "$(now) $start" | awk '{ printf "%.1f", $1 - $2 }')
	printf '{"bench":"fuzz","target":"%s","execs":%s,"secs":%s,"crashes":%s}\n' \
	    "$name" "$execs" "$el" "$crashes"
	if [ "$crashes" -ne 0 ]; then
		failed=$((failed + 1))
		echo "fuzz-smoke: $name FAILED; log $log, inputs under $out/crashes/:" >&2
		grep -E 'ERROR|SUMMARY|invariant|runtime error|Test unit written' "$log" | head -n 20 >&2
	fi
	total=$((total + execs))
	findings=$((findings + crashes))
done
el=$(echo "$(now) $t0" | awk '{ printf "%.1f", $1 - $2 }')
printf '{"bench":"fuzz","target":"total","execs":%s,"secs":%s,"targets":%s,"failed":%s,"sanitizer_findings":%s}\n' \
    "$total" "$el" "$#" "$failed" "$findings"
[ "$failed" -eq 0 ]
