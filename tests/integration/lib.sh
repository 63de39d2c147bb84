# shellcheck shell=bash disable=SC2034
#
# Helpers for the integration scenarios (tests/integration/t_*.sh): a temp
# folder, processes started and stopped by PID, ports, configs, network
# namespaces, assertions. Source it, then call tfwd_tmpdir first:
#
#	. "$(dirname "$0")/lib.sh"
#	tfwd_tmpdir
#
# TFWD_BUILD is the build folder (binaries in $TFWD_BUILD/bin); run.sh
# exports it. TFWD_KEEP=1 keeps $TMP after the test. Exit 77 means SKIP.
# Only processes started here are ever signalled, by PID.

TFWD_BUILD=${TFWD_BUILD:-build}
case $TFWD_BUILD in
/*) ;;
*) TFWD_BUILD=$(cd "$TFWD_BUILD" 2>/dev/null && pwd || echo "$TFWD_BUILD") ;;
esac
export TFWD_BUILD
TFWD_BIN=$TFWD_BUILD/bin

declare -gA TFWD_PIDS=()	# name -> pid
# shellcheck disable=SC2034 # read by the tests
declare -gA TFWD_STATUS=()	# name -> exit status, once stopped
declare -ga TFWD_ORDER=()	# names, in start order
declare -ga TFWD_NETNS=()	# namespaces we created
declare -ga TFWD_WRAP_ARGS=()	# $TFWD_WRAP, split (see tfwd_wrap)
TMP=${TMP:-}

# tfwd_tmpdir: makes $TMP (mktemp under /tmp) and installs the EXIT trap
# that stops every started process, removes our namespaces and $TMP.
tfwd_tmpdir() {
	TMP=$(mktemp -d /tmp/tfwd-test.XXXXXX) || exit 1
	export TMP
	trap tfwd_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# log MSG...: a timestamped line on stderr.
log() {
	printf '%s %s\n' "$(date +%H:%M:%S.%3N)" "$*" >&2
}

# skip MSG: ends the test as SKIP (exit 77).
skip() {
	echo "SKIP: $*" >&2
	exit 77
}

# fail MSG: prints MSG, the last 30 lines of every log in $TMP, exits 1.
fail() {
	local f
	echo "FAIL: $*" >&2
	if [ -n "$TMP" ] && [ -d "$TMP" ]; then
		for f in "$TMP"/*.log; do
			[ -f "$f" ] || continue
			echo "---- last 30 lines of $(basename "$f") ----" >&2
			tail -n 30 "$f" >&2
		done
	fi
	exit 1
}

# require_bin NAME...: SKIP unless $TFWD_BIN/NAME exists for each NAME.
require_bin() {
	local b
	for b in "$@"; do
		[ -x "$TFWD_BIN/$b" ] || skip "$TFWD_BIN/$b not built"
	done
}

# require_root: SKIP unless root (network namespaces, nftables).
require_root() {
	[ "$(id -u)" = 0 ] || skip "needs root"
}

# tfwd_start NAME CMD...: starts CMD in the background, output to
# $TMP/NAME.log, its PID recorded under NAME (see tfwd_pid). CMD must be a
# program, not a shell function, so that the PID is the program's; in a
# namespace: tfwd_start NAME ip netns exec "$(netns_name NS)" CMD...
tfwd_start() {
	local name=$1
	shift
	[ -n "$TMP" ] || fail "tfwd_start before tfwd_tmpdir"
	[ -z "${TFWD_PIDS[$name]:-}" ] || fail "tfwd_start: $name already running"
	"$@" >>"$TMP/$name.log" 2>&1 &
	TFWD_PIDS[$name]=$!
	TFWD_ORDER+=("$name")
	unset 'TFWD_STATUS[$name]'
	log "started $name (pid $!): $*"
}

# tfwd_pid NAME: prints the PID of NAME.
tfwd_pid() {
	[ -n "${TFWD_PIDS[$1]:-}" ] || fail "tfwd_pid: $1 not started"
	echo "${TFWD_PIDS[$1]}"
}

# tfwd_running NAME: true while NAME's process is alive.
tfwd_running() {
	local pid=${TFWD_PIDS[$1]:-}
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# tfwd_kill NAME [SIGNAL]: sends SIGNAL (default KILL) to NAME and reaps it.
tfwd_kill() {
	local name=$1 sig=${2:-KILL} pid=${TFWD_PIDS[$1]:-}
	[ -n "$pid" ] || fail "tfwd_kill: $name not started"
	kill -s "$sig" "$pid" 2>/dev/null || true
	if [ "$sig" = KILL ] || [ "$sig" = 9 ]; then
		local rc=0
		wait "$pid" 2>/dev/null || rc=$?
		TFWD_STATUS[$name]=$rc
		unset 'TFWD_PIDS[$name]'
		log "killed $name (pid $pid)"
	fi
}

# tfwd_signal NAME SIGNAL: sends SIGNAL to NAME (HUP, USR1, ...).
tfwd_signal() {
	local pid
	pid=$(tfwd_pid "$1")
	kill -s "$2" "$pid" || fail "cannot signal $1"
}

# tfwd_stop NAME: SIGTERM, up to 5 s to exit, then SIGKILL. The exit
# status is left in TFWD_STATUS[NAME] (137 after a SIGKILL).
tfwd_stop() {
	local name=$1 pid=${TFWD_PIDS[$1]:-} i rc=0
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "$name (pid $pid) ignored SIGTERM for 5 s: SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || rc=$?
	TFWD_STATUS[$name]=$rc
	unset 'TFWD_PIDS[$name]'
	log "stopped $name (pid $pid, status $rc)"
}

# tfwd_wait_exit NAME [TIMEOUT]: waits for NAME to exit on its own; its
# status goes to TFWD_STATUS[NAME]. Fails after TIMEOUT seconds (10).
tfwd_wait_exit() {
	local name=$1 timeout=${2:-10} pid rc=0
	pid=$(tfwd_pid "$name")
	wait_until "$timeout" eval "! kill -0 $pid 2>/dev/null" ||
		fail "$name did not exit within $timeout s"
	wait "$pid" 2>/dev/null || rc=$?
	TFWD_STATUS[$name]=$rc
	unset 'TFWD_PIDS[$name]'
}

# tfwd_cleanup: the EXIT trap. Stops every process we started (newest
# first), removes the namespaces we created and $TMP (unless TFWD_KEEP=1).
tfwd_cleanup() {
	local rc=$? i name ns
	trap - EXIT
	for ((i = ${#TFWD_ORDER[@]} - 1; i >= 0; i--)); do
		name=${TFWD_ORDER[$i]}
		[ -n "${TFWD_PIDS[$name]:-}" ] && tfwd_stop "$name" 2>/dev/null
	done
	for ns in "${TFWD_NETNS[@]}"; do
		ip netns del "$ns" 2>/dev/null || true
	done
	if [ -n "$TMP" ] && [ -d "$TMP" ]; then
		if [ "${TFWD_KEEP:-0}" = 1 ]; then
			echo "kept $TMP" >&2
		else
			rm -rf "$TMP"
		fi
	fi
	exit "$rc"
}

# wait_until TIMEOUT CMD...: runs CMD every 50 ms until it succeeds (0) or
# TIMEOUT seconds pass (1).
wait_until() {
	local end ms
	ms=$(awk -v t="$1" 'BEGIN { printf "%d", t * 1000 }')
	shift
	end=$(($(date +%s%N) + ms * 1000000))
	while :; do
		"$@" && return 0
		[ "$(date +%s%N)" -ge "$end" ] && return 1
		sleep 0.05
	done
}

# port_listening HOST PORT: true when something listens on HOST:PORT.
# Uses ss (no connection is made; inside namespace $TFWD_SS_NETNS when
# set); bash's /dev/tcp without ss.
port_listening() {
	local host=$1 port=$2
	host=${host#[}
	host=${host%]}
	if command -v ss >/dev/null 2>&1; then
		${TFWD_SS_NETNS:+ip netns exec "$TFWD_SS_NETNS"} \
			ss -Hltn "sport = :$port" 2>/dev/null |
			awk -v h="$host" '{ a = $4; sub(/:[0-9]+$/, "", a);
			    gsub(/[][]/, "", a); sub(/%.*/, "", a)
			    if (a == h || a == "*" || a == "0.0.0.0" ||
			        a == "::") f = 1 } END { exit !f }'
	else
		(exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
	fi
}

