# shellcheck shell=bash disable=SC2034
# tests/bench/lib.sh: what run.sh and profile.sh share. Source it with the
# build folder in $BENCH_BUILD: settings (environment, see run.sh), packages, limits,
# the temp folder and the EXIT trap that stops every process started here
# (by PID), free ports, /proc sampling, the backends and the five peers.
set -u -o pipefail
BUILD=${BENCH_BUILD:-build}
BUILD=$(cd "$BUILD" && pwd) || { echo "no build folder $BENCH_BUILD" >&2; exit 2; }
BIN=$BUILD/bin
OUT=$BUILD/bench
RAW=$OUT/raw

REPS=${REPS:-3}
PEERS=${PEERS:-"direct tcpfwd haproxy-auto haproxy-splice nginx"}
BULK_SECONDS=${BULK_SECONDS:-3}
RATE_SECONDS=${RATE_SECONDS:-5}
RATE_CONC=${RATE_CONC:-50}
LAT_COUNT=${LAT_COUNT:-20000}
LAT_WARMUP=${LAT_WARMUP:-1000}
HOLD_CONNS=${HOLD_CONNS:-9000}
HOLD_MS=${HOLD_MS:-5000}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
SETTLE=${SETTLE:-1}		# seconds after a proxy start before measuring
QUIET_WAIT=${QUIET_WAIT:-10}
QUIET_PCT=${QUIET_PCT:-20}

T_START=$(date +%s)
export LC_ALL=C

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

for b in tcpfwd-dataplane tfwd-backend tfwd-client tfwd-cp; do
	[ -x "$BIN/$b" ] || die "$BIN/$b missing (run make first)"
done

# ---- packages ----------------------------------------------------------

need_pkgs=""
for p in haproxy nginx libnginx-mod-stream jq procps iproute2 util-linux; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q "install ok installed" || need_pkgs="$need_pkgs $p"
done
if [ -n "$need_pkgs" ]; then
	[ "$(id -u)" = 0 ] || die "missing packages:$need_pkgs (install them)"
	log "installing:$need_pkgs"
	# policy-rc.d 101: the packages' services are not started
	prc=/usr/sbin/policy-rc.d
	had_prc=0; [ -e $prc ] && had_prc=1
	[ $had_prc = 1 ] || printf '#!/bin/sh\nexit 101\n' > $prc
	chmod +x $prc 2>/dev/null
	# shellcheck disable=SC2086 # a list of names
	DEBIAN_FRONTEND=noninteractive apt-get install -y \
	    --no-install-recommends $need_pkgs ||
	{ apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install \
	    -y --no-install-recommends $need_pkgs; }
	rc=$?
	[ $had_prc = 1 ] || rm -f $prc
	[ $rc = 0 ] || die "apt-get install failed"
fi
HAPROXY=$(command -v haproxy) || die "haproxy not found"
NGINX=$(command -v nginx) || die "nginx not found"
NGX_STREAM=/usr/lib/nginx/modules/ngx_stream_module.so
[ -f $NGX_STREAM ] || die "$NGX_STREAM missing (libnginx-mod-stream)"

# ---- limits, temp folder, process registry, cleanup ----------------------

ulimit -n "$(ulimit -Hn)" 2>/dev/null
NOFILE=$(ulimit -n)
[ "$NOFILE" -ge $((2 * HOLD_CONNS + 500)) ] ||
	log "WARNING: fd limit $NOFILE < 2 x $HOLD_CONNS + 500: the hold test will fail"

TMP=$(mktemp -d /tmp/tfwd-bench-XXXXXX) || die "mktemp"
# The build folder is shared with whoever runs make meanwhile: the whole
# run uses copies taken now, and says which data plane it measured.
if ! { mkdir -p "$TMP/bin" && cp "$BIN/tcpfwd-dataplane" \
    "$BIN/tfwd-backend" "$BIN/tfwd-client" "$BIN/tfwd-cp" "$TMP/bin/"; }; then
	die "cannot copy the binaries"
