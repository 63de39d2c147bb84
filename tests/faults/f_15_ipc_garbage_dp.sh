#!/usr/bin/env bash
#
# Guards SPEC 4 and 7.9 on the data plane's side of the IPC channel,
# against a hostile control plane, while clients are served the whole time
# (tfwd-client rate, --fail-on-error):
#  - messages: another version, not JSON, cut JSON, an array, a report (the
#    wrong direction), an active set of 300 backends (over the 256 a set
#    may hold), a set with a bad address, and from a hand-made SP peer
#    (tests/faults/sp_peer.py) 1 MB of junk just under the size cap: each
#    one dropped, counted exactly (report's ipc_dropped) and logged;
#  - the transport, each from the hand-made peer on the IPC socket path:
#    4 KiB of random bytes instead of the SP header, the SP header of
#    another protocol (pair0), a frame that claims 1 TiB, a real 2 MiB
#    message (over NNG_OPT_RECVMAXSZ, 1 MiB) and a frame cut in half: the
#    data plane drops the connection and redials, its memory does not
#    grow by the claimed sizes (RSS +32 MiB at most, outside
#    sanitizer builds), it never crashes;
#    and it logs the loss of each connection it had made (SPEC 4: an
#    oversized message is dropped, counted and logged; nng drops a message
#    over RECVMAXSZ with its connection before the data plane sees it, so
#    the connection's end is the one thing the data plane can log);
#  - nothing of it is trusted: the set served stays generation 1 of the
#    real instance, on the same backend; a good control plane coming back
#    is served within a second; zero client connections failed; fds back
#    to the baseline, exit 0.

set -euo pipefail
# shellcheck source=tests/faults/lib.sh
. "$(dirname "$0")/lib.sh"
fault_requires tcpfwd-dataplane tfwd-backend tfwd-client tfwd-cp
fault_netns "$@"

P=$((20000 + RANDOM % 10000))
A=$NET.10:$P B=$NET.11:$P
start_back_backend a echo "$A"
start_back_backend b echo "$B"
IPC_PATH=$TMP/control.ipc
write_config "$TMP/config.yaml"
start_cp cp1 --set "$A"
start_dataplane dp "$TMP/config.yaml"
DP=$(tfwd_pid dp)
wait_report cp1 10 '.serving_generation == 1 and .ipc_dropped == 0' "set served"
INST=$(report_get cp1 '.serving_instance')
FD0=$(fd_count_nonpipe "$DP")
RSS0=$(rss_kb "$DP")
B0=$(backend_stat b accepted)

tfwd_start rate "$TFWD_BIN/tfwd-client" rate --connect "$LISTEN" \
	--concurrency 4 --seconds 20 --fail-on-error --json --timeout 60

# ---- messages ----------------------------------------------------------------------
set_msg() {
	printf '{"v":%s,"type":"active_set","instance":"%s","generation":%s,"changed_at_ms":1,"reason":"bad","backends":[%s]}' \
		"$1" "$INST" "$2" "$3"
}
many=$(for i in $(seq 1 300); do printf '"10.9.%d.%d:80",' $((i / 200)) $((i % 200 + 1)); done)
bad=(
	"$(set_msg 2 99 "\"$B\"")"
	"$(set_msg 99 99 "\"$B\"")"
	'garbage, not even JSON'
	'{"v":1,"type":"active_set","instance":"'"$INST"'","generation":99,"backe'
	'[1,2,3]'
	'{"v":1,"type":"report","dp_id":"x"}'
	"$(set_msg 1 99 "${many%,}")"
	"$(set_msg 1 99 '"10.1.1.1:99999"')"
)
for m in "${bad[@]}"; do
	cp_ctl cp1 "raw $m"
done
wait_report cp1 10 ".ipc_dropped == ${#bad[@]}" "every bad message dropped and counted"
assert_eq "$(report_get cp1 '.serving_generation')" 1 "generation served"
tfwd_stop cp1

# ---- the transport, from a hand-made SP peer -------------------------------------
# hostile STEP...: one connection of the data plane to sp_peer, which does
# STEP... and closes; waits until the data plane has dialled it.
hostile() {
	python3 "$SP_PEER" listen "$IPC_PATH" "$@" >>"$TMP/peer.out" 2>>"$TMP/peer.log" ||
		log "sp_peer $1: the data plane closed first (as it may)"
	tfwd_running dp || fail "the data plane died after: $*"
}
hostile junk:4096 sleep:0.3
hostile hs:16 sleep:0.3
hostile hs lie:1099511627776 sleep:0.5
hostile hs big:2097152 sleep:0.5
hostile hs trunc:"$(set_msg 1 99 "\"$B\"")" sleep:0.3
# under the cap, not a message: counted
hostile hs big:1000000 sleep:0.5
rss=$(rss_kb "$DP")
assert_rss_growth "$DP" "$RSS0" 32768 "the data plane after the 1 TiB claim and the 2 MiB message"
log "peer: $(tr '\n' ' ' <"$TMP/peer.log")"

# ---- a good control plane again: nothing was trusted --------------------------------
start_cp cp2 --set "$A" --instance "$INST" --generation 1
t0=$(date +%s%N)
wait_report cp2 10 ".serving_generation == 1 and .serving_instance == \"$INST\"" \
	"the real set served"
back_ms=$(elapsed_ms "$t0")
report_fresh cp2
dropped=$(report_get cp2 '.ipc_dropped')
log "ipc_dropped $dropped (${#bad[@]} messages through tfwd-cp, the rest from the raw peer)"
assert_ge "$dropped" $((${#bad[@]} + 1)) "bad messages counted"
assert_eq "$(report_get cp2 '[.backends[] | select(.active) | .addr] | join(",")')" "$A" \
	"backends served"
assert_eq "$(backend_stat b accepted)" "$B0" "connections to the backend of the bad sets"
assert_contains "$TMP/dp.log" 'dropped a bad message from the control plane' "log of the drops"

tfwd_wait_exit rate 60
rate_json=$(grep '^{' "$TMP/rate.log" | tail -n 1)
assert_eq "${TFWD_STATUS[rate]}" 0 "clients during the garbage ($rate_json)"
conns=$(json_get conns_ok <<<"$rate_json")
dp_assert_idle cp2
assert_fds_back "$DP" "$FD0" "data plane descriptors"
# last, so that every other check above has run
lost=$(grep -Eci 'control plane.*(lost|closed|disconnect|gone|dropped the connection)|(lost|disconnected from|closed).*control plane' "$TMP/dp.log" || true)
log "lines about a lost control-plane connection in the data plane's log: $lost"
assert_ge "$lost" 4 "lost connections logged (cp1 stopped, 1 TiB claim, 2 MiB message, cut frame)"
fault_result "conns=$conns lost=0 bad_messages=$((${#bad[@]} + 1)) ipc_dropped=$dropped transport_attacks=5 rss_kb=$RSS0->$rss set_kept=yes good_cp_served_ms=$back_ms"
stop_clean dp
