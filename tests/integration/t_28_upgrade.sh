#!/usr/bin/env bash
#
# Guards the hitless upgrade (SIGUSR2, what `systemctl reload
# tcpfwd-dataplane` sends; dataplane/handover.c). Under sustained load (16
# clients opening short connections back to back, 4 byte-verified streams
# both ways, 50 idle connections echo-checked at the end), the data plane
# is upgraded twice, the second time after its binary was replaced on disk
# (as a package upgrade does). Guards: no connection refused or reset, no
# byte corrupted; streams and held connections started on the first
# process finish on it, which exits once they have; new connections go to
# the newest process; each new process runs the binary now on disk and has
# a new pid. Then: clients queued on the listening sockets while nobody
# accepts are served after the old process let go (the backlog survives);
# and failures leave the running process serving: a broken config file, a
# missing binary, a new process that dies, one that never answers (killed
# after 10 s), a second SIGUSR2 during an upgrade (ignored). A new
# process whose config asks for more workers opens more listeners, one
# that asks for fewer keeps every inherited one. Last, an upgrade with the
# control plane down and no state file: the new process serves the set
# handed over. Prints the connections carried and the handover times.

# shellcheck disable=SC2016 # eval'd strings expand in the inner shell
set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
tfwd_tmpdir
require_bin tcpfwd-dataplane tfwd-backend tfwd-client tfwd-cp

A=127.0.0.2:$(free_port)
B=127.0.0.3:$(free_port)
start_backend a echo "$A" --threads 2
start_backend b echo "$B" --threads 2
WORKERS=2
export WORKERS
POOL_TYPE=static POOL_SIZE=2 DRAIN_TIMEOUT=60s write_config "$TMP/config.yaml"
cp "$TMP/config.yaml" "$TMP/config.good"
start_cp cp --set "$A,$B"

# The binary runs from a copy that the test can replace, as a package
# upgrade replaces /usr/bin/tcpfwd-dataplane.
mkdir -p "$TMP/bin"
cp "$TFWD_BIN/tcpfwd-dataplane" "$TMP/bin/tcpfwd-dataplane"
EXE=$TMP/bin/tcpfwd-dataplane
# The workers' "stopped accepting" lines time the handover.
export TCPFWD_LOG=info,worker=debug
require_cmd jq
tfwd_start dp "$EXE" -c "$TMP/config.yaml"
wait_port "${LISTEN%:*}" "${LISTEN##*:}"
P1=$(tfwd_pid dp)
LOGF=$TMP/dp.log

# ---- helpers -----------------------------------------------------------------

# alive PID: the process exists and is not a zombie.
alive() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}

# report_of PID: the newest report from data plane PID.
report_of() {
	jq -c "select(.type == \"report\" and .pid == $1)" "$TMP/cp.reports" 2>/dev/null |
		tail -n 1
}

# wait_report_of PID TIMEOUT JQ WHAT
wait_report_of() {
	wait_until "$2" eval "report_of $1 | jq -e '$3' >/dev/null 2>&1" ||
		fail "$4: not true within $2 s: $3 :: $(report_of "$1")"
}

# log_ms TIMESTAMP: a log timestamp (2026-11-26T16:39:01.532Z) in ms.
log_ms() {
	local t=${1%Z}
	date -u -d "${t/T/ }" +%s%3N
}

# listeners_of PID: listening sockets PID holds on the port.
listeners_of() {
	ss -Hltnp "sport = :${LISTEN##*:}" | grep -c "pid=$1," || true
}

# successor OLD: the pid that took over from OLD, per OLD's log.
successor() {
	sed -n "s/.*dataplane\[$1\] INFO main: upgrade: pid \([0-9]*\) took over.*/\1/p" \
		"$LOGF" | tail -n 1
}

