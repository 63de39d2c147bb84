#!/usr/bin/env bash
#
# Guards SPEC 4 and 7.9 on the control plane's side of the IPC channel: a
# hostile peer (tests/faults/sp_peer.py, SP over IPC by hand) dials the
# control plane's socket next to a real data plane that serves clients
# the whole time (tfwd-client rate, --fail-on-error).
#  - messages: a report of another version, not JSON, cut JSON, an array,
#    an active set (the wrong direction), a report with a bad data-plane id
#    and bad counters, a report with 2000 backends (over the 1024 allowed),
#    and 1 MB of junk just under the size cap: each one dropped, counted
#    exactly (errors_total{kind="ipc_dropped"}) and logged; none makes the
#    peer a data plane (/api/v1/status still lists exactly the real one);
#  - the transport: 4 KiB of random bytes instead of the SP header, the SP
#    header of another protocol, a frame that claims 1 TiB, a real 2 MiB
#    message (over RECVMAXSZ) and a frame cut in half: the control plane
#    drops that connection, never crashes, its memory does not grow by the
#    claimed sizes (RSS +32 MiB at most, outside
#    sanitizer builds), the admin API answers throughout;
#    and it logs the end of each such connection that got past the SP
#    header (SPEC 4: oversized messages are dropped, counted and logged;
#    nng drops one over RECVMAXSZ with its connection, so that end is what
#    the control plane can log);
#  - nothing changes: the active set (members, generation) is the one from
#    before, the data plane stays in sync, zero client connections failed,
#    fds of both daemons back to their baselines, both exit 0.

set -euo pipefail
# shellcheck source=tests/faults/lib.sh
. "$(dirname "$0")/lib.sh"
fault_requires tcpfwd-dataplane tcpfwd-controlplane tfwd-backend tfwd-client
fault_netns "$@"

P=$((20000 + RANDOM % 10000))
A=$NET.10:$P B=$NET.11:$P
start_back_backend a echo "$A"
start_back_backend b echo "$B"
write_iplist "$TMP/ip_list.txt" "$A" "$B"
IPC_PATH=$TMP/control.ipc
PROBE_INTERVAL=500ms ACTIVE_SET_SIZE=2 write_config "$TMP/c.yaml"
start_controlplane cp "$TMP/c.yaml"
start_dataplane dp "$TMP/c.yaml"
CP=$(tfwd_pid cp) DP=$(tfwd_pid dp)
wait_members 15 "$A,$B"
wait_dp_in_sync 10
SET=$(members) GEN=$(generation)
dropped() { mval tcp_forwarder_errors_total 'kind="ipc_dropped"'; }
assert_eq "$(dropped)" 0 "ipc_dropped at the start"
CFD0=$(fd_count "$CP") DFD0=$(fd_count_nonpipe "$DP") RSS0=$(rss_kb "$CP")

tfwd_start rate "$TFWD_BIN/tfwd-client" rate --connect "$LISTEN" \
	--concurrency 4 --seconds 15 --fail-on-error --json --timeout 60

