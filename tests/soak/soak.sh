#!/usr/bin/env bash
#
# Soak (issue 5; `make soak DURATION=600`, not part of `make test`): the
# real control plane and data plane (2 workers, static pools) in front of
# three echo backends carry mixed load for DURATION seconds while the
# control plane is killed (kill -9) and restarted and the data plane is
# upgraded in place (SIGUSR2), each every SOAK_EVERY seconds (60), the two
# events half a period apart:
#
#	short  tfwd-client rate, 16 at once, --fail-on-error, 10 s runs
#	long   tfwd-client bulk, 2 byte-verified streams both ways, 30 s runs
#	idle   tfwd-client hold, 200 idle connections echo-checked every 20 s
#
# back to back, each restarted as soon as it ends. The backends echo after
# 50 ms, which keeps the streams long-lived at bounded CPU (about 80 MB/s
# each way per stream: two cores are shared with the clients) and every
# short connection a real round trip.
# Every 10 s one line: connections carried (finished client runs),
# failures, RSS and descriptors of both daemons. At the end a summary with
# the daemons' idle figures after a warm-up (start) and after the load
# (end). Exits 1 on any failure: a failed or timed-out client run, a daemon
# that died, a control plane that came back without its data plane or with
# another active set, an upgrade that failed or whose old process outlived
# its drain, or growth (start -> end) beyond:
#	RSS   more than SOAK_RSS_PCT percent (25) and SOAK_RSS_KB KiB (4096)
#	fds   more than SOAK_FDS (2) descriptors that are not splice pipes
#	      (the data plane keeps a bounded cache of those; shown apart)
#
# The data plane's upgrade is used only when its --help mentions USR2;
# otherwise the data plane runs restart-free (the summary says so).
# SOAK_EVERY=0 turns both events off (a pure leak run).
#
#	tests/soak/soak.sh BUILD_DIR DURATION_SECONDS
#
# The binaries are copied from BUILD_DIR/bin at start (the build folder is
# shared; an upgrade starts the copy). TFWD_KEEP=1 keeps the folder with
# every log and the samples (samples.tsv).

# shellcheck disable=SC2317,SC2016 # trap functions; eval strings
set -uo pipefail

if [ $# -ne 2 ]; then
	echo "usage: $0 BUILD_DIR DURATION_SECONDS" >&2
	exit 2
fi
case $2 in
'' | *[!0-9]*) echo "$0: DURATION must be whole seconds" >&2; exit 2 ;;
esac
export TFWD_BUILD=$1
DURATION=$2
EVERY=${SOAK_EVERY:-60}
RSS_PCT=${SOAK_RSS_PCT:-25}
RSS_KB=${SOAK_RSS_KB:-4096}
FDS_TOL=${SOAK_FDS:-2}
TICK=10

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"
tfwd_tmpdir
require_bin tcpfwd-dataplane tcpfwd-controlplane tfwd-backend tfwd-client
require_cmd jq curl
mkdir -p "$TMP/bin"
cp "$TFWD_BIN"/tcpfwd-dataplane "$TFWD_BIN"/tcpfwd-controlplane \
	"$TFWD_BIN"/tfwd-backend "$TFWD_BIN"/tfwd-client "$TMP/bin/" ||
	fail "cannot copy the binaries"
TFWD_BIN=$TMP/bin

failures=0
declare -a why=()
# failure TEXT: one more failure, remembered for the summary.
failure() {
	failures=$((failures + 1))
	why+=("$*")
	log "FAILURE: $*"
}

# The data plane after an upgrade is not our child: track it by PID, stop
# it (and any old one still draining) at exit before lib.sh's cleanup.
DP_PID=
declare -a DP_OLD=()
soak_cleanup() {
	local rc=$? p
	: >"$TMP/stop" 2>/dev/null
	for p in $DP_PID "${DP_OLD[@]}"; do
		[ -n "${TFWD_PIDS[dp]:-}" ] && [ "$p" = "${TFWD_PIDS[dp]}" ] &&
			continue
		kill -TERM "$p" 2>/dev/null
	done
	(exit "$rc")
	tfwd_cleanup
}
trap soak_cleanup EXIT