fi
BIN_SRC=$BIN
BIN=$TMP/bin
DP_ID="$(sha256sum "$BIN/tcpfwd-dataplane" | cut -c1-12), built $(date -r "$BIN_SRC/tcpfwd-dataplane" '+%Y-%m-%d %H:%M:%S')"
if git -C "$BUILD/.." rev-parse --short HEAD >/dev/null 2>&1; then
	DP_ID="$DP_ID, tree at $(git -C "$BUILD/.." rev-parse --short HEAD)"
	git -C "$BUILD/.." diff --quiet HEAD -- dataplane common proto 2>/dev/null ||
		DP_ID="$DP_ID with uncommitted changes in dataplane/common/proto"
fi
declare -A PIDS=()		# pid -> name, everything we started and that runs
CLEAN_WARN=0

# stop_pid PID [GRACE_S]: TERM, wait up to GRACE_S (5), then KILL. Returns
# the exit status (or 137 after KILL); prints a warning when KILL was needed.
stop_pid() {
	local pid=$1 grace=${2:-5} i rc
	[ -n "${PIDS[$pid]:-}" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < grace * 20; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "WARNING: ${PIDS[$pid]} (pid $pid) ignored SIGTERM for ${grace}s: SIGKILL"
		kill -KILL "$pid" 2>/dev/null
		CLEAN_WARN=$((CLEAN_WARN + 1))
	fi
	wait "$pid" 2>/dev/null
	rc=$?
	unset "PIDS[$pid]"
	return $rc
}

cleanup() {
	local pid
	trap - EXIT INT TERM
	for pid in "${!PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${!PIDS[@]}"; do
		stop_pid "$pid" 3
	done
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		log "temp folder kept: $TMP"
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

# bg NAME CPU CMD...: starts CMD pinned to CPU, output in $TMP/NAME.log;
# sets BG_PID.
bg() {
	local name=$1 cpu=$2
	shift 2
	taskset -c "$cpu" "$@" >"$TMP/$name.log" 2>&1 &
	BG_PID=$!
	PIDS[$BG_PID]=$name
}

# ---- ports ---------------------------------------------------------------

# A block of 64 ports below the ephemeral range with nothing listening.
pick_ports() {
	local try base used
	used=$(ss -Hltn | awk '{ n = split($4, a, ":"); print a[n] }' | sort -u)
	for try in $(seq 50); do
		base=$((10000 + (RANDOM % 150) * 64))
		if ! printf '%s\n' "$used" |
		    awk -v b="$base" '$1 >= b && $1 < b + 64 { f = 1 } END { exit !f }'
		then
			PORT_BASE=$base
			return 0
		fi
	done
	die "no free port block"
}
pick_ports
BE_ECHO=$PORT_BASE
BE_SINK=$((PORT_BASE + 1))
BE_SOURCE=$((PORT_BASE + 2))
PROXY_SEQ=0
next_proxy_port() {
	PROXY_PORT=$((PORT_BASE + 8 + PROXY_SEQ % 56))
	PROXY_SEQ=$((PROXY_SEQ + 1))
}

listening() { ss -Hltn "sport = :$1" | grep -q .; }
wait_listen() {		# PORT PID: up to 10 s
	local i
	for ((i = 0; i < 200; i++)); do
		listening "$1" && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# ---- /proc sampling ------------------------------------------------------

rss_kib() {		# PID...: summed VmRSS in KiB
	local p s=0 v
	for p in "$@"; do
		v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
		s=$((s + ${v:-0}))
	done
	echo $s
}
fd_count() {		# PID...: summed open descriptors
	local p s=0
	for p in "$@"; do
		s=$((s + $(find "/proc/$p/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)))
	done
	echo $s
}
cpu_ticks() {		# PID...: summed utime + stime of every thread
	local p s=0 v
	for p in "$@"; do
		v=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 }')
		s=$((s + ${v:-0}))
	done
	echo $s
}
CLK_TCK=$(getconf CLK_TCK)
anon_kib() {		# PID...: summed RssAnon in KiB
	local p s=0 v
	for p in "$@"; do
		v=$(awk '/^RssAnon:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
		s=$((s + ${v:-0}))
	done
	echo $s
}
# foreign_ticks: CPU jiffies (own + reaped children) of every user-space
# process that is not ours: other work on the machine that disturbs the
# figures. Ours: this shell, what it started, the proxies' children.
foreign_ticks() {
	local ex=" $$ ${!PIDS[*]} ${PROXY_PIDS[*]:-} ${CLIENT_PID:-} "
	cat /proc/[0-9]*/stat 2>/dev/null | sed 's/ (.*) / X /' |
	    awk -v ex="$ex" '$1 != 2 && $4 != 2 && index(ex, " " $1 " ") == 0 &&
	        index(ex, " " $4 " ") == 0 { s += $14 + $15 + $16 + $17 }
	        END { print s + 0 }'
}
core_ticks() {		# CPU: "busy total" jiffies of one core (/proc/stat)
	awk -v c="cpu$1" '$1 == c { t = 0; for (i = 2; i <= NF; i++) t += $i
	    print t - $5 - $6, t }' /proc/stat
}
busy_pct() {		# "BUSY0 TOTAL0" "BUSY1 TOTAL1"
	awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " ")
	    d = y[2] - x[2]; printf "%.0f", (d > 0 ? 100 * (y[1] - x[1]) / d : 0) }'
}

# ---- backends (core LOAD_CPU, the whole run) ------------------------------

start_backends() {
	local m port
	for m in echo sink source; do
		case $m in
		echo) port=$BE_ECHO ;; sink) port=$BE_SINK ;; source) port=$BE_SOURCE ;;
		esac
		bg "backend-$m" "$LOAD_CPU" "$BIN/tfwd-backend" \
		    --listen "127.0.0.1:$port" --mode $m
		wait_listen "$port" "$BG_PID" || die "backend $m did not start"
	done
}

