#!/usr/bin/env bash
#
# Guards issue 5's "disk full when writing state (nothing lost that was
# running)": the state folder of both daemons is a 16 KiB tmpfs, mounted
# in a private mount namespace of this scenario (unshare -m), and is filled
# up while the daemons run and clients are served (rate, --fail-on-error).
# Then a backend is disabled through the API, so the control plane saves
# its scores and the data plane its new set, into a full disk:
#  - both log the failed write and keep running; the control plane counts
#    it (counters.state_save_errors) and goes on saving (and failing) at
#    every evaluation;
#  - the new set is served all the same (the data plane in sync), no
#    client connection fails;
#  - the old state files are intact, byte for byte, and no temporary file
#    is left behind;
#  - once space is freed the next saves succeed: both files hold the new
#    generation; both daemons exit 0.

set -euo pipefail
# shellcheck source=tests/faults/lib.sh
. "$(dirname "$0")/lib.sh"
fault_requires tcpfwd-dataplane tcpfwd-controlplane tfwd-backend tfwd-client
require_cmd unshare mount umount sha256sum
FAULT_PRIVATE_MOUNTS=1
fault_netns "$@"
[ "$(readlink /proc/self/ns/mnt)" != "$(readlink /proc/1/ns/mnt)" ] ||
	fail "not in a private mount namespace"

STATE=$TMP/state
mkdir -p "$STATE"
mount -t tmpfs -o size=16k,mode=0750 tmpfs "$STATE" || fail "mount a tmpfs on $STATE"
# the mount dies with this namespace; unmount first so the trap can
# remove $TMP
trap 'rc=$?; umount "$STATE" 2>/dev/null; (exit $rc); tfwd_cleanup' EXIT

P=$((20000 + RANDOM % 10000))
A=$NET.10:$P B=$NET.11:$P C=$NET.12:$P
for x in a b c; do
	X=${x^^}
	start_back_backend "$x" echo "${!X}"
done
write_iplist "$TMP/ip_list.txt" "$A" "$B" "$C"
DP_STATE=$STATE/dataplane.json CP_STATE=$STATE/scores.json
PROBE_INTERVAL=300ms EVAL_INTERVAL=500ms ACTIVE_SET_SIZE=2 IMPROVEMENT=100 \
	write_config "$TMP/c.yaml"
start_controlplane cp "$TMP/c.yaml"
start_dataplane dp "$TMP/c.yaml"
wait_api 15 /api/v1/active-set '.backends | length == 2' "a set of two"
wait_dp_in_sync 10
GEN=$(generation)
wait_until 5 eval "jq -e '.generation == $GEN' '$DP_STATE' >/dev/null 2>&1" ||
	fail "no data-plane state file of generation $GEN"
wait_until 5 eval "jq -e '.backends | length == 3' '$CP_STATE' >/dev/null 2>&1" ||
	fail "no control-plane state file"

tfwd_start rate "$TFWD_BIN/tfwd-client" rate --connect "$LISTEN" \
	--concurrency 4 --seconds 8 --fail-on-error --json --timeout 60

# fill it up, then freeze the picture of the old files
dd if=/dev/zero of="$STATE/fill" bs=1k 2>/dev/null || true
avail=$(df --output=avail -k "$STATE" | tail -n 1 | tr -d ' ')
assert_eq "$avail" 0 "free space on the state tmpfs (KiB)"
sleep 1 # an evaluation or two: the control plane may have saved meanwhile
sha256sum "$DP_STATE" "$CP_STATE" >"$TMP/old.sha"
cp "$CP_STATE" "$TMP/old_scores.json"
e0=$(jget /api/v1/status .counters.state_save_errors)

victim=$(jget /api/v1/active-set '.backends[0]')
api_post_ok "/api/v1/backends/$victim/disable"
wait_api 10 /api/v1/active-set ".generation > $GEN and (.backends | index(\"$victim\")) == null" \
	"set change on a full disk"
NEW=$(generation)
wait_dp_in_sync 5
log "set $(members)/$NEW served with the disk full"
wait_until 5 grep -q "cannot write state file $DP_STATE" "$TMP/dp.log" ||
	fail "the data plane did not log its failed write"
wait_api 5 /api/v1/status ".counters.state_save_errors >= $((e0 + 2))" "failed saves counted"
assert_contains "$TMP/cp.log" "cannot write $CP_STATE" "the control plane's failed write logged"
log "dp: $(grep -m1 "cannot write state file" "$TMP/dp.log" | sed 's/.* main: //')"
log "cp: $(grep -m1 "cannot write $CP_STATE" "$TMP/cp.log" | sed 's/.* [a-z]*: //')"
sha256sum -c --quiet "$TMP/old.sha" ||
	fail "a state file changed on a full disk: $(cmp "$TMP/old_scores.json" "$CP_STATE" 2>&1)"
left=$(find "$STATE" -mindepth 1 -maxdepth 1 ! -name dataplane.json ! -name scores.json ! -name fill -printf '%f ')
[ -z "$left" ] || fail "files left in the state folder: $left"
tfwd_running dp || fail "the data plane died"
check_cp_alive cp
errs=$(jget /api/v1/status .counters.state_save_errors)

tfwd_wait_exit rate 60
rate_json=$(grep '^{' "$TMP/rate.log" | tail -n 1)
assert_eq "${TFWD_STATUS[rate]}" 0 "clients while the disk was full ($rate_json)"
conns=$(json_get conns_ok <<<"$rate_json")

# space again: the next saves succeed
rm -f "$STATE/fill"
wait_until 5 eval "jq -e '.set.generation == $NEW' '$CP_STATE' >/dev/null 2>&1" ||
	fail "the control plane did not save once space came back: $(head -c 300 "$CP_STATE")"
api_post_ok "/api/v1/backends/$victim/enable"
# enabling changes nothing in the set (no improvement beyond 100 points)
# unless the set has a free place; make the data plane write: one more
# change
other=$(jget /api/v1/active-set '.backends[0]')
api_post_ok "/api/v1/backends/$other/disable"
wait_api 10 /api/v1/active-set ".generation > $NEW" "a set change with space again"
NEW2=$(generation)
wait_until 5 eval "jq -e '.generation == $NEW2' '$DP_STATE' >/dev/null 2>&1" ||
	fail "the data plane did not save once space came back: $(head -c 300 "$DP_STATE")"
log "saved again: data plane generation $NEW2, control plane set generation $(jq .set.generation "$CP_STATE")"
fault_result "conns=$conns lost=0 failed_saves_cp=$errs dp_failed_write_logged=yes old_files_intact=yes leftovers=0 saved_after_free=yes"
stop_clean dp
stop_clean cp
