#!/usr/bin/env bash
#
# Guards SPEC 4 and 7.9 on the data plane's side of the IPC channel: a
# message that is malformed, oversized-ish, of another version, of an
# unknown or wrong-direction type, or an active set with a bad field (a bad
# or port-less address, duplicates, generation 0) is dropped and counted
# (report's ipc_dropped, exactly one per message), never trusted: the set
# served stays as it was and clients keep being served. The bad sets carry
# generation 99 of the real instance, so a set trusted by mistake would
# also make the next good set (generation 2) look stale.

set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
tfwd_tmpdir
require_bin tcpfwd-dataplane tfwd-backend tfwd-client tfwd-cp

E1=127.0.0.2:$(free_port)
E2=127.0.0.3:$(free_port)
start_backend e1 echo "$E1"
start_backend e2 echo "$E2"
write_config "$TMP/config.yaml"
start_cp cp --set "$E1"
start_dataplane dp "$TMP/config.yaml"
wait_report cp 10 '.serving_generation == 1 and .ipc_dropped == 0' "set served"
INST=$(report_get cp '.serving_instance')

served_by() {
	client hold --connect "$LISTEN" --conns 5 --echo-check --json --timeout 10 \
		>"$TMP/c.json" || fail "clients: $(cat "$TMP/c.json")"
	wait_report cp 10 "$(be_field "$1" connections_total) >= 5" "clients on $1"
}
served_by "$E1"

# set JSON with the given fields spliced in
set_msg() {
	printf '{"v":%s,"type":"active_set","instance":"%s","generation":%s,"changed_at_ms":1,"reason":"bad","backends":[%s]}' \
		"$1" "$INST" "$2" "$3"
}
junk=$(head -c 45000 /dev/urandom | base64 -w 0)
bad=(
	'garbage, not even JSON'
	'{"v":1,"type":"active_set","instance":"'"$INST"'","generation":99,"backe'
	"$junk"
	'[1,2,3]'
	'{"v":1,"type":"no_such_type"}'
	'{"v":1,"type":"report","dp_id":"x"}'
	"$(set_msg 2 99 "\"$E2\"")"
	"$(set_msg '"1"' 99 "\"$E2\"")"
	"$(set_msg 1 99 '"999.1.1.1:80"')"
	"$(set_msg 1 99 '"127.0.0.3"')"
	"$(set_msg 1 99 "\"$E2\",\"$E2\"")"
	"$(set_msg 1 0 "\"$E2\"")"
	"$(set_msg 1 '"ninety"' "\"$E2\"")"
	"$(set_msg 1 99 "\"$E2\"" | sed 's/"backends"/"backend"/')"
)
for m in "${bad[@]}"; do
	cp_ctl cp "raw $m"
done
wait_report cp 10 ".ipc_dropped == ${#bad[@]}" "every bad message dropped and counted"
# nothing changed
assert_eq "$(report_get cp '.serving_generation')" 1 "generation served"
assert_eq "$(report_get cp '[.backends[] | select(.active) | .addr] | join(",")')" "$E1" \
	"backends served"
tfwd_running dp || fail "the data plane died"
served_by "$E1"
assert_eq "$(backend_stat e2 accepted)" 0 "connections to the backend of the bad sets"

# a good set still applies: no bad generation 99 was trusted
cp_ctl cp "set $E2"
wait_report cp 10 '.serving_generation == 2' "the next good set served"
served_by "$E2"
report_fresh cp
assert_eq "$(report_get cp '.ipc_dropped')" "${#bad[@]}" "dropped messages"
dp_assert_idle cp
stop_clean dp