# ---- the system ------------------------------------------------------------

A=127.0.0.2:$(free_port)
B=127.0.0.3:$(free_port)
C=127.0.0.4:$(free_port)
start_backend a echo "$A" --threads 2 --delay-ms 50
start_backend b echo "$B" --threads 2 --delay-ms 50
start_backend c echo "$C" --threads 2 --delay-ms 50
write_iplist "$TMP/ip_list.txt" "$A" "$B" "$C"
WORKERS=2 POOL_TYPE=static POOL_SIZE=4 DRAIN_TIMEOUT=60s \
	write_config "$TMP/config.yaml"
start_controlplane cp "$TMP/config.yaml"
start_dataplane dp "$TMP/config.yaml"
DP_PID=$(tfwd_pid dp)
CP_PID=$(tfwd_pid cp)

# active_set: the sorted addresses of the control plane's active set.
active_set() {
	admin_get /api/v1/active-set 2>/dev/null |
		jq -r '.backends | sort | join(",")' 2>/dev/null
}
wait_output 20 = "$(printf '%s\n' "$A" "$B" "$C" | sort | paste -sd,)" \
	active_set || fail "active set after 20 s: '$(active_set)'"
SET=$(active_set)
dataplanes() {
	admin_get /healthz 2>/dev/null | jq -r '.dataplanes' 2>/dev/null
}
wait_output 10 -ge 1 dataplanes || fail "the data plane never connected"

upgrades=0
if "$TFWD_BIN/tcpfwd-dataplane" --help 2>&1 | grep -q USR2; then
	upgrade_ok=1
	log "the data plane supports SIGUSR2: upgraded every $EVERY s"
else
	upgrade_ok=0
	log "the data plane's --help has no USR2: no upgrades, restart-free"
fi

# ---- load --------------------------------------------------------------------

# loop NAME CMD...: runs CMD (a tfwd-client with --json) again and again
# until $TMP/stop exists; each run's exit status and JSON line go to
# $TMP/NAME.runs.
loop() {
	local name=$1 rc out
	shift
	while [ ! -e "$TMP/stop" ]; do
		rc=0
		out=$("$@" --json 2>>"$TMP/$name.err") || rc=$?
		printf '%s %s\n' "$rc" "$(tail -n 1 <<<"$out")" >>"$TMP/$name.runs"
	done
}

# load SECONDS_RATE SECONDS_BULK HOLD_MS: the three loops in the background.
declare -a LOOPS=()
load_start() {
	rm -f "$TMP/stop"
	loop rate "$TFWD_BIN/tfwd-client" rate --connect "$LISTEN" \
		--concurrency 16 --seconds "$1" --fail-on-error --timeout 60 &
	LOOPS+=($!)
	loop bulk "$TFWD_BIN/tfwd-client" bulk --connect "$LISTEN" \
		--streams 2 --seconds "$2" --direction both --timeout 120 &
	LOOPS+=($!)
	loop hold "$TFWD_BIN/tfwd-client" hold --connect "$LISTEN" \
		--conns 200 --ramp 50 --hold-ms "$3" --echo-check --timeout 90 &
	LOOPS+=($!)
}
load_stop() {
	local p
	: >"$TMP/stop"
	for p in "${LOOPS[@]}"; do
		wait "$p"
	done
	LOOPS=()
}

# runs_sum NAME JQ: the sum of JQ over NAME's finished runs.
runs_sum() {
	[ -s "$TMP/$1.runs" ] || { echo 0; return; }
	cut -d' ' -f2- "$TMP/$1.runs" | jq -s "map($2 // 0) | add // 0" 2>/dev/null ||
		echo 0
}
# runs_bad NAME: finished runs of NAME that failed (exit status not 0).
runs_bad() {
	[ -s "$TMP/$1.runs" ] || { echo 0; return; }
	awk '$1 != 0 { n++ } END { print n + 0 }' "$TMP/$1.runs"
}
carried() {
	echo $(($(runs_sum rate .conns_ok) + $(runs_sum bulk .streams_ok) +
	    $(runs_sum hold .conns_ok)))
}
client_failures() {
	echo $(($(runs_bad rate) + $(runs_bad bulk) + $(runs_bad hold)))
}