# ---- proxies -------------------------------------------------------------

PROXY_PIDS=()		# pids whose RSS/CPU count (nginx: master + workers)
PROXY_MAIN=""		# the pid we signal
PROXY_AUX=""		# tfwd-cp for tcpfwd
PROXY_DIR=""

write_haproxy() {	# FILE BACKEND_PORT MODE
	local splice
	if [ "$3" = auto ]; then
		splice="  option splice-auto"
	else
		splice="  option splice-request
  option splice-response"
	fi
	cat >"$1" <<EOF
global
  nbthread 1
  maxconn 9500
  # maxconn 9500 x 2 sides + the default maxpipes (maxconn / 4) x 2 would
  # need 23,764 descriptors, above this machine's 20,000 hard limit
  maxpipes 250
  pidfile $PROXY_DIR/haproxy.pid
defaults
  mode tcp
  timeout connect 5s
  timeout client 120s
  timeout server 120s
$splice
listen bench
  bind 127.0.0.1:$PROXY_PORT
  server b1 127.0.0.1:$2
EOF
}

write_nginx() {		# FILE BACKEND_PORT
	cat >"$1" <<EOF
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 20000;
pid $PROXY_DIR/nginx.pid;
error_log $PROXY_DIR/error.log warn;
load_module $NGX_STREAM;
events { worker_connections 20000; use epoll; }
stream {
  server {
    listen 127.0.0.1:$PROXY_PORT;
    proxy_pass 127.0.0.1:$2;
    # pass the client's FIN on and keep the other direction open (nginx
    # >= 1.21.4; without it the sink's reply after the client's FIN is lost)
    proxy_half_close on;
  }
}
EOF
}

write_tcpfwd() {	# FILE BACKEND_PORT (the set comes from tfwd-cp)
	cat >"$1" <<EOF
server: {listen_addr: "127.0.0.1:$PROXY_PORT"}
logging: {level: "warn"}
ipc: {url: "ipc://$PROXY_DIR/control.ipc"}
dataplane: {state_file: "$PROXY_DIR/dp.json", workers: 1}
controlplane: {state_file: "$PROXY_DIR/cp.json"}
pools: {strategy: {type: dynamic}, common: {drain_timeout: "3s"}}
EOF
}

