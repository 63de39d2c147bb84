#!/usr/bin/env bash
# tests/bench/run.sh BUILD_DIR: the performance benchmark of SPEC §8 and
# issue 2 ("Benchmark", "Targets"); `make bench` runs it.
#
# Peers, all on loopback, each proxy pinned to core $PROXY_CPU, backends,
# load generator and the stand-in control plane on core $LOAD_CPU:
#   direct          client straight to the backend (the tools' ceiling)
#   tcpfwd          build/bin/tcpfwd-dataplane, workers 1, set from tfwd-cp
#   haproxy-auto    HAProxy mode tcp, nbthread 1, option splice-auto
#   haproxy-splice  HAProxy, option splice-request + splice-response
#   nginx           nginx stream, worker_processes 1
# Figures (medians of REPS interleaved repetitions; peer order rotates):
#   bulk throughput 1 and 8 streams up (sink backend) and down (source);
#   short connections/s (50 clients, 64 B echo); added round-trip latency
#   p50/p99 on one persistent connection, proxy on the other core and
#   everything on one core; RSS per idle forwarded connection at HOLD_CONNS
#   connections (all echo-checked), idle RSS after start and after warm-up.
# Output: $BUILD/bench/results.md (tables), raw/*.json (every run),
# results.tsv (rep, peer, figure, value, errors). A figure whose runs had
# failures shows "!N" (N = failed streams/connections/runs).
#
# Environment: REPS (3), PEERS (all five), BULK_SECONDS (3), RATE_SECONDS
# (5), RATE_CONC (50), LAT_COUNT (20000), HOLD_CONNS (9000), HOLD_MS
# (5000), PROXY_CPU (0), LOAD_CPU (1), QUIET_WAIT (10 s at most, before
# each peer's block, for other processes to calm down under QUIET_PCT (20)
# % of a core), BENCH_KEEP=1 keeps the temp folder.
# Only processes started here are signalled, by PID; the distro's haproxy
# and nginx services are never touched. lib.sh holds the machinery,
# report.sh the tables, profile.sh one peer under perf.

BENCH_BUILD=${1:-build}
# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"

# ---- load runs -----------------------------------------------------------

TSV=$OUT/results.tsv

# record REP PEER FIG VALUE ERRORS
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$TSV"; }

# client OUTFILE LIMIT_S ARGS...: runs tfwd-client pinned to LOAD_CPU with
# --json, bounded by LIMIT_S; the JSON goes to OUTFILE; returns its exit.
client() {
	local out=$1 limit=$2 rc
	shift 2
	taskset -c "$LOAD_CPU" timeout -k 3 "$limit" "$BIN/tfwd-client" "$@" \
	    --json >"$out" 2>"$out.err" &
	CLIENT_PID=$!
	PIDS[$CLIENT_PID]=client
	wait "$CLIENT_PID"
	rc=$?
	unset "PIDS[$CLIENT_PID]"
	[ -s "$out.err" ] || rm -f "$out.err"
	if ! jq -e . "$out" >/dev/null 2>&1; then
		log "WARNING: no JSON from tfwd-client $1 (exit $rc): $(head -c 300 "$out.err" 2>/dev/null)"
		printf '{"ok":false,"exit":%d,"no_json":true,"errors":{"no_json":1}}\n' \
		    "$rc" >"$out"
	fi
	return $rc
}

