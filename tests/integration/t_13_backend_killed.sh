#!/usr/bin/env bash
#
# Guards SPEC 7.4: a backend that dies mid-stream (kill -9) closes only its
# own connections, both ways (their clients see EOF or a reset), while the
# streams and held connections on the other backend finish byte-exact and
# untouched. The report counts backend_reset errors and frees the dead
# backend's connection count; new clients still get served (the dead
# backend is still in the set: its refused dials are retried elsewhere).

set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
tfwd_tmpdir
require_bin tcpfwd-dataplane tfwd-backend tfwd-client tfwd-cp

A=127.0.0.2:$(free_port)
B=127.0.0.3:$(free_port)
start_backend a echo "$A"
start_backend b echo "$B"

ALGORITHM=least_connections write_config "$TMP/config.yaml"
start_cp cp --set "$A,$B"
start_dataplane dp "$TMP/config.yaml"
wait_report cp 10 '.serving_generation == 1' "set served"

conns() {
	report_get cp "$(be_field "$1" connections)"
}

# 4 bulk streams both ways that run 5 s, then 10 held connections
tfwd_start bulk "$TFWD_BIN/tfwd-client" bulk --connect "$LISTEN" \
	--streams 4 --seconds 5 --direction both --json --timeout 40
wait_report cp 10 '.connections_active == 4' "bulk streams open"
bulk_a=$(conns "$A")
bulk_b=$(conns "$B")
tfwd_start hold "$TFWD_BIN/tfwd-client" hold --connect "$LISTEN" \
	--conns 10 --hold-ms 6000 --echo-check --json --timeout 40
wait_report cp 10 '.connections_active == 14' "held connections open"
hold_a=$(($(conns "$A") - bulk_a))
hold_b=$(($(conns "$B") - bulk_b))
log "on A: $bulk_a streams, $hold_a held; on B: $bulk_b streams, $hold_b held"
assert_ge "$bulk_a" 1 "bulk streams on A"
assert_ge "$bulk_b" 1 "bulk streams on B"
assert_ge "$hold_a" 1 "held connections on A"
assert_ge "$hold_b" 1 "held connections on B"
# bytes are flowing to A when it dies
in0=$(report_get cp "$(be_field "$A" bytes_in)")
wait_report cp 10 "$(be_field "$A" bytes_in) > $in0" "bytes flowing to A"

tfwd_kill a KILL
# A's connections are gone from the data plane, B's are all still there
wait_report cp 10 "$(be_field "$A" connections) == 0" "A's connections closed"
assert_eq "$(conns "$B")" $((bulk_b + hold_b)) "B's connections after A died"

tfwd_wait_exit bulk 40
tfwd_wait_exit hold 40
log "bulk: $(tail -n 1 "$TMP/bulk.log")"
log "hold: $(tail -n 1 "$TMP/hold.log")"
assert_eq "${TFWD_STATUS[bulk]}" 1 "bulk exit status (streams on A failed)"
bulk_json=$(grep '^{' "$TMP/bulk.log" | tail -n 1)
hold_json=$(grep '^{' "$TMP/hold.log" | tail -n 1)
assert_eq "$(json_get streams_ok <<<"$bulk_json")" "$bulk_b" "bulk streams verified (those on B)"
assert_eq "$(json_get streams_failed <<<"$bulk_json")" "$bulk_a" "bulk streams cut (those on A)"
# the cut streams saw an end (EOF or reset), not a timeout or a mismatch
errs=$(jq -r '.errors | keys | join(",")' <<<"$bulk_json")
case ",$errs," in
*mismatch* | *timeout* | *",io,"*) fail "bulk: unexpected error kinds: $errs" ;;
esac
assert_eq "$(json_get conns_ok <<<"$hold_json")" "$hold_b" "held connections echoing (those on B)"
assert_eq "$(json_get conns_failed <<<"$hold_json")" "$hold_a" "held connections closed (those on A)"

wait_report cp 10 '.errors.backend_reset >= 1' "backend_reset counted"
assert_le "$(report_get cp '.errors.backend_reset')" $((bulk_a + hold_a)) \
	"backend_reset at most A's connections"

# new clients: A refuses, each is retried on B
client hold --connect "$LISTEN" --conns 20 --echo-check --json --timeout 30 \
	>"$TMP/after.json" || fail "new clients after A died: $(cat "$TMP/after.json")"
wait_report cp 10 "$(be_field "$A" dials_failed) >= 1" "A's refused dials counted"
assert_eq "$(report_get cp '.errors.dial_failed')" 0 "clients given up"

dp_assert_idle cp
wait_output 10 = 0 backend_stat b active ||
	fail "backend B still holds connections"
stop_clean dp
