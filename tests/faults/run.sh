#!/usr/bin/env bash
#
# Runs the fault scenarios (tests/faults/f_*.sh) with the integration
# runner: two at a time, "# tfwd-serial" ones alone, each under a 120 s
# limit (every scenario is meant to take under 60 s), the RESULT line of
# each passed scenario printed under it (the figures of the fault table).
#
#	tests/faults/run.sh BUILD_DIR [PATTERN]
#
# Needs root (network and mount namespaces, nft). The scenarios and their
# helpers: tests/faults/lib.sh.

here=$(cd "$(dirname "$0")" && pwd)
TFWD_TEST_DIR=$here TFWD_TEST_GLOB='f_*.sh' TFWD_SUITE=faults \
	TFWD_TEST_TIMEOUT=${TFWD_TEST_TIMEOUT:-120} TFWD_SHOW='^RESULT ' \
	exec "$here/../integration/run.sh" "$@"