# wait_port HOST PORT [TIMEOUT]: waits until HOST:PORT listens (10 s).
wait_port() {
	wait_until "${3:-10}" port_listening "$1" "$2" ||
		fail "nothing listens on $1:$2 after ${3:-10} s"
}

# wait_port_closed HOST PORT [TIMEOUT]: waits until nothing listens.
wait_port_closed() {
	wait_until "${3:-10}" eval "! port_listening $1 $2" ||
		fail "$1:$2 still listening after ${3:-10} s"
}

# free_port: prints a TCP port free on 127.0.0.1, below the ephemeral range
# and never handed out twice within one test.
free_port() {
	local p i used=${TMP:-/tmp}/.ports
	for ((i = 0; i < 200; i++)); do
		p=$((20000 + RANDOM % 12000))
		grep -qx "$p" "$used" 2>/dev/null && continue
		if [ -z "$(ss -Htan "( sport = :$p or dport = :$p )" 2>/dev/null)" ]; then
			echo "$p" >>"$used"
			echo "$p"
			return 0
		fi
	done
	fail "free_port: no free port found"
}

# ---- assertions -----------------------------------------------------------

# assert_eq ACTUAL EXPECTED [WHAT]
assert_eq() {
	[ "$1" = "$2" ] || fail "${3:-value}: expected '$2', got '$1'"
}

