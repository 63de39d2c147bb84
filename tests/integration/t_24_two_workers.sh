#!/usr/bin/env bash
#
# Guards dataplane.workers: 2 (two event-loop threads, one SO_REUSEPORT
# listener each) with least_connections, whose per-backend counts are shared
# by the workers: 1,000 echo-checked connections held across both workers
# are counted exactly (report total = sum over backends = what each backend
# sees), spread evenly, and all go back to 0; then a burst of short
# connections from both workers leaves every count at 0 and the per-backend
# totals adding up to the data plane's total.

set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
tfwd_tmpdir
require_bin tcpfwd-dataplane tfwd-backend tfwd-client tfwd-cp

N=1000
A=127.0.0.2:$(free_port)
B=127.0.0.3:$(free_port)
C=127.0.0.4:$(free_port)
start_backend a echo "$A"
start_backend b echo "$B"
start_backend c echo "$C"
WORKERS=2 ALGORITHM=least_connections write_config "$TMP/config.yaml"
start_cp cp --set "$A,$B,$C"
start_dataplane dp "$TMP/config.yaml"
DP=$(tfwd_pid dp)
wait_report cp 10 '.serving_generation == 1' "set served"
# one listener per worker
listeners=$(ss -Hltnp "sport = :${LISTEN##*:}" | grep -c "pid=$DP,")
assert_eq "$listeners" 2 "listening sockets of the data plane"

tfwd_start hold "$TFWD_BIN/tfwd-client" hold --connect "$LISTEN" --conns $N \
	--hold-ms 3000 --echo-check --ready-file "$TMP/ready" --json --timeout 40
wait_until 20 test -s "$TMP/ready" || fail "clients not connected"
assert_contains "$TMP/ready" "^connected=$N\$" "clients connected"
wait_report cp 10 ".connections_active == $N and $(backend_conns_total) == $N" \
	"$N held, counted once each over the backends"
for b in a b c; do
	case $b in a) addr=$A ;; b) addr=$B ;; c) addr=$C ;; esac
	n=$(report_get cp "$(be_field "$addr" connections)")
	log "backend $b: $n connections"
	assert_eq "$(backend_stat $b active)" "$n" "backend $b: connections it sees"
	assert_ge "$n" $((N / 3 - N / 30)) "least_connections spread: backend $b"
	assert_le "$n" $((N / 3 + N / 30)) "least_connections spread: backend $b"
done
tfwd_wait_exit hold 40
assert_eq "${TFWD_STATUS[hold]}" 0 "held connections echoed ($(tail -n 1 "$TMP/hold.log"))"
dp_assert_idle cp

# short connections from both workers at once
client rate --connect "$LISTEN" --concurrency 32 --seconds 2 --fail-on-error \
	--json --timeout 30 >"$TMP/rate.json" || fail "short connections: $(cat "$TMP/rate.json")"
ok=$(json_get conns_ok <"$TMP/rate.json")
log "$ok short connections"
dp_assert_idle cp
wait_report cp 10 ".connections_total == $((N + ok)) and
    ([.backends[].connections_total] | add) == $((N + ok))" "every connection counted once"
assert_eq "$(report_get cp '[.errors[]] | add')" 0 "errors"
stop_clean dp
