#!/usr/bin/env bash
#
# Guards half-close (SPEC 7.5): a FIN from one side is passed on with
# shutdown(SHUT_WR) and the other direction keeps flowing until its own FIN.
#  - client FIN first: the client sends, shuts its write side, and must still
#    get everything back: from a slow echo that answers 300 ms after the FIN,
#    and the replies that sink and verify backends send only after it;
#  - backend FIN first: a source backend sends 1 MiB then its FIN; the client
#    reads to EOF (the FIN came through), then still sends 4 MiB, all of which
#    must reach the backend, before closing.

set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
tfwd_tmpdir
require_bin tcpfwd-dataplane tfwd-backend tfwd-client tfwd-cp

SLOW=127.0.0.2:$(free_port)
SINK=127.0.0.3:$(free_port)
VERIFY=127.0.0.4:$(free_port)
SOURCE=127.0.0.5:$(free_port)
start_backend slow echo "$SLOW" --delay-ms 300
start_backend sink sink "$SINK"
start_backend verify verify "$VERIFY"
start_backend source source "$SOURCE"

write_config "$TMP/config.yaml"
start_cp cp --set "$SLOW"
start_dataplane dp "$TMP/config.yaml"
wait_report cp 10 '.serving_generation == 1' "set served"
GEN=1
serve() {
	GEN=$((GEN + 1))
	cp_ctl cp "set $1"
	wait_report cp 10 ".serving_generation == $GEN" "set $GEN served"
}

# halfclose NAME BYTES: tfwd-client halfclose through the data plane must
# pass; JSON in $TMP/NAME.json.
halfclose() {
	local rc=0
	client halfclose --connect "$LISTEN" --bytes "$2" --json --timeout 30 \
		>"$TMP/$1.json" 2>"$TMP/$1.err" || rc=$?
	[ "$rc" = 0 ] || fail "$1: exit $rc: $(cat "$TMP/$1.json" "$TMP/$1.err")"
	log "$1: $(cat "$TMP/$1.json")"
}

# ---- client FIN first ---------------------------------------------------------

halfclose slow $((1024 * 1024))
# the slow echo starts answering 300 ms after the data, long after our FIN
assert_ge "$(json_get back_after_fin <"$TMP/slow.json")" 1 "slow echo: bytes after FIN"
assert_eq "$(json_get bytes_back <"$TMP/slow.json")" $((1024 * 1024)) "slow echo: bytes back"

serve "$SINK"
halfclose sink $((4 * 1024 * 1024))
assert_contains "$TMP/sink.json" '"reply":"COUNT 4194304 SUM' "sink: reply after FIN"

serve "$VERIFY"
halfclose verify $((4 * 1024 * 1024))
assert_contains "$TMP/verify.json" '"reply":"OK 4194304"' "verify: reply after FIN"

# ---- backend FIN first -----------------------------------------------------------

serve "$SOURCE"
CMD='SEND 1048576 0x5eed'
host=${LISTEN%:*}
port=${LISTEN##*:}
# the same stream straight from the source, to compare with
(
	exec 3<>"/dev/tcp/${SOURCE%:*}/${SOURCE##*:}"
	printf '%s\n' "$CMD" >&3
	timeout 10 cat <&3 >"$TMP/direct.bin"
) || fail "direct fetch from the source failed"
assert_eq "$(stat -c %s "$TMP/direct.bin")" 1048576 "direct fetch: size"
in0=$(backend_stat source bytes_in)

exec 3<>"/dev/tcp/$host/$port" || fail "cannot connect to the data plane"
printf '%s\n' "$CMD" >&3
# cat ends at EOF: the backend's FIN passed through while our side is open
timeout 10 cat <&3 >"$TMP/forwarded.bin" ||
	fail "no EOF from the data plane after the backend's FIN"
cmp "$TMP/direct.bin" "$TMP/forwarded.bin" ||
	fail "the stream before the backend's FIN differs"
# the client -> backend direction still flows after the backend's FIN
rc=0
timeout 10 head -c $((4 * 1024 * 1024)) /dev/zero >&3 || rc=$?
assert_eq "$rc" 0 "writing 4 MiB after the backend's FIN"
exec 3>&-
want=$((in0 + ${#CMD} + 1 + 4 * 1024 * 1024))
wait_output 10 = "$want" backend_stat source bytes_in ||
	fail "source got $(backend_stat source bytes_in) bytes, want $want"
wait_output 10 = 0 backend_stat source active ||
	fail "the source still holds the connection after the client's FIN"
assert_eq "$(backend_stat source resets)" 0 "source: resets"
assert_eq "$(backend_stat source errors)" 0 "source: errors"

dp_assert_idle cp
assert_eq "$(report_get cp '[.errors[]] | add')" 0 "data-plane errors"
stop_clean dp
