#!/usr/bin/env bash
# tests/bench/profile.sh BUILD_DIR PEER WORKLOAD [record]
# One peer (tcpfwd, haproxy-auto, haproxy-splice, nginx) under one load of
# the benchmark, pinned as in run.sh, with `perf stat` counting the proxy's
# syscalls by kind and its context switches; prints them per unit of work
# (per MB for bulk, per connection for rate, per round trip for latency).
# With "record", also `perf record -g` on the proxy and the top symbols.
# WORKLOAD: up1 up8 down1 down8 rate lat1 (proxy on the other core) lat0
# (all on one core). PROFILE_SECONDS (5) is the length of the load.
# Output in $BUILD/bench/profile/PEER-WORKLOAD.* ; BENCH_KEEP=1 keeps temp.

BENCH_BUILD=${1:-build}
PEER=${2:?peer}
WL=${3:?workload}
MODE=${4:-}
# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"
PS=${PROFILE_SECONDS:-5}
command -v perf >/dev/null || die "perf missing (apt-get install linux-perf)"
PDIR=$OUT/profile
mkdir -p "$PDIR"
base=$PDIR/$PEER-$WL

start_backends
case $WL in
up*) bport=$BE_SINK ;; down*) bport=$BE_SOURCE ;; *) bport=$BE_ECHO ;;
esac
start_proxy "$PEER" "$bport" || die "$PEER did not start"
port=$PROXY_PORT
pids=$(IFS=,; echo "${PROXY_PIDS[*]}")
[ "$WL" = lat0 ] && pin_proxy "$LOAD_CPU"

SC="read write readv writev recvfrom sendto recvmsg sendmsg splice
    epoll_wait epoll_pwait epoll_ctl accept accept4 connect close shutdown
    setsockopt getsockopt getsockname getpeername socket pipe2 fcntl ioctl
    futex timerfd_settime clock_nanosleep nanosleep openat open dup dup3"
ev="task-clock,context-switches,cpu-migrations"
for s in $SC; do ev="$ev,syscalls:sys_enter_$s"; done

perf stat -x, -e "$ev" -p "$pids" -o "$base.stat" &
STAT_PID=$!
PIDS[$STAT_PID]=perf-stat
if [ "$MODE" = record ]; then
	perf record -g -F 2000 -p "$pids" -o "$base.data" >/dev/null 2>&1 &
	REC_PID=$!
	PIDS[$REC_PID]=perf-record
fi
sleep 0.3
case $WL in
up1 | up8 | down1 | down8)
	taskset -c "$LOAD_CPU" "$BIN/tfwd-client" bulk --connect "127.0.0.1:$port" \
	    --streams "${WL#*[pn]}" --seconds "$PS" --direction "${WL%[0-9]}" \
	    --json >"$base.json"
	units=$(jq -r '(.bytes_up + .bytes_down) / 1e6' "$base.json"); uname=MB ;;
rate)
	taskset -c "$LOAD_CPU" "$BIN/tfwd-client" rate --connect "127.0.0.1:$port" \
	    --concurrency "$RATE_CONC" --seconds "$PS" --json >"$base.json"
	units=$(jq -r '.conns_ok' "$base.json"); uname=connection ;;
lat0 | lat1)
	n=$((PS * 20000))
	taskset -c "$LOAD_CPU" "$BIN/tfwd-client" latency --connect "127.0.0.1:$port" \
	    --count $n --warmup 1000 --json >"$base.json"
	units=$((n + 1000)); uname="round trip" ;;
*) die "unknown workload $WL" ;;
esac
sleep 0.2
kill -INT "$STAT_PID"; wait "$STAT_PID"; unset "PIDS[$STAT_PID]"
if [ "$MODE" = record ]; then
	kill -INT "$REC_PID"; wait "$REC_PID"; unset "PIDS[$REC_PID]"
fi
stop_proxy

echo "== data plane: $DP_ID"
echo "== $PEER $WL: $(jq -c 'del(.errors, .seed, .connect)' "$base.json")"
echo "== per $uname ($units ${uname}s), proxy pid(s) $pids:"
awk -F, -v u="$units" '$1 ~ /^[0-9.]+$/ && $1 > 0 {
	e = $3; sub(/^syscalls:sys_enter_/, "", e)
	printf "  %-18s %14.0f  %10.3f\n", e, $1, $1 / u }' "$base.stat" |
	sort -k2 -n -r
tot=$(awk -F, -v u="$units" '$3 ~ /^syscalls:/ { s += $1 } END { printf "%.2f", s / u }' "$base.stat")
echo "  syscalls per $uname: $tot (task-clock in ms)"
if [ "$MODE" = record ]; then
	perf report -i "$base.data" --stdio --no-children --sort symbol \
	    --percent-limit 1.5 -g none 2>/dev/null | grep -v '^#' | grep -v '^$' |
	    head -40 >"$base.top"
	echo "== perf record (cpu-clock), symbols >= 1.5%:"
	cat "$base.top"
fi