# errors FILE: failures reported in a tfwd-client JSON (0 when clean).
errors() {
	jq -r '(([.errors[]?] | add) // 0) as $e
	    | ((.streams_failed // 0) + (.conns_failed // 0)) as $f
	    | ([$e, $f] | max) as $n
	    | if (.ok == true) and (.verified != false) then $n
	      else ([$n, 1] | max) end' "$1"
}

run_bulk() {		# REP PEER DIR PORT
	local rep=$1 peer=$2 dir=$3 port=$4 n f t0 t1 c0 c1 cpu="" p0 p1 l0 l1 pb lb
	for n in 1 8; do
		f=$RAW/r$rep-$peer-bulk-$dir-$n.json
		p0=$(core_ticks "$PROXY_CPU"); l0=$(core_ticks "$LOAD_CPU")
		c0=$(cpu_ticks "${PROXY_PIDS[@]}"); t0=$(date +%s%N)
		client "$f" $((BULK_SECONDS + 30)) bulk \
		    --connect "127.0.0.1:$port" --streams $n \
		    --seconds "$BULK_SECONDS" --direction "$dir" \
		    --timeout $((BULK_SECONDS + 25))
		c1=$(cpu_ticks "${PROXY_PIDS[@]}"); t1=$(date +%s%N)
		p1=$(core_ticks "$PROXY_CPU"); l1=$(core_ticks "$LOAD_CPU")
		pb=$(busy_pct "$p0" "$p1"); lb=$(busy_pct "$l0" "$l1")
		record "$rep" "$peer" "${dir}$n" \
		    "$(jq -r '.gbps_total // "nan"' "$f")" "$(errors "$f")"
		record "$rep" "$peer" "core0_${dir}$n" "$pb" 0
		record "$rep" "$peer" "core1_${dir}$n" "$lb" 0
		jq -c --argjson pb "$pb" --argjson lb "$lb" \
		    '. + {proxy_core_busy_pct: $pb, load_core_busy_pct: $lb}' \
		    "$f" >"$f.tmp" && mv "$f.tmp" "$f"
		if [ "${#PROXY_PIDS[@]}" -gt 0 ]; then
			cpu=$(awk -v c=$((c1 - c0)) -v hz="$CLK_TCK" \
			    -v ns=$((t1 - t0)) 'BEGIN { printf "%.1f", 100 * c / hz / (ns / 1e9) }')
			record "$rep" "$peer" "cpu_${dir}$n" "$cpu" 0
		fi
		log "  $peer bulk $dir x$n: $(jq -r '"\(.gbps_total) Gbit/s ok=\(.ok)"' "$f")${cpu:+ proxy cpu ${cpu}%}; core $PROXY_CPU busy $pb%, core $LOAD_CPU busy $lb%"
	done
}

run_latency() {		# REP PEER PORT VARIANT
	local f=$RAW/r$1-$2-lat-$4.json
	client "$f" 60 latency --connect "127.0.0.1:$3" --count "$LAT_COUNT" \
	    --warmup "$LAT_WARMUP" --timeout 50
	record "$1" "$2" "lat$4_p50" "$(jq -r '.p50_us // "nan"' "$f")" "$(errors "$f")"
	record "$1" "$2" "lat$4_p99" "$(jq -r '.p99_us // "nan"' "$f")" "$(errors "$f")"
	log "  $2 latency ($4): $(jq -r '"p50 \(.p50_us) p99 \(.p99_us) us ok=\(.ok)"' "$f")"
}

run_rate() {		# REP PEER PORT
	local f=$RAW/r$1-$2-rate.json p0 p1 l0 l1 pb lb c0 c1 t0 t1 cpu=""
	p0=$(core_ticks "$PROXY_CPU"); l0=$(core_ticks "$LOAD_CPU")
	c0=$(cpu_ticks "${PROXY_PIDS[@]}"); t0=$(date +%s%N)
	client "$f" $((RATE_SECONDS + 40)) rate --connect "127.0.0.1:$3" \
	    --concurrency "$RATE_CONC" --seconds "$RATE_SECONDS" --size 64 \
	    --timeout $((RATE_SECONDS + 30))
	c1=$(cpu_ticks "${PROXY_PIDS[@]}"); t1=$(date +%s%N)
	p1=$(core_ticks "$PROXY_CPU"); l1=$(core_ticks "$LOAD_CPU")
	pb=$(busy_pct "$p0" "$p1"); lb=$(busy_pct "$l0" "$l1")
	record "$1" "$2" cps "$(jq -r '.conns_per_s // "nan"' "$f")" "$(errors "$f")"
	record "$1" "$2" core0_cps "$pb" 0
	record "$1" "$2" core1_cps "$lb" 0
	if [ "${#PROXY_PIDS[@]}" -gt 0 ]; then
		cpu=$(awk -v c=$((c1 - c0)) -v hz="$CLK_TCK" -v ns=$((t1 - t0)) \
		    'BEGIN { printf "%.1f", 100 * c / hz / (ns / 1e9) }')
		record "$1" "$2" cpu_cps "$cpu" 0
	fi
	jq -c --argjson pb "$pb" --argjson lb "$lb" \
	    '. + {proxy_core_busy_pct: $pb, load_core_busy_pct: $lb}' \
	    "$f" >"$f.tmp" && mv "$f.tmp" "$f"
	log "  $2 rate: $(jq -r '"\(.conns_per_s) conn/s failed=\(.conns_failed)"' "$f")${cpu:+ proxy cpu ${cpu}%}; core $PROXY_CPU busy $pb%, core $LOAD_CPU busy $lb%"
}

# run_hold REP PEER PORT RSS_IDLE_KIB: HOLD_CONNS connections through the
# proxy; RSS sampled once they are all forwarded; then all echo-checked.
run_hold() {
	local rep=$1 peer=$2 port=$3 idle=$4 f ready i fds=0 rss=0 r reached=false
	local hold_ms=$HOLD_MS
	f=$RAW/r$rep-$peer-hold.json
	ready=$TMP/ready-$rep-$peer
	rm -f "$ready"
	[ "${#PROXY_PIDS[@]}" -gt 0 ] || hold_ms=500
	taskset -c "$LOAD_CPU" timeout -k 3 $((hold_ms / 1000 + 90)) \
	    "$BIN/tfwd-client" hold --connect "127.0.0.1:$port" \
	    --conns "$HOLD_CONNS" --hold-ms "$hold_ms" --echo-check \
	    --ready-file "$ready" --timeout $((hold_ms / 1000 + 80)) \
	    --json >"$f" 2>"$f.err" &
	CLIENT_PID=$!
	PIDS[$CLIENT_PID]=client-hold
	if [ "${#PROXY_PIDS[@]}" -gt 0 ]; then
		for ((i = 0; i < 600; i++)); do	# client connected: <= 60 s
			[ -f "$ready" ] && break
			kill -0 "$CLIENT_PID" 2>/dev/null || break
			sleep 0.1
		done
		# the proxy accepts and dials after the client's connect()
		# returned: wait until it holds both sides of every connection
		for ((i = 0; i < 100; i++)); do		# <= 10 s
			fds=$(fd_count "${PROXY_PIDS[@]}")
			[ "$fds" -ge $((2 * HOLD_CONNS)) ] && { reached=true; break; }
			kill -0 "$CLIENT_PID" 2>/dev/null || break
			sleep 0.1
		done
		sleep 0.3
		for i in 1 2 3; do
			r=$(rss_kib "${PROXY_PIDS[@]}")
			[ "$r" -gt "$rss" ] && rss=$r
			sleep 0.3
		done
		fds=$(fd_count "${PROXY_PIDS[@]}")
		kill -0 "$CLIENT_PID" 2>/dev/null ||
			log "WARNING: hold client ended before RSS sampling finished"
	fi
	wait "$CLIENT_PID"
	unset "PIDS[$CLIENT_PID]"
	[ -s "$f.err" ] || rm -f "$f.err"
	jq -e . "$f" >/dev/null 2>&1 ||
		printf '{"ok":false,"no_json":true,"errors":{"no_json":1}}\n' >"$f"
	local e
	e=$(jq -r --argjson n "$HOLD_CONNS" '. as $j
	    | ([$n - ($j.conns_ok // 0), 0] | max)
	    | if . == 0 and $j.ok != true then 1 else . end' "$f")
	record "$rep" "$peer" hold_ok "$(jq -r '.conns_ok // 0' "$f")" "$e"
	if [ "${#PROXY_PIDS[@]}" -gt 0 ]; then
		[ $reached = true ] || e=$((e + 1))
		record "$rep" "$peer" rss_conn "$(awk -v h="$rss" -v i="$idle" \
		    -v n="$HOLD_CONNS" 'BEGIN { printf "%.3f", (h - i) / n }')" "$e"
		jq -n --arg peer "$peer" --argjson rep "$rep" --argjson idle "$idle" \
		    --argjson held "$rss" --argjson fds "$fds" \
		    --argjson n "$HOLD_CONNS" --argjson reached "$reached" \
		    '{peer: $peer, rep: $rep, conns: $n, rss_idle_kib: $idle,
		      rss_held_kib: $held, proxy_fds_held: $fds,
		      all_forwarded_seen: $reached,
		      kib_per_conn: (($held - $idle) / $n)}' \
		    >"$RAW/r$rep-$peer-rss.json"
	fi
	log "  $peer hold $HOLD_CONNS: ok=$(jq -r '.conns_ok' "$f") rss idle ${idle} KiB held ${rss} KiB fds $fds${reached:+ (all forwarded: $reached)}"
}

# One peer, one repetition: three proxy instances (sink, source, echo).
run_peer() {
	local rep=$1 peer=$2 port r0 r1
	if [ "$peer" = direct ]; then
		PROXY_PIDS=()
		run_bulk "$rep" direct up "$BE_SINK"
		run_bulk "$rep" direct down "$BE_SOURCE"
		run_latency "$rep" direct "$BE_ECHO" 1
		run_latency "$rep" direct "$BE_ECHO" 0
		run_rate "$rep" direct "$BE_ECHO"
		sleep 1
		run_hold "$rep" direct "$BE_ECHO" 0
		return
	fi
	if start_proxy "$peer" "$BE_SINK"; then
		run_bulk "$rep" "$peer" up "$PROXY_PORT"
	else
		record "$rep" "$peer" up1 nan 1; record "$rep" "$peer" up8 nan 1
	fi
	stop_proxy
	if start_proxy "$peer" "$BE_SOURCE"; then
		run_bulk "$rep" "$peer" down "$PROXY_PORT"
	else
		record "$rep" "$peer" down1 nan 1; record "$rep" "$peer" down8 nan 1
	fi
	stop_proxy
	if ! start_proxy "$peer" "$BE_ECHO"; then
		for f in lat1_p50 lat1_p99 lat0_p50 lat0_p99 cps rss_conn hold_ok; do
			record "$rep" "$peer" $f nan 1
		done
		stop_proxy
		return
	fi
	port=$PROXY_PORT
	r0=$(rss_kib "${PROXY_PIDS[@]}")
	record "$rep" "$peer" rss_start "$(awk -v k="$r0" 'BEGIN { printf "%.2f", k / 1024 }')" 0
	record "$rep" "$peer" anon_start "$(awk -v k="$(anon_kib "${PROXY_PIDS[@]}")" 'BEGIN { printf "%.2f", k / 1024 }')" 0
	# latency: proxy on PROXY_CPU (the other core), then all on LOAD_CPU
	run_latency "$rep" "$peer" "$port" 1
	pin_proxy "$LOAD_CPU"
	run_latency "$rep" "$peer" "$port" 0
	pin_proxy "$PROXY_CPU"
	run_rate "$rep" "$peer" "$port"
	sleep 1.5	# connections close, pools settle
	r1=$(rss_kib "${PROXY_PIDS[@]}")
	record "$rep" "$peer" rss_warm "$(awk -v k="$r1" 'BEGIN { printf "%.2f", k / 1024 }')" 0
	record "$rep" "$peer" anon_warm "$(awk -v k="$(anon_kib "${PROXY_PIDS[@]}")" 'BEGIN { printf "%.2f", k / 1024 }')" 0
	run_hold "$rep" "$peer" "$port" "$r1"
	stop_proxy
}

# wait_quiet: before a peer's block, up to QUIET_WAIT s for other
# processes on this shared machine to use under QUIET_PCT % of a core
# (measured over half a second); goes on anyway after that, with a note.
wait_quiet() {
	local end=$((SECONDS + QUIET_WAIT)) a b pct
	while :; do
		a=$(foreign_ticks); sleep 0.5; b=$(foreign_ticks)
		pct=$(( (b - a) * 200 / CLK_TCK ))
		[ "$pct" -lt "$QUIET_PCT" ] && return 0
		if [ $SECONDS -ge $end ]; then
			log "  note: the machine is busy (other processes ${pct}% of a core); going on"
			return 0
		fi
		sleep 0.5
	done
}

# ---- main ----------------------------------------------------------------

mkdir -p "$RAW"
rm -f "$RAW"/*.json "$RAW"/*.err "$TSV"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
log "tcp-forwarder bench: REPS=$REPS peers: $PEERS; ports $PORT_BASE+; fd limit $NOFILE; load $LOAD0"
log "data plane: $DP_ID"
start_backends

# shellcheck disable=SC2206
peer_list=($PEERS)
np=${#peer_list[@]}
for ((rep = 1; rep <= REPS; rep++)); do
	for ((k = 0; k < np; k++)); do
		peer=${peer_list[$(((k + rep - 1) % np))]}
		log "rep $rep/$REPS: $peer"
		wait_quiet
		f0=$(foreign_ticks); ft0=$(date +%s%N)
		run_peer "$rep" "$peer"
		f1=$(foreign_ticks); ft1=$(date +%s%N)
		fp=$(awk -v c=$((f1 - f0)) -v hz="$CLK_TCK" -v ns=$((ft1 - ft0)) \
		    'BEGIN { printf "%.1f", (c < 0 ? 0 : 100 * c / hz / (ns / 1e9)) }')
		record "$rep" "$peer" foreign "$fp" 0
		awk -v f="$fp" 'BEGIN { exit !(f > 10) }' &&
			log "  WARNING: other processes used ${fp}% of a core during $peer's runs: figures disturbed"
	done
done

# backends must still be alive, then stop them and check their exit
for pid in "${!PIDS[@]}"; do
	case ${PIDS[$pid]} in
	backend-*)
		kill -0 "$pid" 2>/dev/null || log "WARNING: ${PIDS[$pid]} died during the run"
		stop_pid "$pid" 5 || log "WARNING: ${PIDS[$pid]} exited with status $?"
		;;
	esac
done
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
T_END=$(date +%s)

# ---- tables --------------------------------------------------------------

"$(dirname "$0")/report.sh" "$TSV" "$REPS" \
    "BULK_SECONDS=$BULK_SECONDS RATE_SECONDS=$RATE_SECONDS RATE_CONC=$RATE_CONC LAT_COUNT=$LAT_COUNT HOLD_CONNS=$HOLD_CONNS" \
    "$LOAD0" "$LOAD1" $((T_END - T_START)) \
    "$(haproxy -v | head -1 | awk '{ print $3 }')" \
    "$(nginx -v 2>&1 | sed 's/.*nginx\///')" "$DP_ID" >"$OUT/results.md" ||
	die "report failed"
cp "$OUT/results.md" "$OUT/results-$(date +%Y%m%d-%H%M%S).md"
cat "$OUT/results.md"
if [ "$CLEAN_WARN" != 0 ] || [ "$STOP_FAILS" != 0 ]; then
	log "WARNING: $CLEAN_WARN processes needed SIGKILL, $STOP_FAILS proxies exited badly"
fi
log "results: $OUT/results.md, raw runs: $RAW/ ($(($(date +%s) - T_START)) s)"
