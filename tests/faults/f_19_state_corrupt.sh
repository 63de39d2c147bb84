#!/usr/bin/env bash
#
# Guards issue 5's "the state file truncated or corrupt at start (clear
# error, fallback, never a crash)", for both daemons, with eight kinds of
# bad file: empty, cut in half, 4 KiB of random bytes, NUL bytes in the
# middle, valid JSON of the wrong shape, another version, 65 MiB (over the
# 64 MiB a state file may be), a folder where the file should be.
#  - data plane (dataplane.state_file), started next to a control plane:
#    it starts, logs one line naming the file and what is wrong with it,
#    serves the control plane's set (a client is echoed through it), and
#    replaces the bad file with a good one (except the folder, which it
#    cannot replace: it logs that and keeps serving); exits 0;
#  - control plane (controlplane.state_file): it starts, logs one line
#    naming the file and the reason, starts fresh (probes, selects the
#    set), saves a good file (except over the folder: the save error is
#    counted in /api/v1/status counters.state_save_errors, logged, and it
#    keeps running);
#    exits 0.

set -euo pipefail
# shellcheck source=tests/faults/lib.sh
. "$(dirname "$0")/lib.sh"
fault_requires tcpfwd-dataplane tcpfwd-controlplane tfwd-backend tfwd-client tfwd-cp
fault_netns "$@"

P=$((20000 + RANDOM % 10000))
A=$NET.10:$P B=$NET.11:$P
start_back_backend a echo "$A"
start_back_backend b echo "$B"
write_iplist "$TMP/ip_list.txt" "$A" "$B"

# good files of both kinds, from a first run
DP_STATE=$TMP/state/dataplane.json CP_STATE=$TMP/state/scores.json
PROBE_INTERVAL=300ms EVAL_INTERVAL=300ms ACTIVE_SET_SIZE=2 write_config "$TMP/c.yaml"
start_controlplane cp0 "$TMP/c.yaml"
start_dataplane dp0 "$TMP/c.yaml"
wait_members 10 "$A,$B"
wait_until 10 test -s "$DP_STATE" || fail "no data-plane state file"
stop_clean dp0
stop_clean cp0
jq -e . "$CP_STATE" >/dev/null || fail "no good control-plane state file"
cp "$DP_STATE" "$TMP/good_dp.json"
cp "$CP_STATE" "$TMP/good_cp.json"

# corrupt KIND GOOD FILE: FILE made bad in the way KIND says, from GOOD
corrupt() {
	rm -rf "$3"
	case $1 in
	empty) : >"$3" ;;
	cut) head -c $(($(stat -c %s "$2") / 2)) "$2" >"$3" ;;
	random) head -c 4096 /dev/urandom >"$3" ;;
	nul) { head -c 20 "$2"; printf '\0\0\0\0'; tail -c +25 "$2"; } >"$3" ;;
	shape) echo '[1, "two", {"three": 3}]' >"$3" ;;
	version) jq -c '.v = 99' "$2" >"$3" ;;
	huge) truncate -s 65M "$3" ;;
	folder) mkdir -p "$3/x" ;;
	esac
}
KINDS="empty cut random nul shape version huge folder"

# ---- the data plane --------------------------------------------------------------
start_cp tcp --set "$A,$B"
n=0
for k in $KINDS; do
	n=$((n + 1))
	corrupt "$k" "$TMP/good_dp.json" "$DP_STATE"
	start_dataplane "dp_$k" "$TMP/c.yaml"
	why=$(grep -E "state file $DP_STATE|$DP_STATE" "$TMP/dp_$k.log" | grep -Ei 'ignor|cannot|invalid|error' | head -n 1 || true)
	[ -n "$why" ] || fail "data plane, $k state file: no line naming $DP_STATE and what is wrong: $(head -n 5 "$TMP/dp_$k.log")"
	log "data plane, $k: ${why#* main: }"
	wait_until 10 grep -q 'serving active set .* from the control plane' "$TMP/dp_$k.log" ||
		fail "data plane, $k state file: the control plane's set not served"
	client latency --connect "$LISTEN" --count 3 --warmup 0 --json --timeout 10 \
		>"$TMP/c.json" || fail "data plane, $k state file: client: $(cat "$TMP/c.json")"
	if [ "$k" = folder ]; then
		wait_until 5 grep -q "cannot write state file $DP_STATE" "$TMP/dp_$k.log" ||
			fail "data plane: the failed save over a folder not logged"
	else
		wait_until 5 eval "jq -e '.type == \"active_set\"' '$DP_STATE' >/dev/null 2>&1" ||
			fail "data plane, $k: the bad state file was not replaced: $(head -c 200 "$DP_STATE" | od -c | head -n 3)"
	fi
	stop_clean "dp_$k"
done
tfwd_stop tcp

# ---- the control plane -------------------------------------------------------------
for k in $KINDS; do
	corrupt "$k" "$TMP/good_cp.json" "$CP_STATE"
	start_controlplane "cp_$k" "$TMP/c.yaml"
	why=$(grep -F "$CP_STATE" "$TMP/cp_$k.log" | grep -Ei 'ignor|cannot|invalid|error|fresh' | head -n 1 || true)
	[ -n "$why" ] || fail "control plane, $k state file: no line naming $CP_STATE and the reason: $(head -n 5 "$TMP/cp_$k.log")"
	log "control plane, $k: ${why#* selector: }"
	wait_members 10 "$A,$B" "control plane with a $k state file selects afresh"
	if [ "$k" = folder ]; then
		wait_api 5 /api/v1/status '.counters.state_save_errors >= 1' "the failed save over a folder counted"
		assert_contains "$TMP/cp_$k.log" "cannot write $CP_STATE" "the failed save logged"
	else
		wait_until 5 eval "jq -e '.backends | length == 2' '$CP_STATE' >/dev/null 2>&1" ||
			fail "control plane, $k: the bad state file was not replaced"
	fi
	stop_clean "cp_$k"
done
fault_result "kinds=8 daemons=2 starts=16 crashes=0 fallback=control_plane_set/fresh_selection all_exit_0=yes"
