#!/usr/bin/env bash
#
# Runs the threaded code under ThreadSanitizer (`make test-tsan`, which
# builds BUILD_DIR with clang -fsanitize=thread first): the unit tests that
# start threads (test_limits, test_evloop, test_ipc, test_admin: the admin
# job queue between nng's HTTP threads and the loop) and the data plane's
# multi-worker scenarios with WORKERS=2 (write_config's dataplane.workers):
#	t_11 2,000 connections at once   t_20 the LB algorithms
#	t_24 two workers                  t_27 control plane killed
#	t_29 the admission limits         t_55 the admin API (control plane)
# and, with their own single worker (they count pooled sockets exactly, and
# with two workers each keeps ceil(size_per_remote / 2)), t_19 (active-set
# changes) and t_23 (SIGHUP reloads while a worker forwards: it catches the
# log-level race fixed in 2aa37d2, TSan exit 66 and a report, when run on
# the code before it).
#
# Every report, from any process, goes to BUILD_DIR/tsan-reports/ (TSAN
# log_path); a report fails the run even when the scenario passed.
# tests/tsan.supp holds the suppressions (nng's internals only).
#
#	tests/run-tsan.sh BUILD_DIR

set -u

if [ $# -ne 1 ]; then
	echo "usage: $0 BUILD_DIR" >&2
	exit 2
fi
build=$(cd "$1" && pwd) || exit 2
here=$(cd "$(dirname "$0")" && pwd)
grep -qa '__tsan_init' "$build/bin/tcpfwd-dataplane" || {
	echo "$0: $build is not a ThreadSanitizer build" >&2
	exit 2
}
reports=$build/tsan-reports
rm -rf "$reports"
mkdir -p "$reports"
export TSAN_OPTIONS="suppressions=$here/tsan.supp log_path=$reports/tsan exitcode=66 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"

rc=0
pass=0 fail=0
for t in test_limits test_evloop test_ipc test_admin; do
	out=$(timeout 300 "$build/tests/$t" 2>&1)
	r=$?
	if [ $r -eq 0 ]; then
		pass=$((pass + 1))
		printf 'PASS  %s\n' "$t"
	else
		fail=$((fail + 1))
		rc=1
		printf 'FAIL  %s (exit %d)\n%s\n' "$t" "$r" "$(tail -n 40 <<<"$out")"
	fi
done
echo "tsan units: $pass passed, $fail failed"

WORKERS=2 "$here/integration/run.sh" "$build" 't_(11|20|24|27|29|55)_' || rc=1
"$here/integration/run.sh" "$build" 't_(19|23)_' || rc=1

n=0
for f in "$reports"/tsan.*; do
	[ -f "$f" ] || continue
	n=$((n + 1))
	echo "---- $(basename "$f") ----"
	grep -E '^(WARNING|SUMMARY): ThreadSanitizer' "$f"
done
if [ "$n" -gt 0 ]; then
	echo "ThreadSanitizer: reports from $n processes, in $reports"
	rc=1
else
	echo "ThreadSanitizer: no report"
fi
exit $rc
