#!/usr/bin/env bash
#
# Guards issue 5's "the control plane sending a set of unreachable
# backends": the control plane (tfwd-cp, which sends whatever it is told)
# replaces a good set with five backends none of which can be reached,
# each in its own way:
#	a blackhole (nft drops its SYNs: the dial times out, 500ms),
#	a port nobody listens on (refused),
#	ICMP admin-prohibited from the backends' firewall,
#	an IPv4 address and an IPv6 address the data plane has no route to.
#  - 40 clients at once: every one is accepted and then closed after at
#    most 3 dials (the whole batch within 3 s), counted exactly in
#    errors.dial_failed; no client hangs;
#  - the data plane stays under 30% of a core and keeps reporting every
#    second;
#  - as soon as a good set comes, clients are served again at once (the
#    first within 200 ms, then 2 s of short connections without a failure):
#    nothing of the bad set lingers;
#  - fds back to the baseline, exit 0.

set -euo pipefail
# shellcheck source=tests/faults/lib.sh
. "$(dirname "$0")/lib.sh"
fault_requires tcpfwd-dataplane tfwd-backend tfwd-client tfwd-cp
fault_netns "$@"

P=$((20000 + RANDOM % 10000))
G=$NET.10:$P HOLE=$NET.11:$P CLOSED=$NET.12:$P PROHIB=$NET.13:$P
start_back_backend g echo "$G"
start_back_backend hole echo "$HOLE"
start_back_backend prohib echo "$PROHIB"
back_addr 12 >/dev/null
NOROUTE4=198.51.100.9:$P NOROUTE6="[2001:db8::9]:$P"
nft_back <<EOF
table inet f14 {
	chain input {
		type filter hook input priority 0; policy accept;
		ip daddr ${HOLE%:*} tcp dport $P tcp flags & (syn | ack) == syn counter drop
		ip daddr ${PROHIB%:*} tcp dport $P tcp flags & (syn | ack) == syn counter reject with icmp type admin-prohibited
	}
}
EOF

DIAL_TIMEOUT=500ms write_config "$TMP/config.yaml"
start_cp cp --set "$G"
start_dataplane dp "$TMP/config.yaml"
DP=$(tfwd_pid dp)
wait_report cp 10 '.serving_generation == 1' "set served"
client hold --connect "$LISTEN" --conns 5 --echo-check --json --timeout 10 \
	>"$TMP/first.json" || fail "clients with the good set: $(cat "$TMP/first.json")"
FD0=$(fd_count_nonpipe "$DP")

cp_ctl cp "set $HOLE,$CLOSED,$PROHIB,$NOROUTE4,$NOROUTE6"
wait_report cp 10 '.serving_generation == 2 and ([.backends[] | select(.active)] | length) == 5' \
	"the unreachable set served"
t0=$(date +%s%N)
tfwd_start doomed "$TFWD_BIN/tfwd-client" hold --connect "$LISTEN" --conns 40 \
	--echo-check --json --timeout 20
sleep 0.3
assert_cpu_below "$DP" 1 30 "the data plane with an unreachable set"
CPU_BAD=$FAULT_CPU
tfwd_wait_exit doomed 20
ms=$(elapsed_ms "$t0")
j=$(grep '^{' "$TMP/doomed.log" | tail -n 1)
log "40 clients with an unreachable set, all ended after $ms ms: $j"
assert_eq "$(json_get conns_connected <<<"$j")" 40 "clients accepted"
assert_eq "$(json_get conns_ok <<<"$j")" 0 "clients served by unreachable backends"
assert_le "$ms" 3000 "ms until every client was closed"
jq -e '.errors | keys - ["eof", "closed", "reset"] | length == 0' >/dev/null <<<"$j" ||
	fail "clients saw other errors than a close: $j"
wait_report cp 10 '.errors.dial_failed == 40' "dial_failed errors"
report_fresh cp 3
log "dials: $(report_get cp '[.backends[] | select(.active) | "\(.addr) failed \(.dials_failed) timeout \(.dials_timeout)"] | join("; ")')"
sum=$(report_get cp '[.backends[] | select(.active) | .dials_ok + .dials_failed + .dials_timeout] | add')
assert_eq "$(report_get cp '[.backends[] | select(.active) | .dials_ok] | add')" 0 "dials that succeeded"
assert_le "$sum" 120 "dials for 40 clients (3 each at most)"

cp_ctl cp "set $G"
wait_report cp 10 '.serving_generation == 3' "the good set served"
client latency --connect "$LISTEN" --count 1 --warmup 0 --json --timeout 5 \
	>"$TMP/lat.json" || fail "first client with the good set: $(cat "$TMP/lat.json")"
first_us=$(jq -r '.max_us | floor' "$TMP/lat.json")
log "first round trip with the good set again: $first_us us"
assert_le "$first_us" 200000 "first round trip with the good set (us)"
client rate --connect "$LISTEN" --concurrency 4 --seconds 2 --fail-on-error \
	--json --timeout 30 >"$TMP/rate.json" || fail "clients with the good set: $(cat "$TMP/rate.json")"
dp_assert_idle cp
assert_fds_back "$DP" "$FD0" "data plane descriptors"
fault_result "clients=40 closed=40 hung=0 all_closed_ms=$ms dials=$sum dial_failed=40 cpu=$CPU_BAD% good_again_first_rtt_us=$first_us"
stop_clean dp
