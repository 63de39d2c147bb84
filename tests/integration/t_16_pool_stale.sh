#!/usr/bin/env bash
#
# Guards SPEC 7.6: a pooled connection the backend has closed is never
# handed to a client. The backend closes every connection idle for 200 ms,
# so the data plane's static pool of 5 pre-connected sockets goes stale over
# and over; clients arriving at random moments for 5 s must all be served
# (echo checked) and mostly from the pool, and the report counts pool_stale.

set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
tfwd_tmpdir
require_bin tcpfwd-dataplane tfwd-backend tfwd-client tfwd-cp

ECHO=127.0.0.2:$(free_port)
start_backend echo echo "$ECHO" --idle-close-ms 200

POOL_TYPE=static POOL_SIZE=5 write_config "$TMP/config.yaml"
start_cp cp --set "$ECHO"
start_dataplane dp "$TMP/config.yaml"
wait_report cp 10 '.serving_generation == 1' "set served"
wait_report cp 10 "$(be_field "$ECHO" pool_target) == 5" "pool target"
# the backend has closed pooled sockets already
wait_report cp 10 '.errors.pool_stale >= 5' "stale pooled sockets seen"

# A fixed number of clients, not a fixed time: a slow (sanitizer) build
# must not run fewer of them.
n=0
end=$(($(date +%s%N) + 60000000000))
while [ "$n" -lt 25 ] && [ "$(date +%s%N)" -lt "$end" ]; do
	# 0 to 250 ms: any phase of the backend's 200 ms idle cycle
	sleep "0.$(printf '%03d' $((RANDOM % 250)))"
	n=$((n + 1))
	client latency --connect "$LISTEN" --count 5 --warmup 0 --size 64 \
		--json --timeout 10 >"$TMP/c$n.json" 2>&1 ||
		fail "client $n: $(cat "$TMP/c$n.json")"
done
log "$n clients served"
assert_ge "$n" 25 "clients run"

wait_report cp 10 "$(be_field "$ECHO" connections_total) == $n" "connections counted"
report_fresh cp
hits=$(report_get cp "$(be_field "$ECHO" pool_hits)")
stale=$(report_get cp '.errors.pool_stale')
log "pool hits $hits, misses $(report_get cp "$(be_field "$ECHO" pool_misses)"), stale $stale"
# the pool was really used: most clients got a pre-connected socket
assert_ge "$hits" $((n / 2)) "clients served from the pool"
assert_ge "$stale" 10 "stale pooled sockets discarded"
assert_ge "$(backend_stat echo idle_closes)" "$stale" "idle closes by the backend"
assert_eq "$(report_get cp '.errors.backend_reset + .errors.client_reset')" 0 \
	"connections failed mid-stream"
dp_assert_idle cp
stop_clean dp
