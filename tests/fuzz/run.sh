#!/usr/bin/env bash
#
# Runs every libFuzzer binary fuzz_* in BUILD_DIR for SECONDS each. The
# seeds in tests/fuzz/corpus/<name>/ (name without "fuzz_") are copied to
# a temporary working corpus, so the repository's corpus is never
# polluted. Prints the executions of each target and exits non-zero when
# any target crashed, leaked, timed out or ran out of memory; the input
# that did it is kept in BUILD_DIR/fuzz-artifacts/ (add it to the corpus
# as a regression case once fixed).
#
#	tests/fuzz/run.sh BUILD_DIR SECONDS

set -u

if [ $# -ne 2 ]; then
	echo "usage: $0 BUILD_DIR SECONDS" >&2
	exit 2
fi
build=$1
secs=$2
case $secs in
''|*[!0-9]*) echo "$0: SECONDS must be a number" >&2; exit 2 ;;
esac
[ -d "$build" ] || { echo "$0: no folder $build" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
artifacts=$(cd "$build" && pwd)/fuzz-artifacts
work=$(mktemp -d /tmp/tfwd-fuzz.XXXXXX) || exit 1
trap 'rm -rf "$work"' EXIT
mkdir -p "$artifacts"

found=0
failed=()
for bin in "$build"/fuzz_*; do
	[ -f "$bin" ] && [ -x "$bin" ] || continue
	found=$((found + 1))
	target=$(basename "$bin")
	name=${target#fuzz_}
	corpus="$work/$name"
	mkdir -p "$corpus"
	if [ -d "$here/corpus/$name" ]; then
		cp -r "$here/corpus/$name/." "$corpus/"
	fi
	log="$work/$target.log"
	"$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
	    -max_len=16384 -print_final_stats=1 \
	    -artifact_prefix="$artifacts/$target-" "$corpus" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" |
	    tail -n 1)
	seeds=$(find "$here/corpus/$name" -type f 2>/dev/null | wc -l)
	units=$(find "$corpus" -type f | wc -l)
	if [ $rc -eq 0 ]; then
		printf 'PASS  %-20s %12s execs in %ss, corpus %s -> %s\n' \
		    "$target" "${execs:-?}" "$secs" "$seeds" "$units"
	else
		failed+=("$target")
		printf 'FAIL  %-20s %12s execs, exit %d\n' "$target" \
		    "${execs:-?}" "$rc"
		grep -E 'ERROR|SUMMARY|Test unit written|^==|^#' "$log" |
		    tail -n 40 | sed 's/^/    | /'
	fi
done

if [ $found -eq 0 ]; then
	echo "$0: no fuzz_* binaries in $build" >&2
	exit 1
fi
echo "fuzz: $found targets, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
