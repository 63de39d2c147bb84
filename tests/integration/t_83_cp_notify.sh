#!/usr/bin/env bash
#
# t_83: the control plane speaks systemd's notify protocol as the units
# expect (Type=notify, WatchdogSec=). A datagram socket stands in for
# systemd as $NOTIFY_SOCKET. Guards: READY=1 comes once the admin API
# answers (not before), STATUS= lines carry the phase, the generation and
# the data planes every heartbeat, SIGHUP gives RELOADING=1 with
# MONOTONIC_USEC= and then READY=1, WATCHDOG=1 comes at half of
# WATCHDOG_USEC from the main loop and stops while the loop is stopped
# (SIGSTOP), and SIGTERM gives STOPPING=1. Also the abstract namespace.

. "$(dirname "$0")/lib.sh"
tfwd_tmpdir
require_bin tcpfwd-controlplane tcpfwd-dataplane tfwd-backend
require_cmd python3 curl

# A stand-in for systemd: prints each datagram as "<ms since start> <msg>"
# (newlines as '|') to $TMP/NAME.msgs.
cat >"$TMP/notify_rx.py" <<'EOF'
import socket, sys, time
addr, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
t0 = time.monotonic()
with open(out, "a", buffering=1) as f:
    f.write("%d BOUND\n" % 0)
    while True:
        d = s.recv(4096).decode(errors="replace").replace("\n", "|")
        f.write("%d %s\n" % ((time.monotonic() - t0) * 1000, d))
EOF

B1=127.0.0.1:$(free_port)
start_backend b1 echo "$B1"
write_iplist "$TMP/ip_list.txt" "$B1"
ACTIVE_SET_SIZE=1 write_config "$TMP/config.yaml"

# run_cp NAME NOTIFY_SOCKET: the receiver, then the control plane with a
# 1 s watchdog.
run_cp() {
	local name=$1 sock=$2
	tfwd_start "rx-$name" python3 "$TMP/notify_rx.py" "$sock" \
		"$TMP/$name.msgs"
	wait_until 5 grep -q BOUND "$TMP/$name.msgs" 2>/dev/null ||
		fail "notify receiver did not start"
	NOTIFY_SOCKET=$sock WATCHDOG_USEC=1000000 \
		tfwd_start "$name" "$TFWD_BIN/tcpfwd-controlplane" \
		-c "$TMP/config.yaml"
}
msgs() {
	cat "$TMP/$1.msgs"
}
count() {
	grep -c " $2" "$TMP/$1.msgs" || true
}

# ---- a path socket ----------------------------------------------------------

run_cp cp "$TMP/notify.sock"
wait_until 10 grep -q ' READY=1$' "$TMP/cp.msgs" || fail "no READY=1: $(msgs cp)"
# READY means the admin API answers now
admin_get /healthz >/dev/null || fail "READY=1 before the admin API answered"
start_dataplane dp "$TMP/config.yaml"
wait_until 15 grep -q ' STATUS=running; active set generation [1-9][0-9]*, 1 backends; 1 data planes' \
	"$TMP/cp.msgs" || fail "no running STATUS with the set and the data plane: $(msgs cp)"

# WATCHDOG=1 every ~500 ms (half of WATCHDOG_USEC)
n0=$(count cp WATCHDOG=1)
sleep 2
n1=$(count cp WATCHDOG=1)
[ $((n1 - n0)) -ge 3 ] && [ $((n1 - n0)) -le 6 ] ||
	fail "$((n1 - n0)) watchdog pings in 2 s (want about 4)"

# a stopped loop stops pinging; it resumes after
pid=$(tfwd_pid cp)
kill -STOP "$pid"
sleep 0.3
n0=$(count cp WATCHDOG=1)
sleep 1.5
n1=$(count cp WATCHDOG=1)
kill -CONT "$pid"
assert_eq "$n1" "$n0" "watchdog pings while the loop was stopped"
wait_until 3 eval '[ "$(count cp WATCHDOG=1)" -gt "'"$n1"'" ]' ||
	fail "watchdog pings did not resume"

# SIGHUP: RELOADING=1 with a monotonic stamp, then READY=1
lines=$(wc -l <"$TMP/cp.msgs")
tfwd_signal cp HUP
wait_until 5 eval 'tail -n +$((lines + 1)) "$TMP/cp.msgs" | grep -q " READY=1$"' ||
	fail "no READY=1 after the reload: $(msgs cp)"
after=$(tail -n +$((lines + 1)) "$TMP/cp.msgs")
grep -q ' RELOADING=1|MONOTONIC_USEC=[0-9][0-9]*$' <<<"$after" ||
	fail "no RELOADING=1|MONOTONIC_USEC=: $after"
r=$(grep -n ' RELOADING=1' <<<"$after" | head -1 | cut -d: -f1)
y=$(grep -n ' READY=1$' <<<"$after" | head -1 | cut -d: -f1)
[ "$r" -lt "$y" ] || fail "READY=1 came before RELOADING=1: $after"
usec=$(grep -o 'MONOTONIC_USEC=[0-9]*' <<<"$after" | head -1 | cut -d= -f2)
now=$(python3 -c 'import time; print(int(time.monotonic() * 1e6))')
[ "$usec" -le "$now" ] && [ $((now - usec)) -lt 10000000 ] ||
	fail "MONOTONIC_USEC=$usec is not CLOCK_MONOTONIC of the reload (now $now)"

# SIGTERM: STOPPING=1, then a clean exit
tfwd_stop cp
assert_eq "${TFWD_STATUS[cp]}" 0 "control plane exit status"
grep -q ' STOPPING=1$' "$TMP/cp.msgs" || fail "no STOPPING=1: $(msgs cp)"
log "path socket: READY, STATUS, WATCHDOG, RELOADING/READY, STOPPING"

# ---- the abstract namespace, and no watchdog without WATCHDOG_USEC --------

sock="@tfwd-notify-$$-$RANDOM"
tfwd_start rx-abs python3 "$TMP/notify_rx.py" "$sock" "$TMP/abs.msgs"
wait_until 5 grep -q BOUND "$TMP/abs.msgs" 2>/dev/null ||
	fail "notify receiver did not start"
NOTIFY_SOCKET=$sock tfwd_start abs "$TFWD_BIN/tcpfwd-controlplane" \
	-c "$TMP/config.yaml"
wait_until 10 grep -q ' READY=1$' "$TMP/abs.msgs" || fail "no READY=1 (abstract)"
sleep 1.5
assert_eq "$(count abs WATCHDOG=1)" 0 "watchdog pings without WATCHDOG_USEC"
tfwd_stop abs
assert_eq "${TFWD_STATUS[abs]}" 0 "control plane exit status"
grep -q ' STOPPING=1$' "$TMP/abs.msgs" || fail "no STOPPING=1 (abstract)"

# ---- and nothing at all without NOTIFY_SOCKET -------------------------------

tfwd_start plain "$TFWD_BIN/tcpfwd-controlplane" -c "$TMP/config.yaml"
wait_port "${ADMIN%:*}" "${ADMIN##*:}"
tfwd_stop plain
assert_eq "${TFWD_STATUS[plain]}" 0 "control plane exit status"
tfwd_stop dp
assert_eq "${TFWD_STATUS[dp]}" 0 "data plane exit status"
echo "PASS: the control plane's sd_notify messages, watchdog and reload"
