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
# test's output, not only that of failed ones. TFWD_JOBS (default 2) tests
# run at once: most of a scenario's time is waiting (timeouts, drains,
# probe rounds), and every test uses its own ports, folders and namespaces.
# A test whose header has the line "# tfwd-serial" runs alone, after the
# others. TFWD_TEST_DIR, TFWD_TEST_GLOB and TFWD_SUITE (default: this
# folder, t_*.sh, "integration") let another suite use this runner
# (tests/faults/run.sh); TFWD_SHOW (an extended regex) prints the matching
# lines of every passed test's output (the fault suite's RESULT lines).

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
here=${TFWD_TEST_DIR:-$(cd "$(dirname "$0")" && pwd)}
glob=${TFWD_TEST_GLOB:-t_*.sh}
suite=${TFWD_SUITE:-integration}
limit=${TFWD_TEST_TIMEOUT:-300}
logdir=$(mktemp -d /tmp/tfwd-it.XXXXXX) || exit 1
trap 'rm -rf "$logdir"' EXIT

tests=()
for t in "$here"/$glob; do
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
jobs=${TFWD_JOBS:-2}
[ "$jobs" -ge 1 ] 2>/dev/null || jobs=1

# report NAME RC MS: one line per finished test (and its output on failure)
report() {
	local name=$1 rc=$2 dt=$3 out=$logdir/$1.out secs what why
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
	if [ -n "${TFWD_SHOW:-}" ] && [ "$rc" = 0 ]; then
		grep -E -- "$TFWD_SHOW" "$out" | sed 's/^/    /'
	fi
	# failures were printed above already
	if [ "${TFWD_VERBOSE:-0}" = 1 ] && { [ "$rc" = 0 ] || [ "$rc" = 77 ]; }; then
		sed 's/^/    /' "$out"
	fi
}

# one TEST: runs it and leaves "RC MS" in $logdir/NAME.rc
one() {
	local t=$1 name rc=0 t0
	name=$(basename "$t" .sh)
	t0=$(date +%s%N)
	timeout -k 10 "$limit" bash "$t" </dev/null >"$logdir/$name.out" 2>&1 ||
	    rc=$?
	echo "$rc $((($(date +%s%N) - t0) / 1000000))" >"$logdir/$name.rc"
}

# collect: reports every test that finished since the last call
declare -A reported=()
collect() {
	local f name rc dt
	for f in "$logdir"/*.rc; do
		[ -f "$f" ] || continue
		name=$(basename "$f" .rc)
		[ -z "${reported[$name]:-}" ] || continue
		reported[$name]=1
		read -r rc dt <"$f"
		report "$name" "$rc" "$dt"
	done
}

parallel=() serial=()
for t in "${tests[@]}"; do
	if grep -q '^# tfwd-serial' "$t"; then
		serial+=("$t")
	else
		parallel+=("$t")
	fi
done

t_all=$(date +%s%N)
running=0
for t in "${parallel[@]}"; do
	while [ "$running" -ge "$jobs" ]; do
		wait -n 2>/dev/null
		running=$((running - 1))
		collect
	done
	one "$t" &
	running=$((running + 1))
done
wait
collect
for t in "${serial[@]}"; do
	one "$t"
	collect
done
dt=$((($(date +%s%N) - t_all) / 1000000000))
echo "$suite: ${#tests[@]} tests, $pass passed, $fail failed, $skip skipped in ${dt}s"
if [ "$fail" -gt 0 ]; then
	echo "failed: ${failed[*]}"
	exit 1
fi
exit 0
