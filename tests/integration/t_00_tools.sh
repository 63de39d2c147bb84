#!/usr/bin/env bash
#
# Guards the test tools themselves, with no forwarder in between: every
# tfwd-client mode passes against the matching tfwd-backend mode, and every
# verifier really fails on a corrupted, cut or reset stream (a checker that
# cannot fail proves nothing). Also: timeouts exit 3, backends exit 0 on
# SIGTERM and hold no connection once the clients are gone.

set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
tfwd_tmpdir
require_bin tfwd-backend tfwd-client

P_ECHO=$(free_port)
P_VERIFY=$(free_port)
P_SINK=$(free_port)
P_SOURCE=$(free_port)
P_GREET=$(free_port)
P_SLOW=$(free_port)
P_BADECHO=$(free_port)
P_BADSRC=$(free_port)
P_CLOSE=$(free_port)
P_RST=$(free_port)
P_NONE=$(free_port)

start_backend echo echo 127.0.0.1:$P_ECHO --threads 2
start_backend verify verify 127.0.0.2:$P_VERIFY
start_backend sink sink 127.0.0.1:$P_SINK
start_backend source source 127.0.0.1:$P_SOURCE
start_backend greet greet 127.0.0.1:$P_GREET
start_backend slow echo 127.0.0.1:$P_SLOW --delay-ms 300
start_backend badecho echo 127.0.0.1:$P_BADECHO --corrupt-at 1000003
start_backend badsrc source 127.0.0.1:$P_BADSRC --corrupt-at 5000001
start_backend close echo 127.0.0.1:$P_CLOSE --close-after-bytes 100000
start_backend rst echo 127.0.0.1:$P_RST --rst-after-bytes 100000

# run_ok NAME CLIENT-ARGS...: the client must exit 0; its JSON goes to
# $TMP/NAME.json.
run_ok() {
	local name=$1 rc=0
	shift
	client "$@" --json >"$TMP/$name.json" 2>"$TMP/$name.err" || rc=$?
	[ "$rc" = 0 ] || fail "$name: exit $rc: $(cat "$TMP/$name.json" "$TMP/$name.err")"
	log "$name: $(cat "$TMP/$name.json")"
}

# run_status NAME STATUS CLIENT-ARGS...: the client must exit STATUS.
run_status() {
	local name=$1 want=$2 rc=0
	shift 2
	client "$@" --json >"$TMP/$name.json" 2>"$TMP/$name.err" || rc=$?
	[ "$rc" = "$want" ] || fail "$name: expected exit $want, got $rc: $(cat "$TMP/$name.json" "$TMP/$name.err")"
	log "$name (exit $rc as expected): $(cat "$TMP/$name.json")"
}

get() {
	json_get "$2" <"$TMP/$1.json"
}

# ---- every mode passes ------------------------------------------------------

M64=$((64 * 1024 * 1024))

run_ok bulk_both bulk --connect 127.0.0.1:$P_ECHO --bytes 64M --direction both
assert_eq "$(get bulk_both bytes_up)" $M64 "bulk both: bytes up"
assert_eq "$(get bulk_both bytes_down)" $M64 "bulk both: bytes echoed"

run_ok bulk_both8 bulk --connect 127.0.0.1:$P_ECHO --bytes 8M --streams 8 \
	--direction both --bind 127.0.0.3
assert_eq "$(get bulk_both8 streams_ok)" 8 "bulk both x8: streams ok"

run_ok bulk_verify bulk --connect 127.0.0.2:$P_VERIFY --bytes 64M --streams 4 \
	--direction up
assert_eq "$(backend_stat verify verify_ok)" 4 "verify backend: streams OK"

run_ok bulk_sink bulk --connect 127.0.0.1:$P_SINK --bytes 16M --streams 2 \
	--direction up
run_ok bulk_down bulk --connect 127.0.0.1:$P_SOURCE --bytes 64M --direction down
assert_eq "$(get bulk_down bytes_down)" $M64 "bulk down: bytes"

run_ok bulk_timed bulk --connect 127.0.0.1:$P_ECHO --seconds 1 --streams 2 \
	--direction both
assert_ge "$(get bulk_timed bytes_down)" 1 "bulk timed: bytes"

run_ok hold hold --connect 127.0.0.1:$P_ECHO --conns 500 --hold-ms 200 --echo-check
assert_eq "$(get hold conns_ok)" 500 "hold: connections echoing"

# a held set seen from the backend while it is held (--ready-file)
tfwd_start holder "$TFWD_BIN/tfwd-client" hold --connect 127.0.0.1:$P_ECHO \
	--conns 1000 --hold-ms 1500 --echo-check --ready-file "$TMP/ready" --json