# upgrade OLD: SIGUSR2 to OLD and waits for the process that took over:
# NEW its pid, OWN_MS the old process's figure (SIGUSR2 to the new one
# taking over), STOP_MS from the kill(1) to the old process's last worker
# closing its listener (its log).
upgrade() {
	local old=$1 t0 ts n
	t0=$(date -u +%s%3N)
	kill -USR2 "$old"
	wait_until 20 eval '[ -n "$(successor '"$old"')" ]' ||
		fail "no process took over from pid $old"
	NEW=$(successor "$old")
	TFWD_PIDS[dp-$NEW]=$NEW
	TFWD_ORDER+=("dp-$NEW")
	OWN_MS=$(sed -n "s/.*dataplane\[$old\] .*took over \([0-9]*\) ms after SIGUSR2.*/\1/p" \
		"$LOGF" | tail -n 1)
	# (a worker of a process that exits at once, with nothing to drain,
	# may not get to say it)
	wait_until 5 eval "[ \$(grep -ic 'dataplane\[$old\] debug worker: worker [0-9]*: stopped accepting' \"$LOGF\") -ge $WORKERS ] || ! alive $old" ||
		fail "pid $old: workers did not stop accepting"
	ts=$(grep -i -e "dataplane\[$old\] debug worker: worker [0-9]*: stopped accepting" \
		-e "dataplane\[$old\] INFO main: upgrade: pid $NEW took over" "$LOGF" |
		tail -n 1 | cut -d' ' -f1)
	STOP_MS=$(($(log_ms "$ts") - t0))
	n=$(grep -c "dataplane\[$NEW\] " "$LOGF")
	log "pid $NEW took over from pid $old: ${OWN_MS} ms after SIGUSR2 (old process's clock), listeners closed ${STOP_MS} ms after kill(1); $n log lines"
	assert_ne "$NEW" "$old" "new pid"
	grep -q "dataplane\[$old\] INFO main: SIGUSR2: upgrading: started .* as pid $NEW " "$LOGF" ||
		fail "pid $NEW is not the process pid $old started"
}