# figures PID: "RSS_KB FDS NONPIPE_FDS" of PID ("- - -" when gone).
figures() {
	if [ -n "$1" ] && [ -d "/proc/$1" ]; then
		echo "$(rss_kb "$1") $(fd_count "$1") $(fd_count_nonpipe "$1")"
	else
		echo "- - -"
	fi
}

active_conns() {
	metric tcp_forwarder_active_connections 2>/dev/null
}

# idle_figures: waits until the data plane reports no client connection,
# then until both daemons' figures hold still for a second; sets IDLE to
# "DP_RSS DP_FDS DP_NONPIPE CP_RSS CP_FDS CP_NONPIPE".
IDLE=
idle_figures() {
	local prev="" cur i
	wait_output 30 = 0 active_conns ||
		failure "connections still open 30 s after the load: $(active_conns)"
	for ((i = 0; i < 20; i++)); do
		sleep 1
		cur="$(figures "$DP_PID") $(figures "$CP_PID")"
		# RSS may move by a page or two: compare descriptors only
		if [ -n "$prev" ] && [ "$(cut -d' ' -f2,3,5,6 <<<"$cur")" = \
		    "$(cut -d' ' -f2,3,5,6 <<<"$prev")" ]; then
			break
		fi
		prev=$cur
	done
	IDLE=$cur
}

# ---- the events ---------------------------------------------------------------

cp_kills=0
# cp_restart: kill -9, 1 s without a control plane, start it again; the
# data plane must come back to it and the active set must not change.
cp_restart() {
	local t0
	tfwd_kill cp KILL
	sleep 1
	t0=$(date +%s%N)
	start_controlplane cp "$TMP/config.yaml"
	CP_PID=$(tfwd_pid cp)
	cp_kills=$((cp_kills + 1))
	if ! wait_output 15 -ge 1 dataplanes; then
		failure "restarted control plane: no data plane after 15 s"
		return
	fi
	if ! wait_output 15 = "$SET" active_set; then
		failure "restarted control plane: active set '$(active_set)', was '$SET'"
		return
	fi
	log "control plane restarted (pid $CP_PID): data plane back and set unchanged after $(elapsed_ms "$t0") ms"
}

# dp_upgrade: SIGUSR2; the old process must name its successor, the
# successor must serve, the old one must exit within its drain.
dp_upgrade() {
	local off new line t0 old=$DP_PID
	off=$(stat -c %s "$TMP/dp.log")
	t0=$(date +%s%N)
	kill -USR2 "$old" || { failure "cannot signal the data plane"; return; }
	line=
	wait_until 15 eval "line=\$(tail -c +$((off + 1)) '$TMP/dp.log' |
	    grep -E 'upgrade: pid [0-9]+ took over|upgrade failed' | head -n 1);
	    [ -n \"\$line\" ]" || true
	case $line in
	*'took over'*)
		new=$(sed -E 's/.*upgrade: pid ([0-9]+) took over.*/\1/' <<<"$line")
		;;
	*)
		failure "upgrade of pid $old: ${line:-no outcome logged within 15 s}"
		return
		;;
	esac
	[ -d "/proc/$new" ] || { failure "upgrade: new pid $new is gone"; return; }
	DP_PID=$new
	DP_OLD+=("$old")
	upgrades=$((upgrades + 1))
	log "data plane upgraded: pid $old -> $new in $(elapsed_ms "$t0") ms"
}

# check_old: old data planes must be gone 65 s (drain_timeout + 5 s) after
# their upgrade.
declare -A OLD_SINCE=()
check_old() {
	local p keep=()
	for p in "${DP_OLD[@]}"; do
		: "${OLD_SINCE[$p]:=$SECONDS}"
		if [ ! -d "/proc/$p" ] || grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null; then
			if [ "$p" = "${TFWD_PIDS[dp]:-}" ]; then
				wait "$p" 2>/dev/null
				unset 'TFWD_PIDS[dp]'
			fi
			continue
		fi
		if [ $((SECONDS - OLD_SINCE[$p])) -gt 65 ]; then
			failure "old data plane $p still running $((SECONDS - OLD_SINCE[$p])) s after its upgrade"
			kill -TERM "$p" 2>/dev/null
			continue
		fi
		keep+=("$p")
	done
	DP_OLD=("${keep[@]}")
}

