#!/usr/bin/env bash
#
# Guards SPEC 7.1 with the real control plane and a real network between
# the data plane and its backends (veth; nft drops 1% of the segments
# both ways, so streams, probes and reports of dials see retransmissions
# and stalls as on a bad LAN): the control plane is killed
# with kill -9 twice while clients stream both ways (tfwd-client bulk,
# every byte verified) and open short connections without pause
# (tfwd-client rate, --fail-on-error); it is restarted 2 s later, the
# second time without its state file (so it can only learn the set from
# the data plane).
#  - zero failed connections, no byte lost or reordered;
#  - the data plane keeps its PID and keeps serving throughout;
#  - the active set (members and generation) is the same before and after
#    each restart, in the control plane's API and in what the data plane
#    serves;
#  - nothing spins: once the load is over and the control plane gone, the
#    idle data plane redials under 5% of a core; fds back to the baseline;
#    both daemons exit 0.

set -euo pipefail
# shellcheck source=tests/faults/lib.sh
. "$(dirname "$0")/lib.sh"
fault_requires tcpfwd-dataplane tcpfwd-controlplane tfwd-backend tfwd-client
fault_netns "$@"

P=$((20000 + RANDOM % 10000))
A=$NET.10:$P B=$NET.11:$P
start_back_backend a echo "$A" --threads 2
start_back_backend b echo "$B" --threads 2
lossy_back 1

write_iplist "$TMP/ip_list.txt" "$A" "$B"
PROBE_INTERVAL=500ms PROBE_TIMEOUT=300ms ACTIVE_SET_SIZE=2 DEBOUNCE=2s \
	POOL_TYPE=static POOL_SIZE=2 write_config "$TMP/c.yaml"
CP_STATE=$TMP/state/scores.json
start_controlplane cp1 "$TMP/c.yaml"
start_dataplane dp "$TMP/c.yaml"
DP=$(tfwd_pid dp)
wait_members 15 "$A,$B"
wait_dp_in_sync 10
SET=$(members) GEN=$(generation)
FD0=$(fd_count_nonpipe "$DP")
log "set $SET, generation $GEN"

LOAD_S=14
tfwd_start rate "$TFWD_BIN/tfwd-client" rate --connect "$LISTEN" \
	--concurrency 8 --seconds "$LOAD_S" --fail-on-error --json \
	--timeout $((LOAD_S + 30))
tfwd_start bulk "$TFWD_BIN/tfwd-client" bulk --connect "$LISTEN" \
	--streams 4 --seconds "$LOAD_S" --direction both --json \
	--timeout $((LOAD_S + 30))

# restart NEW OLD [drop-state]: kill -9 OLD, 2 s without a control plane
# then NEW; checks the set.
restart() {
	tfwd_running rate || fail "rate client ended early: $(cat "$TMP/rate.log")"
	tfwd_running bulk || fail "bulk client ended early: $(cat "$TMP/bulk.log")"
	tfwd_kill "$2" KILL
	[ "${3:-}" != drop-state ] || rm -f "$CP_STATE"
	sleep 2
	tfwd_start "$1" "$TFWD_BIN/tcpfwd-controlplane" -c "$TMP/c.yaml"
	local t
	t=$(date +%s%N)
	wait_until 15 jtrue /api/v1/status '.phase != "learning" and .generation > 0' ||
		fail "$1 has no set 15 s after its start: $(admin_get /api/v1/status 2>&1)"
	log "$1 serves $(members)/$(generation) after $(elapsed_ms "$t") ms ($(jget /api/v1/status .last_switch_reason))"
	assert_eq "$(members)" "$SET" "active set after restarting ($1)"
	assert_eq "$(generation)" "$GEN" "generation after restarting ($1)"
	wait_dp_in_sync 5
	assert_eq "$(tfwd_pid dp)" "$DP" "data plane pid"
}
sleep 3
restart cp2 cp1
sleep 3
restart cp3 cp2 drop-state

tfwd_wait_exit rate $((LOAD_S + 40))
tfwd_wait_exit bulk $((LOAD_S + 40))
rate_json=$(grep '^{' "$TMP/rate.log" | tail -n 1)
bulk_json=$(grep '^{' "$TMP/bulk.log" | tail -n 1)
log "rate: $rate_json"
log "bulk: $bulk_json"
assert_eq "${TFWD_STATUS[rate]}" 0 "rate client exit status"
assert_eq "${TFWD_STATUS[bulk]}" 0 "bulk client exit status"
assert_eq "$(jq -r .conns_failed <<<"$rate_json")" 0 "failed connections"
assert_eq "$(jq -r .streams_failed <<<"$bulk_json")" 0 "failed streams"
assert_eq "$(jq -r .verified <<<"$bulk_json")" true "bulk streams verified"
conns=$(jq -r .conns_ok <<<"$rate_json")
bytes=$(jq -r '.bytes_up + .bytes_down' <<<"$bulk_json")
assert_ge "$conns" 300 "short connections made"

# the data plane serves the same set it served before
sleep 1.5
assert_eq "$(members)" "$SET" "active set at the end"
assert_eq "$(generation)" "$GEN" "generation at the end"
wait_api 10 /api/v1/status '.dataplanes[0].connections_active == 0' "data plane idle"
assert_fds_back "$DP" "$FD0" "data plane descriptors"
stop_clean cp3
assert_cpu_below "$DP" 2 5 "the idle data plane without a control plane"
fault_result "segments_dropped=$(lossy_drops) conns=$conns bytes_verified=$bytes lost=0 cp_kills=2 set_kept=yes dp_cpu_without_cp=$FAULT_CPU%"
stop_clean dp