# upgrade_fails OLD REGEX: SIGUSR2 to OLD must fail with a log line of
# OLD's matching REGEX, OLD keeps serving and no other process listens.
upgrade_fails() {
	local old=$1 re=$2 n
	n=$(grep -c "dataplane\[$old\] WARN main: upgrade failed" "$LOGF" || true)
	kill -USR2 "$old"
	wait_until 20 eval "[ \$(grep -c 'dataplane\[$old\] WARN main: upgrade failed' \"$LOGF\") -gt $n ]" ||
		fail "pid $old: no failed upgrade logged"
	grep "dataplane\[$old\] WARN main: upgrade failed" "$LOGF" | tail -n 1 | grep -Eq -- "$re" ||
		fail "pid $old: upgrade failure not as expected (/$re/): $(grep "dataplane\[$old\] WARN main: upgrade failed" "$LOGF" | tail -n 1)"
	log "as expected: $(grep "dataplane\[$old\] WARN main: upgrade failed" "$LOGF" | tail -n 1 | cut -d' ' -f4-)"
	alive "$old" || fail "pid $old died after a failed upgrade"
	[ -z "$(successor "$old")" ] || fail "pid $old handed over after all"
	# every listener is still the old process's alone
	wait_until 5 eval "[ \$(ss -Hltnp 'sport = :${LISTEN##*:}' | grep -vc 'pid=$old,') = 0 ]" ||
		fail "another process holds the port: $(ss -Hltnp "sport = :${LISTEN##*:}")"
	client hold --connect "$LISTEN" --conns 20 --echo-check --json --timeout 20 \
		>"$TMP/after-fail.json" || fail "port after a failed upgrade: $(cat "$TMP/after-fail.json")"
}

# ---- two upgrades under load ------------------------------------------------

wait_report_of "$P1" 10 ".serving_generation == 1 and $(be_field "$A" pool_idle) == 2" "first process serving"
tfwd_start bulk "$TFWD_BIN/tfwd-client" bulk --connect "$LISTEN" --streams 4 \
	--seconds 20 --direction both --json --timeout 90
tfwd_start hold "$TFWD_BIN/tfwd-client" hold --connect "$LISTEN" --conns 50 \
	--hold-ms 21000 --echo-check --ready-file "$TMP/hold.ready" --json --timeout 90
tfwd_start rate "$TFWD_BIN/tfwd-client" rate --connect "$LISTEN" \
	--concurrency 16 --seconds 20 --fail-on-error --json --timeout 90
wait_until 10 test -s "$TMP/hold.ready" || fail "held clients not connected"
wait_report_of "$P1" 10 '.connections_active >= 54 and .bytes_in > 0' "streams flowing"
sleep 2

upgrade "$P1"
P2=$NEW
OWN1=$OWN_MS STOP1=$STOP_MS
grep -q "dataplane\[$P1\] INFO main: upgrade: pid $P2 took over .* draining [0-9]* connections" "$LOGF"
drained=$(sed -n "s/.*dataplane\[$P1\] INFO main: upgrade: .* draining \([0-9]*\) connections.*/\1/p" "$LOGF")
assert_ge "$drained" 54 "connections the first process kept (4 streams, 50 held)"
grep -q "dataplane\[$P2\] INFO main: taking over from pid $P1: 2 listening sockets inherited" "$LOGF" ||
	fail "pid $P2 did not say what it inherited"
grep -q "dataplane\[$P2\] INFO main: serving active set .* from the old process" "$LOGF" ||
	fail "pid $P2 did not start from the handed-over set"
# the new process serves new connections; the old one takes no more
wait_report_of "$P2" 10 '.serving_generation == 1 and .connections_total > 100' "new connections on pid $P2"
sleep 1
old_total=$(report_of "$P1" | jq .connections_total)
ss -Hltnp "sport = :${LISTEN##*:}" | grep -q "pid=$P1," &&
	fail "pid $P1 still holds a listening socket"

sleep 4
# a package upgrade: a new file at the same path
cp "$TFWD_BIN/tcpfwd-dataplane" "$EXE.new"
mv -f "$EXE.new" "$EXE"
case $(readlink "/proc/$P2/exe") in
*"(deleted)") ;;
*) fail "pid $P2 does not run a replaced binary: $(readlink "/proc/$P2/exe")" ;;
esac
upgrade "$P2"
P3=$NEW
OWN2=$OWN_MS STOP2=$STOP_MS
assert_eq "$(readlink "/proc/$P3/exe")" "$EXE" "binary of the second new process"
wait_report_of "$P3" 10 '.connections_total > 100' "new connections on pid $P3"
# the second process had only short connections: it is gone soon
wait_until 10 eval "! alive $P2" || fail "pid $P2 still running 10 s after handing over"
grep -q "dataplane\[$P2\] INFO main: all connections finished" "$LOGF" ||
	fail "pid $P2 did not finish its connections"

tfwd_wait_exit rate 90
tfwd_wait_exit bulk 90
tfwd_wait_exit hold 90
assert_eq "${TFWD_STATUS[rate]}" 0 "short connections across two upgrades ($(tail -n 1 "$TMP/rate.log"))"
assert_eq "${TFWD_STATUS[bulk]}" 0 "streams across two upgrades ($(tail -n 1 "$TMP/bulk.log"))"
assert_eq "${TFWD_STATUS[hold]}" 0 "held connections across two upgrades ($(tail -n 1 "$TMP/hold.log"))"
rate_ok=$(tail -n 1 "$TMP/rate.log" | json_get conns_ok)
rate_failed=$(tail -n 1 "$TMP/rate.log" | json_get conns_failed)
assert_eq "$rate_failed" 0 "refused or reset short connections"
assert_contains "$TMP/bulk.log" '"verified":true' "bulk bytes verified"
assert_contains "$TMP/bulk.log" '"streams_ok":4' "bulk streams"
assert_contains "$TMP/hold.log" '"conns_ok":50' "held connections"

# the first process ends once its streams and held connections are done
tfwd_wait_exit dp 20
assert_eq "${TFWD_STATUS[dp]}" 0 "exit status of pid $P1"
grep -q "dataplane\[$P1\] INFO main: all connections finished" "$LOGF" ||
	fail "pid $P1 did not finish its connections (drain timeout?)"
