#!/usr/bin/env bash
#
# Guards issue 5's "clock jumps (CLOCK_MONOTONIC everywhere: check)":
#  1. the sources: every read of the wall clock (time(), gettimeofday(),
#     ftime(), CLOCK_REALTIME, CLOCK_TAI) is one of a reviewed list, each
#     for display or ids only (log timestamps, a fallback instance id, the
#     control plane's *_unix_ms fields shown by the API and saved in its
#     state file), and those fields are never subtracted or compared;
#     anything new fails here until it is reviewed and listed;
#  2. the running daemons: both run under libfaketime (Debian's faketime
#     package: LD_PRELOAD, the wall clock read from a file, the monotonic
#     clock left alone) while clients are served (rate, --fail-on-error)
#     and 10 silent clients sit on an idle_timeout of 4s; the wall clock
#     jumps 5 hours forward, then 10 hours back (their logs show it):
#       - no client connection fails; the silent ones are closed 4 s after
#         they went quiet (each in [3.8, 6] s), neither at the jump nor
#         hours later;
#       - probes go on at their interval (the count in a 3 s window after
#         each jump within half and twice the one before);
#       - the data plane stays listed and in sync (not expired as silent
#         for 5 hours), the active set and its generation do not change,
#         both uptimes stay within 3 s of the real elapsed time;
#       - both daemons exit 0.

set -euo pipefail
# shellcheck source=tests/faults/lib.sh
. "$(dirname "$0")/lib.sh"

