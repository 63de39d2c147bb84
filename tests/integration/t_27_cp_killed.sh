#!/usr/bin/env bash
#
# Guards SPEC 7.1 on the data plane's side: the control plane is killed
# (kill -9) while clients stream and open new connections, and restarted
# (a new instance id, the same set) on the same IPC path. No client
# connection fails, every byte arrives, the data plane keeps serving the
# same backends throughout, reconnects by itself, and applying the
# restarted control plane's identical set changes nothing in the data path
# (no pooled socket closed or re-dialled, no connection touched).

set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
tfwd_tmpdir
require_bin tcpfwd-dataplane tfwd-backend tfwd-client tfwd-cp

A=127.0.0.2:$(free_port)
B=127.0.0.3:$(free_port)
start_backend a echo "$A" --threads 2
start_backend b echo "$B" --threads 2
POOL_TYPE=static POOL_SIZE=2 write_config "$TMP/config.yaml"
start_cp cp1 --set "$A,$B"
start_dataplane dp "$TMP/config.yaml"
DP=$(tfwd_pid dp)
wait_report cp1 10 ".serving_generation == 1 and $(be_field "$A" pool_idle) == 2 and
    $(be_field "$B" pool_idle) == 2" "set served, pools full"
inst1=$(report_get cp1 '.serving_instance')

tfwd_start bulk "$TFWD_BIN/tfwd-client" bulk --connect "$LISTEN" --streams 4 \
	--seconds 6 --direction both --json --timeout 40
tfwd_start rate "$TFWD_BIN/tfwd-client" rate --connect "$LISTEN" \
	--concurrency 8 --seconds 6 --fail-on-error --json --timeout 40
wait_report cp1 10 '.connections_active >= 4 and .bytes_in > 0' "streams flowing"
sleep 0.5
tfwd_kill cp1 KILL
sleep 1
# still serving without a control plane
client hold --connect "$LISTEN" --conns 20 --echo-check --json --timeout 20 \
	>"$TMP/alone.json" || fail "clients with the control plane dead: $(cat "$TMP/alone.json")"
start_cp cp2 --set "$A,$B"
wait_report cp2 15 ".pid == $DP and .serving_instance != \"$inst1\" and
    .serving_generation == 1" "data plane back, serving the restarted control plane's set"

tfwd_wait_exit bulk 40
tfwd_wait_exit rate 40
assert_eq "${TFWD_STATUS[bulk]}" 0 "bulk streams across the restart ($(tail -n 1 "$TMP/bulk.log"))"
assert_eq "${TFWD_STATUS[rate]}" 0 "short connections across the restart ($(tail -n 1 "$TMP/rate.log"))"
log "rate: $(json_get conns_ok <"$TMP/rate.log") connections, none failed"

dp_assert_idle cp2
assert_eq "$(report_get cp2 '[.backends[] | select(.active) | .addr] | sort | join(",")')" \
	"$(printf '%s\n' "$A" "$B" | sort | paste -sd,)" "backends served"
assert_eq "$(report_get cp2 '[.errors[]] | add')" 0 "errors"

# a quiet restart: applying the new instance's identical set re-dials
# nothing and closes nothing
wait_output 5 = 2 backend_stat a active || fail "A: $(backend_stat a active) pooled sockets"
wait_output 5 = 2 backend_stat b active || fail "B: $(backend_stat b active) pooled sockets"
acc_a=$(backend_stat a accepted)
acc_b=$(backend_stat b accepted)
inst2=$(report_get cp2 '.serving_instance')
tfwd_kill cp2 KILL
start_cp cp3 --set "$A,$B"
wait_report cp3 15 ".pid == $DP and .serving_instance != \"$inst2\"" \
	"data plane serving the third control plane's set"
assert_eq "$(backend_stat a accepted)" "$acc_a" "A: connections since the quiet restart"
assert_eq "$(backend_stat b accepted)" "$acc_b" "B: connections since the quiet restart"
assert_eq "$(backend_stat a active)" 2 "A: pooled sockets kept"
assert_eq "$(backend_stat b active)" 2 "B: pooled sockets kept"
stop_clean dp