assert_eq "$(report_of "$P1" | jq .connections_total)" "$old_total" \
	"connections pid $P1 accepted after handing over"
for p in "$P1" "$P2" "$P3"; do
	assert_eq "$(report_of "$p" | jq '[.errors[]] | add')" 0 "errors counted by pid $p"
done
carried=$((rate_ok + 4 + 50))
log "FIGURE connections carried during the upgrades: $carried ($rate_ok short, 4 streams of $(tail -n 1 "$TMP/bulk.log" | json_get gbps_total) Gbit/s, 50 held)"
log "FIGURE handover 1: new process took over ${OWN1} ms after SIGUSR2; old stopped accepting ${STOP1} ms after the signal was sent"
log "FIGURE handover 2: new process took over ${OWN2} ms after SIGUSR2; old stopped accepting ${STOP2} ms after the signal was sent"
echo "connections carried: $carried; handover ms (signal to old stopped accepting): $STOP1, $STOP2"

# ---- the backlog survives the old process letting go -------------------------

upgrade "$P3"
P4=$NEW
wait_until 10 eval "! alive $P3" || fail "pid $P3 did not exit"
kill -STOP "$P4"
tfwd_start queued "$TFWD_BIN/tfwd-client" hold --connect "$LISTEN" --conns 40 \
	--hold-ms 200 --echo-check --ready-file "$TMP/queued.ready" --json --timeout 30
# connected while nobody accepts: they wait in the listeners' queues
wait_until 5 test -s "$TMP/queued.ready" ||
	{ kill -CONT "$P4"; fail "40 clients not connected"; }
grep -qx 'connected=40' "$TMP/queued.ready" ||
	{ kill -CONT "$P4"; fail "queued clients: $(cat "$TMP/queued.ready")"; }
log "40 clients queued on the listeners while pid $P4 is stopped"
kill -CONT "$P4"
tfwd_wait_exit queued 30
assert_eq "${TFWD_STATUS[queued]}" 0 "queued clients ($(tail -n 1 "$TMP/queued.log"))"

# ---- failures keep the running process serving -------------------------------

# a broken config file
sed 's/drain_timeout: "60s"/drain_timeout: "60x"/' "$TMP/config.good" >"$TMP/config.yaml"
upgrade_fails "$P4" "upgrade failed after [0-9]+ ms: .*config.yaml:[0-9]+:[0-9]+: pools.common.drain_timeout: invalid duration .*; pid $P4 keeps serving"
cp "$TMP/config.good" "$TMP/config.yaml"

# no binary at the path
mv "$EXE" "$EXE.away"
upgrade_fails "$P4" "cannot start $EXE: No such file or directory"
mv "$EXE.away" "$EXE"

# a new process that dies before taking over
cp "$EXE" "$EXE.real"
printf '#!/bin/sh\nkill -SEGV $$\n' >"$EXE.tmp"
chmod 755 "$EXE.tmp"
mv -f "$EXE.tmp" "$EXE"
upgrade_fails "$P4" "closed the handover channel before taking over|killed by signal 11"

# one that never answers: killed after 10 s
printf '#!/bin/sh\nexec sleep 30\n' >"$EXE.tmp"
chmod 755 "$EXE.tmp"
mv -f "$EXE.tmp" "$EXE"
upgrade_fails "$P4" "did not take over within 10000 ms \\(killed\\)"

# a slow one, and a second SIGUSR2 meanwhile: ignored
printf '#!/bin/bash\nsleep 1\nexec -a "$0" "%s" "$@"\n' "$EXE.real" >"$EXE.tmp"
chmod 755 "$EXE.tmp"
mv -f "$EXE.tmp" "$EXE"
n0=$(grep -c "dataplane\[$P4\] INFO main: SIGUSR2: upgrading" "$LOGF" || true)
kill -USR2 "$P4"
wait_until 5 eval "[ \$(grep -c 'dataplane\[$P4\] INFO main: SIGUSR2: upgrading' \"$LOGF\") -gt $n0 ]" ||
	fail "pid $P4 did not start an upgrade"
