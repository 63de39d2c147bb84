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
start_cp cp --set "$A"
start_dataplane dp "$TMP/config.yaml"
wait_report cp 10 ".serving_generation == 1 and $(be_field "$A" pool_idle) == 3" \
	"set [A] served with a full pool"
host=${LISTEN%:*}
port=${LISTEN##*:}

conns() {
	report_get cp "$(be_field "$1" connections)"
}
# echo_line FD TEXT: TEXT must come back on the interactive connection FD.
echo_line() {
	local line=
	printf '%s\n' "$2" >&"$1" || fail "fd $1: write failed"
	read -r -t 5 line <&"$1" || fail "fd $1: no echo of '$2'"
	assert_eq "$line" "$2" "fd $1: echo"
}

# three interactive connections, all on A (the only backend yet)
exec 5<>"/dev/tcp/$host/$port" 6<>"/dev/tcp/$host/$port" 7<>"/dev/tcp/$host/$port"
for fd in 5 6 7; do
	echo_line $fd "before $fd"
done

cp_ctl cp "set $A,$B"
wait_report cp 10 ".serving_generation == 2 and $(be_field "$B" pool_idle) == 3" \
	"set [A, B] served, B's pool filled"
# held through the change and past A's drain deadline
tfwd_start h2 "$TFWD_BIN/tfwd-client" hold --connect "$LISTEN" --conns 10 \
	--hold-ms 10000 --echo-check --ready-file "$TMP/r2" --json --timeout 40
wait_until 10 test -s "$TMP/r2" || fail "h2 not connected"
wait_report cp 10 ".connections_active == 13 and $(be_field "$A" pool_idle) == 3 and
    $(be_field "$B" pool_idle) == 3" "h2 held, pools refilled"
a_all=$(conns "$A")
b_all=$(conns "$B")
a2=$((a_all - 3))
log "A holds $a_all ($a2 of h2), B holds $b_all (of h2)"
assert_ge "$a2" 1 "h2 connections on A"
assert_ge "$b_all" 1 "h2 connections on B"
# what the backends see: client connections plus 3 pooled sockets each
wait_output 5 = $((a_all + 3)) backend_stat a active ||
	fail "backend A holds $(backend_stat a active), want $((a_all + 3))"
wait_output 5 = $((b_all + 3)) backend_stat b active ||
	fail "backend B holds $(backend_stat b active), want $((b_all + 3))"
b_accepted=$(backend_stat b accepted)
a_total=$(report_get cp "$(be_field "$A" connections_total)")

# ---- the change --------------------------------------------------------------

cp_ctl cp "set $B,$C"
wait_report cp 10 '.serving_generation == 3' "set [B, C] served"
# A's client connections keep working while they drain
for fd in 5 6 7; do
	echo_line $fd "draining $fd"
done
# A's pooled sockets: closed at once; its client connections: kept
wait_output 2 = "$a_all" backend_stat a active ||
	fail "backend A holds $(backend_stat a active) after the change, want $a_all (pooled ones closed)"
wait_report cp 5 "$(be_field "$A" pool_idle) == 0 and $(be_field "$A" active) == false and
    $(be_field "$A" connections) == $a_all" "A draining, pool closed"
assert_eq "$(report_get cp '.errors.drain_timeout')" 0 "drain_timeout errors before the deadline"
wait_report cp 10 "$(be_field "$C" pool_idle) == 3" "C's pool filled"
# B untouched: same connections, same pool, nothing re-dialled
assert_eq "$(backend_stat b accepted)" "$b_accepted" "backend B: connections accepted since the change"
assert_eq "$(backend_stat b active)" $((b_all + 3)) "backend B: connections open"
assert_eq "$(conns "$B")" "$b_all" "B's client connections"

# new clients go to the new set
client hold --connect "$LISTEN" --conns 10 --echo-check --json --timeout 20 \
	>"$TMP/h3.json" || fail "new clients: $(cat "$TMP/h3.json")"
wait_report cp 10 "$(be_field "$C" connections_total) +
    $(be_field "$B" connections_total) == 23 - $a_total" "new clients on B and C"
assert_eq "$(report_get cp "$(be_field "$A" connections_total)")" "$a_total" \
	"connections on A since it left"

# at drain_timeout A's connections are closed and counted; B's stay
# (a drained backend without connections leaves the report: // 0)
wait_report cp 10 ".errors.drain_timeout == $a_all and
    ($(be_field "$A" connections) // 0) == 0" "A's connections closed at drain_timeout"
tfwd_running h2 || fail "h2 ended before A's drain deadline (machine too slow?)"
assert_eq "$(conns "$B")" "$b_all" "B's connections after A's drain"
for fd in 5 6 7; do
	rc=0
	read -r -t 5 line <&$fd || rc=$?
	assert_eq "$rc" 1 "fd $fd: EOF after the drain (not a timeout)"
done
exec 5>&- 6>&- 7>&-
tfwd_wait_exit h2 20
assert_eq "$(json_get conns_ok <"$TMP/h2.log")" "$b_all" "h2 connections echoing (those on B)"
assert_eq "$(json_get conns_failed <"$TMP/h2.log")" "$a2" "h2 connections closed (those on A)"

dp_assert_idle cp
wait_output 5 = 0 backend_stat a active ||
	fail "backend A still holds $(backend_stat a active) connections"
stop_clean dp