# ---- messages ----------------------------------------------------------------------
rep() {
	printf '{"v":%s,"type":"report","dp_id":"%s","uptime_ms":1,"pid":1,"workers":1,"serving_instance":"","serving_generation":0,"connections_total":%s,"connections_active":0,"clients_waiting":0,"bytes_in":0,"bytes_out":0,"duration_count":0,"duration_ms_sum":0,"ipc_dropped":0,"errors":{},"duration_buckets":[0,0,0,0,0,0,0,0,0,0],"backends":[%s]}' \
		"$1" "$2" "$3" "${4:-}"
}
be=$(printf '{"addr":"10.9.0.1:80","active":true,"connections":0,"pool_idle":0,"pool_target":0,"pool_peak":0,"connections_total":0,"lb_picks":0,"pool_hits":0,"pool_misses":0,"pool_scale_ups":0,"pool_scale_downs":0,"dials_ok":0,"dials_failed":0,"dials_timeout":0,"dial_us_sum":0,"bytes_in":0,"bytes_out":0,"dial_buckets":[0,0,0,0,0,0,0,0,0,0,0,0]},')
many=$(for _ in $(seq 1 2000); do printf '%s' "$be"; done)
printf '%s' "$(rep 1 0123456789abcdef 0 "${many%,}")" >"$TMP/many.json"
msgs=(
	"frame:$(rep 2 0123456789abcdef 0)"
	"frame:garbage, not even JSON"
	'frame:{"v":1,"type":"report","dp_id":"0123'
	"frame:[1,2,3]"
	"frame:{\"v\":1,\"type\":\"active_set\",\"instance\":\"0123456789abcdef\",\"generation\":99,\"changed_at_ms\":1,\"reason\":\"x\",\"backends\":[\"$B\"]}"
	"frame:$(rep 1 'not an id!' 0)"
	"frame:$(rep 1 0123456789abcdef -5)"
	"file:$TMP/many.json"
	"big:1000000"
)
python3 "$SP_PEER" dial "$IPC_PATH" hs "${msgs[@]}" read:1.5 >"$TMP/peer.out" 2>"$TMP/peer.log" ||
	fail "hostile peer: $(cat "$TMP/peer.log")"
wait_output 5 = "${#msgs[@]}" dropped || fail "ipc_dropped: $(dropped), want ${#msgs[@]}"
log "${#msgs[@]} bad messages dropped and counted; the peer was sent $(grep -c active_set "$TMP/peer.out" || true) active sets meanwhile"
assert_contains "$TMP/cp.log" 'dropped a bad message from a data plane' "log of the drops"
assert_eq "$(jget /api/v1/status '.dataplanes | length')" 1 "data planes listed"

# ---- the transport -----------------------------------------------------------------
hostile() {
	python3 "$SP_PEER" dial "$IPC_PATH" "$@" >>"$TMP/peer.out" 2>>"$TMP/peer.log" ||
		log "sp_peer $1: the control plane closed first (as it may)"
	check_cp_alive cp
	curl -sS --max-time 1 -f "http://$ADMIN/healthz" >/dev/null ||
		fail "/healthz did not answer within 1 s after: $*"
}
hostile junk:4096 sleep:0.3
hostile hs:16 sleep:0.3
hostile hs lie:1099511627776 sleep:0.5
hostile hs big:2097152 sleep:0.5
hostile hs trunc:"$(rep 1 0123456789abcdef 0)" sleep:0.3
rss=$(rss_kb "$CP")
assert_rss_growth "$CP" "$RSS0" 32768 "the control plane after the 1 TiB claim and the 2 MiB message"

# ---- nothing changed ------------------------------------------------------------------
tfwd_wait_exit rate 60
rate_json=$(grep '^{' "$TMP/rate.log" | tail -n 1)
assert_eq "${TFWD_STATUS[rate]}" 0 "clients during the garbage ($rate_json)"
conns=$(json_get conns_ok <<<"$rate_json")
assert_eq "$(members)" "$SET" "active set"
assert_eq "$(generation)" "$GEN" "generation"
wait_dp_in_sync 5
assert_eq "$(dropped)" "${#msgs[@]}" "ipc_dropped at the end"
wait_api 10 /api/v1/status '.dataplanes[0].connections_active == 0' "data plane idle"
assert_fds_back "$DP" "$DFD0" "data plane descriptors"
wait_output 10 -le "$CFD0" fd_count "$CP" || fail "control plane descriptors: $(fd_count "$CP"), baseline $CFD0"
# last, so that every other check above has run
lost=$(grep -Ei '(peer|pipe|connection|data plane).*(closed|lost|disconnect|gone)|(closed|lost|disconnect).*(peer|pipe|connection)' "$TMP/cp.log" | grep -vc 'dropped a bad message' || true)
log "lines about a lost IPC connection in the control plane's log: $lost"
assert_ge "$lost" 3 "IPC connections dropped for a 1 TiB claim, a 2 MiB message and a cut frame, logged"
fault_result "conns=$conns lost=0 bad_messages=${#msgs[@]} ipc_dropped=$(dropped) transport_attacks=5 rss_kb=$RSS0->$rss set_kept=yes"
stop_clean dp
stop_clean cp
