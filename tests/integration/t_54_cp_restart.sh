#!/usr/bin/env bash
#
# Guards SPEC 7.1 and 4 (issue 3's restart test): the control plane is
# killed (kill -9) and restarted 2 s later, twice, while clients open new
# short connections without pause (tfwd-client rate, 8 at once,
# --fail-on-error) and stream data both ways verifying every byte
# (tfwd-client bulk, 2 streams, 20 s):
#  - zero failed connections, zero corrupted or missing bytes;
#  - the data plane keeps its PID (it never restarts);
#  - the active set (members and generation) is the same before and after
#    each restart. The set is deliberately not the one a fresh selection
#    would pick: it is {B3,B4}, chosen while only they were listed; B1 and
#    B2 were added later with equal scores (no improvement, no switch),
#    and a fresh selection breaks ties by the lower address (B1,B2);
#  - restart 1 keeps the state file, restart 2 deletes it first, so the
#    second one can only keep the set by learning it from the data plane;
#  - each new control plane reports the data plane in /api/v1/status, in
#    sync, with adopted=true and reason "adopted from the data planes".
# Prints the figures: connections made, bytes verified, how long the
# control plane was down, how long the new one took to adopt the set.

set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/lib_cp.sh
. "$(dirname "$0")/lib_cp.sh"
tfwd_tmpdir
require_bin tcpfwd-controlplane tcpfwd-dataplane tfwd-backend tfwd-client

LOAD_S=20
P=$(free_port)
B1=127.0.54.1:$P B2=127.0.54.2:$P B3=127.0.54.3:$P B4=127.0.54.4:$P
for i in 1 2 3 4; do
	start_backend "b$i" echo "127.0.54.$i:$P"
done
write_iplist "$TMP/ip_list.txt" "$B3" "$B4"
PROBE_TIMEOUT=1s ACTIVE_SET_SIZE=2 DEBOUNCE=2s POOL_TYPE=static POOL_SIZE=4 \
	write_config "$TMP/c.yaml"
CP_STATE=$TMP/state/scores.json
start_controlplane cp1 "$TMP/c.yaml"
start_dataplane dp "$TMP/c.yaml"
DP_PID=$(tfwd_pid dp)
wait_members 10 "$B3,$B4"
wait_dp_in_sync 10

# B1 and B2 join the list: as good, but not better by 5 points.
write_iplist "$TMP/ip_list.txt" "$B1" "$B2" "$B3" "$B4"
tfwd_signal cp1 HUP
for b in "$B1" "$B2"; do
	wait_api 10 "/api/v1/backends/$b" '.score != null and .probes >= 2' \
		"$b probed after the reload"
done
sleep 2 # a few evaluations past the debounce
SET=$(members)
GEN=$(generation)
assert_eq "$SET" "$B3,$B4" "active set before the load"
log "set before the load: $SET, generation $GEN"

tfwd_start rate "$TFWD_BIN/tfwd-client" rate --connect "$LISTEN" \
	--concurrency 8 --seconds "$LOAD_S" --fail-on-error --json \
	--timeout $((LOAD_S + 30))
tfwd_start bulk "$TFWD_BIN/tfwd-client" bulk --connect "$LISTEN" \
	--streams 2 --seconds "$LOAD_S" --direction both --json \
	--timeout $((LOAD_S + 30))
T_LOAD=$(date +%s%N)

