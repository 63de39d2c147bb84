#!/usr/bin/env bash
#
# Guards SPEC 7.3 for refused dials: a dial to a closed port is retried on
# the next backend of the set, at most 2 more, before the client is given up.
#  - set [closed, good], round_robin: every short connection succeeds and
#    the closed backend's dials_failed grows;
#  - set [closed]: each client is closed, errors.dial_failed counts it;
#  - set of 5 closed ports: each client costs exactly 3 dials, then closed.

set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
tfwd_tmpdir
require_bin tcpfwd-dataplane tfwd-backend tfwd-client tfwd-cp

GOOD=127.0.0.2:$(free_port)
start_backend good echo "$GOOD"
# closed ports: free ones nobody listens on, on distinct addresses
CLOSED=()
for i in 3 4 5 6 7; do
	CLOSED+=("127.0.0.$i:$(free_port)")
done
for c in "${CLOSED[@]}"; do
	! port_listening "${c%:*}" "${c##*:}" || fail "$c is not closed"
done
C1=${CLOSED[0]}

ALGORITHM=round_robin write_config "$TMP/config.yaml"
start_cp cp --set "$C1,$GOOD"
start_dataplane dp "$TMP/config.yaml"
wait_report cp 10 '.serving_generation == 1' "set served"

# ---- [closed, good]: every client served ---------------------------------------

client rate --connect "$LISTEN" --concurrency 4 --seconds 2 --fail-on-error \
	--json --timeout 30 >"$TMP/rate.json" ||
	fail "short connections through [closed, good]: $(cat "$TMP/rate.json")"
ok=$(json_get conns_ok <"$TMP/rate.json")
log "$ok short connections, all served"
assert_ge "$ok" 200 "short connections served"
assert_eq "$(json_get conns_failed <"$TMP/rate.json")" 0 "short connections failed"
wait_report cp 10 "$(be_field "$GOOD" connections_total) == $ok" \
	"every connection ended on the good backend"
# round robin sends at least every other first dial to the closed port
assert_ge "$(report_get cp "$(be_field "$C1" dials_failed)")" $((ok / 2)) \
	"dials_failed of the closed backend"
assert_eq "$(report_get cp "$(be_field "$C1" dials_ok)")" 0 "dials_ok of the closed backend"
assert_eq "$(report_get cp '.errors.dial_failed')" 0 "clients given up"

# ---- [closed]: the client is closed --------------------------------------------

cp_ctl cp "set $C1"
wait_report cp 10 '.serving_generation == 2' "set [closed] served"
f0=$(report_get cp "$(be_field "$C1" dials_failed)")
rc=0
client hold --connect "$LISTEN" --conns 5 --echo-check --json --timeout 20 \
	>"$TMP/none.json" || rc=$?
assert_eq "$rc" 1 "clients with only a closed backend: exit status"
assert_eq "$(json_get conns_ok <"$TMP/none.json")" 0 "clients served by a closed backend"
assert_eq "$(json_get conns_connected <"$TMP/none.json")" 5 "clients accepted, then closed"
wait_report cp 10 '.errors.dial_failed == 5' "dial_failed errors"
assert_eq "$(report_get cp "$(be_field "$C1" dials_failed)")" $((f0 + 5)) \
	"one dial per client (no backend left to retry)"

# ---- 5 closed backends: 3 dials per client, then closed ------------------------

cp_ctl cp "set $(IFS=,; echo "${CLOSED[*]}")"
wait_report cp 10 '.serving_generation == 3' "set of 5 closed served"
failed_sum="([.backends[] | .dials_failed] | add)"
s0=$(report_get cp "$failed_sum")
rc=0
client hold --connect "$LISTEN" --conns 10 --echo-check --json --timeout 20 \
	>"$TMP/five.json" || rc=$?
assert_eq "$rc" 1 "clients with 5 closed backends: exit status"
assert_eq "$(json_get conns_ok <"$TMP/five.json")" 0 "clients served"
wait_report cp 10 '.errors.dial_failed == 15' "dial_failed errors"
report_fresh cp
assert_eq "$(report_get cp "$failed_sum")" $((s0 + 30)) \
	"dials for 10 clients (first try + 2 retries each)"
assert_eq "$(report_get cp '.errors.dial_failed')" 15 "dial_failed errors"

dp_assert_idle cp
stop_clean dp
