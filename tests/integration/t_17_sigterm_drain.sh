#!/usr/bin/env bash
#
# Guards graceful stop (SPEC 2, signals): on SIGTERM the data plane stops
# accepting at once (connect refused) while open streams complete
# byte-exact, and exits as soon as they have ended; with drain_timeout 2s and
# streams that never end it exits after about 2 s; a second SIGTERM during
# the drain exits at once. Every exit is clean (status 0).

set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
tfwd_tmpdir
require_bin tcpfwd-dataplane tfwd-backend tfwd-client tfwd-cp

ECHO=127.0.0.2:$(free_port)
start_backend echo echo "$ECHO" --threads 2
start_cp cp --set "$ECHO"

# dp_run NAME DRAIN: a data plane on a new port with drain_timeout DRAIN,
# serving the echo backend; $DP is its PID.
dp_run() {
	unset LISTEN ADMIN
	DRAIN_TIMEOUT=$2 write_config "$TMP/$1.yaml"
	start_dataplane "$1" "$TMP/$1.yaml"
	DP=$(tfwd_pid "$1")
	wait_report cp 10 ".pid == $DP and .serving_generation == 1" "$1 serving"
}

# ---- streams finish, then the process exits ---------------------------------

dp_run dp1 20s
tfwd_start bulk "$TFWD_BIN/tfwd-client" bulk --connect "$LISTEN" --streams 2 \
	--seconds 3 --direction both --json --timeout 40
tfwd_start hold "$TFWD_BIN/tfwd-client" hold --connect "$LISTEN" --conns 3 \
	--hold-ms 2500 --echo-check --json --timeout 40
wait_report cp 10 ".pid == $DP and .connections_active == 5" "streams open"
t0=$(date +%s%N)
tfwd_signal dp1 TERM
wait_port_closed "${LISTEN%:*}" "${LISTEN##*:}" 2
rc=0
client latency --connect "$LISTEN" --count 1 --warmup 0 --json --timeout 5 \
	>"$TMP/refused.json" || rc=$?
assert_eq "$rc" 1 "a new client while draining: exit status"
assert_contains "$TMP/refused.json" '"refused":1' "a new client while draining"
tfwd_running dp1 || fail "dp1 exited before its streams ended"
tfwd_wait_exit bulk 40
tfwd_wait_exit hold 40
t_clients=$(elapsed_ms "$t0")
assert_eq "${TFWD_STATUS[bulk]}" 0 "bulk streams during the drain ($(tail -n 1 "$TMP/bulk.log"))"
assert_eq "${TFWD_STATUS[hold]}" 0 "held connections during the drain ($(tail -n 1 "$TMP/hold.log"))"
tfwd_wait_exit dp1 10
t_exit=$(elapsed_ms "$t0")
log "clients done $t_clients ms after SIGTERM, data plane gone at $t_exit ms"
assert_eq "${TFWD_STATUS[dp1]}" 0 "dp1 exit status"
assert_le $((t_exit - t_clients)) 2000 "exit delay after the last stream ended"
assert_le "$t_exit" 15000 "dp1 exited before drain_timeout (20 s)"
assert_sanitizer_clean dp1

# ---- drain_timeout 2s with streams that never end -------------------------

dp_run dp2 2s
tfwd_start hold2 "$TFWD_BIN/tfwd-client" hold --connect "$LISTEN" --conns 3 \
	--hold-ms 6000 --echo-check --json --timeout 40
wait_report cp 10 ".pid == $DP and .connections_active == 3" "held connections"
t0=$(date +%s%N)
tfwd_signal dp2 TERM
tfwd_wait_exit dp2 10
ms=$(elapsed_ms "$t0")
log "dp2 exited $ms ms after SIGTERM (drain_timeout 2 s)"
assert_eq "${TFWD_STATUS[dp2]}" 0 "dp2 exit status"
assert_ge "$ms" 1800 "dp2 waited for drain_timeout"
assert_le "$ms" 4500 "dp2 exited soon after drain_timeout"
assert_sanitizer_clean dp2
# its clients were closed (seen when their 6 s hold ends), not left hanging
tfwd_wait_exit hold2 15
assert_eq "${TFWD_STATUS[hold2]}" 1 "held clients after the drain timeout"
assert_contains "$TMP/hold2.log" '"conns_failed":3,.*"errors":\{"closed":3\}' \
	"held clients closed by the data plane"

# ---- a second SIGTERM exits at once ----------------------------------------

dp_run dp3 30s
tfwd_start hold3 "$TFWD_BIN/tfwd-client" hold --connect "$LISTEN" --conns 3 \
	--hold-ms 6000 --echo-check --json --timeout 40
wait_report cp 10 ".pid == $DP and .connections_active == 3" "held connections"
tfwd_signal dp3 TERM
wait_port_closed "${LISTEN%:*}" "${LISTEN##*:}" 2
sleep 1
tfwd_running dp3 || fail "dp3 exited with connections open and drain_timeout 30 s"
t0=$(date +%s%N)
tfwd_signal dp3 TERM
tfwd_wait_exit dp3 10
ms=$(elapsed_ms "$t0")
log "dp3 exited $ms ms after the second SIGTERM"
assert_eq "${TFWD_STATUS[dp3]}" 0 "dp3 exit status"
assert_le "$ms" 1500 "exit after the second SIGTERM"
assert_sanitizer_clean dp3
tfwd_wait_exit hold3 15
assert_eq "${TFWD_STATUS[hold3]}" 1 "held clients after the second SIGTERM"
assert_contains "$TMP/hold3.log" '"conns_failed":3,.*"errors":\{"closed":3\}' \
	"held clients closed by the data plane"
