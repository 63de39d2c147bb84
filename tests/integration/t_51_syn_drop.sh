#!/usr/bin/env bash
#
# Guards issue 3's fault test with nft: four echo backends live in a
# network namespace reached over a veth pair (host 10.201.N.1, backends
# 10.201.N.3-6, N picked free at random). A and B form the active set
# (size 2; C and D are added later, as good but not better by
# score_improvement_threshold). Then nft rules inside the namespace drop
# every SYN to A and half of the SYNs to B (numgen random mod 2):
#  - A and B both leave the active set, C and D replace them;
#  - during the fault A's probes all time out, B's both time out and
#    succeed (health_checks_total by result): the 50% rule really is 50%;
#  - their scores fall at least 10 points below the healthy ones;
# then the rules go:
#  - both recover: no consecutive failures, scores back above
#    min_score_threshold and above their lowest point;
#  - they are eligible again: disabling C and D brings exactly A and B back
#    into the set.

set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/lib_cp.sh
. "$(dirname "$0")/lib_cp.sh"
require_root
require_cmd nft ip
tfwd_tmpdir
require_bin tcpfwd-controlplane tfwd-backend

NET=$(free_net 10.201 0 255)
netns_create be
NS=$(netns_name be)
HIF=t51h$$
veth_to_ns be "$HIF" "$NET.1/24" "$NET.2/24"
P=$(free_port)
A=$NET.3:$P B=$NET.4:$P C=$NET.5:$P D=$NET.6:$P
for x in A B C D; do
	addr=${!x}
	ip -n "$NS" addr add "${addr%:*}/32" dev "${HIF}n" || fail "address $addr"
	tfwd_start "$x" ip netns exec "$NS" "$TFWD_BIN/tfwd-backend" \
		--listen "$addr" --mode echo
	netns_wait_port be "${addr%:*}" "$P"
done
wait_until 5 eval "timeout 1 bash -c 'exec 3<>/dev/tcp/${A%:*}/$P' 2>/dev/null" ||
	fail "cannot reach $A in the namespace"

write_iplist "$TMP/ip_list.txt" "$A" "$B"
PROBE_INTERVAL=500ms PROBE_TIMEOUT=300ms ACTIVE_SET_SIZE=2 DEBOUNCE=2s \
	EVAL_INTERVAL=1s write_config "$TMP/c.yaml"
start_controlplane cp "$TMP/c.yaml"
wait_members 10 "$A,$B"
write_iplist "$TMP/ip_list.txt" "$A" "$B" "$C" "$D"
tfwd_signal cp HUP
for x in "$C" "$D"; do
	wait_api 10 "/api/v1/backends/$x" '.score != null and .probes >= 2' \
		"$x probed after the reload"
done
sleep 1
assert_eq "$(members)" "$A,$B" "active set before the fault"

hc() { mval tcp_forwarder_health_checks_total "backend=\"$1\",result=\"$2\""; }
a_ok0=$(hc "$A" ok) b_ok0=$(hc "$B" ok) b_to0=$(hc "$B" timeout)

# ---- the fault --------------------------------------------------------------
nft_ns be <<EOF
table inet t51 {
	chain input {
		type filter hook input priority 0; policy accept;
		ip daddr ${A%:*} tcp dport $P tcp flags & (syn | ack) == syn drop
		ip daddr ${B%:*} tcp dport $P tcp flags & (syn | ack) == syn numgen random mod 2 == 0 drop
	}
}
EOF
t0=$(date +%s%N)
log "SYNs to A dropped, half the SYNs to B dropped"
a_left='' b_left=''
end=$(($(date +%s) + 40))
while [ -z "$a_left" ] || [ -z "$b_left" ]; do
	[ "$(date +%s)" -lt "$end" ] ||
		fail "A and B still not both out after 40 s: $(members); $(be_line "$A"); $(be_line "$B")"
	m=$(members)
	case ",$m," in *",$A,"*) ;; *) [ -n "$a_left" ] || a_left=$(elapsed_ms "$t0") ;; esac
	case ",$m," in *",$B,"*) ;; *) [ -n "$b_left" ] || b_left=$(elapsed_ms "$t0") ;; esac
	sleep 0.2
done
log "A left the set after ${a_left} ms, B after ${b_left} ms"
wait_members 5 "$C,$D" "C and D serve"

# scores: A and B at least 10 below the healthy ones
below() {
	local h
	h=$(jget /api/v1/backends "[.backends[] | select(.address == \"$C\" or
	    .address == \"$D\") | .score] | min")
	jtrue "/api/v1/backends/$A" ".score != null and .score <= $h - 10" &&
		jtrue "/api/v1/backends/$B" ".score != null and .score <= $h - 10"
}
wait_until 30 below ||
	fail "scores not 10 below the healthy ones: $(be_line "$A"); $(be_line "$B"); $(be_line "$C"); $(be_line "$D")"
sleep 2 # a few more rounds of the fault
log "fault: $(be_line "$A")"
log "fault: $(be_line "$B")"
log "fault: $(be_line "$C")"
a_min=$(be .score "$A")
b_min=$(be .score "$B")
assert_eq "$(hc "$A" ok)" "$a_ok0" "successful probes of A while its SYNs drop"
b_ok=$(($(hc "$B" ok) - b_ok0)) b_to=$(($(hc "$B" timeout) - b_to0))
log "B during the fault: $b_ok probes answered, $b_to timed out"
assert_ge "$b_ok" 1 "B's probes answered during the 50% drop"
assert_ge "$b_to" 1 "B's probes timed out during the 50% drop"
assert_eq "$(members)" "$C,$D" "active set during the fault"

# ---- recovery ----------------------------------------------------------------
ip netns exec "$NS" nft delete table inet t51 || fail "nft delete table"
t1=$(date +%s%N)
log "rules removed"
for x in "$A" "$B"; do
	wait_api 40 "/api/v1/backends/$x" '.consecutive_failures == 0 and
	    .score != null and .score >= 15 and .last_probe.outcome == "ok"' \
		"$x recovered"
done
log "A and B above the threshold $(elapsed_ms "$t1") ms after the rules went"
sleep 2
a_now=$(be .score "$A") b_now=$(be .score "$B")
log "recovered: $(be_line "$A")"
log "recovered: $(be_line "$B")"
awk -v n="$a_now" -v m="$a_min" 'BEGIN { exit !(n > m) }' ||
	fail "A's score did not rise: $a_min -> $a_now"
awk -v n="$b_now" -v m="$b_min" 'BEGIN { exit !(n > m) }' ||
	fail "B's score did not rise: $b_min -> $b_now"

# Eligible again: with C and D disabled, A and B serve.
gen=$(generation)
api_post_ok "/api/v1/backends/$C/disable"
api_post_ok "/api/v1/backends/$D/disable"
wait_members 5 "$A,$B" "A and B back once C and D are disabled"
assert_ge "$(generation)" $((gen + 2)) "generation after two disables"
api_post_ok "/api/v1/backends/$C/enable"
api_post_ok "/api/v1/backends/$D/enable"
assert_eq "$(be .state "$C")" candidate "C after enable"

stop_clean cp
