#!/usr/bin/env bash
#
# Guards SPEC 7.7, out of file descriptors: the data plane runs with
# RLIMIT_NOFILE 64 and 100 clients arrive. It must not crash nor spin (under
# 20% of a core while starved), must count the shortage as accept errors,
# and must back off accepting so that clients arriving meanwhile wait in the
# listen backlog and are served once descriptors free up. No client may be
# taken only to be closed for want of a descriptor for its backend (the bug
# this guards: with one descriptor left, accept succeeded, the backend dial
# failed with EMFILE and every queued client was accepted and dropped).
# With two workers, one may take the descriptor the other kept spare for a
# client's backend: that client is held and dialled again, not dropped.
# Afterwards new clients are served normally.

# tfwd-serial: measures CPU or rates; alone on the machine
set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
tfwd_tmpdir
require_bin tcpfwd-dataplane tfwd-backend tfwd-client tfwd-cp
require_cmd prlimit

ECHO=127.0.0.2:$(free_port)
start_backend echo echo "$ECHO"
# two workers: one may take the descriptor the other kept spare for its
# client's backend (f_07 runs the single-worker case)
WORKERS=${WORKERS:-2} write_config "$TMP/config.yaml"
start_cp cp --set "$ECHO"
# prlimit execs the data plane: the PID is the data plane's
tfwd_start dp prlimit --nofile=64 "$TFWD_BIN/tcpfwd-dataplane" -c "$TMP/config.yaml"
wait_port "${LISTEN%:*}" "${LISTEN##*:}"
DP=$(tfwd_pid dp)
wait_report cp 10 '.serving_generation == 1' "set served"
assert_contains "/proc/$DP/limits" '^Max open files +64 +64' "descriptor limit"

# 100 clients held for 5 s: far more than 64 descriptors allow
tfwd_start flood "$TFWD_BIN/tfwd-client" hold --connect "$LISTEN" --conns 100 \
	--hold-ms 5000 --ready-file "$TMP/flood.ready" --json --timeout 40
wait_until 10 test -s "$TMP/flood.ready" || fail "flood clients not connected"
wait_report cp 10 '.errors.accept >= 1' "descriptor shortage counted at accept"
served=$(report_get cp '.connections_active')
log "starved: $served clients served, $(fd_count "$DP") descriptors open"
assert_le "$served" 32 "clients served with 64 descriptors"

# while starved: a client arriving now must wait, not be taken and dropped
tfwd_start late "$TFWD_BIN/tfwd-client" hold --connect "$LISTEN" --conns 10 \
	--echo-check --json --timeout 30

# no busy loop while starved
hz=$(getconf CLK_TCK)
c0=$(cpu_ticks "$DP")
sleep 2
c1=$(cpu_ticks "$DP")
pct=$(((c1 - c0) * 100 / (2 * hz)))
log "CPU while starved: $((c1 - c0)) ticks in 2 s ($pct% of a core)"
assert_le "$pct" 20 "CPU of the starved data plane (% of a core)"
tfwd_running dp || fail "the data plane died while starved"

# the flood ends: descriptors free up, the waiting clients get served
tfwd_wait_exit flood 30
assert_eq "${TFWD_STATUS[flood]}" 0 \
	"flood clients: none closed by the data plane ($(tail -n 1 "$TMP/flood.log"))"
tfwd_wait_exit late 30
assert_eq "${TFWD_STATUS[late]}" 0 \
	"clients that arrived while starved, served later ($(tail -n 1 "$TMP/late.log"))"
report_fresh cp
log "errors: $(report_get cp '.errors | tostring')"
assert_eq "$(report_get cp '.errors.resource')" 0 "clients taken, then dropped for want of a descriptor"

# 10 at once: with 64 descriptors, two workers' own (epoll, eventfds,
# spares, pipes) leave room for about 18 forwarded connections
client hold --connect "$LISTEN" --conns 10 --echo-check --json --timeout 20 \
	>"$TMP/after.json" || fail "clients after the shortage: $(cat "$TMP/after.json")"
dp_assert_idle cp
stop_clean dp