wait_until 10 test -s "$TMP/ready" || fail "hold: no ready file"
assert_contains "$TMP/ready" '^connected=1000$' "hold: ready file"
assert_eq "$(backend_stat echo active)" 1000 "echo backend: held connections"
tfwd_wait_exit holder 15
assert_eq "${TFWD_STATUS[holder]}" 0 "hold in the background: exit status"

run_ok rate rate --connect 127.0.0.1:$P_ECHO --concurrency 16 --seconds 2 \
	--fail-on-error
assert_ge "$(get rate conns_ok)" 1000 "rate: connections"
assert_eq "$(get rate conns_failed)" 0 "rate: failures"

run_ok latency latency --connect 127.0.0.1:$P_ECHO --count 1000 --size 64
assert_eq "$(get latency count)" 1000 "latency: samples"

# the slow echo answers 300 ms after the data, so after our FIN: only a
# half-close that keeps the other direction open brings it back
run_ok halfclose_echo halfclose --connect 127.0.0.1:$P_SLOW --bytes 1M
assert_eq "$(get halfclose_echo back_after_fin)" 1048576 "halfclose: echo after FIN"
run_ok halfclose_sink halfclose --connect 127.0.0.1:$P_SINK --bytes 4M
run_ok halfclose_verify halfclose --connect 127.0.0.2:$P_VERIFY --bytes 4M

run_ok greet greet --connect 127.0.0.1:$P_GREET --expect "HELLO $P_GREET"

# ---- every verifier can fail ------------------------------------------------

run_status bad_echo 1 bulk --connect 127.0.0.1:$P_BADECHO --bytes 8M --direction both
assert_eq "$(get bad_echo mismatch_at)" 1000003 "corrupted echo: offset"

run_status bad_source 1 bulk --connect 127.0.0.1:$P_BADSRC --bytes 8M --direction down
assert_eq "$(get bad_source mismatch_at)" 5000001 "corrupted source: offset"

run_status bad_verify 1 bulk --connect 127.0.0.2:$P_VERIFY --bytes 8M \
	--direction up --corrupt-at 4242
assert_eq "$(get bad_verify mismatch_at)" 4242 "verify backend: offset"
assert_eq "$(backend_stat verify verify_bad)" 1 "verify backend: BAD replies"

run_status bad_sink 1 bulk --connect 127.0.0.1:$P_SINK --bytes 8M \
	--direction up --corrupt-at 7
assert_eq "$(get bad_sink errors | tr -d '{')" '"mismatch":1' "sink checksum"

run_status bad_halfclose 1 halfclose --connect 127.0.0.1:$P_BADECHO --bytes 2M
run_status bad_latency 1 latency --connect 127.0.0.1:$P_BADECHO --count 10 \
	--warmup 0 --size 64 --corrupt-at 3
run_status bad_hold 1 hold --connect 127.0.0.1:$P_ECHO --conns 20 --echo-check \
	--corrupt-at 5
assert_eq "$(get bad_hold conns_ok)" 19 "hold: one corrupted message"
run_status bad_greet 1 greet --connect 127.0.0.1:$P_GREET --expect "HELLO 1"

run_status cut 1 bulk --connect 127.0.0.1:$P_CLOSE --bytes 1M --direction both
assert_eq "$(get cut bytes_down)" 100000 "close-after-bytes: bytes"
run_status reset 1 bulk --connect 127.0.0.1:$P_RST --bytes 1M --direction both
assert_eq "$(get reset errors | tr -d '{')" '"reset":1' "rst-after-bytes"

run_status refused 1 bulk --connect 127.0.0.1:$P_NONE --bytes 1M
assert_eq "$(get refused errors | tr -d '{')" '"refused":1' "refused"
run_status refused_rate 1 rate --connect 127.0.0.1:$P_NONE --seconds 0.3 \
	--concurrency 2

run_status timeout 3 bulk --connect 127.0.0.1:$P_ECHO --seconds 30 --timeout 1
run_status timeout_hold 3 hold --connect 127.0.0.1:$P_ECHO --conns 5 \
	--hold-ms 5000 --timeout 0.5

# ---- the backends end clean -------------------------------------------------

for b in echo verify sink source greet slow; do
	wait_until 5 test "$(backend_stat $b active)" = 0 ||
		fail "backend $b still holds $(backend_stat $b active) connections"
done
assert_ge "$(backend_stat echo accepted)" 1500 "echo backend: accepted"
for b in echo verify sink source greet slow badecho badsrc close rst; do
	tfwd_stop $b
	assert_eq "${TFWD_STATUS[$b]}" 0 "exit status of backend $b"
done
log "all tool checks passed"
