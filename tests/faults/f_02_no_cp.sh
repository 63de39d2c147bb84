#!/usr/bin/env bash
#
# Guards SPEC 7.2, a data plane started with no control plane, when the
# network has changed while it was down:
#  - it serves from dataplane.state_file, written by a previous run; one of
#    the two remembered backends has since become a blackhole (nft drops
#    its SYNs): every client is still served (the dead one's dials time
#    out and go to the live one), none fails;
#  - with no state file: clients are held up to dial_timeout (1s), then
#    closed and counted in errors.no_backend (20 at once: each closed
#    within [0.9, 2.5] s, none earlier); nothing spins while they wait;
#  - clients waiting when a control plane appears (dial_timeout 5s here)
#    are served, byte-exact, over the veth;
#  - fds back to the baseline, exit status 0 every time.

set -euo pipefail
# shellcheck source=tests/faults/lib.sh
. "$(dirname "$0")/lib.sh"
fault_requires tcpfwd-dataplane tfwd-backend tfwd-client tfwd-cp
fault_netns "$@"

P=$((20000 + RANDOM % 10000))
A=$NET.10:$P B=$NET.11:$P
start_back_backend a echo "$A"
start_back_backend b echo "$B"

# ---- a state file from a previous run --------------------------------------
export IPC_URL=ipc://$TMP/a.ipc DP_STATE=$TMP/state/a.json
DIAL_TIMEOUT=500ms ALGORITHM=round_robin write_config "$TMP/a.yaml"
start_cp cp --set "$A,$B"
start_dataplane dp1 "$TMP/a.yaml"
wait_report cp 10 '.serving_generation == 1' "set served"
wait_until 5 grep -q "\"$B\"" "$DP_STATE" || fail "no state file $DP_STATE"
tfwd_kill cp KILL
stop_clean dp1

# while it was down, A became a blackhole
nft_back <<EOF
table inet f02 {
	chain input {
		type filter hook input priority 0; policy accept;
		ip daddr ${A%:*} tcp dport $P tcp flags & (syn | ack) == syn drop
	}
}
EOF
start_dataplane dp2 "$TMP/a.yaml"
DP=$(tfwd_pid dp2)
assert_contains "$TMP/dp2.log" 'serving active set .* from the state file' \
	"dp2: set loaded from the state file"
t0=$(date +%s%N)
client rate --connect "$LISTEN" --concurrency 4 --seconds 3 --fail-on-error \
	--json --timeout 30 >"$TMP/stale.json" ||
	fail "clients served from a stale state file: $(cat "$TMP/stale.json")"
stale_ok=$(json_get conns_ok <"$TMP/stale.json")
log "from the stale state file: $stale_ok connections, none failed, p99 connect $(json_get conn_p99_us <"$TMP/stale.json") us"
assert_eq "$(json_get conns_failed <"$TMP/stale.json")" 0 "failed connections"
assert_ge "$stale_ok" 10 "connections served"
b_acc=$(backend_stat b accepted)
assert_ge "$b_acc" "$stale_ok" "connections that reached the live backend"
assert_eq "$(tfwd_pid dp2)" "$DP" "the data plane kept running"
stop_clean dp2
back nft delete table inet f02

# ---- no state file, no control plane: held, then closed --------------------
unset LISTEN ADMIN
export IPC_URL=ipc://$TMP/b.ipc DP_STATE=$TMP/state/b.json
DIAL_TIMEOUT=1s write_config "$TMP/b.yaml"
start_dataplane dp3 "$TMP/b.yaml"
DP=$(tfwd_pid dp3)
FD0=$(fd_count_nonpipe "$DP")
for i in $(seq 1 20); do
	start_silent_client "w$i" "$LISTEN"
done
assert_cpu_below "$DP" 0.6 10 "the data plane holding 20 clients"
min=999999 max=0
for i in $(seq 1 20); do
	silent_client_wait "w$i"
	ms=$SILENT_MS
	[ "$ms" -lt "$min" ] && min=$ms
	[ "$ms" -gt "$max" ] && max=$ms
done
log "20 clients with no active set closed after $min..$max ms (dial_timeout 1 s)"
assert_ge "$min" 900 "held for dial_timeout"
assert_le "$max" 2500 "closed soon after dial_timeout"
start_cp cpb
wait_report cpb 10 '.errors.no_backend == 20 and .clients_waiting == 0 and
    .serving_generation == 0 and .connections_active == 0' "no_backend counted"
# one more: the IPC connection to cpb
assert_fds_back "$DP" $((FD0 + 1)) "data plane descriptors"
stop_clean dp3
tfwd_stop cpb

# ---- the control plane appears while clients wait ----------------------------
unset LISTEN ADMIN
export IPC_URL=ipc://$TMP/c.ipc DP_STATE=$TMP/state/c.json
DIAL_TIMEOUT=5s write_config "$TMP/c.yaml"
start_dataplane dp4 "$TMP/c.yaml"
t0=$(date +%s%N)
tfwd_start waiters "$TFWD_BIN/tfwd-client" bulk --connect "$LISTEN" \
	--streams 4 --bytes 4M --direction both --json --timeout 30
sleep 1
tfwd_running waiters || fail "the clients ended before any set existed: $(cat "$TMP/waiters.log")"
start_cp cpc --set "$A,$B"
tfwd_wait_exit waiters 30
ms=$(elapsed_ms "$t0")
log "4 waiting clients served $ms ms after they connected"
assert_eq "${TFWD_STATUS[waiters]}" 0 "waiting clients: exit status ($(cat "$TMP/waiters.log"))"
assert_le "$ms" 5000 "served within dial_timeout"
wait_report cpc 10 '.connections_total == 4 and .errors.no_backend == 0' \
	"served, not counted as no_backend"
dp_assert_idle cpc
fault_result "stale_state_served=$stale_ok lost=0 no_set_closed_ms=$min..$max no_backend=20 waiting_served_ms=$ms"
stop_clean dp4
