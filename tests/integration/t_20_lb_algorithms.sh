#!/usr/bin/env bash
#
# Guards the three balancing algorithms (pools.algorithm) as clients see
# them, through the real binary:
#  - round_robin spreads 300 connections over 3 backends 100/100/100;
#  - random reaches all three, none far from a third;
#  - least_connections, with backend A holding 50 long connections and B
#    none, sends every new connection to B.

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
start_cp cp --set "$A,$B,$C"
GEN=1

# dp_run NAME ALGORITHM: a data plane on a new port; $DP is its PID.
dp_run() {
	unset LISTEN ADMIN
	ALGORITHM=$2 write_config "$TMP/$1.yaml"
	start_dataplane "$1" "$TMP/$1.yaml"
	DP=$(tfwd_pid "$1")
	wait_report cp 10 ".pid == $DP and .serving_generation == $GEN" "$1 serving"
}
total() {
	report_get cp "$(be_field "$1" connections_total)"
}
# spread NAME: 300 connections, each echo checked, then counted per backend.
spread() {
	client hold --connect "$LISTEN" --conns 300 --echo-check --json --timeout 30 \
		>"$TMP/$1.json" || fail "$1: $(cat "$TMP/$1.json")"
	wait_report cp 10 ".pid == $DP and .connections_total == 300 and
	    .connections_active == 0" "$1: 300 connections done"
	log "$1: A $(total "$A"), B $(total "$B"), C $(total "$C")"
}

# ---- round_robin ---------------------------------------------------------------

dp_run rr round_robin
spread rr
for be in "$A" "$B" "$C"; do
	assert_ge "$(total "$be")" 98 "round_robin: connections on $be"
	assert_le "$(total "$be")" 102 "round_robin: connections on $be"
done
stop_clean rr

# ---- random -------------------------------------------------------------------

dp_run rnd random
spread rnd
# binomial(300, 1/3): 100 +- 8.2; 50 and 150 are 6 standard deviations out
for be in "$A" "$B" "$C"; do
	assert_ge "$(total "$be")" 50 "random: connections on $be"
	assert_le "$(total "$be")" 150 "random: connections on $be"
done
stop_clean rnd

# ---- least_connections ----------------------------------------------------------

GEN=2
cp_ctl cp "set $A"
dp_run lc least_connections
tfwd_start long "$TFWD_BIN/tfwd-client" hold --connect "$LISTEN" --conns 50 \
	--hold-ms 60000 --ready-file "$TMP/long.ready" --json --timeout 90
wait_until 10 test -s "$TMP/long.ready" || fail "long connections not up"
wait_report cp 10 "$(be_field "$A" connections) == 50" "A holds 50"
GEN=3
cp_ctl cp "set $A,$B"
wait_report cp 10 ".serving_generation == $GEN" "set [A, B] served"
client hold --connect "$LISTEN" --conns 30 --echo-check --json --timeout 30 \
	>"$TMP/lc.json" || fail "least_connections: $(cat "$TMP/lc.json")"
wait_report cp 10 ".connections_total == 80 and .connections_active == 50" \
	"least_connections: 30 new connections done"
log "least_connections: A $(total "$A"), B $(total "$B")"
assert_eq "$(total "$B")" 30 "least_connections: new connections on B"
assert_eq "$(total "$A")" 50 "least_connections: connections on A"
tfwd_stop long
dp_assert_idle cp
stop_clean lc