# ---- 1. the sources -------------------------------------------------------------
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# file:function of every wall-clock read, and why it is fine
ALLOWED='
common/log.c:log_timestamp		log line timestamps (display)
proto/proto.c:proto_new_id		instance id fallback when getrandom() fails
controlplane/cp_main.c:cp_unix_ms	the *_unix_ms fields below (display, state file)
'
wall_reads() {
	local f
	(cd "$ROOT" && grep -rlE '\b(time|gettimeofday|ftime)\s*\(|CLOCK_REALTIME|CLOCK_TAI' \
		common proto dataplane controlplane --include='*.c' --include='*.h') |
		while read -r f; do
			awk -v f="$f" '/^[a-z_][a-z0-9_]*\(/ { fn = $0; sub(/\(.*/, "", fn) }
			    /(^|[^a-z_])(time|gettimeofday|ftime)[ \t]*\(|CLOCK_REALTIME|CLOCK_TAI/ {
				if ($0 !~ /^[ \t]*(\*|\/\*)/) print f ":" fn }' "$ROOT/$f"
		done | sort -u
}
n_reads=0
for r in $(wall_reads); do
	grep -q "^${r}[[:space:]]" <<<"$ALLOWED" ||
		fail "wall clock read in $r: review it (timing must use CLOCK_MONOTONIC, e.g. evloop_now()); if it is for display only, list it in $(basename "$0")"
	n_reads=$((n_reads + 1))
done
# cp_unix_ms() only fills *_unix_ms fields or the state file's saved_at
bad=$(cd "$ROOT" || exit 1; grep -rn 'cp_unix_ms()' controlplane --include='*.c' |
	grep -vE '_unix_ms = cp_unix_ms\(\);|scoreboard_encode\(.*cp_unix_ms\(\)' |
	grep -v 'controlplane/cp_main.c:[0-9]*:cp_unix_ms(void)' || true)
[ -z "$bad" ] || fail "cp_unix_ms() used for something else than a *_unix_ms field: $bad"
# and those fields are never subtracted, added to or ordered (== 0 is fine)
bad=$(cd "$ROOT" && python3 - common proto dataplane controlplane <<'EOF'
import os, re, sys
pat = re.compile(r'_unix_ms\s*([-+<>]|\bif\b)|([-+<>]=?)\s*[\w.]*_unix_ms\b')
for top in sys.argv[1:]:
    for d, _, files in os.walk(top):
        for f in files:
            if not f.endswith(".c"):
                continue
            p = os.path.join(d, f)
            for n, line in enumerate(open(p, errors="replace"), 1):
                code = line.replace("->", ".")
                if "_unix_ms" in code and pat.search(code):
                    print("%s:%d: %s" % (p, n, line.strip()))
EOF
)
[ -z "$bad" ] || fail "a *_unix_ms (wall clock) value used in arithmetic or an ordering: $bad"
log "sources: $n_reads wall-clock reads, all reviewed (display and ids only)"

# ---- 2. the running daemons under libfaketime ---------------------------------------
fault_requires tcpfwd-dataplane tcpfwd-controlplane tfwd-backend tfwd-client
FAKETIME_LIB=$(find /usr/lib -path '*/faketime/libfaketimeMT.so.1' 2>/dev/null | head -n 1)
[ -n "$FAKETIME_LIB" ] || skip "libfaketime not installed (Debian package faketime)"
fault_netns "$@"

P=$((20000 + RANDOM % 10000))
A=$NET.10:$P B=$NET.11:$P
start_back_backend a echo "$A"
start_back_backend b echo "$B"
write_iplist "$TMP/ip_list.txt" "$A" "$B"
IDLE_TIMEOUT=4s PROBE_INTERVAL=500ms EVAL_INTERVAL=500ms ACTIVE_SET_SIZE=2 \
	write_config "$TMP/c.yaml"
echo "+0" >"$TMP/faketime.rc"
FAKE=(env LD_PRELOAD="$FAKETIME_LIB" FAKETIME_TIMESTAMP_FILE="$TMP/faketime.rc"
	FAKETIME_DONT_FAKE_MONOTONIC=1 FAKETIME_CACHE_DURATION=1
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0")
tfwd_start cp "${FAKE[@]}" "$TFWD_BIN/tcpfwd-controlplane" -c "$TMP/c.yaml"
wait_port "${ADMIN%:*}" "${ADMIN##*:}"
T_CP=$(date +%s%N)
tfwd_start dp "${FAKE[@]}" "$TFWD_BIN/tcpfwd-dataplane" -c "$TMP/c.yaml"
wait_port "${LISTEN%:*}" "${LISTEN##*:}"
T_DP=$(date +%s%N)
wait_members 15 "$A,$B"
wait_dp_in_sync 10
SET=$(members) GEN=$(generation)

probes() {
	admin_get /metrics | awk '$1 ~ /^tcp_forwarder_health_checks_total\{/ { s += $2 } END { print s + 0 }'
}
# probe_rate: probes in a 3 s window
probe_rate() {
	local p0
	p0=$(probes)
	sleep 3
	echo $(($(probes) - p0))
}
# clock_shift_is NAME H: true when NAME's newest log line, written on
# SIGHUP, is H hours off the real time (what NAME thinks the time is).
clock_shift_is() {
	local before line t
	before=$(wc -l <"$TMP/$1.log")
	tfwd_signal "$1" HUP
	wait_until 5 eval "[ \$(wc -l <'$TMP/$1.log') -gt $before ]" || fail "$1 logged nothing on SIGHUP"
	line=$(tail -n +$((before + 1)) "$TMP/$1.log" | grep -m1 -o '^[0-9T:.-]*Z')
	t=$(date -u -d "$line" +%s)
	SHIFT_H=$(((t - $(date -u +%s)) / 3600))
	[ "$SHIFT_H" = "$2" ]
}
# wait_shift NAME H: libfaketime rereads its file at most once a second,
# on a clock read: a few tries.
wait_shift() {
	local i
	for i in 1 2 3 4; do
		clock_shift_is "$1" "$2" && return 0
		sleep 1
	done
	fail "$1's clock is $SHIFT_H h off, not $2 h"
}

tfwd_start rate "$TFWD_BIN/tfwd-client" rate --connect "$LISTEN" \
	--concurrency 2 --seconds 14 --fail-on-error --json --timeout 60
rate0=$(probe_rate)
log "probes in 3 s before any jump: $rate0"

# jump WHAT OFFSET EXPECTED_SHIFT_H: silent clients, the jump, the checks
jump() {
	local i min=999999 max=0 r
	for i in $(seq 1 10); do
		start_silent_client "s$1$i" "$LISTEN"
	done
	sleep 1
	echo "$2" >"$TMP/faketime.rc"
	sleep 1.2 # libfaketime reads the file at most once a second
	wait_shift dp "$3"
	wait_shift cp "$3"
	r=$(probe_rate)
	log "$1: clocks at $3 h; probes in 3 s after the jump: $r"
	assert_ge "$r" $((rate0 / 2)) "probes after the jump ($1)"
	assert_le "$r" $((rate0 * 2 + 2)) "probes after the jump ($1)"
	for i in $(seq 1 10); do
		silent_client_wait "s$1$i"
		[ "$SILENT_MS" -lt "$min" ] && min=$SILENT_MS
		[ "$SILENT_MS" -gt "$max" ] && max=$SILENT_MS
	done
	log "$1: silent clients closed after $min..$max ms (idle_timeout 4 s)"
	assert_ge "$min" 3800 "silent clients closed at idle_timeout, not at the jump ($1)"
	assert_le "$max" 6000 "silent clients closed at idle_timeout ($1)"
	wait_dp_in_sync 3
	assert_eq "$(members)" "$SET" "active set after the jump ($1)"
	assert_eq "$(generation)" "$GEN" "generation after the jump ($1)"
	JUMP_MS="$min..$max"
}
jump forward +5h 5
FWD_MS=$JUMP_MS
jump back -5h -5
BACK_MS=$JUMP_MS

tfwd_wait_exit rate 60
rate_json=$(grep '^{' "$TMP/rate.log" | tail -n 1)
assert_eq "${TFWD_STATUS[rate]}" 0 "clients across the jumps ($rate_json)"
conns=$(json_get conns_ok <<<"$rate_json")
cp_up=$(jget /api/v1/status .uptime_seconds)
dp_up=$(jget /api/v1/status '.dataplanes[0].uptime_seconds')
real_cp=$((($(date +%s%N) - T_CP) / 1000000000)) real_dp=$((($(date +%s%N) - T_DP) / 1000000000))
log "uptimes: control plane $cp_up s (real $real_cp), data plane $dp_up s (real $real_dp)"
assert_le "$(( cp_up > real_cp ? cp_up - real_cp : real_cp - cp_up ))" 3 "control plane uptime off by (s)"
assert_le "$(( dp_up > real_dp ? dp_up - real_dp : real_dp - dp_up ))" 3 "data plane uptime off by (s)"
wait_api 10 /api/v1/status '.dataplanes[0].connections_active == 0' "data plane idle"
fault_result "conns=$conns lost=0 jumps=+5h,-10h idle_closed_ms_fwd=$FWD_MS idle_closed_ms_back=$BACK_MS probes_3s=$rate0 set_kept=yes wall_clock_reads=$n_reads(display)"
stop_clean dp
stop_clean cp
