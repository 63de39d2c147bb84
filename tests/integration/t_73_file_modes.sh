#!/usr/bin/env bash
#
# Guards the modes of what the daemons create (issue 5, SPEC 4): both run
# with umask 000, the worst case, so the modes must come from the code:
#   - the IPC socket file 0600, in a folder the control plane creates
#     0750 (its missing parents too), again after a restart
#   - state files 0600 (dataplane.state_file, controlplane.state_file),
#     in folders created 0750, even when a file was there before with 0666
#     (the state is written to a new file and renamed over it); no
#     temporary file left beside them
#   - log files (logging.output set to a path) 0640
# Run as root, so everything is also owned by root: nothing is handed to
# another user by accident.

set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
tfwd_tmpdir
require_bin tcpfwd-dataplane tcpfwd-controlplane tfwd-backend tfwd-client

E=127.0.0.2:$(free_port)
start_backend echo echo "$E"
write_iplist "$TMP/ip_list.txt" "$E"
mkdir -p "$TMP/log" "$TMP/var/dp" "$TMP/var/cp"
# stale state files, world-writable: must come back 0600
echo garbage >"$TMP/var/dp/dataplane.json"
echo garbage >"$TMP/var/cp/scores.json"
chmod 0666 "$TMP/var/dp/dataplane.json" "$TMP/var/cp/scores.json"
IPC_DIR=$TMP/run/tcp-forwarder
export IPC_URL=ipc://$IPC_DIR/control.ipc
export DP_STATE=$TMP/var/dp/dataplane.json
export CP_STATE=$TMP/var/cp/scores.json
LOG_OUTPUT=$TMP/log/controlplane.log write_config "$TMP/cp.yaml"
LOG_OUTPUT=$TMP/log/dataplane.log write_config "$TMP/dp.yaml"
# also fresh folders for the state, created by the daemons
export DP_STATE=$TMP/fresh/dp/state/dataplane.json
export CP_STATE=$TMP/fresh/cp/state/scores.json
LOG_OUTPUT=$TMP/log/controlplane2.log write_config "$TMP/cp2.yaml"
LOG_OUTPUT=$TMP/log/dataplane2.log write_config "$TMP/dp2.yaml"

# start_umask0 NAME BINARY CONFIG: the daemon under umask 000 (sh execs
# it: the PID is the daemon's).
start_umask0() {
	# shellcheck disable=SC2016 # for the inner sh
	tfwd_start "$1" sh -c 'umask 000; exec "$@"' sh "$TFWD_BIN/$2" -c "$3"
}
# mode_is PATH MODE [WHAT]
mode_is() {
	[ -e "$1" ] || fail "${3:-$1}: $1 does not exist"
	assert_eq "$(stat -c '%a %U' "$1")" "$2 root" "${3:-$1} (mode, owner)"
}
served() {
	client hold --connect "$LISTEN" --conns 2 --echo-check --timeout 5 \
		>/dev/null 2>&1
}

# run CPCONF DPCONF DPSTATE CPSTATE FRESH: both daemons, a set served,
# stopped; checks every mode (the state folders' too when FRESH=1: the
# daemons made them).
run() {
	local cpconf=$1 dpconf=$2 dps=$3 cps=$4 fresh=$5 f sock
	start_umask0 cp tcpfwd-controlplane "$cpconf"
	wait_port "${ADMIN%:*}" "${ADMIN##*:}"
	wait_until 10 test -S "$IPC_DIR/control.ipc" || fail "no IPC socket"
	mode_is "$IPC_DIR/control.ipc" 600 "IPC socket"
	sock=$(stat -c %a "$IPC_DIR/control.ipc")
	mode_is "$IPC_DIR" 750 "IPC socket folder"
	mode_is "$TMP/run" 750 "IPC socket folder's parent"
	start_umask0 dp tcpfwd-dataplane "$dpconf"
	wait_port "${LISTEN%:*}" "${LISTEN##*:}"
	wait_until 20 served || fail "no connection carried"
	wait_until 10 grep -q '"generation"' "$dps" ||
		fail "data-plane state never written"
	# the control plane writes its scores at the latest on SIGTERM
	stop_clean dp
	stop_clean cp
	mode_is "$dps" 600 "data-plane state file"
	mode_is "$cps" 600 "control-plane state file"
	if [ "$fresh" = 1 ]; then
		mode_is "$(dirname "$dps")" 750 "data-plane state folder"
		mode_is "$(dirname "$cps")" 750 "control-plane state folder"
	fi
	for f in "$(dirname "$dps")"/* "$(dirname "$cps")"/*; do
		case $f in
		"$dps" | "$cps") ;;
		*) fail "left beside the state: $f ($(stat -c %a "$f"))" ;;
		esac
	done
	log "modes: socket $sock in $(stat -c %a "$IPC_DIR"), state $(stat -c %a "$dps")/$(stat -c %a "$cps") in $(stat -c %a "$(dirname "$dps")")/$(stat -c %a "$(dirname "$cps")")"
}

run "$TMP/cp.yaml" "$TMP/dp.yaml" "$TMP/var/dp/dataplane.json" \
	"$TMP/var/cp/scores.json" 0
mode_is "$TMP/log/controlplane.log" 640 "control-plane log file"
mode_is "$TMP/log/dataplane.log" 640 "data-plane log file"
assert_contains "$TMP/log/dataplane.log" 'listening on' "data-plane log file"
assert_contains "$TMP/log/controlplane.log" 'admin' "control-plane log file"

# again with every folder missing; the IPC folder is made afresh too
rm -rf "$TMP/run"
run "$TMP/cp2.yaml" "$TMP/dp2.yaml" "$TMP/fresh/dp/state/dataplane.json" \
	"$TMP/fresh/cp/state/scores.json" 1
mode_is "$TMP/fresh/dp" 750 "created parent of the data-plane state folder"
mode_is "$TMP/fresh/cp" 750 "created parent of the control-plane state folder"
mode_is "$TMP/log/controlplane2.log" 640 "control-plane log file"
mode_is "$TMP/log/dataplane2.log" 640 "data-plane log file"
