# shellcheck shell=bash disable=SC2034
#
# Helpers for the fault scenarios (tests/faults/f_*.sh), on top of the
# integration helpers (tests/integration/lib.sh and lib_cp.sh, sourced
# here). Every scenario runs in two network namespaces of its own, joined
# by a veth pair on a /24 picked at random:
#
#	front: clients, the data plane, the control plane (127.0.0.1 inside,
#	       $FRONT_IP on the veth $FRONT_IF)
#	back:  the backends ($NET.10, $NET.11, ... on the veth $BACK_IF)
#
# so that nft rules (and tc tbf: this kernel has no netem) can make the network between the data
# plane and its backends misbehave without touching the host. A scenario
# starts like this:
#
#	set -euo pipefail
#	. "$(dirname "$0")/lib.sh"
#	fault_requires tcpfwd-dataplane tfwd-backend ...
#	fault_netns
#	...the scenario, already inside the front namespace...
#
# fault_netns (outer run, on the host) creates both namespaces and the
# veth pair, then runs the same script again inside the front namespace
# (TFWD_FAULT_INNER=1) and waits for it; its EXIT trap stops that run by
# PID and deletes the namespaces, on failure too. The inner run has its own
# $TMP and trap (tfwd_tmpdir), which stop every process it started by PID.
# FAULT_PRIVATE_MOUNTS=1 before fault_netns also gives the inner run a
# private mount namespace (unshare -m) for tmpfs mounts of its own.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"
# shellcheck source=tests/integration/lib_cp.sh
. "$(dirname "${BASH_SOURCE[0]}")/../integration/lib_cp.sh"

FAULTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SP_PEER=$FAULTS_DIR/sp_peer.py

# fault_requires BIN...: SKIP unless root, the network tools and the
# binaries are there (checked in both runs, before anything is created).
fault_requires() {
	require_root
	require_cmd ip nft tc jq curl python3
	require_bin "$@"
}

# fault_netns: see the header. Returns only in the inner run.
fault_netns() {
	if [ "${TFWD_FAULT_INNER:-}" = 1 ]; then
		tfwd_tmpdir
		log "inside $FRONT_NS (backends in $BACK_NS, $NET.0/24)"
		return 0
	fi
	local a b pid rc=0
	tfwd_tmpdir
	netns_create front
	netns_create back
	FRONT_NS=$(netns_name front)
	BACK_NS=$(netns_name back)
	# Private namespaces: no address here is seen by the host or by a
	# parallel run; the /24 is random anyway, for readable logs.
	a=$((200 + RANDOM % 50)) b=$((RANDOM % 256))
	NET=10.$a.$b
	FRONT_IF=ff$$ BACK_IF=fb$$
	FRONT_IP=$NET.1 BACK_IP=$NET.2
	ip link add "$FRONT_IF" netns "$FRONT_NS" type veth peer name "$BACK_IF" \
		netns "$BACK_NS" || fail "veth pair"
	ip -n "$FRONT_NS" addr add "$FRONT_IP/24" dev "$FRONT_IF" || fail "front address"
	ip -n "$BACK_NS" addr add "$BACK_IP/24" dev "$BACK_IF" || fail "back address"
	ip -n "$FRONT_NS" link set "$FRONT_IF" up || fail "front veth up"
	ip -n "$BACK_NS" link set "$BACK_IF" up || fail "back veth up"
	# the data plane's many short dials reuse TIME_WAIT ports (the
	# default, 2, does it on loopback only); this namespace only
	ip netns exec "$FRONT_NS" sysctl -qw net.ipv4.tcp_tw_reuse=1 ||
		fail "tcp_tw_reuse in $FRONT_NS"
	export FRONT_NS BACK_NS NET FRONT_IF BACK_IF FRONT_IP BACK_IP
	export TFWD_FAULT_INNER=1
	if [ "${FAULT_PRIVATE_MOUNTS:-0}" = 1 ]; then
		ip netns exec "$FRONT_NS" unshare -m --propagation private \
			bash "$0" "$@" &
	else
		ip netns exec "$FRONT_NS" bash "$0" "$@" &
	fi
	pid=$!
	TFWD_PIDS[inner]=$pid
	TFWD_ORDER+=(inner)
	wait "$pid" || rc=$?
	unset 'TFWD_PIDS[inner]'
	exit "$rc"
}

# back CMD...: runs CMD in the backends' namespace.
back() {
	ip netns exec "$BACK_NS" "$@"
}

# back_addr N: makes $NET.N an address of the back namespace (idempotent)
# and prints it.
back_addr() {
	ip -n "$BACK_NS" addr add "$NET.$1/32" dev "$BACK_IF" 2>/dev/null || true
	echo "$NET.$1"
}

# start_back_backend NAME MODE IP:PORT [tfwd-backend options...]: a
# tfwd-backend in the back namespace, stats in $TMP/NAME.stats (see
# backend_stat); waits until the front can connect to it.
start_back_backend() {
	local name=$1 mode=$2 addr=$3 ip
	shift 3
	ip=${addr%:*}
	back_addr "${ip##*.}" >/dev/null
	tfwd_start "$name" ip netns exec "$BACK_NS" "$TFWD_BIN/tfwd-backend" \
		--listen "$addr" --mode "$mode" --stats-file "$TMP/$name.stats" "$@"
	local TFWD_SS_NETNS=$BACK_NS
	wait_port "$ip" "${addr##*:}"
	wait_until 5 eval "timeout 1 bash -c 'exec 3<>/dev/tcp/$ip/${addr##*:}' 2>/dev/null" ||
		fail "cannot reach $addr from the front namespace"
}

