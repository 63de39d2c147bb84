#!/usr/bin/env bash
#
# Guards forwarding for a real request/response protocol: redis-cli and
# redis-benchmark through the data plane to a redis-server on 127.0.0.2. A
# 1 MiB value set and read back must match byte for byte; redis-benchmark
# (50 clients, plain and pipelined) must finish without errors, and the
# server must have seen the clients' connections through the data plane.

set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
tfwd_tmpdir
require_bin tcpfwd-dataplane tfwd-cp
require_cmd redis-server redis-cli redis-benchmark

RP=$(free_port)
tfwd_start redis redis-server --port "$RP" --bind 127.0.0.2 --save '' \
	--appendonly no --daemonize no --dir "$TMP"
wait_port 127.0.0.2 "$RP" 20

write_config "$TMP/config.yaml"
start_cp cp --set "127.0.0.2:$RP"
start_dataplane dp "$TMP/config.yaml"
wait_report cp 10 '.serving_generation == 1' "set served"
H=${LISTEN%:*}
P=${LISTEN##*:}
rcli() {
	timeout 30 redis-cli -h "$H" -p "$P" "$@"
}

assert_eq "$(rcli PING)" PONG "PING through the data plane"
head -c $((768 * 1024)) /dev/urandom | base64 -w 0 >"$TMP/value"
assert_eq "$(rcli -x SET big <"$TMP/value")" OK "SET of a 1 MiB value"
size=$(stat -c %s "$TMP/value")
rcli GET big >"$TMP/got.nl"
assert_eq "$(stat -c %s "$TMP/got.nl")" $((size + 1)) "GET: value and newline"
head -c "$size" "$TMP/got.nl" >"$TMP/got"
cmp "$TMP/value" "$TMP/got" || fail "the value read back differs"
assert_eq "$(rcli STRLEN big)" "$(stat -c %s "$TMP/value")" "STRLEN"

for pipeline in 1 16; do
	timeout 50 redis-benchmark -h "$H" -p "$P" -c 50 -n 20000 -P $pipeline \
		-t set,get,incr,lpush,lpop -q >"$TMP/bench$pipeline.txt" 2>&1 ||
		fail "redis-benchmark -P $pipeline: $(tail -n 5 "$TMP/bench$pipeline.txt")"
	log "redis-benchmark -P $pipeline: $(tr '\r' '\n' <"$TMP/bench$pipeline.txt" |
		grep -c 'requests per second') tests done"
	assert_eq "$(tr '\r' '\n' <"$TMP/bench$pipeline.txt" | grep -c 'requests per second')" 5 \
		"redis-benchmark -P $pipeline: tests completed"
	! grep -Eqi 'error|refused|reset' "$TMP/bench$pipeline.txt" ||
		fail "redis-benchmark -P $pipeline reported errors: $(grep -Ei 'error|refused|reset' "$TMP/bench$pipeline.txt" | head -n 3)"
done
assert_eq "$(rcli DBSIZE)" "$(timeout 10 redis-cli -h 127.0.0.2 -p "$RP" DBSIZE)" \
	"DBSIZE through the data plane and direct"

dp_assert_idle cp
conns=$(timeout 10 redis-cli -h 127.0.0.2 -p "$RP" INFO stats | tr -d '\r' |
	sed -n 's/^total_connections_received://p')
assert_ge "$conns" 100 "connections the server received"
assert_eq "$(report_get cp '[.errors[]] | add')" 0 "errors"
stop_clean dp