started=$(sed -n "s/.*dataplane\[$P4\] INFO main: SIGUSR2: upgrading: started .* as pid \([0-9]*\) .*/\1/p" "$LOGF" | tail -n 1)
kill -USR2 "$P4"
wait_until 5 grep -q "dataplane\[$P4\] WARN main: SIGUSR2 ignored: the upgrade to pid $started is in progress" "$LOGF" ||
	fail "second SIGUSR2 not ignored"
wait_until 20 eval '[ -n "$(successor '"$P4"')" ]' || fail "slow upgrade did not complete"
P5=$(successor "$P4")
TFWD_PIDS[dp-$P5]=$P5
TFWD_ORDER+=("dp-$P5")
assert_eq "$P5" "$started" "the one process started took over"
assert_eq "$(grep -c "dataplane\[$P4\] INFO main: SIGUSR2: upgrading" "$LOGF")" $((n0 + 1)) \
	"upgrades started by pid $P4"
wait_until 10 eval "! alive $P4" || fail "pid $P4 did not exit"
mv -f "$EXE.real" "$EXE"

# ---- dataplane.workers changed: more listeners opened, none closed -----------

sed 's/^  workers: 2$/  workers: 3/' "$TMP/config.good" >"$TMP/config.yaml"
upgrade "$P5"
P5b=$NEW
grep -q "dataplane\[$P5b\] INFO main: taking over from pid $P5: 2 listening sockets inherited, 1 more opened for dataplane.workers 3" "$LOGF" ||
	fail "pid $P5b: no extra listener opened"
wait_until 10 eval "! alive $P5" || fail "pid $P5 did not exit"
# (ss may miss a socket while other tests change the table: ask again)
wait_output 5 = 3 listeners_of "$P5b" || fail "listeners of pid $P5b: $(listeners_of "$P5b")"
sed 's/^  workers: 2$/  workers: 1/' "$TMP/config.good" >"$TMP/config.yaml"
upgrade "$P5b"
P5=$NEW
grep -q "dataplane\[$P5\] INFO main: taking over from pid $P5b: 3 listening sockets inherited; dataplane.workers asks for 1, running 3" "$LOGF" ||
	fail "pid $P5: inherited listeners not all kept"
wait_until 10 eval "! alive $P5b" || fail "pid $P5b did not exit"
wait_output 5 = 3 listeners_of "$P5" || fail "listeners of pid $P5: $(listeners_of "$P5")"
client hold --connect "$LISTEN" --conns 30 --echo-check --json --timeout 20 \
	>"$TMP/workers.json" || fail "clients after the worker changes: $(cat "$TMP/workers.json")"
cp "$TMP/config.good" "$TMP/config.yaml"

# ---- the control plane down, no state file ------------------------------------

tfwd_stop cp
rm -f "$TMP/state/dataplane.json"
upgrade "$P5"
P6=$NEW
grep -q "dataplane\[$P6\] INFO main: serving active set .* from the old process (2 backends" "$LOGF" ||
	fail "pid $P6 did not start from the handed-over set"
client hold --connect "$LISTEN" --conns 20 --echo-check --json --timeout 20 \
	>"$TMP/nocp.json" || fail "clients with the control plane down: $(cat "$TMP/nocp.json")"
wait_until 10 eval "! alive $P5" || fail "pid $P5 did not exit"
# it reports to the control plane once that is back
start_cp cp --set "$A,$B"
wait_report_of "$P6" 10 '.serving_generation == 1' "pid $P6 reporting to the restarted control plane"

# ---- a clean stop of the last one -------------------------------------------------

kill -TERM "$P6"
wait_until 10 eval "! alive $P6" || fail "pid $P6 did not stop"
unset "TFWD_PIDS[dp-$P6]"
grep -q "dataplane\[$P6\] INFO main: stopped" "$LOGF" || fail "pid $P6 did not stop cleanly"
assert_sanitizer_clean dp
echo "PASS: two upgrades under load, backlog kept, failures harmless, control plane down"
