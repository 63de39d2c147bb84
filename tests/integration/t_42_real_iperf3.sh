#!/usr/bin/env bash
#
# Guards forwarding for iperf3 (a control connection plus a data stream to
# the same server) through the data plane, both directions (-R): each 3 s
# run must complete, and the data plane must have carried at least the
# bytes iperf3 reports for its stream. (iperf3 checks no content: curl and
# redis do that in t_40 and t_41.)

set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
tfwd_tmpdir
require_bin tcpfwd-dataplane tfwd-cp
require_cmd iperf3

IP=$(free_port)
tfwd_start iperf iperf3 -s -p "$IP" -B 127.0.0.2
wait_port 127.0.0.2 "$IP" 20

write_config "$TMP/config.yaml"
start_cp cp --set "127.0.0.2:$IP"
start_dataplane dp "$TMP/config.yaml"
wait_report cp 10 '.serving_generation == 1' "set served"

for dir in up down; do
	flag=
	[ $dir = down ] && flag=-R
	timeout 30 iperf3 -c "${LISTEN%:*}" -p "${LISTEN##*:}" -t 3 $flag -J \
		>"$TMP/$dir.json" 2>&1 || fail "iperf3 $dir: $(tail -n 20 "$TMP/$dir.json")"
	bytes=$(jq -r '.end.sum_received.bytes' "$TMP/$dir.json")
	gbps=$(jq -r '.end.sum_received.bits_per_second / 1e9 * 100 | floor / 100' "$TMP/$dir.json")
	log "iperf3 $dir: $bytes bytes received, $gbps Gbit/s"
	assert_ge "$bytes" 1000000 "iperf3 $dir: bytes received"
	assert_eq "$(jq -r '.error // "none"' "$TMP/$dir.json")" none "iperf3 $dir: error"
	case $dir in
	up) up_bytes=$bytes ;;
	down) down_bytes=$bytes ;;
	esac
done

dp_assert_idle cp
# bytes_in: client -> server (up); bytes_out: server -> client (-R)
assert_ge "$(report_get cp '.bytes_in')" "$up_bytes" "bytes carried up"
assert_ge "$(report_get cp '.bytes_out')" "$down_bytes" "bytes carried down"
# iperf3 ends each run by closing its data stream with bytes unread: one
# reset per run (backend side up, client side down), nothing else
assert_le "$(report_get cp '.errors.backend_reset + .errors.client_reset')" 2 \
	"resets (iperf3 tears its data streams down)"
assert_eq "$(report_get cp '([.errors[]] | add) - .errors.backend_reset - .errors.client_reset')" 0 \
	"other errors"
stop_clean dp
