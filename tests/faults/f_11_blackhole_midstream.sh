#!/usr/bin/env bash
#
# Guards SPEC 7.4 and 7.8 when a backend vanishes from the network in the
# middle of streams (a partition, a host powered off: no FIN, no reset
# ever comes): nft drops every segment to and from backend A while bulk
# streams run both ways on A and B. idle_timeout is 2s.
#  - A's streams stall and are closed by the data plane at idle_timeout,
#    both ways (each client sees an end, not its own timeout), counted in
#    errors.idle_timeout;
#  - B's streams go on and finish byte-exact;
#  - once the partition heals, new clients on A and B are all served;
#  - fds back to the baseline, nothing left open, exit 0.

set -euo pipefail
# shellcheck source=tests/faults/lib.sh
. "$(dirname "$0")/lib.sh"
fault_requires tcpfwd-dataplane tfwd-backend tfwd-client tfwd-cp
fault_netns "$@"

P=$((20000 + RANDOM % 10000))
A=$NET.10:$P B=$NET.11:$P
start_back_backend a echo "$A"
start_back_backend b echo "$B"
ALGORITHM=round_robin IDLE_TIMEOUT=2s write_config "$TMP/config.yaml"
start_cp cp --set "$A,$B"
start_dataplane dp "$TMP/config.yaml"
DP=$(tfwd_pid dp)
wait_report cp 10 '.serving_generation == 1' "set served"
FD0=$(fd_count_nonpipe "$DP")

tfwd_start bulk "$TFWD_BIN/tfwd-client" bulk --connect "$LISTEN" \
	--streams 6 --seconds 10 --direction both --json --timeout 40
wait_report cp 10 '.connections_active == 6' "streams open"
on_a=$(report_get cp "$(be_field "$A" connections)")
on_b=$(report_get cp "$(be_field "$B" connections)")
in0=$(report_get cp "$(be_field "$A" bytes_in)")
wait_report cp 10 "$(be_field "$A" bytes_in) > $in0" "bytes flowing to A"
log "$on_a streams on A, $on_b on B"

nft_back <<EOF
table inet f11 {
	chain input {
		type filter hook input priority 0; policy accept;
		ip daddr ${A%:*} counter drop
	}
	chain output {
		type filter hook output priority 0; policy accept;
		ip saddr ${A%:*} counter drop
	}
}
EOF
t0=$(date +%s%N)
log "A partitioned"
wait_report cp 10 "$(be_field "$A" connections) == 0" "A's streams closed"
gone_ms=$(elapsed_ms "$t0")
log "A's streams closed $gone_ms ms after the partition (idle_timeout 2 s; reports once a second)"
assert_ge "$gone_ms" 1900 "A's streams closed at idle_timeout, not before"
assert_le "$gone_ms" 4500 "A's streams closed soon after idle_timeout"
assert_eq "$(report_get cp "$(be_field "$B" connections)")" "$on_b" "B's streams while A is gone"

tfwd_wait_exit bulk 40
j=$(grep '^{' "$TMP/bulk.log" | tail -n 1)
log "bulk: $j"
assert_eq "$(json_get streams_failed <<<"$j")" "$on_a" "streams cut (those on A)"
assert_eq "$(json_get streams_ok <<<"$j")" "$on_b" "streams verified (those on B)"
errs=$(jq -r '.errors | keys | join(",")' <<<"$j")
case ",$errs," in
*mismatch* | *timeout*) fail "bulk: unexpected error kinds: $errs" ;;
esac
report_fresh cp
assert_eq "$(report_get cp '.errors.idle_timeout')" "$on_a" "idle_timeout closes"
dropped=$(back nft list table inet f11 | grep -o 'packets [0-9]*' | awk '{ s += $2 } END { print s }')

back nft delete table inet f11
client hold --connect "$LISTEN" --conns 20 --echo-check --json --timeout 20 \
	>"$TMP/healed.json" || fail "clients after the partition healed: $(cat "$TMP/healed.json")"
wait_report cp 10 "$(be_field "$A" connections_total) >= $((on_a + 10))" "A serves again"
dp_assert_idle cp
assert_fds_back "$DP" "$FD0" "data plane descriptors"
fault_result "streams_on_A=$on_a closed_at_idle_timeout=$on_a streams_on_B=$on_b verified_on_B=$on_b lost_on_B=0 closed_after_ms=$gone_ms segments_dropped=$dropped"
stop_clean dp
