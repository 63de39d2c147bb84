#!/usr/bin/env bash
#
# Guards issue 5's "the data plane at its max_connections" (limit 50),
# with a backend across a veth:
#  - 45 held connections (echo checked at the end) and 5 streaming both
#    ways for 6 s (tfwd-client bulk, verified) fill it;
#    then 2 clients at a time hammer it with short connections for 3 s: every
#    one of those is refused at once (closed right after accept, counted
#    exactly in errors.max_connections = the hammer's failures), the 50
#    connections finish byte-exact, untouched;
#  - the data plane does not spin while refusing: under 95% of a core
#    while it makes progress, over 300 refusals a second (its CPU with the
#    streams alone and with the hammer too are printed);
#  - once the streams end the limit is free again: 50 clients at once are
#    all served; fds back to the baseline, exit 0.

set -euo pipefail
# shellcheck source=tests/faults/lib.sh
. "$(dirname "$0")/lib.sh"
fault_requires tcpfwd-dataplane tfwd-backend tfwd-client tfwd-cp
fault_netns "$@"

P=$((20000 + RANDOM % 10000))
A=$NET.10:$P
start_back_backend a echo "$A" --threads 2
MAX_CONNECTIONS=50 write_config "$TMP/config.yaml"
start_cp cp --set "$A"
start_dataplane dp "$TMP/config.yaml"
DP=$(tfwd_pid dp)
wait_report cp 10 '.serving_generation == 1' "set served"
FD0=$(fd_count_nonpipe "$DP")

tfwd_start hold "$TFWD_BIN/tfwd-client" hold --connect "$LISTEN" --conns 45 \
	--hold-ms 7000 --echo-check --ready-file "$TMP/hold.ready" --json --timeout 40
wait_until 10 test -s "$TMP/hold.ready" || fail "held connections not ready"
tfwd_start bulk "$TFWD_BIN/tfwd-client" bulk --connect "$LISTEN" \
	--streams 5 --seconds 6 --direction both --json --timeout 40
wait_report cp 10 '.connections_active == 50' "50 connections at the limit"
assert_cpu_below "$DP" 1 95 "the data plane with 5 streams at its limit"
CPU_STREAMS=$FAULT_CPU
tfwd_start hammer "$TFWD_BIN/tfwd-client" rate --connect "$LISTEN" \
	--concurrency 2 --seconds 3 --json --timeout 30
sleep 0.5
assert_cpu_below "$DP" 2 95 "the data plane refusing at its limit"
CPU_REFUSING=$FAULT_CPU
tfwd_wait_exit hammer 30
hj=$(grep '^{' "$TMP/hammer.log" | tail -n 1)
log "hammer: $hj"
refused=$(json_get conns_failed <<<"$hj")
assert_eq "$(json_get conns_ok <<<"$hj")" 0 "hammer connections served over the limit"
assert_ge "$refused" 1000 "hammer connections refused in 3 s"
tfwd_running bulk || fail "the streams ended before the hammer did"

tfwd_wait_exit bulk 40
bj=$(grep '^{' "$TMP/bulk.log" | tail -n 1)
log "bulk: $bj"
assert_eq "${TFWD_STATUS[bulk]}" 0 "the 5 streams at the limit"
assert_eq "$(json_get verified <<<"$bj")" true "streams verified"
tfwd_wait_exit hold 40
assert_eq "${TFWD_STATUS[hold]}" 0 "the 45 held connections ($(tail -n 1 "$TMP/hold.log"))"
wait_report cp 10 ".errors.max_connections == $refused" "every refusal counted"

client hold --connect "$LISTEN" --conns 50 --echo-check --json --timeout 20 \
	>"$TMP/after.json" || fail "50 clients after the streams ended: $(cat "$TMP/after.json")"
dp_assert_idle cp
assert_fds_back "$DP" "$FD0" "data plane descriptors"
fault_result "held=50 lost_held=0 refused=$refused counted=$refused cpu_streams=$CPU_STREAMS% cpu_streams_and_refusing=$CPU_REFUSING%"
stop_clean dp
