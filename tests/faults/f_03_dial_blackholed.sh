#!/usr/bin/env bash
#
# Guards SPEC 7.3 over a real network: a dial that fails or times out is
# retried on the next backend of the set, at most 2 more, before the client
# is given up. The backends sit behind a veth pair; nft in their namespace
# makes four of them fail in four different ways:
#	A: SYNs dropped (a blackhole: the dial times out, dial_timeout 500ms)
#	B: SYNs answered with a TCP reset (refused at once)
#	D: SYNs answered with ICMP host-unreachable (EHOSTUNREACH)
#	U: an address the data plane has no route to (fails in connect())
#  - set [A, B, G] and then [D, U, G], round robin: every client is served
#    (zero failed connections), the bad backends' dials are counted by kind;
#  - set [A, B, D]: every client is closed after exactly 3 dials, no sooner
#    than one dial_timeout when A was among them, counted in
#    errors.dial_failed; the data plane does not spin meanwhile;
#  - the rules go: A and B serve again with no failure;
#  - fds back to the baseline, exit status 0.

set -euo pipefail
# shellcheck source=tests/faults/lib.sh
. "$(dirname "$0")/lib.sh"
fault_requires tcpfwd-dataplane tfwd-backend tfwd-client tfwd-cp
fault_netns "$@"

P=$((20000 + RANDOM % 10000))
A=$NET.10:$P B=$NET.11:$P D=$NET.12:$P G=$NET.13:$P U=192.0.2.7:$P
for x in A B D G; do
	start_back_backend "${x,,}" echo "${!x}"
done
nft_back <<EOF
table inet f03 {
	chain input {
		type filter hook input priority 0; policy accept;
		ip daddr ${A%:*} tcp dport $P tcp flags & (syn | ack) == syn drop
		ip daddr ${B%:*} tcp dport $P tcp flags & (syn | ack) == syn reject with tcp reset
		ip daddr ${D%:*} tcp dport $P tcp flags & (syn | ack) == syn reject with icmp type host-unreachable
	}
}
EOF

ALGORITHM=round_robin DIAL_TIMEOUT=500ms write_config "$TMP/config.yaml"
start_cp cp --set "$A,$B,$G"
start_dataplane dp "$TMP/config.yaml"
DP=$(tfwd_pid dp)
wait_report cp 10 '.serving_generation == 1' "set served"
FD0=$(fd_count_nonpipe "$DP")

# ---- [A, B, G] and [D, U, G]: every client served --------------------------
field() { report_get cp "$(be_field "$1" "$2")"; }
total_ok=0 gen=1
for set in "$A,$B,$G" "$D,$U,$G"; do
	if [ "$gen" -gt 1 ]; then
		cp_ctl cp "set $set"
		wait_report cp 10 ".serving_generation == $gen" "set [$set] served"
	fi
	gen=$((gen + 1))
	t0=$(date +%s%N)
	client rate --connect "$LISTEN" --concurrency 6 --seconds 3 --fail-on-error \
		--json --timeout 30 >"$TMP/rate.json" ||
		fail "clients through [$set]: $(cat "$TMP/rate.json")"
	ok=$(json_get conns_ok <"$TMP/rate.json")
	log "[$set]: $ok connections in $(elapsed_ms "$t0") ms, p99 connect $(json_get conn_p99_us <"$TMP/rate.json") us, none failed"
	assert_eq "$(json_get conns_failed <"$TMP/rate.json")" 0 "failed connections through [$set]"
	assert_ge "$ok" 30 "connections through [$set]"
	total_ok=$((total_ok + ok))
	wait_report cp 10 "$(be_field "$G" connections_total) == $total_ok" \
		"connections carried by G"
	assert_eq "$(report_get cp '.errors.dial_failed')" 0 "clients given up"
	if [ "$set" = "$A,$B,$G" ]; then
		log "A: $(field "$A" dials_timeout) dials timed out, B: $(field "$B" dials_failed) refused"
		assert_ge "$(field "$A" dials_timeout)" 1 "A's dials timed out"
		assert_eq "$(field "$A" dials_ok)" 0 "A's dials that succeeded"
		assert_ge "$(field "$B" dials_failed)" 1 "B's refused dials"
		assert_eq "$(field "$B" dials_ok)" 0 "B's dials that succeeded"
	else
		log "D: $(field "$D" dials_failed) host-unreachable, U: $(field "$U" dials_failed) unroutable"
		assert_ge "$(field "$D" dials_failed)" 1 "D's unreachable dials"
		assert_ge "$(field "$U" dials_failed)" 1 "U's unroutable dials"
		assert_eq "$(field "$D" dials_ok)" 0 "D's dials that succeeded"
	fi
done

# ---- [A, B, D]: 3 dials per client, then closed ------------------------------
cp_ctl cp "set $A,$B,$D"
wait_report cp 10 ".serving_generation == $gen" "set [A, B, D] served"
sum="([.backends[] | .dials_ok + .dials_failed + .dials_timeout] | add)"
s0=$(report_get cp "$sum")
t0=$(date +%s%N)
rc=0
client hold --connect "$LISTEN" --conns 12 --echo-check --json --timeout 20 \
	>"$TMP/bad.json" || rc=$?
ms=$(elapsed_ms "$t0")
assert_eq "$rc" 1 "clients with no reachable backend: exit status"
assert_eq "$(json_get conns_connected <"$TMP/bad.json")" 12 "clients accepted"
assert_eq "$(json_get conns_ok <"$TMP/bad.json")" 0 "clients served"
log "12 clients with [A, B, D] closed after $ms ms"
# every client meets A within its 3 tries: each waits one dial_timeout
assert_ge "$ms" 450 "clients closed after A's dial_timeout"
assert_le "$ms" 3000 "clients closed soon after one dial_timeout"
wait_report cp 10 '.errors.dial_failed == 12' "dial_failed errors"
report_fresh cp
assert_eq "$(report_get cp "$sum")" $((s0 + 36)) "dials for 12 clients (3 each)"

# a flood of doomed clients: no busy loop
tfwd_start doomed "$TFWD_BIN/tfwd-client" rate --connect "$LISTEN" \
	--concurrency 20 --seconds 3 --json --timeout 30
sleep 0.5
assert_cpu_below "$DP" 2 30 "the data plane while every dial fails"
tfwd_wait_exit doomed 30
CPU_DOOMED=$FAULT_CPU

# ---- the network heals --------------------------------------------------------
back nft delete table inet f03 || fail "nft delete table"
cp_ctl cp "set $A,$B"
wait_report cp 10 ".serving_generation == $((gen + 1))" "set [A, B] served"
client rate --connect "$LISTEN" --concurrency 6 --seconds 2 --fail-on-error \
	--json --timeout 30 >"$TMP/healed.json" ||
	fail "clients after the rules went: $(cat "$TMP/healed.json")"
assert_eq "$(json_get conns_failed <"$TMP/healed.json")" 0 "failed connections after healing"

dp_assert_idle cp
assert_fds_back "$DP" "$FD0" "data plane descriptors"
fault_result "served=$total_ok lost=0 given_up=12 given_up_ms=$ms dials_per_client=3 cpu_all_failing=$CPU_DOOMED%"
stop_clean dp
