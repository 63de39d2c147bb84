#!/usr/bin/env bash
#
# Guards SPEC 7.5 (half-close) over a lossy link: nft drops 2% of the
# segments between the data plane and the backends, both ways, so FINs and
# the data before them are retransmitted and arrive late.
#  - client FIN first, 12 connections at once: 4 to a verify backend and 4
#    to a sink (8 MiB each; their reply comes only after our FIN), 4 to a
#    slow echo that answers 300 ms after the data, long after our FIN:
#    every reply is whole and right;
#  - backend FIN first: a source backend sends 4 MiB then its FIN; the
#    client reads to EOF (the FIN came through) and then still sends 8 MiB,
#    every byte of which must reach the backend, then closes;
#  - no error counted by the data plane, nothing left open, fds back to
#    the baseline, exit 0.

set -euo pipefail
# shellcheck source=tests/faults/lib.sh
. "$(dirname "$0")/lib.sh"
fault_requires tcpfwd-dataplane tfwd-backend tfwd-client tfwd-cp
fault_netns "$@"

P=$((20000 + RANDOM % 10000))
VERIFY=$NET.10:$P SINK=$NET.11:$P SLOW=$NET.12:$P SOURCE=$NET.13:$P
start_back_backend verify verify "$VERIFY"
start_back_backend sink sink "$SINK"
start_back_backend slow echo "$SLOW" --delay-ms 300
start_back_backend source source "$SOURCE"
lossy_back 2

write_config "$TMP/config.yaml"
start_cp cp --set "$VERIFY"
start_dataplane dp "$TMP/config.yaml"
DP=$(tfwd_pid dp)
wait_report cp 10 '.serving_generation == 1' "set served"
FD0=$(fd_count_nonpipe "$DP")
GEN=1
serve() {
	GEN=$((GEN + 1))
	cp_ctl cp "set $1"
	wait_report cp 10 ".serving_generation == $GEN" "set $GEN served"
}

# ---- client FIN first, 12 at once -------------------------------------------
# round robin over three kinds of backend at once
serve "$VERIFY,$SINK,$SLOW"
MB8=$((8 * 1024 * 1024))
t0=$(date +%s%N)
for i in $(seq 1 12); do
	tfwd_start "hc$i" "$TFWD_BIN/tfwd-client" halfclose --connect "$LISTEN" \
		--bytes $MB8 --json --timeout 40
done
n_verify=0 n_sink=0 n_echo=0
for i in $(seq 1 12); do
	tfwd_wait_exit "hc$i" 45
	j=$(grep '^{' "$TMP/hc$i.log" | tail -n 1)
	[ "${TFWD_STATUS[hc$i]}" = 0 ] || fail "half-close client $i: $j"
	case $(jq -r .reply <<<"$j") in
	"OK $MB8") n_verify=$((n_verify + 1)) ;;
	"COUNT $MB8 SUM"*) n_sink=$((n_sink + 1)) ;;
	echo)
		assert_eq "$(jq -r .bytes_back <<<"$j")" "$MB8" "slow echo: bytes back"
		assert_ge "$(jq -r .back_after_fin <<<"$j")" 1 "slow echo: bytes after our FIN"
		n_echo=$((n_echo + 1))
		;;
	*) fail "half-close client $i: unexpected reply: $j" ;;
	esac
done
hc_ms=$(elapsed_ms "$t0")
log "client FIN first: $n_verify verify, $n_sink sink, $n_echo slow echo replies, all right, in $hc_ms ms"
assert_eq $((n_verify + n_sink + n_echo)) 12 "right replies after our FIN"
assert_ge "$n_verify" 1 "verify replies"
assert_ge "$n_sink" 1 "sink replies"
assert_ge "$n_echo" 1 "slow echo replies"

# ---- backend FIN first --------------------------------------------------------
serve "$SOURCE"
in0=$(backend_stat source bytes_in)
CMD="SEND $((4 * 1024 * 1024)) 0x5eed"
python3 - "${LISTEN%:*}" "${LISTEN##*:}" "$CMD" >"$TMP/bfin.out" 2>&1 <<'EOF' ||
import socket, sys, time
host, port, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.create_connection((host, port), timeout=20)
s.sendall((cmd + "\n").encode())
got = 0
while True:
    b = s.recv(1 << 16)
    if not b:
        break
    got += len(b)
print("got", got)
# the backend's FIN came through; our direction must still flow
chunk = b"x" * 65536
for _ in range(128):
    s.sendall(chunk)
s.shutdown(socket.SHUT_WR)
s.settimeout(20)
rest = s.recv(1)
print("after our FIN:", len(rest))
s.close()
EOF
	fail "backend FIN first: $(cat "$TMP/bfin.out")"
assert_contains "$TMP/bfin.out" "^got $((4 * 1024 * 1024))\$" "bytes before the backend's FIN"
want=$((in0 + ${#CMD} + 1 + 8 * 1024 * 1024))
wait_output 20 = "$want" backend_stat source bytes_in ||
	fail "the source got $(backend_stat source bytes_in) bytes, want $want"
wait_output 10 = 0 backend_stat source active ||
	fail "the source still holds the connection after our FIN"
log "backend FIN first: 4 MiB down to EOF, then 8 MiB up, all delivered"

dp_assert_idle cp
assert_eq "$(report_get cp '[.errors[]] | add')" 0 "data-plane errors"
assert_fds_back "$DP" "$FD0" "data plane descriptors"
drops=$(lossy_drops)
log "segments dropped by nft: $drops"
assert_ge "$drops" 10 "segments dropped on the way"
fault_result "halfclose_conns=13 lost=0 loss=2% segments_dropped=$drops client_fin_first_ms=$hc_ms backend_fin_then_up_bytes=8388608"
stop_clean dp