# restart N NEWNAME OLDNAME [drop-state]: kill -9 OLDNAME, 2 s later start
# NEWNAME; sets DOWN_MS (kill until the new one's admin API answers) and
# ADOPT_MS (its start until it reports adopted=true) and checks what the
# new one serves.
restart() {
	local new=$1 old=$2 t_kill t_start
	tfwd_running rate || fail "the rate client ended early: $(cat "$TMP/rate.log")"
	tfwd_running bulk || fail "the bulk client ended early: $(cat "$TMP/bulk.log")"
	t_kill=$(date +%s%N)
	tfwd_kill "$old" KILL
	if [ "${3:-}" = drop-state ]; then
		rm -f "$CP_STATE"
		log "state file removed"
	fi
	sleep 2
	t_start=$(date +%s%N)
	tfwd_start "$new" "$TFWD_BIN/tcpfwd-controlplane" -c "$TMP/c.yaml"
	wait_until 15 jtrue /healthz '.status == "ok"' ||
		fail "$new: no admin API within 15 s"
	DOWN_MS=$((($(date +%s%N) - t_kill) / 1000000))
	wait_until 15 jtrue /api/v1/status '.phase != "learning" and .generation > 0' ||
		fail "$new has no set 15 s after its start: $(admin_get /api/v1/status 2>&1)"
	jtrue /api/v1/status '.adopted == true' ||
		fail "$new did not adopt the served set $SET/$GEN but chose $(members)/$(generation) ($(jget /api/v1/status .last_switch_reason)); data plane: $(grep 'serving active set' "$TMP/dp.log" | tail -n 2)"
	ADOPT_MS=$(elapsed_ms "$t_start")
	jget /api/v1/status . >"$TMP/$new.status"
	REASON=$(jq -r .last_switch_reason "$TMP/$new.status")
	# With the state file gone, the data plane is the only source.
	if [ "${3:-}" = drop-state ]; then
		assert_eq "$REASON" "adopted from the data planes" \
			"$new: where the set came from"
	fi
	assert_eq "$(members)" "$SET" "active set after restarting ($new)"
	assert_eq "$(generation)" "$GEN" "generation after restarting ($new)"
	wait_dp_in_sync 5
	assert_eq "$(jget /api/v1/status '.dataplanes[0].pid')" "$DP_PID" \
		"data plane pid seen by $new"
	tfwd_running dp || fail "the data plane died"
	assert_eq "$(tfwd_pid dp)" "$DP_PID" "data plane pid"
	log "$new: control plane down ${DOWN_MS} ms (kill to API answering), set adopted ${ADOPT_MS} ms after its start ($REASON)"
}

sleep 4
restart cp2 cp1
D1=$DOWN_MS A1=$ADOPT_MS R1=$REASON
# the restarted one evaluates with debounce: still nothing better
sleep 4
assert_eq "$(members)" "$SET" "active set 4 s after restart 1"
restart cp3 cp2 drop-state
D2=$DOWN_MS A2=$ADOPT_MS R2=$REASON

tfwd_wait_exit rate $((LOAD_S + 40))
tfwd_wait_exit bulk $((LOAD_S + 40))
LOAD_MS=$(elapsed_ms "$T_LOAD")
rate_json=$(grep '^{' "$TMP/rate.log" | tail -n 1)
bulk_json=$(grep '^{' "$TMP/bulk.log" | tail -n 1)
log "rate: $rate_json"
log "bulk: $bulk_json"
assert_eq "${TFWD_STATUS[rate]}" 0 "rate client exit status"
assert_eq "${TFWD_STATUS[bulk]}" 0 "bulk client exit status"
conns_ok=$(jq -r .conns_ok <<<"$rate_json")
conns_failed=$(jq -r .conns_failed <<<"$rate_json")
assert_eq "$conns_failed" 0 "failed connections"
assert_ge "$conns_ok" 1000 "connections made"
assert_eq "$(jq -r .verified <<<"$bulk_json")" true "bulk streams verified"
assert_eq "$(jq -r .streams_failed <<<"$bulk_json")" 0 "bulk streams failed"
bytes_up=$(jq -r .bytes_up <<<"$bulk_json")
bytes_down=$(jq -r .bytes_down <<<"$bulk_json")
assert_ge "$bytes_down" 1 "bytes verified"

# After the load, past the debounce, the set is still the same and the
# data plane reported no error.
sleep 3
assert_eq "$(members)" "$SET" "active set after the load"
assert_eq "$(generation)" "$GEN" "generation after the load"
errs=$(admin_get /metrics | awk '$1 ~ /^tcp_forwarder_errors_total/ { s += $2 }
    END { print s + 0 }')
assert_eq "$errs" 0 "tcp_forwarder_errors_total (all kinds) after the load"
assert_eq "$(tfwd_pid dp)" "$DP_PID" "data plane pid at the end"

cat >&2 <<EOF
==== t_54 figures ====
load:                 ${LOAD_MS} ms, 2 control-plane restarts (kill -9)
connections made:     $conns_ok ok, $conns_failed failed (rate, 8 at once)
bytes verified:       $bytes_down echoed back and checked ($bytes_up sent), 2 streams both ways
restart 1 (state file kept):    down ${D1} ms, set adopted ${A1} ms after start ($R1)
restart 2 (state file deleted): down ${D2} ms, set adopted ${A2} ms after start ($R2)
active set:           $SET, generation $GEN throughout; data plane pid $DP_PID throughout
EOF

stop_clean dp
stop_clean cp3
