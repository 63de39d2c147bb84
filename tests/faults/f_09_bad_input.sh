#!/usr/bin/env bash
#
# Guards SPEC 7.9, bad input anywhere gets a clear error and changes
# nothing that was running, while clients stream through the data plane
# (tfwd-client rate, --fail-on-error, the whole time):
#  - config: both daemons get SIGHUP with a config that has an invalid
#    duration, then one with an unknown key, then one cut in the middle of
#    a mapping: each is refused with file:line:col in the log, counted
#    (reloads_total{result="error"}); the control plane also refuses
#    POST /api/v1/reload with an error status;
#  - IP list: a reload with a bad line names the file and the line; the
#    tracked backends and the set stay;
#  - HTTP: a request line of 64 KiB, 2000 headers, a 4 MiB body, a NUL and
#    ../ in the path, an unknown method, a bad address, raw binary bytes
#    and a request that never ends (held open 5 s): each gets a 4xx (or
#    the connection closed) and /healthz answers within 1 s meanwhile;
#  - afterwards the active set (members and generation) is the one from
#    before, zero client connections failed, both daemons exit 0.

set -euo pipefail
# shellcheck source=tests/faults/lib.sh
. "$(dirname "$0")/lib.sh"
fault_requires tcpfwd-dataplane tcpfwd-controlplane tfwd-backend tfwd-client
fault_netns "$@"

P=$((20000 + RANDOM % 10000))
A=$NET.10:$P B=$NET.11:$P
start_back_backend a echo "$A"
start_back_backend b echo "$B"
write_iplist "$TMP/ip_list.txt" "$A" "$B"
PROBE_INTERVAL=500ms ACTIVE_SET_SIZE=2 write_config "$TMP/c.yaml"
cp "$TMP/c.yaml" "$TMP/good.yaml"
cp "$TMP/ip_list.txt" "$TMP/good_list.txt"
start_controlplane cp "$TMP/c.yaml"
start_dataplane dp "$TMP/c.yaml"
DP=$(tfwd_pid dp)
wait_members 15 "$A,$B"
wait_dp_in_sync 10
SET=$(members) GEN=$(generation)
FD0=$(fd_count_nonpipe "$DP")

tfwd_start rate "$TFWD_BIN/tfwd-client" rate --connect "$LISTEN" \
	--concurrency 4 --seconds 12 --fail-on-error --json --timeout 60

errs() { mval tcp_forwarder_reloads_total 'result="error"'; }

# ---- config --------------------------------------------------------------------
e0=$(errs)
n=0
bad_config() {
	n=$((n + 1))
	cp "$TMP/good.yaml" "$TMP/c.yaml"
	python3 - "$TMP/c.yaml" "$1" <<'EOF'
import sys
p, kind = sys.argv[1], sys.argv[2]
s = open(p).read()
if kind == "duration":
    s = s.replace('idle_timeout: "10m"', 'idle_timeout: "10parsecs"')
elif kind == "unknown":
    s = s.replace("pools:\n", "pools:\n  idle_timout: 5s\n")
else:
    s = s[:s.index("  selector:") + 20]
open(p, "w").write(s)
EOF
	local dl cl
	dl=$(wc -l <"$TMP/dp.log") cl=$(wc -l <"$TMP/cp.log")
	tfwd_signal dp HUP
	tfwd_signal cp HUP
	wait_output 5 = "$((e0 + n))" errs || fail "$1: reload error not counted by the control plane"
	wait_until 5 eval "tail -n +$((dl + 1)) '$TMP/dp.log' | grep -q 'c.yaml:[0-9]*:[0-9]*: '" ||
		fail "$1: the data plane did not log file:line:col: $(tail -n 3 "$TMP/dp.log")"
	tail -n +$((cl + 1)) "$TMP/cp.log" | grep -q 'c.yaml:[0-9]*:[0-9]*: ' ||
		fail "$1: the control plane did not log file:line:col: $(tail -n 3 "$TMP/cp.log")"
	log "$1: $(tail -n +$((dl + 1)) "$TMP/dp.log" | grep -o 'c.yaml:[0-9]*:[0-9]*: .*' | head -n 1)"
}
bad_config duration
bad_config unknown
bad_config cut
code=$(api POST /api/v1/reload)
case $code in 4?? | 5??) ;; *) fail "POST /api/v1/reload with a bad config: HTTP $code $(api_body)" ;; esac
log "POST /api/v1/reload with a bad config: HTTP $code $(api_body)"
cp "$TMP/good.yaml" "$TMP/c.yaml"

