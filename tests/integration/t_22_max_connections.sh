#!/usr/bin/env bash
#
# Guards dataplane.max_connections: with a limit of 10, 15 clients held at
# once get 10 served and 5 refused (closed at once), counted exactly in
# errors.max_connections. Once they are gone the limit is free again: a
# second round gets the same 10/5, so every connection released its place.

set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
tfwd_tmpdir
require_bin tcpfwd-dataplane tfwd-backend tfwd-client tfwd-cp

ECHO=127.0.0.2:$(free_port)
start_backend echo echo "$ECHO"
MAX_CONNECTIONS=10 write_config "$TMP/config.yaml"
start_cp cp --set "$ECHO"
start_dataplane dp "$TMP/config.yaml"
wait_report cp 10 '.serving_generation == 1' "set served"

for round in 1 2; do
	tfwd_start "hold$round" "$TFWD_BIN/tfwd-client" hold --connect "$LISTEN" \
		--conns 15 --hold-ms 2000 --echo-check --ready-file "$TMP/ready$round" \
		--json --timeout 30
	wait_until 10 test -s "$TMP/ready$round" || fail "round $round: clients not connected"
	wait_report cp 10 ".connections_active == 10 and
	    .errors.max_connections == $((5 * round))" "round $round: 10 served, 5 refused"
	assert_eq "$(backend_stat echo active)" 10 "round $round: backend connections"
	tfwd_wait_exit "hold$round" 30
	out=$(tail -n 1 "$TMP/hold$round.log")
	log "round $round: $out"
	assert_eq "$(json_get conns_ok <<<"$out")" 10 "round $round: clients served (echo checked)"
	assert_eq "$(json_get conns_failed <<<"$out")" 5 "round $round: clients refused"
	dp_assert_idle cp
done
report_fresh cp
assert_eq "$(report_get cp '.errors.max_connections')" 10 "max_connections errors"
assert_eq "$(report_get cp '.connections_total')" 20 "connections served in all"
stop_clean dp
