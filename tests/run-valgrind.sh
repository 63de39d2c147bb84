#!/usr/bin/env bash
#
# Runs integration scenarios with both daemons under valgrind memcheck
# (`make test-valgrind`): lib.sh's TFWD_WRAP puts
#	valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect
#	    --error-exitcode=99
# before every tcpfwd-dataplane and tcpfwd-controlplane a scenario starts,
# each writing its report to BUILD_DIR/valgrind/vg-PID.log. A scenario
# whose daemon exits 99 fails on its own (stop_clean checks the status);
# afterwards every report is read again here: any memcheck error or any
# byte definitely or indirectly lost fails the run. "Still reachable" and
# "possibly lost" (nng's threads and sockets at exit) are totalled, not
# failed.
#
#	tests/run-valgrind.sh BUILD_DIR [PATTERN]
#
# PATTERN (run.sh's) defaults to the data-plane scenarios t_11 (2,000
# connections at once, twice), t_22 (max_connections), t_24 (two workers)
# and the control-plane ones t_54 (restart), t_55 (API mutations), t_56
# (state files), one at a time (TFWD_JOBS=1 unless set). (t_13, t_17 and
# t_57 time backends, exits and scores too tightly for a daemon under
# valgrind: they flake, not leak.) A daemon a scenario kills with SIGKILL
# leaves no verdict: it is listed, not failed. t_90_valgrind wraps its
# daemons itself.

set -u

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: $0 BUILD_DIR [PATTERN]" >&2
	exit 2
fi
build=$(cd "$1" && pwd) || exit 2
pattern=${2:-'t_(11|22|24|54|55|56)_'}
here=$(cd "$(dirname "$0")" && pwd)
command -v valgrind >/dev/null || { echo "$0: valgrind not installed" >&2; exit 1; }
for b in tcpfwd-dataplane tcpfwd-controlplane; do
	if grep -Eqa '__(asan|tsan|msan)_init' "$build/bin/$b"; then
		echo "$0: $build/bin/$b is a sanitizer build" >&2
		exit 2
	fi
done

logs=$build/valgrind
rm -rf "$logs"
mkdir -p "$logs"
TFWD_WRAP="valgrind --leak-check=full --show-leak-kinds=definite,indirect"
TFWD_WRAP+=" --errors-for-leak-kinds=definite,indirect --error-exitcode=99"
TFWD_WRAP+=" --num-callers=30 --log-file=$logs/vg-%p.log"
export TFWD_WRAP
# everything is slower under valgrind
export TFWD_TEST_TIMEOUT=${TFWD_TEST_TIMEOUT:-600}
export TFWD_JOBS=${TFWD_JOBS:-1}

rc=0
"$here/integration/run.sh" "$build" "$pattern" || rc=1

n=0 bad=0 killed=0
for f in "$logs"/vg-*.log; do
	[ -f "$f" ] || continue
	n=$((n + 1))
	bin=$(sed -n 's/^==[0-9]*== Command: \([^ ]*\).*/\1/p' "$f" | head -n 1)
	what="$(basename "$f") ${bin##*/}"
	if ! grep -q 'ERROR SUMMARY' "$f"; then
		# killed (kill -9 in a scenario): memcheck had no exit to check
		killed=$((killed + 1))
		echo "--    $what: no verdict (killed)"
		continue
	fi
	sum=$(grep -E 'ERROR SUMMARY|(definitely|indirectly|possibly) lost:|still reachable:' "$f" |
		sed 's/^==[0-9]*== *//; s/ (suppressed.*//; s/ in [0-9,]* blocks//' | paste -sd';')
	if ! grep -q 'ERROR SUMMARY: 0 errors' "$f" ||
	    grep -Eq '(definitely|indirectly) lost: [1-9]' "$f"; then
		bad=$((bad + 1))
		echo "FAIL  $what: $sum"
		sed -n 's/^==[0-9]*== //p' "$f" | head -n 80
	else
		echo "ok    $what: $sum"
	fi
done
echo "valgrind: $n daemon runs, $bad with errors or leaks, $killed killed before their verdict"
[ "$n" -gt 0 ] || { echo "no valgrind report: nothing ran under valgrind" >&2; rc=1; }
[ "$bad" -eq 0 ] || rc=1
exit $rc