# ---- run -----------------------------------------------------------------------

log "warm-up: 15 s of load, then the idle figures"
load_start 10 10 5000
sleep 15
load_stop
[ "$(client_failures)" = 0 ] || failure "warm-up: $(client_failures) failed client runs"
idle_figures
read -r S_DP_RSS S_DP_FDS S_DP_NP S_CP_RSS S_CP_FDS S_CP_NP <<<"$IDLE"
S_DP_PID=$DP_PID S_CP_PID=$CP_PID
log "start (idle): data plane pid $DP_PID rss ${S_DP_RSS} KiB fds $S_DP_FDS ($S_DP_NP not pipes); control plane pid $CP_PID rss ${S_CP_RSS} KiB fds $S_CP_FDS ($S_CP_NP not pipes)"
for f in rate bulk hold; do mv "$TMP/$f.runs" "$TMP/$f.warmup" 2>/dev/null; done

printf 't\tconns\tfailures\tdp_pid\tdp_rss_kb\tdp_fds\tdp_nonpipe\tcp_pid\tcp_rss_kb\tcp_fds\tcp_nonpipe\n' \
	>"$TMP/samples.tsv"
log "soak: $DURATION s of load; control-plane kill and $([ $upgrade_ok = 1 ] && echo "data-plane upgrade" || echo "no upgrade") every $EVERY s"
load_start 10 30 20000
t_start=$SECONDS
next=$TICK
peak_dp=0 peak_cp=0
while :; do
	sleep $((t_start + next - SECONDS > 0 ? t_start + next - SECONDS : 0))
	t=$((SECONDS - t_start))
	if ! tfwd_running cp; then
		failure "the control plane (pid $CP_PID) died"
		break
	fi
	if [ ! -d "/proc/$DP_PID" ]; then
		failure "the data plane (pid $DP_PID) died"
		break
	fi
	check_old
	read -r dr df dn <<<"$(figures "$DP_PID")"
	read -r cr cf cn <<<"$(figures "$CP_PID")"
	[ "$dr" != - ] && [ "$dr" -gt "$peak_dp" ] && peak_dp=$dr
	[ "$cr" != - ] && [ "$cr" -gt "$peak_cp" ] && peak_cp=$cr
	n=$(carried)
	f=$(($(client_failures) + failures))
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$n" "$f" \
		"$DP_PID" "$dr" "$df" "$dn" "$CP_PID" "$cr" "$cf" "$cn" >>"$TMP/samples.tsv"
	printf '%s soak t=%4ds conns=%-8s failures=%s  dp[%s] rss=%sKiB fds=%s  cp[%s] rss=%sKiB fds=%s  (cp kills %d, upgrades %d)\n' \
		"$(date +%H:%M:%S)" "$t" "$n" "$f" "$DP_PID" "$dr" "$df" \
		"$CP_PID" "$cr" "$cf" "$cp_kills" "$upgrades"
	[ "$t" -ge "$DURATION" ] && break
	if [ "$EVERY" -gt 0 ]; then
		half=$((EVERY / 2))
		if [ $(((t - half) % EVERY)) -lt $TICK ] && [ "$t" -ge "$half" ]; then
			cp_restart
		fi
		if [ $upgrade_ok = 1 ] && [ $((t % EVERY)) -lt $TICK ] &&
		    [ "$t" -ge "$EVERY" ]; then
			dp_upgrade
		fi
	fi
	next=$((next + TICK))
done
load_s=$((SECONDS - t_start))
log "stopping the load (runs in flight finish)"
load_stop
# old data planes: let them finish draining
wait_until 70 eval '[ ${#DP_OLD[@]} -eq 0 ] || { check_old; false; }' || check_old
idle_figures
read -r E_DP_RSS E_DP_FDS E_DP_NP E_CP_RSS E_CP_FDS E_CP_NP <<<"$IDLE"

