#!/usr/bin/env bash
#
# Guards issue 3's passive health (SPEC 4: "The control plane folds real
# dial failures into the scores") with a fault that only the data plane
# sees. The data plane runs in its own network namespace and reaches the
# backends (host addresses 10.204.N.11-13) over a veth pair; the control
# plane probes them from the host, over the host's loopback path. An nft
# rule in the data plane's namespace answers its SYNs to backend A with a
# TCP reset, so the data plane's real dials to A are refused while every
# probe of A still succeeds. Proven:
#  - before the fault, the data plane's good dials reach
#    /api/v1/backends passive.dials_ok;
#  - during the fault, A's passive.dials_failed grows, its success rate
#    and score fall and A leaves the active set (C replaces it), while
#    health_checks_total of A shows no failed or timed-out probe and A's
#    last probe is ok: the control plane acted on passive reports alone;
#  - clients never notice: the data plane retries the next backend
#    (SPEC 7.3), tfwd-client rate --fail-on-error passes;
#  - once A is out of the set (no more real dials), probes alone bring its
#    score back above the threshold.

set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/lib_cp.sh
. "$(dirname "$0")/lib_cp.sh"
require_root
require_cmd nft ip
tfwd_tmpdir
require_bin tcpfwd-controlplane tcpfwd-dataplane tfwd-backend tfwd-client

NET=$(free_net 10.204 0 255)
netns_create dp
NS=$(netns_name dp)
HIF=t57h$$
veth_to_ns dp "$HIF" "$NET.1/24" "$NET.2/24"
P=$(free_port)
A=$NET.11:$P B=$NET.12:$P C=$NET.13:$P
for x in A B C; do
	addr=${!x}
	ip addr add "${addr%:*}/32" dev "$HIF" || fail "address $addr"
	start_backend "$x" echo "$addr"
done
ip netns exec "$NS" timeout 2 bash -c "exec 3<>/dev/tcp/${A%:*}/$P" ||
	fail "the data plane's namespace cannot reach $A"

write_iplist "$TMP/ip_list.txt" "$A" "$B" "$C"
PROBE_INTERVAL=500ms PROBE_TIMEOUT=300ms ACTIVE_SET_SIZE=2 DEBOUNCE=2s \
	write_config "$TMP/c.yaml"
start_controlplane cp "$TMP/c.yaml"
start_dataplane_ns dpl dp "$TMP/c.yaml"
wait_members 10 "$A,$B"
wait_dp_in_sync 10

# rate SECONDS NAME: short connections through the data plane, from inside
# its namespace.
rate() {
	ip netns exec "$NS" "$TFWD_BIN/tfwd-client" rate --connect "$LISTEN" \
		--concurrency 4 --seconds "$1" --fail-on-error --json \
		--timeout $(($1 + 20)) >"$TMP/$2.json" 2>&1 ||
		fail "clients ($2): $(cat "$TMP/$2.json")"
	log "clients ($2): $(jq -c '{conns_ok, conns_failed}' "$TMP/$2.json")"
}

rate 1 before
wait_api 5 "/api/v1/backends/$A" '.passive.dials_ok > 0' "good real dials folded"
assert_eq "$(be .passive.dials_failed "$A")" 0 "failed dials of A before the fault"

hc() { mval tcp_forwarder_health_checks_total "backend=\"$A\",result=\"$1\""; }
f0=$(hc failed) t0=$(hc timeout) ok0=$(hc ok)
nft_ns dp <<EOF
table inet t57 {
	chain output {
		type filter hook output priority 0; policy accept;
		ip daddr ${A%:*} tcp dport $P tcp flags & (syn | ack) == syn reject with tcp reset
	}
}
EOF
log "the data plane's SYNs to A are refused"
# the clients go on while the control plane decides
tfwd_start load ip netns exec "$NS" "$TFWD_BIN/tfwd-client" rate \
	--connect "$LISTEN" --concurrency 4 --seconds 12 --fail-on-error --json \
	--timeout 40
ts=$(date +%s%N)
a_out() { ! jtrue /api/v1/active-set ".backends | index(\"$A\")"; }
wait_until 12 a_out ||
	fail "A still in the set: $(be_line "$A") passive $(be ".passive | tojson" "$A")"
left=$(elapsed_ms "$ts")
log "A left the set after $left ms: $(jget /api/v1/active-set .reason)"
log "A: $(be_line "$A") passive $(be ".passive | tojson" "$A")"
wait_members 3 "$B,$C" "B and C serve"
assert_ge "$(be .passive.dials_failed "$A")" 1 "failed real dials of A"
jtrue "/api/v1/backends/$A" '.success_rate < 1' ||
	fail "A's success rate did not fall: $(be_line "$A")"
assert_eq "$(hc failed)" "$f0" "failed probes of A"
assert_eq "$(hc timeout)" "$t0" "timed-out probes of A"
assert_ge "$(hc ok)" $((ok0 + 1)) "successful probes of A during the fault"
assert_eq "$(be .last_probe.outcome "$A")" ok "A's last probe"
for x in "$B" "$C"; do
	assert_eq "$(be .passive.dials_failed "$x")" 0 "failed dials of $x"
done

tfwd_wait_exit load 40
assert_eq "${TFWD_STATUS[load]}" 0 "clients during the fault (exit status)"
log "clients during the fault: $(grep '^{' "$TMP/load.log" | jq -c '{conns_ok, conns_failed}')"
assert_eq "$(grep '^{' "$TMP/load.log" | jq .conns_failed)" 0 "failed client connections"

# Out of the set, A gets no real dials; probes alone restore its score.
wait_api 20 "/api/v1/backends/$A" '.score != null and .score >= 15 and
    .consecutive_failures == 0' "A recovered by probes"
log "A after: $(be_line "$A")"
assert_eq "$(hc failed)" "$f0" "failed probes of A at the end"

ip netns exec "$NS" nft delete table inet t57 || true
stop_clean dpl
stop_clean cp
