#!/usr/bin/env bash
#
# Guards forwarding for a real client and server: curl through the data
# plane to Python's http.server on 127.0.0.2 downloads files (8 MiB, and 64
# small ones over one keep-alive curl run, and 8 downloads at once) that
# must be byte for byte the files served.

set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
tfwd_tmpdir
require_bin tcpfwd-dataplane tfwd-cp
require_cmd curl python3 cmp

WWW=$TMP/www
mkdir -p "$WWW"
head -c $((8 * 1024 * 1024)) /dev/urandom >"$WWW/big.bin"
for i in $(seq 1 64); do
	head -c $((RANDOM * 3 + i)) /dev/urandom >"$WWW/s$i.bin"
done
HP=$(free_port)
HTTP=127.0.0.2:$HP
tfwd_start www python3 -m http.server "$HP" --bind 127.0.0.2 --directory "$WWW"
wait_port 127.0.0.2 "$HP" 20

# http.server listens with a backlog of 5: a SYN beyond it is retried by
# the kernel after 1 s, which a 1 s dial_timeout would not wait for
DIAL_TIMEOUT=5s write_config "$TMP/config.yaml"
start_cp cp --set "$HTTP"
start_dataplane dp "$TMP/config.yaml"
wait_report cp 10 '.serving_generation == 1' "set served"
URL=http://$LISTEN

curl -sS --fail --max-time 30 -o "$TMP/big.out" "$URL/big.bin" ||
	fail "curl big.bin through the data plane"
cmp "$WWW/big.bin" "$TMP/big.out" || fail "big.bin differs"

args=()
for i in $(seq 1 64); do
	args+=(-o "$TMP/s$i.out" "$URL/s$i.bin")
done
curl -sS --fail --max-time 30 "${args[@]}" || fail "curl of 64 small files"
for i in $(seq 1 64); do
	cmp "$WWW/s$i.bin" "$TMP/s$i.out" || fail "s$i.bin differs"
done

pids=()
for i in $(seq 1 8); do
	curl -sS --fail --max-time 30 -o "$TMP/p$i.out" "$URL/big.bin" \
		2>"$TMP/p$i.err" &
	pids+=($!)
done
for i in $(seq 1 8); do
	wait "${pids[$((i - 1))]}" || fail "parallel curl $i failed: $(cat "$TMP/p$i.err")"
	cmp "$WWW/big.bin" "$TMP/p$i.out" || fail "parallel download $i differs"
done

dp_assert_idle cp
assert_ge "$(report_get cp '.bytes_out')" $((9 * 8 * 1024 * 1024)) "bytes to the clients"
assert_eq "$(report_get cp '[.errors[]] | add')" 0 "errors"
stop_clean dp
