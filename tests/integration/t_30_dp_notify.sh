#!/usr/bin/env bash
#
# t_30: the data plane speaks systemd's notify protocol as its unit
# expects (Type=notify, NotifyAccess=all, WatchdogSec=, ExecReload= sends
# SIGUSR2). A datagram socket stands in for systemd as $NOTIFY_SOCKET and
# records each sender's pid (SCM_CREDENTIALS). Guards: READY=1 once the
# workers listen with the state file's set (before the control plane is
# there); STATUS= every report tick with the generation, connections and
# backends; WATCHDOG=1 at half of WATCHDOG_USEC from the main loop, none
# while the process is stopped (SIGSTOP); RELOADING=1 then READY=1 on
# SIGHUP; on SIGUSR2 RELOADING=1 from the old process, then MAINPID=<new>
# with READY=1 from the new one, MAINPID=<new> from the old one, and from
# then on the old process says nothing (no STATUS, no STOPPING, no
# WATCHDOG) while the new one pings the watchdog although the old one had
# WATCHDOG_PID set to itself, as systemd sets it; STOPPING=1 on SIGTERM.

# shellcheck disable=SC2016 # eval'd strings expand in the inner shell
set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
tfwd_tmpdir
require_bin tcpfwd-dataplane tfwd-backend tfwd-client tfwd-cp
require_cmd python3 jq

# A stand-in for systemd: "<ms since start> <sender pid> <msg>" per
# datagram (newlines as '|') in $TMP/notify.msgs.
cat >"$TMP/notify_rx.py" <<'EOF'
import socket, struct, sys, time
addr, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(addr)
t0 = time.monotonic()
with open(out, "a", buffering=1) as f:
    f.write("0 0 BOUND\n")
    while True:
        d, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
        pid = 0
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", data[:12])[0]
        d = d.decode(errors="replace").replace("\n", "|")
        f.write("%d %d %s\n" % ((time.monotonic() - t0) * 1000, pid, d))
EOF
MSGS=$TMP/notify.msgs
tfwd_start rx python3 "$TMP/notify_rx.py" "$TMP/notify.sock" "$MSGS"
wait_until 5 grep -q BOUND "$MSGS" 2>/dev/null || fail "notify receiver did not start"

# from PID MSG-REGEX: how many datagrams from PID match.
from() {
	awk -v p="$1" '$2 == p { sub(/^[0-9]+ [0-9]+ /, ""); print }' "$MSGS" |
		grep -Ec -- "$2" || true
}
msgs() {
	cat "$MSGS"
}

A=127.0.0.2:$(free_port)
start_backend a echo "$A"
WORKERS=2 write_config "$TMP/config.yaml"
# a state file from an earlier run: serving starts before the control plane
start_cp cp0 --set "$A" --generation 7
tfwd_start dp0 "$TFWD_BIN/tcpfwd-dataplane" -c "$TMP/config.yaml"
wait_report cp0 10 '.serving_generation == 7' "state file written"
tfwd_stop dp0
tfwd_stop cp0
test -s "$TMP/state/dataplane.json" || fail "no state file"

# The data plane as systemd starts it: WATCHDOG_PID is its own pid.
NOTIFY_SOCKET=$TMP/notify.sock WATCHDOG_USEC=1000000 \
	tfwd_start dp bash -c 'export WATCHDOG_PID=$$; exec "$0" "$@"' \
	"$TFWD_BIN/tcpfwd-dataplane" -c "$TMP/config.yaml"
P1=$(tfwd_pid dp)
wait_until 10 eval '[ "$(from '"$P1"' "^READY=1$")" -ge 1 ]' || fail "no READY=1: $(msgs)"
# READY means it listens, with the state file's set
port_listening "${LISTEN%:*}" "${LISTEN##*:}" || fail "READY=1 before listening"
wait_until 5 eval '[ "$(from '"$P1"' "^STATUS=serving generation 7, 0 connections, 1 backends$")" -ge 1 ]' ||
	fail "no STATUS with the state file's set: $(msgs)"
start_cp cp --set "$A" --generation 8
wait_report cp 10 ".pid == $P1 and .serving_generation == 8" "new set"
tfwd_start hold "$TFWD_BIN/tfwd-client" hold --connect "$LISTEN" --conns 3 \
	--hold-ms 3000 --echo-check --json --timeout 20
wait_until 5 eval '[ "$(from '"$P1"' "^STATUS=serving generation 8, 3 connections, 1 backends$")" -ge 1 ]' ||
	fail "no STATUS with 3 connections: $(msgs)"

# WATCHDOG=1 every ~500 ms
n0=$(from "$P1" '^WATCHDOG=1$')
sleep 2
n1=$(from "$P1" '^WATCHDOG=1$')
if [ $((n1 - n0)) -lt 3 ] || [ $((n1 - n0)) -gt 6 ]; then
	fail "$((n1 - n0)) watchdog pings in 2 s (want about 4)"