# assert_ne ACTUAL UNEXPECTED [WHAT]
assert_ne() {
	[ "$1" != "$2" ] || fail "${3:-value}: must not be '$2'"
}

# assert_ge ACTUAL MIN [WHAT] / assert_le ACTUAL MAX [WHAT]: integers.
assert_ge() {
	[ "$1" -ge "$2" ] 2>/dev/null || fail "${3:-value}: expected >= $2, got '$1'"
}
assert_le() {
	[ "$1" -le "$2" ] 2>/dev/null || fail "${3:-value}: expected <= $2, got '$1'"
}

# assert_contains FILE REGEX [WHAT]: grep -E REGEX must match in FILE.
assert_contains() {
	grep -Eq -- "$2" "$1" || fail "${3:-$1}: no line matches /$2/"
}

# assert_ok CMD...: runs CMD, fails the test (with its output) unless 0.
assert_ok() {
	local out rc=0
	out=$("$@" 2>&1) || rc=$?
	[ "$rc" = 0 ] || fail "exit $rc from: $* :: $out"
	printf '%s\n' "$out"
}

# assert_status EXPECTED CMD...: runs CMD, fails unless it exits EXPECTED.
assert_status() {
	local want=$1 out rc=0
	shift
	out=$("$@" 2>&1) || rc=$?
	[ "$rc" = "$want" ] || fail "expected exit $want, got $rc from: $* :: $out"
	printf '%s\n' "$out"
}

# ---- process figures ------------------------------------------------------

# fd_count PID: open file descriptors of PID.
fd_count() {
	find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l
}

# rss_kb PID: resident set size of PID in KiB.
rss_kb() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null
}

# threads_count PID: threads of PID.
threads_count() {
	awk '/^Threads:/ { print $2 }' "/proc/$1/status" 2>/dev/null
}

# json_get KEY < JSON: prints the value of a top-level scalar KEY of the
# one-line JSON the test tools print (strings without their quotes).
json_get() {
	grep -o "\"$1\":\(\"[^\"]*\"\|[^,}]*\)" | head -n 1 | cut -d: -f2- |
		sed 's/^"//; s/"$//'
}

# ---- test tools -----------------------------------------------------------

# client ARGS...: runs tfwd-client.
client() {
	"$TFWD_BIN/tfwd-client" "$@"
}

