#!/usr/bin/env bash
#
# Guards issue 5's "backend that accepts then never answers", two ways:
#	S1: the network: nft in the backends' namespace lets SYNs to S1
#	    through and drops every other segment to it, so the data plane's
#	    dial succeeds (SYN-ACK) and then nothing it sends ever arrives;
#	S2: the application: a sink backend reads everything and answers
#	    nothing until the client's FIN, which never comes.
# With the set [S1, S2, G] (round robin) and idle_timeout 2s, 30 clients
# each send a message and wait for its echo:
#  - the clients sent to G get their echo at once; the ones sent to S1 or
#    S2 are closed by the data plane at idle_timeout (the whole run ends
#    within [1.9, 4] s, not at the clients' own 10 s limit), counted
#    exactly in errors.idle_timeout; no client is left hanging;
#  - the data plane's dials to S1 and S2 count as ok (they were accepted);
#  - it does not spin while the silent connections are open; fds back to
#    the baseline, the sink holds nothing at the end, exit 0.

set -euo pipefail
# shellcheck source=tests/faults/lib.sh
. "$(dirname "$0")/lib.sh"
fault_requires tcpfwd-dataplane tfwd-backend tfwd-client tfwd-cp
fault_netns "$@"

P=$((20000 + RANDOM % 10000))
S1=$NET.10:$P S2=$NET.11:$P G=$NET.12:$P
start_back_backend s1 echo "$S1"
start_back_backend s2 sink "$S2"
start_back_backend g echo "$G"
nft_back <<EOF
table inet f10 {
	chain input {
		type filter hook input priority 0; policy accept;
		ip daddr ${S1%:*} tcp dport $P tcp flags & syn == 0 counter drop
	}
}
EOF

ALGORITHM=round_robin IDLE_TIMEOUT=2s write_config "$TMP/config.yaml"
start_cp cp --set "$S1,$S2,$G"
start_dataplane dp "$TMP/config.yaml"
DP=$(tfwd_pid dp)
wait_report cp 10 '.serving_generation == 1' "set served"
FD0=$(fd_count_nonpipe "$DP")

t0=$(date +%s%N)
for i in $(seq 1 30); do
	tfwd_start "c$i" "$TFWD_BIN/tfwd-client" latency --connect "$LISTEN" \
		--count 1 --warmup 0 --size 64 --json --timeout 10
done
sleep 0.5
assert_cpu_below "$DP" 1 5 "the data plane with silent backends"
ok=0 bad=0
for i in $(seq 1 30); do
	tfwd_wait_exit "c$i" 15
	case ${TFWD_STATUS[c$i]} in
	0) ok=$((ok + 1)) ;;
	1)
		bad=$((bad + 1))
		grep -q '"error":"closed by the peer"' "$TMP/c$i.log" ||
			fail "client $i failed otherwise: $(cat "$TMP/c$i.log")"
		;;
	*) fail "client $i: exit ${TFWD_STATUS[c$i]} (left hanging?): $(cat "$TMP/c$i.log")" ;;
	esac
done
ms=$(elapsed_ms "$t0")
log "30 clients: $ok answered, $bad closed; all ended after $ms ms"
wait_report cp 10 '.connections_active == 0' "connections closed"
report_fresh cp
on_g=$(report_get cp "$(be_field "$G" connections_total)")
on_s1=$(report_get cp "$(be_field "$S1" connections_total)")
on_s2=$(report_get cp "$(be_field "$S2" connections_total)")
log "G $on_g, S1 $on_s1, S2 $on_s2 connections"
assert_eq "$ok" "$on_g" "clients answered (those on G)"
assert_eq "$bad" $((on_s1 + on_s2)) "clients closed (those on S1 and S2)"
assert_ge "$on_s1" 1 "clients sent to S1"
assert_ge "$on_s2" 1 "clients sent to S2"
assert_ge "$ms" 1900 "clients on silent backends closed at idle_timeout, not before"
assert_le "$ms" 4000 "clients on silent backends closed soon after idle_timeout"
assert_eq "$(report_get cp '.errors.idle_timeout')" "$bad" "idle_timeout closes"
assert_eq "$(report_get cp '.errors.dial_failed')" 0 "clients given up at dial"
assert_eq "$(report_get cp "$(be_field "$S1" dials_ok)")" "$on_s1" "dials to S1 that succeeded"
dropped=$(back nft list table inet f10 | grep -o 'packets [0-9]*' | awk '{ print $2 }')
log "segments to S1 dropped: $dropped"
assert_ge "$dropped" "$on_s1" "segments to S1 dropped"

wait_output 10 = 0 backend_stat s2 active || fail "the sink still holds connections"
dp_assert_idle cp
assert_fds_back "$DP" "$FD0" "data plane descriptors"
fault_result "clients=30 answered=$ok closed_at_idle_timeout=$bad hung=0 ended_ms=$ms lost_on_good=0"
stop_clean dp
