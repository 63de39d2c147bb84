#!/usr/bin/env bash
#
# Runs the integration scenarios: every tests/integration/t_*.sh, sorted,
# each under `timeout 300` with TFWD_BUILD exported. Prints PASS, FAIL or
# SKIP (a test exits 77 to skip) with the duration of each, a summary, and
# exits non-zero when any test failed.
#
#	tests/integration/run.sh BUILD_DIR [PATTERN]
#
# PATTERN (an extended regex) keeps only the tests whose file name matches.
# TFWD_TEST_TIMEOUT overrides the 300 s limit; TFWD_VERBOSE=1 prints every
# test's output, not only that of failed ones.

set -u

usage() {
	echo "usage: $0 BUILD_DIR [PATTERN]" >&2
	exit 2
}

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	usage
fi
build=$1
pattern=${2:-}
[ -d "$build" ] || { echo "$0: no build folder $build" >&2; exit 2; }
TFWD_BUILD=$(cd "$build" && pwd)
export TFWD_BUILD
here=$(cd "$(dirname "$0")" && pwd)
limit=${TFWD_TEST_TIMEOUT:-300}
logdir=$(mktemp -d /tmp/tfwd-it.XXXXXX) || exit 1
trap 'rm -rf "$logdir"' EXIT

tests=()
for t in "$here"/t_*.sh; do
	[ -f "$t" ] || continue
	if [ -n "$pattern" ] && ! basename "$t" | grep -Eq -- "$pattern"; then
		continue
	fi
	tests+=("$t")
done
if [ ${#tests[@]} -eq 0 ]; then
	echo "$0: no test matches '${pattern}'" >&2
	exit 1
fi

pass=0 fail=0 skip=0
failed=()
t_all=$(date +%s%N)
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	out=$logdir/$name.out
	t0=$(date +%s%N)
	rc=0
	timeout -k 10 "$limit" bash "$t" </dev/null >"$out" 2>&1 || rc=$?
	dt=$((($(date +%s%N) - t0) / 1000000))
	secs=$(printf '%d.%03d' $((dt / 1000)) $((dt % 1000)))
	case $rc in
	0)
		pass=$((pass + 1))
		printf 'PASS  %-40s %8ss\n' "$name" "$secs"
		;;
	77)
		skip=$((skip + 1))
		why=$(grep -m1 '^SKIP' "$out" | cut -c1-60)
		printf 'SKIP  %-40s %8ss  %s\n' "$name" "$secs" "$why"
		;;
	*)
		fail=$((fail + 1))
		failed+=("$name")
		what="exit $rc"
		[ "$rc" = 124 ] || [ "$rc" = 137 ] && what="timed out after ${limit}s"
		printf 'FAIL  %-40s %8ss  (%s)\n' "$name" "$secs" "$what"
		echo "---- output of $name (last 80 lines) ----"
		tail -n 80 "$out"
		echo "---- end of $name ----"
		;;
	esac
	# failures were printed above already
	if [ "${TFWD_VERBOSE:-0}" = 1 ] && { [ "$rc" = 0 ] || [ "$rc" = 77 ]; }; then
		sed 's/^/    /' "$out"
	fi
done
dt=$((($(date +%s%N) - t_all) / 1000000000))
echo "integration: ${#tests[@]} tests, $pass passed, $fail failed, $skip skipped in ${dt}s"
if [ "$fail" -gt 0 ]; then
	echo "failed: ${failed[*]}"
	exit 1
fi
exit 0