# start_backend NAME MODE ADDR:PORT [tfwd-backend options...]: starts a
# tfwd-backend with its stats in $TMP/NAME.stats and waits for the port.
start_backend() {
	local name=$1 mode=$2 addr=$3
	shift 3
	tfwd_start "$name" "$TFWD_BIN/tfwd-backend" --listen "$addr" \
		--mode "$mode" --stats-file "$TMP/$name.stats" \
		--pidfile "$TMP/$name.pid" "$@"
	wait_port "${addr%:*}" "${addr##*:}"
}

# backend_stat NAME KEY: asks backend NAME to rewrite its stats file
# (SIGUSR1) and prints KEY's value (accepted, active, max_active, closed,
# bytes_in, bytes_out, resets, errors, limit_closes, idle_closes,
# verify_ok, verify_bad).
backend_stat() {
	local f=$TMP/$1.stats
	rm -f "$f"
	tfwd_signal "$1" USR1
	wait_until 5 test -s "$f" || fail "backend $1 wrote no stats"
	sed -n "s/^$2=//p" "$f"
}

# ---- configuration --------------------------------------------------------

# write_iplist FILE ENTRY...: one IP-list entry a line.
write_iplist() {
	local f=$1
	shift
	printf '%s\n' "# written by $(basename "$0")" "$@" >"$f"
}

# write_config FILE: a complete config.yaml from shell variables, with test
# defaults (every state and socket file under $TMP):
#	LISTEN=127.0.0.1:<free port>  ADMIN=127.0.0.1:<free port>
#	IPLIST=$TMP/ip_list.txt  DEFAULT_PORT=80  IPC_URL=ipc://$TMP/control.ipc
#	ALGORITHM=least_connections  POOL_TYPE=none  POOL_SIZE=4
#	POOL_MIN=2 POOL_MAX=50  DIAL_TIMEOUT=1s  IDLE_TIMEOUT=10m
#	DRAIN_TIMEOUT=5s  WORKERS=1  MAX_CONNECTIONS=100000  LOG_LEVEL=info
#	LOG_FORMAT=text  LOG_OUTPUT=stderr  PROBE_INTERVAL=1s PROBE_TIMEOUT=500ms
#	PROBE_COUNT=10  EVAL_INTERVAL=1s  DEBOUNCE=0s  ACTIVE_SET_SIZE=3
#	MIN_SCORE=15.0  IMPROVEMENT=5.0  DP_STATE=$TMP/state/dataplane.json
#	CP_STATE=$TMP/state/scores.json  TOKEN_FILE=""
# LISTEN and ADMIN are exported back so the test knows the ports.
write_config() {
	local f=$1
	: "${LISTEN:=127.0.0.1:$(free_port)}"
	: "${ADMIN:=127.0.0.1:$(free_port)}"
	export LISTEN ADMIN
	mkdir -p "$TMP/state"
	cat >"$f" <<EOF
# written by $(basename "$0") for an integration test
server:
  listen_addr: "$LISTEN"

logging:
  level: "${LOG_LEVEL:-info}"
  format: "${LOG_FORMAT:-text}"
  output: "${LOG_OUTPUT:-stderr}"

metrics:
  enabled: true
  listen_addr: "$ADMIN"
  path: "/metrics"

remotes:
  default_remote_port: ${DEFAULT_PORT:-80}
  provider:
    type: "file"
    file:
      path: "${IPLIST:-$TMP/ip_list.txt}"
      watch: false
  probing:
    interval: "${PROBE_INTERVAL:-1s}"
    timeout: "${PROBE_TIMEOUT:-500ms}"
    probe_candidate_count: ${PROBE_COUNT:-10}
    initial:
      enabled: true
      max_concurrency: 100
      timeout: "${PROBE_TIMEOUT:-500ms}"
  scoring:
    weights:
      latency: 0.45
      jitter: 0.15
      success_rate: 0.40
    latency:
      max_score: 45.0
      ewma_alpha: 0.2
      base_latency: "50ms"
      max_acceptable_latency: "800ms"
    jitter:
      max_score: 15.0
      ewma_alpha: 0.3
      base_jitter: "10ms"
      max_acceptable_jitter: "300ms"
    success_rate:
      max_score: 40.0
      ewma_alpha: 0.1
    failure_penalty:
      base_penalty: 5.0
      exponent_factor: 1.8
      max_penalty: 80.0
      recovery_per_check: 2.5
    historical_bonus:
      max_bonus: 10.0
      checks_per_point: 120
  selector:
    evaluation_interval: "${EVAL_INTERVAL:-1s}"
    active_set_size: ${ACTIVE_SET_SIZE:-3}
    min_score_threshold: ${MIN_SCORE:-15.0}
    switching:
      debounce_interval: "${DEBOUNCE:-0s}"
      score_improvement_threshold: ${IMPROVEMENT:-5.0}

pools:
  algorithm: "${ALGORITHM:-least_connections}"
  common:
    dial_timeout: "${DIAL_TIMEOUT:-1s}"
    idle_timeout: "${IDLE_TIMEOUT:-10m}"
    drain_timeout: "${DRAIN_TIMEOUT:-5s}"
  strategy:
    type: "${POOL_TYPE:-none}"
    static:
      size_per_remote: ${POOL_SIZE:-4}
    dynamic:
      min_size: ${POOL_MIN:-2}
      max_size: ${POOL_MAX:-50}
      scaling:
        interval: "1s"
        target_buffer_ratio: 0.2
        scale_up_increment: 10
        scale_down_increment: 5

ipc:
  url: "${IPC_URL:-ipc://$TMP/control.ipc}"

dataplane:
  workers: ${WORKERS:-1}
  max_connections: ${MAX_CONNECTIONS:-100000}
  state_file: "${DP_STATE:-$TMP/state/dataplane.json}"

controlplane:
  state_file: "${CP_STATE:-$TMP/state/scores.json}"

admin:
  listen_addr: "$ADMIN"
  token_file: "${TOKEN_FILE:-}"
EOF
}

