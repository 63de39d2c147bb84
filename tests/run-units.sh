#!/usr/bin/env bash
#
# Runs every unit-test binary (test_*) in DIR, each under `timeout 120`,
# prints PASS or FAIL with its duration, the output of failed ones, a
# summary, and exits non-zero when any failed or none was found.
#
#	tests/run-units.sh DIR
#
# TFWD_UNIT_TIMEOUT overrides the 120 s limit; TFWD_VERBOSE=1 prints every
# test's output.

set -u

if [ $# -ne 1 ]; then
	echo "usage: $0 DIR" >&2
	exit 2
fi
dir=$1
[ -d "$dir" ] || { echo "$0: no folder $dir" >&2; exit 2; }
limit=${TFWD_UNIT_TIMEOUT:-120}
logdir=$(mktemp -d /tmp/tfwd-units.XXXXXX) || exit 1
trap 'rm -rf "$logdir"' EXIT

# Make sanitizer reports fail the run and point at the source.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

pass=0
fail=0
failed=()
for t in "$dir"/test_*; do
	[ -f "$t" ] && [ -x "$t" ] || continue
	name=$(basename "$t")
	log="$logdir/$name.log"
	start=$(date +%s.%N)
	timeout -k 5 "$limit" "$t" >"$log" 2>&1
	rc=$?
	secs=$(awk -v s="$start" -v e="$(date +%s.%N)" \
	    'BEGIN { printf "%.1f", e - s }')
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1))
		printf 'PASS  %-32s %6ss\n' "$name" "$secs"
		[ "${TFWD_VERBOSE:-0}" = 1 ] && cat "$log"
	else
		fail=$((fail + 1))
		failed+=("$name")
		if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
			why="timed out after ${limit}s"
		else
			why="exit $rc"
		fi
		printf 'FAIL  %-32s %6ss  (%s)\n' "$name" "$secs" "$why"
		sed 's/^/    | /' "$log"
	fi
done

total=$((pass + fail))
echo "units: $total run, $pass passed, $fail failed"
if [ $total -eq 0 ]; then
	echo "$0: no test binaries in $dir" >&2
	exit 1
fi
if [ $fail -ne 0 ]; then
	echo "failed: ${failed[*]}"
	exit 1
fi
exit 0
