#!/usr/bin/env bash
#
# Guards an active-set change applied atomically: backend A leaves the set
# [A, B] for [B, C].
#  - A's idle pooled sockets close at once (the backend sees them go);
#  - A's open client connections keep working until drain_timeout, then are
#    closed and counted as drain_timeout errors;
#  - B, which stays, keeps its client connections and its pool untouched
#    (no socket of it is closed or re-dialled);
#  - new clients go to the new set only.

set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
tfwd_tmpdir
require_bin tcpfwd-dataplane tfwd-backend tfwd-client tfwd-cp

A=127.0.0.2:$(free_port)
B=127.0.0.3:$(free_port)
C=127.0.0.4:$(free_port)
start_backend a echo "$A"
start_backend b echo "$B"
start_backend c echo "$C"

POOL_TYPE=static POOL_SIZE=3 DRAIN_TIMEOUT=4s ALGORITHM=least_connections \
	write_config "$TMP/config.yaml"
start_cp cp --set "$A,$B"
start_dataplane dp "$TMP/config.yaml"
wait_report cp 10 ".serving_generation == 1 and $(be_field "$A" pool_idle) == 3 and
    $(be_field "$B" pool_idle) == 3" "set [A, B] served with full pools"

conns() {
	report_get cp "$(be_field "$1" connections)"
}

# h1 ends (with its echo check) inside the drain window, h2 after it
tfwd_start h1 "$TFWD_BIN/tfwd-client" hold --connect "$LISTEN" --conns 10 \
	--hold-ms 4000 --echo-check --ready-file "$TMP/r1" --json --timeout 40
wait_until 10 test -s "$TMP/r1" || fail "h1 not connected"
wait_report cp 10 '.connections_active == 10' "h1 held"
a1=$(conns "$A")
tfwd_start h2 "$TFWD_BIN/tfwd-client" hold --connect "$LISTEN" --conns 10 \
	--hold-ms 8000 --echo-check --ready-file "$TMP/r2" --json --timeout 40
wait_until 10 test -s "$TMP/r2" || fail "h2 not connected"
wait_report cp 10 ".connections_active == 20 and $(be_field "$A" pool_idle) == 3 and
    $(be_field "$B" pool_idle) == 3" "h2 held, pools refilled"
a_all=$(conns "$A")
b_all=$(conns "$B")
a2=$((a_all - a1))
b2=$((b_all - (10 - a1)))
log "A holds $a_all ($a2 of h2), B holds $b_all ($b2 of h2)"
assert_ge "$a2" 1 "h2 connections on A"
assert_ge "$b2" 1 "h2 connections on B"
# what the backends see: client connections plus 3 pooled sockets each
wait_output 5 = $((a_all + 3)) backend_stat a active ||
	fail "backend A holds $(backend_stat a active), want $((a_all + 3))"
wait_output 5 = $((b_all + 3)) backend_stat b active ||
	fail "backend B holds $(backend_stat b active), want $((b_all + 3))"
b_accepted=$(backend_stat b accepted)
a_total=$(report_get cp "$(be_field "$A" connections_total)")

# ---- the change --------------------------------------------------------------

cp_ctl cp "set $B,$C"
wait_report cp 10 '.serving_generation == 2' "set [B, C] served"
tfwd_running h1 || fail "h1 ended before the set change applied (machine too slow?)"
# A's pooled sockets: closed at once; its client connections: kept
wait_output 2 = "$a_all" backend_stat a active ||
	fail "backend A holds $(backend_stat a active) after the change, want $a_all (pooled ones closed)"
wait_report cp 5 "$(be_field "$A" pool_idle) == 0 and $(be_field "$A" active) == false and
    $(be_field "$A" connections) == $a_all" "A draining, pool closed"
wait_report cp 10 "$(be_field "$C" pool_idle) == 3" "C's pool filled"
# B untouched: same connections, same pool, nothing re-dialled
assert_eq "$(backend_stat b accepted)" "$b_accepted" "backend B: connections accepted since the change"
assert_eq "$(backend_stat b active)" $((b_all + 3)) "backend B: connections open"
assert_eq "$(conns "$B")" "$b_all" "B's client connections"

# new clients go to the new set
client hold --connect "$LISTEN" --conns 10 --echo-check --json --timeout 20 \
	>"$TMP/h3.json" || fail "new clients: $(cat "$TMP/h3.json")"
wait_report cp 10 "$(be_field "$C" connections_total) +
    $(be_field "$B" connections_total) == 30 - $a_total" "new clients on B and C"
assert_eq "$(report_get cp "$(be_field "$A" connections_total)")" "$a_total" \
	"connections on A since it left"

# A's connections work until drain_timeout: h1 echoes through them
tfwd_wait_exit h1 20
assert_eq "${TFWD_STATUS[h1]}" 0 "h1, echo checked inside the drain window ($(tail -n 1 "$TMP/h1.log"))"
report_fresh cp
assert_eq "$(report_get cp '.errors.drain_timeout')" 0 "drain_timeout errors before the deadline"
assert_eq "$(conns "$A")" "$a2" "A's connections left before the deadline"

# then closed at drain_timeout and counted; B's connections stay
# (a drained backend without connections leaves the report: // 0)
wait_report cp 10 ".errors.drain_timeout == $a2 and
    ($(be_field "$A" connections) // 0) == 0" "A's connections closed at drain_timeout"
assert_eq "$(conns "$B")" "$b2" "B's connections after A's drain"
tfwd_wait_exit h2 20
assert_eq "$(json_get conns_ok <"$TMP/h2.log")" "$b2" "h2 connections echoing (those on B)"
assert_eq "$(json_get conns_failed <"$TMP/h2.log")" "$a2" "h2 connections closed (those on A)"

dp_assert_idle cp
wait_output 5 = 0 backend_stat a active ||
	fail "backend A still holds $(backend_stat a active) connections"
stop_clean dp