fi
# a stopped process stops pinging; it resumes after
kill -STOP "$P1"
sleep 0.3
n0=$(from "$P1" '^WATCHDOG=1$')
sleep 1.5
n1=$(from "$P1" '^WATCHDOG=1$')
kill -CONT "$P1"
assert_eq "$n1" "$n0" "watchdog pings while stopped"
wait_until 3 eval '[ "$(from '"$P1"' "^WATCHDOG=1$")" -gt '"$n1"' ]' ||
	fail "watchdog pings did not resume"
tfwd_wait_exit hold 20
assert_eq "${TFWD_STATUS[hold]}" 0 "held connections across SIGSTOP"

# SIGHUP: RELOADING=1 with a monotonic stamp, then READY=1
lines=$(wc -l <"$MSGS")
tfwd_signal dp HUP
wait_until 5 eval 'tail -n +$((lines + 1)) "$MSGS" | grep -q " $P1 READY=1$"' ||
	fail "no READY=1 after SIGHUP: $(msgs)"
after=$(tail -n +$((lines + 1)) "$MSGS")
r=$(grep -n " $P1 RELOADING=1|MONOTONIC_USEC=[0-9]*$" <<<"$after" | head -n 1 | cut -d: -f1)
y=$(grep -n " $P1 READY=1$" <<<"$after" | head -n 1 | cut -d: -f1)
if [ -z "$r" ] || [ "$r" -ge "$y" ]; then
	fail "SIGHUP: no RELOADING=1 before READY=1: $after"
fi

# SIGUSR2: the upgrade, as systemd sees it
lines=$(wc -l <"$MSGS")
tfwd_signal dp USR2
wait_until 10 eval 'tail -n +$((lines + 1)) "$MSGS" | grep -q " MAINPID=[0-9]*|READY=1$"' ||
	fail "no MAINPID=|READY=1 after SIGUSR2: $(msgs)"
after=$(tail -n +$((lines + 1)) "$MSGS")
P2=$(grep -o " [0-9]* MAINPID=[0-9]*|READY=1$" <<<"$after" | head -n 1 | sed 's/.*MAINPID=\([0-9]*\).*/\1/')
TFWD_PIDS[dp2]=$P2
TFWD_ORDER+=(dp2)
assert_ne "$P2" "$P1" "new main pid"
grep -q " $P2 MAINPID=$P2|READY=1$" <<<"$after" || fail "MAINPID= not sent by pid $P2 itself: $after"
r=$(grep -n " $P1 RELOADING=1|MONOTONIC_USEC=" <<<"$after" | head -n 1 | cut -d: -f1)
y=$(grep -n " $P2 MAINPID=$P2|READY=1$" <<<"$after" | head -n 1 | cut -d: -f1)
if [ -z "$r" ] || [ -z "$y" ] || [ "$r" -ge "$y" ]; then
	fail "SIGUSR2: no RELOADING=1 from pid $P1 before READY=1: $after"
fi
wait_until 5 eval 'tail -n +$((lines + 1)) "$MSGS" | grep -q " $P1 MAINPID=$P2$"' ||
	fail "pid $P1 did not confirm MAINPID=$P2: $(msgs)"
wait_until 10 eval '! kill -0 '"$P1"' 2>/dev/null' || fail "pid $P1 did not exit"
tfwd_wait_exit dp 5
assert_eq "${TFWD_STATUS[dp]}" 0 "exit status of pid $P1"
# after MAINPID=, the old process said nothing more
last=$(grep -n " $P1 MAINPID=$P2$" "$MSGS" | tail -n 1 | cut -d: -f1)
extra=$(tail -n +$((last + 1)) "$MSGS" | awk -v p="$P1" '$2 == p' | wc -l)
assert_eq "$extra" 0 "datagrams from pid $P1 after it handed over"
# the new one pings (WATCHDOG_PID named the old one) and reports
n0=$(from "$P2" '^WATCHDOG=1$')
sleep 1.6
n1=$(from "$P2" '^WATCHDOG=1$')
[ $((n1 - n0)) -ge 2 ] || fail "pid $P2: $((n1 - n0)) watchdog pings in 1.6 s"
wait_until 5 eval '[ "$(from '"$P2"' "^STATUS=serving generation 8, 0 connections, 1 backends$")" -ge 1 ]' ||
	fail "pid $P2: no STATUS: $(msgs)"

# SIGTERM: STOPPING=1
kill -TERM "$P2"
wait_until 10 eval '! kill -0 '"$P2"' 2>/dev/null || grep -q "^State:.*Z" /proc/'"$P2"'/status' ||
	fail "pid $P2 did not stop"
unset 'TFWD_PIDS[dp2]'
[ "$(from "$P2" '^STOPPING=1$')" -ge 1 ] || fail "no STOPPING=1 from pid $P2: $(msgs)"
assert_sanitizer_clean dp
echo "PASS: the data plane's sd_notify messages, watchdog, reload and upgrade"