# nft_back: nft rules from stdin, applied in the back namespace.
nft_back() {
	ip netns exec "$BACK_NS" nft -f - || fail "nft in the back namespace"
}

# nft_front: nft rules from stdin, applied in the front namespace.
nft_front() {
	nft -f - || fail "nft in the front namespace"
}

# lossy_back PCT: drops PCT % of the TCP segments that carry no SYN, both
# ways, at the backends' side (nft numgen; this kernel has no netem): the
# data plane's connections see retransmissions and stalls of 200 ms and
# more, never a dropped handshake (that is f_03's business). Table
# "lossy" in the back namespace; lossy_drops prints how many segments it
# dropped, lossy_off removes it.
lossy_back() {
	nft_back <<EOF
table inet lossy {
	chain input {
		type filter hook input priority 10; policy accept;
		tcp flags & syn == 0 numgen random mod 1000 < $(($1 * 10)) counter drop
	}
	chain output {
		type filter hook output priority 10; policy accept;
		tcp flags & syn == 0 numgen random mod 1000 < $(($1 * 10)) counter drop
	}
}
EOF
}
lossy_drops() {
	back nft list table inet lossy 2>/dev/null |
		awk '/counter packets/ { for (i = 1; i < NF; i++)
		    if ($i == "packets") n += $(i + 1) } END { print n + 0 }'
}
lossy_off() {
	back nft delete table inet lossy 2>/dev/null || true
}

# slow_back RATE: the backends send at most RATE (tc tbf, e.g. 20mbit).
slow_back() {
	back tc qdisc replace dev "$BACK_IF" root tbf rate "$1" burst 32kbit \
		latency 400ms || fail "tbf $1 (back)"
}

# cpu_pct PID SECONDS: CPU used by PID over the next SECONDS, in % of one
# core (integer).
cpu_pct() {
	local hz c0 c1 ms
	hz=$(getconf CLK_TCK)
	c0=$(cpu_ticks "$1")
	sleep "$2"
	c1=$(cpu_ticks "$1")
	ms=$(awk -v s="$2" 'BEGIN { printf "%d", s * 1000 }')
	echo $(((c1 - c0) * 100 * 1000 / hz / ms))
}

# assert_cpu_below PID SECONDS MAX WHAT: PID used at most MAX % of a core
# over SECONDS; logs the figure.
assert_cpu_below() {
	local pct
	pct=$(cpu_pct "$1" "$2")
	log "CPU of $4 over $2 s: $pct% of a core"
	FAULT_CPU=$pct
	assert_le "$pct" "$3" "CPU of $4 (% of a core)"
}

# assert_fds_back PID BASELINE WHAT [TIMEOUT]: PID's descriptors other than
# the data plane's splice-pipe cache return to BASELINE.
assert_fds_back() {
	wait_output "${4:-10}" -le "$2" fd_count_nonpipe "$1" ||
		fail "$3: $(fd_count_nonpipe "$1") descriptors (pipes aside), baseline $2: $(find "/proc/$1/fd" -mindepth 1 -printf '%l\n' 2>/dev/null | sed 's/:\[.*//' | sort | uniq -c | sort -rn | head -n 5 | tr '\n' ' ')"
}

# start_silent_client NAME HOST:PORT: a client that connects, sends nothing
# and reads until EOF (10 s at most); its log ends with "held_ms=N", the
# time from connect to EOF (exit 2: no connect, 3: no EOF in 10 s).
start_silent_client() {
	[ -f "$TMP/silent.sh" ] || cat >"$TMP/silent.sh" <<'EOF'
exec 3<>"/dev/tcp/$1/$2" || exit 2
s=$(date +%s%N)
timeout 10 cat <&3 >/dev/null || exit 3
echo "held_ms=$((($(date +%s%N) - s) / 1000000))"
EOF
	tfwd_start "$1" bash "$TMP/silent.sh" "${2%:*}" "${2##*:}"
}

# silent_client_wait NAME: waits for NAME (12 s), checks it saw EOF and
# sets SILENT_MS to its held_ms (not in a $(...): it waits for a child).
silent_client_wait() {
	tfwd_wait_exit "$1" 12
	[ "${TFWD_STATUS[$1]}" = 0 ] ||
		fail "silent client $1: exit ${TFWD_STATUS[$1]} ($(cat "$TMP/$1.log"))"
	SILENT_MS=$(sed -n 's/^held_ms=//p' "$TMP/$1.log")
}

# sanitizer_build: true when the binaries are an ASan build (whose
# quarantine and redzones make RSS figures meaningless).
sanitizer_build() {
	grep -qa __asan_init "$TFWD_BIN/tcpfwd-dataplane"
}

# assert_rss_growth PID RSS0_KB MAX_KB WHAT: PID's RSS grew by MAX_KB at
# most since RSS0_KB; not checked (only logged) in a sanitizer build.
assert_rss_growth() {
	local now
	now=$(rss_kb "$1")
	if sanitizer_build; then
		log "$4: RSS $2 -> $now kB (sanitizer build: not checked)"
	else
		log "$4: RSS $2 -> $now kB"
		assert_le "$now" $(($2 + $3)) "$4: RSS (kB)"
	fi
}

# fault_result KEY=VALUE...: one machine-readable line of the scenario's
# figures (the fault table is built from these).
fault_result() {
	echo "RESULT $(basename "$0" .sh) $*"
}
