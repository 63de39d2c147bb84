#!/usr/bin/env bash
#
# Guards many connections at once and their teardown: 2,000 client
# connections are held open together through the data plane and each one is
# echo-checked; while held the data plane counts exactly 2,000 (report and
# backend), holds two descriptors each, and once the clients close every
# descriptor goes back to the idle baseline (only the bounded splice-pipe
# cache may stay) and connections_active returns to 0. Done twice: a leak
# per connection or per round shows as growth.

set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
tfwd_tmpdir
require_bin tcpfwd-dataplane tfwd-backend tfwd-client tfwd-cp

N=2000
PIPES_KEPT=64 # dataplane/worker.c: splice pipes a worker keeps cached
ECHO=127.0.0.2:$(free_port)
start_backend echo echo "$ECHO" --threads 2

write_config "$TMP/config.yaml"
start_cp cp --set "$ECHO"
start_dataplane dp "$TMP/config.yaml"
wait_report cp 10 '.serving_generation == 1' "set served"
DP=$(tfwd_pid dp)
base=$(fd_count_nonpipe "$DP")
fd_kinds "$DP" >"$TMP/fds.idle"
log "idle descriptors: $(tr -s " \n" " " <"$TMP/fds.idle")"
log "idle data plane: $base descriptors besides pipes, $(fd_count "$DP") in all"

for round in 1 2; do
	rm -f "$TMP/ready"
	tfwd_start "hold$round" "$TFWD_BIN/tfwd-client" hold --connect "$LISTEN" \
		--conns $N --hold-ms 3000 --echo-check --ready-file "$TMP/ready" \
		--json --timeout 50
	wait_until 30 test -s "$TMP/ready" || fail "round $round: clients not connected"
	assert_contains "$TMP/ready" "^connected=$N\$" "round $round: clients connected"
	# held: counted once each, on the data plane and on the backend
	wait_report cp 10 ".connections_active == $N and
	    $(be_field "$ECHO" connections) == $N" "round $round: $N held"
	assert_eq "$(backend_stat echo active)" $N "round $round: backend connections"
	held=$(fd_count_nonpipe "$DP")
	if [ "$held" -ne $((base + 2 * N)) ]; then
		fd_kinds "$DP" >"$TMP/fds.held"
		log "descriptors idle vs held: $(diff "$TMP/fds.idle" "$TMP/fds.held" | tr '\n' ' ')"
	fi
	assert_eq "$held" $((base + 2 * N)) "round $round: descriptors while held"

	tfwd_wait_exit "hold$round" 60
	assert_eq "${TFWD_STATUS[hold$round]}" 0 \
		"round $round: every held connection echoed ($(tail -n 1 "$TMP/hold$round.log"))"
	dp_assert_idle cp 15
	wait_output 10 = "$base" fd_count_nonpipe "$DP" ||
		fail "round $round: $(fd_count_nonpipe "$DP") descriptors besides pipes, idle baseline $base"
	pipes=$(($(fd_count "$DP") - base))
	assert_le "$pipes" $((2 * PIPES_KEPT)) "round $round: cached pipe descriptors"
	wait_output 10 = 0 backend_stat echo active ||
		fail "round $round: the backend still holds connections"
	log "round $round: back to $base descriptors (+$pipes cached pipe ends)"
done

report_fresh cp
assert_eq "$(report_get cp '.connections_total')" $((2 * N)) "connections_total"
assert_eq "$(report_get cp '[.errors[]] | add')" 0 "errors"
assert_eq "$(backend_stat echo accepted)" $((2 * N)) "backend: accepted"
stop_clean dp