# ---- the daemons ------------------------------------------------------------

# TFWD_WRAP: a command line put before the daemons' in start_dataplane and
# start_controlplane, split on blanks (no quoting), e.g.
#	TFWD_WRAP="valgrind --leak-check=full --error-exitcode=99"
# The wrapper must run the daemon in its own process (valgrind, setpriv,
# runuser, taskset, env) so that the recorded PID is the daemon's. Ports
# get TFWD_WRAP_WAIT seconds (30) instead of 10 to open under a wrapper.
# Unset or empty: the daemons start as they are.
tfwd_wrap() {
	TFWD_WRAP_ARGS=()
	[ -n "${TFWD_WRAP:-}" ] || return 0
	read -r -a TFWD_WRAP_ARGS <<<"$TFWD_WRAP"
}
tfwd_wrap_wait() {
	[ -n "${TFWD_WRAP:-}" ] && echo "${TFWD_WRAP_WAIT:-30}" || echo 10
}

# start_dataplane NAME CONFIG [ARGS...]: starts tcpfwd-dataplane -c CONFIG
# (under $TFWD_WRAP when set) and waits until $LISTEN (from write_config)
# listens.
start_dataplane() {
	local name=$1 cfg=$2
	shift 2
	require_bin tcpfwd-dataplane
	tfwd_wrap
	tfwd_start "$name" "${TFWD_WRAP_ARGS[@]}" \
		"$TFWD_BIN/tcpfwd-dataplane" -c "$cfg" "$@"
	wait_port "${LISTEN%:*}" "${LISTEN##*:}" "$(tfwd_wrap_wait)"
}

# start_controlplane NAME CONFIG [ARGS...]: starts tcpfwd-controlplane -c
# CONFIG (under $TFWD_WRAP when set) and waits until $ADMIN (from
# write_config) listens.
start_controlplane() {
	local name=$1 cfg=$2
	shift 2
	require_bin tcpfwd-controlplane
	tfwd_wrap
	tfwd_start "$name" "${TFWD_WRAP_ARGS[@]}" \
		"$TFWD_BIN/tcpfwd-controlplane" -c "$cfg" "$@"
	wait_port "${ADMIN%:*}" "${ADMIN##*:}" "$(tfwd_wrap_wait)"
}

# admin_get PATH: GET http://$ADMIN/PATH, body on stdout; fails on an HTTP
# error.
admin_get() {
	curl -sS --max-time 5 -f "http://$ADMIN$1"
}

