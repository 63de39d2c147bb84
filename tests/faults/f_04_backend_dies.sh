#!/usr/bin/env bash
#
# Guards SPEC 7.4 with the real control plane and backends across a veth:
# backend A's process is killed (kill -9) while bulk streams and held
# connections run on A and B.
#  - only A's connections close, both ways: their clients see EOF or a
#    reset (not a timeout), at once; every stream and held connection on B
#    finishes byte-exact;
#  - A's score drops (consecutive failures, score below B's by 10 or more)
#    and A leaves the active set; the data plane is told;
#  - clients arriving after the kill are all served (A's refused dials are
#    retried on B until the set changes): zero failures;
#  - the data plane does not spin; fds back to the baseline; exit 0.

set -euo pipefail
# shellcheck source=tests/faults/lib.sh
. "$(dirname "$0")/lib.sh"
fault_requires tcpfwd-dataplane tcpfwd-controlplane tfwd-backend tfwd-client
fault_netns "$@"

P=$((20000 + RANDOM % 10000))
A=$NET.10:$P B=$NET.11:$P C=$NET.12:$P
start_back_backend a echo "$A"
start_back_backend b echo "$B"
start_back_backend c echo "$C"
write_iplist "$TMP/ip_list.txt" "$A" "$B" "$C"
PROBE_INTERVAL=300ms PROBE_TIMEOUT=200ms EVAL_INTERVAL=500ms ACTIVE_SET_SIZE=2 \
	DEBOUNCE=0s IMPROVEMENT=100 write_config "$TMP/c.yaml"
start_controlplane cp "$TMP/c.yaml"
start_dataplane dp "$TMP/c.yaml"
DP=$(tfwd_pid dp)
wait_api 15 /api/v1/active-set '.backends | length == 2' "a set of two"
wait_dp_in_sync 10
SET=$(members)
case ",$SET," in
*",$A,"*) ;;
*) # A must serve: swap it in by hand
	other=${SET%%,*}
	[ "$other" != "$C" ] || other=${SET##*,}
	api_post_ok "/api/v1/backends/$other/disable"
	wait_api 10 /api/v1/active-set "(.backends | index(\"$A\")) != null" "A in the set"
	api_post_ok "/api/v1/backends/$other/enable"
	;;
esac
SET=$(members)
LIVE=${SET/$A/}
LIVE=${LIVE//,/}
log "set $SET: A=$A dies, $LIVE lives"
wait_dp_in_sync 10
FD0=$(fd_count_nonpipe "$DP")

be_conns() {
	jget "/api/v1/backends/$1" '.connections // 0'
}
tfwd_start bulk "$TFWD_BIN/tfwd-client" bulk --connect "$LISTEN" \
	--streams 6 --seconds 6 --direction both --json --timeout 40
tfwd_start hold "$TFWD_BIN/tfwd-client" hold --connect "$LISTEN" \
	--conns 20 --hold-ms 7000 --echo-check --ready-file "$TMP/hold.ready" \
	--json --timeout 40
wait_until 10 test -s "$TMP/hold.ready" || fail "held connections not ready"
wait_api 10 /api/v1/backends "[.backends[] | .connections // 0] | add == 26" "26 connections open"
on_a=$(be_conns "$A") on_live=$(be_conns "$LIVE")
log "connections: $on_a on A, $on_live on $LIVE"
assert_ge "$on_a" 3 "connections on A"
assert_ge "$on_live" 3 "connections on $LIVE"
score_live=$(be .score "$LIVE")
sleep 1

t_kill=$(date +%s%N)
tfwd_kill a KILL
wait_api 10 "/api/v1/backends/$A" '(.connections // 0) == 0' "A's connections closed"
closed_ms=$(elapsed_ms "$t_kill")
assert_eq "$(be_conns "$LIVE")" "$on_live" "connections on $LIVE right after A died"
log "A's $on_a connections closed within $closed_ms ms"
# new clients meanwhile: none fails
client rate --connect "$LISTEN" --concurrency 4 --seconds 2 --fail-on-error \
	--json --timeout 30 >"$TMP/after.json" ||
	fail "new clients after A died: $(cat "$TMP/after.json")"
after_ok=$(json_get conns_ok <"$TMP/after.json")

wait_api 10 "/api/v1/backends/$A" ".consecutive_failures >= 2 and
    .score != null and .score <= $score_live - 10" "A's score dropped"
wait_api 10 /api/v1/active-set "(.backends | index(\"$A\")) == null" "A out of the set"
wait_dp_in_sync 10
log "A: $(be_line "$A")"
log "set now $(members)"

tfwd_wait_exit bulk 40
tfwd_wait_exit hold 40
bulk_json=$(grep '^{' "$TMP/bulk.log" | tail -n 1)
hold_json=$(grep '^{' "$TMP/hold.log" | tail -n 1)
log "bulk: $bulk_json"
log "hold: $hold_json"
s_ok=$(json_get streams_ok <<<"$bulk_json") s_bad=$(json_get streams_failed <<<"$bulk_json")
h_ok=$(json_get conns_ok <<<"$hold_json") h_bad=$(json_get conns_failed <<<"$hold_json")
assert_eq $((s_bad + h_bad)) "$on_a" "connections cut (exactly those on A)"
assert_eq $((s_ok + h_ok)) "$on_live" "connections that finished (exactly those on $LIVE)"
for j in "$bulk_json" "$hold_json"; do
	errs=$(jq -r '.errors | keys | join(",")' <<<"$j")
	case ",$errs," in
	*mismatch* | *timeout* | *",io,"*) fail "unexpected error kinds: $errs" ;;
	esac
done

wait_api 10 /api/v1/status '.dataplanes[0].connections_active == 0' "data plane idle"
assert_cpu_below "$DP" 1 5 "the idle data plane"
assert_fds_back "$DP" "$FD0" "data plane descriptors"
fault_result "cut_on_A=$on_a survived_on_other=$on_live lost_elsewhere=0 seen_closed_ms=$closed_ms new_clients=$after_ok failed_new=0 a_score=$(be .score "$A")"
stop_clean dp
stop_clean cp
