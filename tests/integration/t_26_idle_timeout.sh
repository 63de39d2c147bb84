#!/usr/bin/env bash
#
# Guards pools.common.idle_timeout (SPEC 7.8): with 1s, a client connection
# that moves no byte either way is closed after about 1 s and counted as an
# idle_timeout error, while a connection that stays active (a line echoed
# every 300 ms for 3 s, at the same time) is not touched.

set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
tfwd_tmpdir
require_bin tcpfwd-dataplane tfwd-backend tfwd-client tfwd-cp

ECHO=127.0.0.2:$(free_port)
start_backend echo echo "$ECHO"
IDLE_TIMEOUT=1s write_config "$TMP/config.yaml"
start_cp cp --set "$ECHO"
start_dataplane dp "$TMP/config.yaml"
wait_report cp 10 '.serving_generation == 1' "set served"
host=${LISTEN%:*}
port=${LISTEN##*:}

# the idle one: connects, says nothing, times how long until EOF
tfwd_start idle bash -c "exec 3<>/dev/tcp/$host/$port || exit 2
	s=\$(date +%s%N)
	timeout 10 cat <&3 >/dev/null || exit 3
	echo idle_ms=\$(((\$(date +%s%N) - s) / 1000000))"

# the active one, meanwhile: a line every 300 ms for 3 s, each echoed
exec 3<>"/dev/tcp/$host/$port" || fail "cannot connect"
for i in $(seq 1 10); do
	sleep 0.3
	printf 'ping %d\n' "$i" >&3 || fail "active connection: write $i failed"
	line=
	read -r -t 5 line <&3 || fail "active connection: no echo for line $i (closed?)"
	assert_eq "$line" "ping $i" "active connection: echo $i"
done
exec 3>&-

tfwd_wait_exit idle 10
assert_eq "${TFWD_STATUS[idle]}" 0 "idle client ($(cat "$TMP/idle.log"))"
ms=$(sed -n 's/^idle_ms=//p' "$TMP/idle.log")
log "idle connection closed after $ms ms (idle_timeout 1 s)"
assert_ge "$ms" 900 "idle connection closed after idle_timeout"
assert_le "$ms" 2500 "idle connection closed soon after idle_timeout"

dp_assert_idle cp
assert_eq "$(report_get cp '.errors.idle_timeout')" 1 "idle_timeout errors"
assert_eq "$(report_get cp '.connections_total')" 2 "connections"
stop_clean dp
