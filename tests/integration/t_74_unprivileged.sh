#!/usr/bin/env bash
#
# Guards running unprivileged (issue 5): both daemons started as nobody /
# nogroup with no supplementary group and no capability at all
#	setpriv --reuid=nobody --regid=nogroup --clear-groups --nnp
#	    --inh-caps=-all --ambient-caps=-all --bounding-set=-all
# (through lib.sh's TFWD_WRAP) still do their whole job on unprivileged
# ports: the control plane probes and serves the API (GETs, a POST with
# the token), the data plane (2 workers, static pools) forwards short
# connections, verified streams and held echo-checked connections, both
# write their state files and the IPC socket as nobody. Every thread of
# both shows uid/gid 65534 and CapInh, CapPrm, CapEff, CapBnd, CapAmb all
# zero in /proc/PID/task/*/status, NoNewPrivs 1. Without
# CAP_NET_BIND_SERVICE a privileged port fails with a clear error.

set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
tfwd_tmpdir
require_root
require_bin tcpfwd-dataplane tcpfwd-controlplane tfwd-backend tfwd-client
require_cmd setpriv curl
id nobody >/dev/null 2>&1 || skip "no user nobody"
getent group nogroup >/dev/null || skip "no group nogroup"
NOBODY=$(id -u nobody)
NOGROUP=$(getent group nogroup | cut -d: -f3)
# the binaries must be reachable by nobody
for b in tcpfwd-dataplane tcpfwd-controlplane; do
	setpriv --reuid=nobody --regid=nogroup --clear-groups test -x "$TFWD_BIN/$b" ||
		skip "$TFWD_BIN/$b cannot be run by nobody (a private build folder)"
done

# nobody's own folder inside $TMP (mktemp made $TMP 0700: let nobody in)
chmod 0711 "$TMP"
HOME_N=$TMP/nobody
mkdir -m 0750 "$HOME_N"
A=127.0.0.2:$(free_port)
B=127.0.0.3:$(free_port)
start_backend a echo "$A" --threads 2
start_backend b echo "$B" --threads 2
write_iplist "$HOME_N/ip_list.txt" "$A" "$B"
echo "t74-token" >"$HOME_N/token"
chmod 0600 "$HOME_N/token"
IPLIST=$HOME_N/ip_list.txt IPC_URL=ipc://$HOME_N/run/control.ipc \
	DP_STATE=$HOME_N/state/dataplane.json CP_STATE=$HOME_N/state/scores.json \
	TOKEN_FILE=$HOME_N/token WORKERS=2 POOL_TYPE=static POOL_SIZE=2 \
	write_config "$HOME_N/config.yaml"
chown -R nobody:nogroup "$HOME_N"

TFWD_WRAP="setpriv --reuid=nobody --regid=nogroup --clear-groups --nnp"
TFWD_WRAP+=" --inh-caps=-all --ambient-caps=-all --bounding-set=-all"
start_controlplane cp "$HOME_N/config.yaml"
start_dataplane dp "$HOME_N/config.yaml"
CP=$(tfwd_pid cp)
DP=$(tfwd_pid dp)

# unprivileged PID WHAT: every thread of PID runs as nobody with nothing.
unprivileged() {
	local pid=$1 what=$2 st n=0 f
	for st in /proc/"$pid"/task/*/status; do
		n=$((n + 1))
		for f in CapInh CapPrm CapEff CapBnd CapAmb; do
			assert_eq "$(awk -v k="$f:" '$1 == k { print $2 }' "$st")" \
				0000000000000000 "$what ${st#/proc/}: $f"
		done
		assert_eq "$(awk '$1 == "Uid:" { print $2, $3, $4, $5 }' "$st")" \
			"$NOBODY $NOBODY $NOBODY $NOBODY" "$what ${st#/proc/}: Uid"
		assert_eq "$(awk '$1 == "Gid:" { print $2, $3, $4, $5 }' "$st")" \
			"$NOGROUP $NOGROUP $NOGROUP $NOGROUP" "$what ${st#/proc/}: Gid"
		assert_eq "$(awk '$1 == "Groups:" { print $2 }' "$st")" "" \
			"$what ${st#/proc/}: supplementary groups"
		assert_eq "$(awk '$1 == "NoNewPrivs:" { print $2 }' "$st")" 1 \
			"$what ${st#/proc/}: NoNewPrivs"
	done
	log "$what (pid $pid): $n threads, all uid $NOBODY gid $NOGROUP, no capability"
}

served() {
	client hold --connect "$LISTEN" --conns 4 --echo-check --timeout 5 \
		>/dev/null 2>&1
}
wait_until 20 served || fail "no connection carried"
unprivileged "$CP" "control plane"
unprivileged "$DP" "data plane"

# the whole job
assert_ok client rate --connect "$LISTEN" --concurrency 8 --seconds 3 \
	--fail-on-error --timeout 60 >/dev/null
assert_ok client bulk --connect "$LISTEN" --streams 2 --bytes 8000000 \
	--direction both --timeout 60 >/dev/null
assert_ok client hold --connect "$LISTEN" --conns 200 --hold-ms 500 \
	--echo-check --timeout 60 >/dev/null
for p in /healthz /api/v1/status /api/v1/backends /api/v1/active-set /metrics; do
	assert_eq "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
		"http://$ADMIN$p")" 200 "GET $p"
done
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST \
	-H "Authorization: Bearer t74-token" "http://$ADMIN/api/v1/reload")" 200 \
	"POST /api/v1/reload with the token"
[ "$(admin_get /healthz | jq -r .dataplanes)" -ge 1 ] 2>/dev/null ||
	fail "the data plane is not connected: $(admin_get /healthz)"
# still nothing after the work (no capability regained, e.g. on reload)
tfwd_signal dp HUP
tfwd_signal cp HUP
sleep 0.5
unprivileged "$CP" "control plane after reload"
unprivileged "$DP" "data plane after reload"

# what they wrote belongs to nobody
assert_eq "$(stat -c '%U %a' "$HOME_N/run/control.ipc")" "nobody 600" "IPC socket"
wait_until 10 test -s "$HOME_N/state/dataplane.json" || fail "no data-plane state"
assert_eq "$(stat -c '%U %a' "$HOME_N/state/dataplane.json")" "nobody 600" \
	"data-plane state file"
stop_clean dp
stop_clean cp
assert_eq "$(stat -c '%U %a' "$HOME_N/state/scores.json")" "nobody 600" \
	"control-plane state file"

# no CAP_NET_BIND_SERVICE: a privileged port fails, saying why
low=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>/dev/null || echo 1024)
if [ "$low" -gt 81 ]; then
	sed -e "s|^\(  listen_addr: \)\"$LISTEN\"|\1\"127.0.0.1:81\"|" \
		"$HOME_N/config.yaml" >"$HOME_N/low.yaml"
	grep -q '127.0.0.1:81' "$HOME_N/low.yaml" || fail "low.yaml not written"
	chown nobody:nogroup "$HOME_N/low.yaml"
	rc=0
	tfwd_wrap
	out=$(timeout 10 "${TFWD_WRAP_ARGS[@]}" "$TFWD_BIN/tcpfwd-dataplane" \
		-c "$HOME_N/low.yaml" 2>&1) || rc=$?
	assert_ne "$rc" 0 "data plane on port 81 as nobody"
	grep -qi 'permission denied' <<<"$out" ||
		fail "port 81 as nobody: no clear error: $out"
	log "port 81 as nobody: exit $rc: $(grep -i -m1 'permission denied' <<<"$out" | cut -c1-160)"
else
	log "ip_unprivileged_port_start is $low: the privileged-port check is moot"
fi