# metric FAMILY [LABEL-SUBSTRING]: the value of the first sample of FAMILY
# in /metrics whose labels contain LABEL-SUBSTRING (empty when absent).
metric() {
	admin_get /metrics | awk -v m="$1" -v l="${2:-}" '
	    $1 !~ /^#/ {
		name = $1; sub(/\{.*/, "", name)
		if (name == m && index($1, l) > 0) { print $2; exit }
	    }'
}

# ---- network namespaces ---------------------------------------------------

# netns_create NAME: a namespace "tfwd-<pid>-NAME" with loopback up,
# removed by the EXIT trap. Needs root (require_root first).
netns_create() {
	local ns
	ns=$(netns_name "$1")
	ip netns add "$ns" || fail "ip netns add $ns"
	TFWD_NETNS+=("$ns")
	ip -n "$ns" link set lo up || fail "lo up in $ns"
}

# netns_name NAME: the real name of namespace NAME.
netns_name() {
	echo "tfwd-$$-$1"
}

# netns_wait_port NAME HOST PORT [TIMEOUT]: wait_port inside namespace NAME.
netns_wait_port() {
	local TFWD_SS_NETNS
	TFWD_SS_NETNS=$(netns_name "$1")
	shift
	wait_port "$@"
}

# netns_exec NAME CMD...: runs CMD inside namespace NAME.
netns_exec() {
	local ns
	ns=$(netns_name "$1")
	shift
	ip netns exec "$ns" "$@"
}

# ---- the stand-in control plane (tfwd-cp) and data-plane reports ----------
#
# The data plane reports only to a control plane: tests that read its
# counters run tfwd-cp, which writes every report as one JSON line to
# $TMP/NAME.reports. Queries are jq expressions over the newest report.

# require_cmd NAME...: SKIP unless each command is on PATH.
require_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip "$c not installed"
	done
}

# start_cp NAME [tfwd-cp options...]: starts tfwd-cp listening on $IPC_URL
# (write_config's default), reports in $TMP/NAME.reports, control FIFO
# $TMP/NAME.ctl (see cp_ctl). Pass --set A,B for an initial set.
start_cp() {
	local name=$1
	shift
	require_bin tfwd-cp
	require_cmd jq
	rm -f "$TMP/$name.ctl"
	mkfifo "$TMP/$name.ctl" || fail "mkfifo $TMP/$name.ctl"
	: >"$TMP/$name.reports"
	tfwd_start "$name" "$TFWD_BIN/tfwd-cp" \
		--url "${IPC_URL:-ipc://$TMP/control.ipc}" \
		--reports "$TMP/$name.reports" --control "$TMP/$name.ctl" "$@"
	wait_until 10 grep -q 'listening on' "$TMP/$name.log" ||
		fail "tfwd-cp $name did not start"
}

# cp_ctl NAME LINE...: sends control lines to tfwd-cp NAME (set A,B;
# generation N; raw TEXT; pause; resume; quit).
cp_ctl() {
	local name=$1
	shift
	tfwd_running "$name" || fail "cp_ctl: $name is not running"
	# shellcheck disable=SC2016 # expanded by the inner bash
	timeout 5 bash -c 'printf "%s\n" "${@:2}" >"$1"' _ \
		"$TMP/$name.ctl" "$@" || fail "cp_ctl: cannot write to $name"
}

# report NAME: the newest complete report tfwd-cp NAME wrote (empty if
# none yet).
report() {
	tail -n 3 "$TMP/$1.reports" 2>/dev/null |
		jq -c 'select(.type == "report")' 2>/dev/null | tail -n 1
}

# report_count NAME: reports written so far.
report_count() {
	wc -l <"$TMP/$1.reports" 2>/dev/null || echo 0
}

# report_get NAME JQ: JQ (raw output) over the newest report; fails when
# there is none.
report_get() {
	local r
	r=$(report "$1")
	[ -n "$r" ] || fail "report_get: no report from the data plane yet"
	jq -r "$2" <<<"$r"
}

