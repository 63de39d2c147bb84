#!/usr/bin/env bash
#
# Guards SPEC 7.3 for dials that time out: a backend whose accept queue is
# full drops SYNs (a real timeout on loopback, no firewall needed). With set
# [tarpit, good] and dial_timeout 1s every client is served, those first
# sent to the tarpit after about 1 s; dials_timeout is counted for the
# tarpit. With set [tarpit] alone the client is closed after dial_timeout
# and counted in errors.dial_failed.

set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
tfwd_tmpdir
require_bin tcpfwd-dataplane tfwd-backend tfwd-client tfwd-cp

GOOD=127.0.0.2:$(free_port)
TARPIT=127.0.0.3:$(free_port)
start_backend good echo "$GOOD"
# accepts one connection, then nothing for 10 minutes; backlog 1
start_backend tarpit echo "$TARPIT" --backlog 1 --accept-delay-ms 600000
th=${TARPIT%:*}
tp=${TARPIT##*:}
# fill its accept queue; the connections stay queued after we leave
for i in 1 2 3 4; do
	timeout 1 bash -c "exec 3<>/dev/tcp/$th/$tp" 2>/dev/null || true
done
# now a connect hangs
rc=0
timeout 1 bash -c "exec 3<>/dev/tcp/$th/$tp" 2>/dev/null || rc=$?
assert_eq "$rc" 124 "a direct connect to the tarpit (timeout 1 s)"

ALGORITHM=round_robin DIAL_TIMEOUT=1s write_config "$TMP/config.yaml"
start_cp cp --set "$TARPIT,$GOOD"
start_dataplane dp "$TMP/config.yaml"
wait_report cp 10 '.serving_generation == 1' "set served"

# ---- [tarpit, good]: every client served, some after a dial timeout -----------

t0=$(date +%s%N)
client hold --connect "$LISTEN" --conns 6 --echo-check --json --timeout 30 \
	>"$TMP/both.json" || fail "clients through [tarpit, good]: $(cat "$TMP/both.json")"
ms=$(elapsed_ms "$t0")
log "6 clients served in $ms ms"
# round robin sends half the first dials to the tarpit: they wait 1 s
assert_ge "$ms" 900 "time for the clients dialled to the tarpit first"
wait_report cp 10 "$(be_field "$TARPIT" dials_timeout) == 3" "tarpit dial timeouts"
assert_eq "$(report_get cp "$(be_field "$GOOD" connections_total)")" 6 \
	"connections on the good backend"
assert_eq "$(report_get cp '.errors.dial_failed')" 0 "clients given up"

# ---- [tarpit]: the client is closed after dial_timeout -----------------------

cp_ctl cp "set $TARPIT"
wait_report cp 10 '.serving_generation == 2' "set [tarpit] served"
t0=$(date +%s%N)
rc=0
client hold --connect "$LISTEN" --conns 1 --echo-check --json --timeout 20 \
	>"$TMP/tarpit.json" || rc=$?
ms=$(elapsed_ms "$t0")
log "client closed after $ms ms"
assert_eq "$rc" 1 "client with only the tarpit: exit status"
assert_ge "$ms" 900 "closed after dial_timeout (1 s), not before"
assert_le "$ms" 5000 "closed soon after dial_timeout (1 s)"
wait_report cp 10 '.errors.dial_failed == 1' "dial_failed error"
assert_eq "$(report_get cp "$(be_field "$TARPIT" dials_timeout)")" 4 "tarpit dial timeouts"

dp_assert_idle cp
stop_clean dp