# ---- IP list ---------------------------------------------------------------------
printf '%s\n' "$A" "$B" "10.1.2.300" "::gg" >"$TMP/ip_list.txt"
e1=$(errs)
tfwd_signal cp HUP
wait_output 5 = "$((e1 + 1))" errs || fail "bad IP list: reload error not counted"
wait_until 5 grep -q 'ip_list.txt:[34]' "$TMP/cp.log" ||
	fail "bad IP list: no file:line in the log: $(tail -n 3 "$TMP/cp.log")"
log "bad IP list: $(grep -o 'ip_list.txt:[34].*' "$TMP/cp.log" | head -n 1)"
assert_eq "$(jget /api/v1/backends '.backends | length')" 2 "tracked backends"
cp "$TMP/good_list.txt" "$TMP/ip_list.txt"

# ---- HTTP ------------------------------------------------------------------------
# raw REQUEST-FILE: sends the file to the admin port, prints the status
# code of the answer ("closed" when none), within 10 s.
raw() {
	python3 - "${ADMIN%:*}" "${ADMIN##*:}" "$1" <<'EOF'
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
data = open(sys.argv[3], "rb").read()
try:
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    b = s.recv(64)
except OSError:
    b = b""
line = b.split(b"\r\n")[0].split(b" ")
print(line[1].decode() if len(line) > 1 and line[0].startswith(b"HTTP/") else "closed")
EOF
}
healthy() {
	local t0 ms
	t0=$(date +%s%N)
	curl -sS --max-time 1 -f "http://$ADMIN/healthz" >/dev/null 2>&1 ||
		fail "/healthz did not answer within 1 s ($1)"
	ms=$(elapsed_ms "$t0")
	[ "$ms" -le 1000 ] || fail "/healthz took $ms ms ($1)"
}
req() {
	printf '%s' "$2" >"$TMP/req.$1"
}
long=$(head -c 65536 /dev/zero | tr '\0' a)
req longline "GET /api/v1/$long HTTP/1.1"$'\r\nHost: x\r\n\r\n'
{
	printf 'GET /api/v1/status HTTP/1.1\r\nHost: x\r\n'
	for i in $(seq 1 2000); do printf 'X-H%d: %d\r\n' "$i" "$i"; done
	printf '\r\n'
} >"$TMP/req.headers"
{
	printf 'POST /api/v1/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 4194304\r\n\r\n'
	head -c 4194304 /dev/zero
} >"$TMP/req.body"
printf 'GET /api/v1/backends/1.2.3.4%%00:80 HTTP/1.1\r\nHost: x\r\n\r\n' >"$TMP/req.nul"
req dotdot $'GET /api/v1/../../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n'
req method $'BREW /api/v1/status HTTP/1.1\r\nHost: x\r\n\r\n'
req badaddr $'POST /api/v1/backends/999.1.1.1:99999/disable HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n'
head -c 4096 /dev/urandom >"$TMP/req.binary"
for r in longline headers body nul dotdot method badaddr binary; do
	code=$(raw "$TMP/req.$r")
	case $code in
	4?? | closed) ;;
	*) fail "HTTP $r: got $code, want a 4xx or a closed connection" ;;
	esac
	log "HTTP $r: $code"
	healthy "after $r"
done
# a request that never ends, held open while others are served
python3 - "${ADMIN%:*}" "${ADMIN##*:}" <<'EOF' &
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
s.sendall(b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\nX-Slow: ")
for _ in range(10):
    time.sleep(0.5)
    try:
        s.sendall(b"a")
    except OSError:
        break
EOF
SLOW=$!
for i in 1 2 3 4 5; do
	sleep 0.8
	healthy "with a request that never ends ($i)"
done
wait "$SLOW" || true

# ---- nothing changed ------------------------------------------------------------
tfwd_wait_exit rate 60
rate_json=$(grep '^{' "$TMP/rate.log" | tail -n 1)
assert_eq "${TFWD_STATUS[rate]}" 0 "clients during the bad input ($rate_json)"
conns=$(json_get conns_ok <<<"$rate_json")
assert_eq "$(members)" "$SET" "active set after the bad input"
assert_eq "$(generation)" "$GEN" "generation after the bad input"
check_cp_alive cp
tfwd_running dp || fail "the data plane died"
# the good config reloads again
e2=$(errs)
tfwd_signal dp HUP
tfwd_signal cp HUP
wait_until 5 grep -q 'reloaded' "$TMP/dp.log" || fail "the data plane did not reload the good config"
sleep 0.5
assert_eq "$(errs)" "$e2" "reload errors for the good config"
wait_api 10 /api/v1/status '.dataplanes[0].connections_active == 0' "data plane idle"
assert_fds_back "$DP" "$FD0" "data plane descriptors"
fault_result "conns=$conns lost=0 bad_configs=3 bad_list=1 bad_http=9 reload_errors=$e2 set_kept=yes"
stop_clean dp
stop_clean cp