# start_proxy PEER BACKEND_PORT: sets PROXY_PORT, PROXY_MAIN, PROXY_PIDS.
start_proxy() {
	local peer=$1 bport=$2 i kids
	next_proxy_port
	PROXY_SEQ_DIR=$((PROXY_SEQ_DIR + 1))
	PROXY_DIR=$TMP/p$PROXY_SEQ_DIR-$peer
	mkdir -p "$PROXY_DIR"
	PROXY_AUX=""
	case $peer in
	tcpfwd)
		write_tcpfwd "$PROXY_DIR/dp.yaml" "$bport"
		bg "cp-$PROXY_SEQ_DIR" "$LOAD_CPU" "$BIN/tfwd-cp" \
		    --url "ipc://$PROXY_DIR/control.ipc" --set "127.0.0.1:$bport"
		PROXY_AUX=$BG_PID
		bg "dp-$PROXY_SEQ_DIR" "$PROXY_CPU" "$BIN/tcpfwd-dataplane" \
		    -c "$PROXY_DIR/dp.yaml"
		PROXY_MAIN=$BG_PID
		# serving once the set was applied and written to the state file
		for ((i = 0; i < 100; i++)); do
			[ -s "$PROXY_DIR/dp.json" ] && break
			sleep 0.05
		done
		[ -s "$PROXY_DIR/dp.json" ] || {
			log "tcpfwd got no active set within 5 s"
			tail -5 "$TMP/dp-$PROXY_SEQ_DIR.log" >&2
			return 1
		}
		;;
	haproxy-auto | haproxy-splice)
		write_haproxy "$PROXY_DIR/haproxy.cfg" "$bport" "${peer#haproxy-}"
		bg "haproxy-$PROXY_SEQ_DIR" "$PROXY_CPU" "$HAPROXY" -db \
		    -f "$PROXY_DIR/haproxy.cfg"
		PROXY_MAIN=$BG_PID
		;;
	nginx)
		write_nginx "$PROXY_DIR/nginx.conf" "$bport"
		bg "nginx-$PROXY_SEQ_DIR" "$PROXY_CPU" "$NGINX" -p "$PROXY_DIR" \
		    -e "$PROXY_DIR/error.log" -c "$PROXY_DIR/nginx.conf"
		PROXY_MAIN=$BG_PID
		;;
	esac
	if ! wait_listen "$PROXY_PORT" "$PROXY_MAIN"; then
		log "$peer did not start listening on $PROXY_PORT"
		tail -5 "$TMP/"*"-$PROXY_SEQ_DIR.log" >&2
		return 1
	fi
	PROXY_PIDS=("$PROXY_MAIN")
	if [ "$peer" = nginx ]; then
		for ((i = 0; i < 100; i++)); do
			kids=$(ps -o pid= --ppid "$PROXY_MAIN" | tr -d ' ')
			[ -n "$kids" ] && break
			sleep 0.05
		done
		[ -n "$kids" ] || { log "nginx started no worker"; return 1; }
		# shellcheck disable=SC2206
		PROXY_PIDS+=($kids)
	fi
	sleep "$SETTLE"
	kill -0 "$PROXY_MAIN" 2>/dev/null || { log "$peer died at start"; return 1; }
	return 0
}

PROXY_SEQ_DIR=0
STOP_FAILS=0
stop_proxy() {
	local rc
	[ -n "$PROXY_MAIN" ] || return 0
	stop_pid "$PROXY_MAIN" 8
	rc=$?
	case $rc in
	0 | 130 | 143) ;;
	*) log "WARNING: proxy pid $PROXY_MAIN exited with status $rc"
	   STOP_FAILS=$((STOP_FAILS + 1)) ;;
	esac
	if [ -n "$PROXY_AUX" ]; then
		stop_pid "$PROXY_AUX" 3
		PROXY_AUX=""
	fi
	# nginx workers must be gone with their master
	local p
	for p in "${PROXY_PIDS[@]}"; do
		if kill -0 "$p" 2>/dev/null && [ "$p" != "$PROXY_MAIN" ]; then
			sleep 1
			kill -0 "$p" 2>/dev/null && {
				log "WARNING: proxy child $p outlived its master: SIGKILL"
				kill -KILL "$p" 2>/dev/null
			}
		fi
	done
	PROXY_MAIN=""
	PROXY_PIDS=()
}

# pin_proxy CPU: moves every thread of the proxy's processes to CPU.
pin_proxy() {
	local p
	for p in "${PROXY_PIDS[@]}"; do
		taskset -a -p -c "$1" "$p" >/dev/null 2>&1 ||
			log "WARNING: taskset -p $p failed"
	done
}
