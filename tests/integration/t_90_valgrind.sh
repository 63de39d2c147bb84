#!/usr/bin/env bash
#
# Guards memory hygiene of both daemons under valgrind memcheck (issue 5):
# the real control plane and data plane (2 workers, static pools) run under
# `valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect
# --error-exitcode=99` (through lib.sh's TFWD_WRAP), carry short
# connections, byte-verified streams both ways, held echo-checked
# connections and a half-close, answer every kind of admin request (GETs,
# 404, 405, 401, disable/enable, reload), reload on SIGHUP, lose and regain
# the control plane, and stop on SIGTERM. Each must exit 0 with no
# memcheck error and nothing definitely or indirectly lost ("still
# reachable" at exit, e.g. nng's or libc's, is reported, not failed).
# Skipped without valgrind and on sanitizer builds (valgrind cannot run
# them). `make test-valgrind` also runs t_11 (2,000 connections) this way.
#
# tfwd-serial: valgrind takes a core per daemon; run alone, it slows no
# other scenario down.

set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
tfwd_tmpdir
require_bin tcpfwd-dataplane tcpfwd-controlplane tfwd-backend tfwd-client
require_cmd valgrind curl jq
for b in tcpfwd-dataplane tcpfwd-controlplane; do
	if grep -Eqa '__(asan|tsan|msan)_init' "$TFWD_BIN/$b"; then
		skip "$b is a sanitizer build: valgrind cannot run it"
	fi
done

TFWD_WRAP="valgrind --leak-check=full --show-leak-kinds=definite,indirect"
TFWD_WRAP+=" --errors-for-leak-kinds=definite,indirect --error-exitcode=99"
TFWD_WRAP+=" --num-callers=30 --log-file=$TMP/vg-%p.log"

A=127.0.0.2:$(free_port)
B=127.0.0.3:$(free_port)
start_backend a echo "$A" --threads 2
start_backend b echo "$B" --threads 2
write_iplist "$TMP/ip_list.txt" "$A" "$B"
echo "t90-secret-token" >"$TMP/token"
chmod 600 "$TMP/token"
WORKERS=2 POOL_TYPE=static POOL_SIZE=2 ACTIVE_SET_SIZE=2 \
	TOKEN_FILE="$TMP/token" write_config "$TMP/config.yaml"
start_controlplane cp "$TMP/config.yaml"
start_dataplane dp "$TMP/config.yaml"
DP=$(tfwd_pid dp)
CP=$(tfwd_pid cp)

served() {
	client hold --connect "$LISTEN" --conns 1 --echo-check --timeout 5 \
		>/dev/null 2>&1
}
wait_until 30 served || fail "no connection carried within 30 s"

# ---- traffic --------------------------------------------------------------
assert_ok client rate --connect "$LISTEN" --concurrency 4 --seconds 3 \
	--fail-on-error --timeout 60 >/dev/null
assert_ok client bulk --connect "$LISTEN" --streams 2 --bytes 4000000 \
	--direction both --timeout 60 >/dev/null
assert_ok client hold --connect "$LISTEN" --conns 50 --hold-ms 500 \
	--echo-check --timeout 60 >/dev/null
assert_ok client halfclose --connect "$LISTEN" --bytes 100000 --timeout 30 \
	>/dev/null

# ---- the admin API ------------------------------------------------------------
code() {
	curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@"
}
for p in /healthz /api/v1 /api/v1/status /api/v1/backends \
    "/api/v1/backends/$A" /api/v1/active-set /metrics /; do
	assert_eq "$(code "http://$ADMIN$p")" 200 "GET $p"
done
assert_eq "$(code "http://$ADMIN/api/v1/backends/192.0.2.1:1")" 404 "unknown backend"
assert_eq "$(code "http://$ADMIN/nowhere")" 404 "unknown path"
assert_eq "$(code -X DELETE "http://$ADMIN/api/v1/status")" 405 "DELETE"
assert_eq "$(code -X POST "http://$ADMIN/api/v1/reload")" 401 "reload without a token"
auth=(-H "Authorization: Bearer t90-secret-token")
assert_eq "$(code -X POST "${auth[@]}" "http://$ADMIN/api/v1/backends/$B/disable")" 200 "disable"
assert_eq "$(code -X POST "${auth[@]}" "http://$ADMIN/api/v1/backends/$B/enable")" 200 "enable"
assert_eq "$(code -X POST "${auth[@]}" "http://$ADMIN/api/v1/reload")" 200 "reload"

# ---- reloads, and the control plane away and back ---------------------------------
tfwd_signal dp HUP
tfwd_signal cp HUP
sleep 1
tfwd_stop cp
assert_eq "${TFWD_STATUS[cp]}" 0 "first control plane's exit status (99: memcheck errors)"
assert_ok client hold --connect "$LISTEN" --conns 20 --echo-check --timeout 30 >/dev/null
start_controlplane cp "$TMP/config.yaml"
CP2=$(tfwd_pid cp)
dataplanes() {
	admin_get /healthz | jq -r .dataplanes
}
wait_output 30 -ge 1 dataplanes ||
	fail "the data plane did not come back to the control plane"
assert_ok client rate --connect "$LISTEN" --concurrency 4 --seconds 2 \
	--fail-on-error --timeout 60 >/dev/null

# ---- stop, then read memcheck's verdicts ---------------------------------------
# valgrind's leak check at exit takes seconds: wait up to 60 s, not 5
vg_stop() {
	local name=$1 pid rc=0
	pid=$(tfwd_pid "$name")
	kill -TERM "$pid"
	wait_until 60 eval "! kill -0 $pid 2>/dev/null" ||
		fail "$name (pid $pid) still running 60 s after SIGTERM"
	wait "$pid" || rc=$?
	unset 'TFWD_PIDS[$name]'
	assert_eq "$rc" 0 "$name's exit status (99: memcheck errors)"
}
vg_stop dp
vg_stop cp

for pid in "$DP" "$CP" "$CP2"; do
	f=$TMP/vg-$pid.log
	[ -s "$f" ] || fail "no valgrind log for pid $pid"
	summary=$(grep -E 'ERROR SUMMARY|definitely lost|indirectly lost|possibly lost|still reachable|All heap blocks' "$f" |
		sed 's/^==[0-9]*== *//' | paste -sd';')
	log "pid $pid: $summary"
	grep -q 'ERROR SUMMARY: 0 errors' "$f" ||
		{ cat "$f" >&2; fail "memcheck errors in pid $pid"; }
	if grep -Eq '(definitely|indirectly) lost: [1-9]' "$f"; then
		cat "$f" >&2
		fail "leaks in pid $pid"
	fi
done