# ---- summary ------------------------------------------------------------------

rate_n=$(runs_sum rate .conns_ok)
bulk_n=$(runs_sum bulk .streams_ok)
hold_n=$(runs_sum hold .conns_ok)
bytes=$(($(runs_sum bulk .bytes_up) + $(runs_sum bulk .bytes_down)))
cf=$(client_failures)
if [ "$cf" -gt 0 ]; then
	failure "$cf failed client runs: $(awk '$1 != 0' "$TMP"/rate.runs "$TMP"/bulk.runs "$TMP"/hold.runs 2>/dev/null | head -n 5)"
fi
for d in dp cp; do
	grep -Eq 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' \
		"$TMP/$d.log" && failure "$d: sanitizer report in its log"
done

# grew WHAT START END TOLERANCE: sets G to ok, or GREW (a failure).
G=
grew() {
	local what=$1 s=$2 e=$3 tol=$4
	G=ok
	if [ "$s" = - ] || [ "$e" = - ]; then
		failure "$what: no figure ($s -> $e)"
		G=GREW
	elif [ $((e - s)) -gt "$tol" ]; then
		failure "$what grew: $s -> $e (tolerance $tol)"
		G=GREW
	fi
}
rss_tol() {
	local p=$(($1 * RSS_PCT / 100))
	echo $((p > RSS_KB ? p : RSS_KB))
}
grew "data plane RSS (KiB)" "$S_DP_RSS" "$E_DP_RSS" "$(rss_tol "$S_DP_RSS")"
g1=$G
grew "data plane fds (not pipes)" "$S_DP_NP" "$E_DP_NP" "$FDS_TOL"
g2=$G
grew "control plane RSS (KiB)" "$S_CP_RSS" "$E_CP_RSS" "$(rss_tol "$S_CP_RSS")"
g3=$G
grew "control plane fds (not pipes)" "$S_CP_NP" "$E_CP_NP" "$FDS_TOL"
g4=$G

cat <<EOF

==== soak summary ====
duration        ${load_s} s of load (asked ${DURATION} s; the runs in flight then finish), 2 data-plane workers, static pools of 4
connections     $((rate_n + bulk_n + hold_n)) carried: $rate_n short (rate), $bulk_n long streams ($((bytes / 1048576)) MiB verified both ways), $hold_n held idle + echo-checked
events          $cp_kills control-plane kill -9 + restart, $upgrades data-plane upgrades (SIGUSR2)$([ $upgrade_ok = 1 ] || echo ": not supported by this build, restart-free")
failures        $failures
data plane      idle start pid $S_DP_PID rss ${S_DP_RSS} KiB -> end pid $DP_PID rss ${E_DP_RSS} KiB [$g1]; fds $S_DP_FDS -> $E_DP_FDS, not pipes $S_DP_NP -> $E_DP_NP [$g2]; peak rss under load $peak_dp KiB
control plane   idle start pid $S_CP_PID rss ${S_CP_RSS} KiB -> end pid $CP_PID rss ${E_CP_RSS} KiB [$g3]; fds $S_CP_FDS -> $E_CP_FDS, not pipes $S_CP_NP -> $E_CP_NP [$g4]; peak rss under load $peak_cp KiB
logs            warnings and errors logged: data plane $(grep -Ec ' (WARN|ERROR|FATAL) ' "$TMP/dp.log"), control plane $(grep -Ec ' (WARN|ERROR|FATAL) ' "$TMP/cp.log")
EOF
grep -hE ' (WARN|ERROR|FATAL) ' "$TMP/dp.log" "$TMP/cp.log" |
	sed -E 's/^[^ ]+ [a-z]+\[[0-9]+\] //; s/\b[0-9a-f]{16}\b/ID/g; s/[0-9]+/N/g' |
	sort | uniq -c |
	sort -rn | head -n 10 | sed 's/^/  /'
if [ "$failures" -gt 0 ]; then
	echo "FAILED:"
	printf '  %s\n' "${why[@]}"
	TFWD_KEEP=1
	exit 1
fi
echo "PASS"
exit 0
