#!/usr/bin/env bash
#
# Guards SPEC 7.2, a data plane started with no control plane:
#  - it serves from dataplane.state_file, written by a previous run that had
#    a control plane (which is then killed: kill -9);
#  - with no state file either, a client is held up to dial_timeout (1s),
#    then closed, and counted in errors.no_backend;
#  - a client waiting when the control plane appears (within dial_timeout,
#    5s here) is served.

set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
tfwd_tmpdir
require_bin tcpfwd-dataplane tfwd-backend tfwd-client tfwd-cp

ECHO=127.0.0.2:$(free_port)
start_backend echo echo "$ECHO"

# echo_ok WHAT: one client through the data plane, echo checked.
echo_ok() {
	client latency --connect "$LISTEN" --count 5 --warmup 0 --json \
		--timeout 10 >"$TMP/echo.json" 2>&1 ||
		fail "$1: $(cat "$TMP/echo.json")"
}

# ---- from the state file of a previous run ---------------------------------

export IPC_URL=ipc://$TMP/a.ipc DP_STATE=$TMP/state/a.json
write_config "$TMP/a.yaml"
start_cp cp --set "$ECHO"
start_dataplane dp1 "$TMP/a.yaml"
wait_report cp 10 '.serving_generation == 1' "set served"
echo_ok "served with a control plane"
wait_until 5 grep -q "\"$ECHO\"" "$DP_STATE" || fail "no state file $DP_STATE"
tfwd_kill cp KILL
stop_clean dp1

start_dataplane dp2 "$TMP/a.yaml"
echo_ok "served from the state file, no control plane"
assert_contains "$TMP/dp2.log" 'serving active set .* from the state file' \
	"dp2: set loaded from the state file"
stop_clean dp2
assert_eq "$(backend_stat echo accepted)" 2 "connections the backend saw"

# ---- no state file, no control plane: held, then closed --------------------

unset LISTEN ADMIN
export IPC_URL=ipc://$TMP/b.ipc DP_STATE=$TMP/state/b.json
DIAL_TIMEOUT=1s write_config "$TMP/b.yaml"
start_dataplane dp3 "$TMP/b.yaml"
t0=$(date +%s%N)
rc=0
client hold --connect "$LISTEN" --conns 1 --echo-check --json --timeout 20 \
	>"$TMP/held.json" || rc=$?
ms=$(elapsed_ms "$t0")
log "client closed after $ms ms with no active set (dial_timeout 1 s)"
assert_eq "$rc" 1 "client with no active set: exit status"
assert_eq "$(json_get conns_connected <"$TMP/held.json")" 1 "client accepted"
assert_ge "$ms" 900 "client held for dial_timeout"
assert_le "$ms" 5000 "client closed soon after dial_timeout"
# a control plane with no set: only to read the data plane's counters
start_cp cpb
wait_report cpb 10 '.errors.no_backend == 1 and .clients_waiting == 0 and
    .serving_generation == 0 and .connections_active == 0' "no_backend counted"
assert_eq "$(backend_stat echo accepted)" 2 "connections the backend saw"
stop_clean dp3
tfwd_stop cpb

# ---- the control plane appears while a client waits ------------------------

unset LISTEN ADMIN
export IPC_URL=ipc://$TMP/c.ipc DP_STATE=$TMP/state/c.json
DIAL_TIMEOUT=5s write_config "$TMP/c.yaml"
start_dataplane dp4 "$TMP/c.yaml"
t0=$(date +%s%N)
tfwd_start waiter "$TFWD_BIN/tfwd-client" bulk --connect "$LISTEN" \
	--bytes 1M --direction both --json --timeout 30
sleep 0.5
tfwd_running waiter || fail "the client ended before any set existed: $(cat "$TMP/waiter.log")"
start_cp cpc --set "$ECHO"
tfwd_wait_exit waiter 30
ms=$(elapsed_ms "$t0")
log "waiting client served $ms ms after it connected"
assert_eq "${TFWD_STATUS[waiter]}" 0 "waiting client: exit status ($(cat "$TMP/waiter.log"))"
assert_le "$ms" 5000 "served within dial_timeout"
wait_report cpc 10 '.connections_total == 1 and .errors.no_backend == 0' \
	"served, not counted as no_backend"
dp_assert_idle cpc
stop_clean dp4
