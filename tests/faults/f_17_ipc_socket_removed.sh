#!/usr/bin/env bash
#
# Guards issue 5's "the IPC socket removed while running" (an rm, a
# tmpfiles clean-up of the socket folder) with the real control plane:
#  - the data plane already connected notices nothing: it keeps serving
#    (zero failed client connections), stays in sync, and a set change made
#    after the removal (a backend disabled through the API) still reaches
#    it;
#  - a data plane that loses the control plane while the socket is gone
#    keeps serving its set and redials without spinning (under 5% of a
#    core) or leaking descriptors; a control plane started again recreates
#    the socket and the data plane is back in sync within 2 s;
#  - SPEC 4 ("a data plane that connects or reconnects has the current set
#    within one second") also holds after a removal: a data plane started
#    after the socket was removed under a running control plane gets the
#    set within 10 s (the control plane notices and listens again);
#  - both daemons exit 0.

set -euo pipefail
# shellcheck source=tests/faults/lib.sh
. "$(dirname "$0")/lib.sh"
fault_requires tcpfwd-dataplane tcpfwd-controlplane tfwd-backend tfwd-client
fault_netns "$@"

P=$((20000 + RANDOM % 10000))
A=$NET.10:$P B=$NET.11:$P C=$NET.12:$P
for x in a b c; do
	X=${x^^}
	start_back_backend "$x" echo "${!X}"
done
write_iplist "$TMP/ip_list.txt" "$A" "$B" "$C"
IPC_PATH=$TMP/run/control.ipc
IPC_URL=ipc://$IPC_PATH PROBE_INTERVAL=500ms ACTIVE_SET_SIZE=2 IMPROVEMENT=100 \
	write_config "$TMP/c.yaml"
start_controlplane cp1 "$TMP/c.yaml"
start_dataplane dp "$TMP/c.yaml"
DP=$(tfwd_pid dp)
wait_api 15 /api/v1/active-set '.backends | length == 2' "a set of two"
wait_dp_in_sync 10
test -S "$IPC_PATH" || fail "no socket at $IPC_PATH"

tfwd_start rate "$TFWD_BIN/tfwd-client" rate --connect "$LISTEN" \
	--concurrency 4 --seconds 4 --fail-on-error --json --timeout 60

# ---- removed under a connected data plane -----------------------------------------
rm -f "$IPC_PATH"
log "socket removed"
gen=$(generation)
victim=$(jget /api/v1/active-set '.backends[0]')
api_post_ok "/api/v1/backends/$victim/disable"
wait_api 10 /api/v1/active-set ".generation > $gen and (.backends | index(\"$victim\")) == null" \
	"set change after the removal"
wait_dp_in_sync 5
log "set change after the removal reached the data plane: $(members)/$(generation)"
api_post_ok "/api/v1/backends/$victim/enable"
tfwd_wait_exit rate 60
rate_json=$(grep '^{' "$TMP/rate.log" | tail -n 1)
assert_eq "${TFWD_STATUS[rate]}" 0 "clients across the removal ($rate_json)"
conns=$(json_get conns_ok <<<"$rate_json")

# ---- the control plane goes while the socket is gone -----------------------------
tfwd_kill cp1 KILL
rm -f "$IPC_PATH"
sleep 0.5
fd1=$(fd_count_nonpipe "$DP")
assert_cpu_below "$DP" 2 5 "the data plane redialling a missing socket"
CPU_REDIAL=$FAULT_CPU
assert_le "$(fd_count_nonpipe "$DP")" "$fd1" "data plane descriptors while redialling"
start_controlplane cp2 "$TMP/c.yaml"
t0=$(date +%s%N)
wait_dp_in_sync 5
back_ms=$(elapsed_ms "$t0")
log "data plane back in sync $back_ms ms after the control plane was (re)started"
assert_le "$back_ms" 2500 "ms until the data plane was back in sync"
stop_clean dp

# ---- a data plane started after a removal ------------------------------------------
rm -f "$IPC_PATH"
t1=$(date +%s%N)
unset LISTEN
LISTEN=127.0.0.1:$(free_port)
# only server.listen_addr changes (the first listen_addr of the file)
python3 - "$TMP/c.yaml" "$TMP/c2.yaml" "$LISTEN" <<'EOF'
import re, sys
s = open(sys.argv[1]).read()
s = re.sub(r'(server:\n  listen_addr: )"[^"]*"', r'\1"%s"' % sys.argv[3], s, count=1)
open(sys.argv[2], "w").write(s)
EOF
start_dataplane dp2 "$TMP/c2.yaml"
DP2=$(tfwd_pid dp2)
ok=0
wait_until 10 jtrue /api/v1/status "[.dataplanes[] | select(.pid == $DP2 and .in_sync)] | length == 1" && ok=1
new_ms=$(elapsed_ms "$t1")
stop_clean dp2
stop_clean cp2
[ "$ok" = 1 ] || fail "a data plane started after the socket was removed got no set in 10 s (the control plane does not listen again; socket present: $(test -S "$IPC_PATH" && echo yes || echo no))"
fault_result "conns=$conns lost=0 set_change_after_rm=delivered redial_cpu=$CPU_REDIAL% resync_ms=$back_ms new_dp_after_rm_ms=$new_ms"