# report_fresh NAME [TIMEOUT]: waits until a report built after this call
# arrived (the second one from now: the next may have been on its way).
report_fresh() {
	local n
	n=$(report_count "$1")
	wait_until "${2:-10}" eval "[ \$(report_count $1) -ge $((n + 2)) ]" ||
		fail "no fresh report from the data plane within ${2:-10} s"
}

# report_true NAME JQ: true when the newest report makes JQ true.
report_true() {
	local r
	r=$(report "$1")
	[ -n "$r" ] && jq -e "$2" >/dev/null 2>&1 <<<"$r"
}

# wait_report NAME TIMEOUT JQ [WHAT]: waits until the newest report makes
# the jq expression JQ true; fails after TIMEOUT seconds, showing the report.
wait_report() {
	wait_until "$2" report_true "$1" "$3" ||
		fail "${4:-report}: not true within $2 s: $3 :: $(report "$1")"
}

# be_field BACKEND FIELD: a jq expression for FIELD of BACKEND (ip:port) in
# a report's backends (null when absent), for report_get and wait_report.
be_field() {
	echo "(.backends[] | select(.addr == \"$1\") | .$2)"
}

# backend_conns_total: jq for the sum of every backend's open connections.
backend_conns_total() {
	echo '([.backends[].connections] | add // 0)'
}

# dp_assert_idle CP [TIMEOUT]: the data plane reporting to CP ends with no
# client connection open or waiting and no connection counted on any
# backend (nothing leaked in its accounting), in a report built after this
# call (so report_get reads counters that include everything before it).
dp_assert_idle() {
	report_fresh "$1"
	wait_report "$1" "${2:-10}" ".connections_active == 0 and
	    .clients_waiting == 0 and $(backend_conns_total) == 0" \
		"data plane idle at the end"
}

# ---- process figures, continued --------------------------------------------

# fd_count_nonpipe PID: open descriptors of PID that are not pipes (the data
# plane keeps a bounded cache of splice pipes; everything else must return
# to its baseline).
fd_count_nonpipe() {
	find "/proc/$1/fd" -mindepth 1 -maxdepth 1 -printf '%l\n' 2>/dev/null |
		grep -vc '^pipe:'
}

# fd_kinds PID: the kinds of PID's open descriptors that are not pipes, one
# "COUNT KIND" line each (socket, anon_inode:[eventfd], a path...), to show
# which kind moved when a descriptor count is off.
fd_kinds() {
	find "/proc/$1/fd" -mindepth 1 -maxdepth 1 -printf '%l\n' 2>/dev/null |
		grep -v '^pipe:' | sed 's/^socket:.*/socket/' | sort | uniq -c
}

# cpu_ticks PID: user + system CPU time of PID (all threads) in clock ticks.
cpu_ticks() {
	awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

# stop_clean NAME: stops NAME with SIGTERM and asserts it exited 0 without
# a sanitizer report in its log (leaks and errors of the ASan build).
stop_clean() {
	local name=$1
	tfwd_stop "$name"
	assert_eq "${TFWD_STATUS[$name]}" 0 "exit status of $name"
	assert_sanitizer_clean "$name"
}

# assert_sanitizer_clean NAME: no sanitizer report in NAME's log.
assert_sanitizer_clean() {
	if grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: .*Sanitizer' \
		"$TMP/$1.log"; then
		fail "$1: sanitizer report in its log"
	fi
}

# wait_output TIMEOUT OP VALUE CMD...: runs CMD every 50 ms until its output
# compares to VALUE with test's OP (=, !=, -ge, -gt, -le, -lt): 0, or 1
# after TIMEOUT seconds. (wait_until TIMEOUT test "$(CMD)" = VALUE would run
# CMD only once.)
wait_output() {
	local timeout=$1
	shift
	wait_until "$timeout" _output_is "$@"
}
_output_is() {
	local op=$1 want=$2 got
	shift 2
	got=$("$@") || return 1
	test "$got" "$op" "$want"
}

# elapsed_ms START_NS: milliseconds since START_NS (date +%s%N).
elapsed_ms() {
	echo $((($(date +%s%N) - $1) / 1000000))
}
