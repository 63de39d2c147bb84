#!/usr/bin/env bash
#
# Guards issue 5's "backend that resets mid-stream" (SPEC 7.4), two ways,
# while 6 bulk streams run both ways over A, R and G (round robin, 2 each):
#	A: the network: 1.5 s in, nft in the backends' namespace answers
#	   every segment the data plane sends to A with a TCP reset (reject
#	   with tcp reset), as a middlebox or a rebooted host would;
#	R: the application: tfwd-backend --rst-after-bytes 8M resets each
#	   connection after 8 MiB.
#  - the streams on A and R end at once (within 1 s of the reset, long
#    before idle_timeout 10m), each client sees a reset or an end, never a
#    hang or a corrupted byte; errors.backend_reset counts them;
#  - the streams on G finish byte-exact;
#  - afterwards short connections through [R, G] are all served (R resets
#    only past 8 MiB): the data plane holds nothing against R;
#  - fds back to the baseline, exit 0.

set -euo pipefail
# shellcheck source=tests/faults/lib.sh
. "$(dirname "$0")/lib.sh"
fault_requires tcpfwd-dataplane tfwd-backend tfwd-client tfwd-cp
fault_netns "$@"

P=$((20000 + RANDOM % 10000))
A=$NET.10:$P R=$NET.11:$P G=$NET.12:$P
start_back_backend a echo "$A"
start_back_backend r echo "$R" --rst-after-bytes $((8 * 1024 * 1024))
start_back_backend g echo "$G"
ALGORITHM=round_robin write_config "$TMP/config.yaml"
start_cp cp --set "$A,$R,$G"
start_dataplane dp "$TMP/config.yaml"
DP=$(tfwd_pid dp)
wait_report cp 10 '.serving_generation == 1' "set served"
FD0=$(fd_count_nonpipe "$DP")

tfwd_start bulk "$TFWD_BIN/tfwd-client" bulk --connect "$LISTEN" \
	--streams 6 --seconds 5 --direction both --json --timeout 40
wait_report cp 10 '.connections_active >= 4' "streams open"
report_fresh cp
for x in A R G; do
	eval "on_$x=\$(report_get cp \"\$(be_field \"\${!x}\" connections_total)\")"
done
# shellcheck disable=SC2154 # set by the eval above
log "streams: $on_A on A, $on_R on R, $on_G on G"
sleep 1
nft_back <<EOF
table inet f12 {
	chain input {
		type filter hook input priority 0; policy accept;
		ip daddr ${A%:*} tcp dport $P tcp flags & (syn | rst) == 0 counter reject with tcp reset
	}
}
EOF
t0=$(date +%s%N)
wait_report cp 5 "$(be_field "$A" connections) == 0 and $(be_field "$R" connections) == 0" \
	"streams on A and R closed"
cut_ms=$(elapsed_ms "$t0")
log "streams on A and R gone $cut_ms ms after A began resetting (reports once a second)"
assert_le "$cut_ms" 2500 "ms until the reset streams were closed"
assert_eq "$(report_get cp "$(be_field "$G" connections)")" "$on_G" "G's streams after the resets"

tfwd_wait_exit bulk 40
j=$(grep '^{' "$TMP/bulk.log" | tail -n 1)
log "bulk: $j"
assert_eq "$(json_get streams_failed <<<"$j")" $((on_A + on_R)) "streams cut (those on A and R)"
assert_eq "$(json_get streams_ok <<<"$j")" "$on_G" "streams verified (those on G)"
errs=$(jq -r '.errors | keys | join(",")' <<<"$j")
case ",$errs," in
*mismatch* | *timeout*) fail "bulk: unexpected error kinds: $errs" ;;
esac
report_fresh cp
resets=$(report_get cp '.errors.backend_reset')
log "errors: $(report_get cp '.errors | with_entries(select(.value > 0)) | tostring')"
assert_ge "$resets" $((on_A + on_R)) "backend_reset errors"
assert_eq "$(report_get cp '.errors.idle_timeout')" 0 "idle_timeout closes"

# short echoes: R resets only past 8 MiB, so it serves them; A stays out
cp_ctl cp "set $R,$G"
wait_report cp 10 '.serving_generation == 2' "set [R, G] served"
client rate --connect "$LISTEN" --concurrency 4 --seconds 2 --fail-on-error \
	--json --timeout 30 >"$TMP/after.json" || fail "clients after the resets: $(cat "$TMP/after.json")"
nreset=$(back nft list table inet f12 | grep -o 'packets [0-9]*' | awk '{ print $2 }')
dp_assert_idle cp
assert_fds_back "$DP" "$FD0" "data plane descriptors"
fault_result "streams_reset=$((on_A + on_R)) closed_within_ms=$cut_ms streams_on_G=$on_G verified=$on_G lost_on_G=0 backend_reset=$resets nft_resets=$nreset"
stop_clean dp
