# shellcheck shell=bash
#
# Helpers for the control-plane scenarios (t_50 .. t_79). Source it after
# lib.sh and tfwd_tmpdir:
#
#	. "$(dirname "$0")/lib.sh"
#	. "$(dirname "$0")/lib_cp.sh"
#	tfwd_tmpdir
#
# The admin API is asked with curl and read with jq; $ADMIN comes from
# write_config. Every wait is bounded.

require_cmd curl jq

# cfg_set FILE KEY.PATH VALUE: sets a key of a config written by
# write_config (block YAML, two-space indent), adding it under its parent
# when it is missing. VALUE is written as is (quote strings yourself).
cfg_set() {
	python3 - "$@" <<'EOF' || fail "cfg_set $*"
import re, sys
path, key, value = sys.argv[1], sys.argv[2].split('.'), sys.argv[3]
lines = open(path).read().split('\n')
lo, hi, indent = 0, len(lines), -1      # the parent's block, its indent
for depth, comp in enumerate(key):
    found = None
    for i in range(lo, hi):
        m = re.match(r'^( *)([A-Za-z0-9_]+):', lines[i])
        if m and len(m.group(1)) > indent and m.group(2) == comp:
            found = (i, len(m.group(1)))
            break
    if found is None:
        if depth != len(key) - 1:
            sys.exit('no section %s in %s' % ('.'.join(key[:depth + 1]), path))
        ind = ' ' * (indent + 2 if indent >= 0 else 0)
        lines.insert(lo, '%s%s: %s' % (ind, comp, value))
        break
    i, ind = found
    if depth == len(key) - 1:
        lines[i] = '%s%s: %s' % (' ' * ind, comp, value)
        break
    # the child block: following lines indented deeper than this one
    j = i + 1
    while j < len(lines) and (lines[j].strip() == '' or lines[j].lstrip().startswith('#')
            or len(lines[j]) - len(lines[j].lstrip(' ')) > ind):
        j += 1
    lo, hi, indent = i + 1, j, ind
open(path, 'w').write('\n'.join(lines))
EOF
}

# api METHOD PATH [TOKEN]: one admin request; prints the HTTP status, the
# body is left in $TMP/api.body. 000 when nothing answered.
api() {
	local auth=()
	[ -n "${3:-}" ] && auth=(-H "Authorization: Bearer $3")
	curl -sS --max-time 5 -o "$TMP/api.body" -w '%{http_code}' \
		-X "$1" "${auth[@]}" "http://$ADMIN$2" 2>/dev/null || true
}

# api_body: the body of the last api call.
api_body() {
	cat "$TMP/api.body" 2>/dev/null
}

# api_post_ok PATH [TOKEN]: POST that must answer 200.
api_post_ok() {
	local code
	code=$(api POST "$1" "${2:-}")
	[ "$code" = 200 ] || fail "POST $1: HTTP $code $(api_body)"
}

# jget PATH JQ: GET PATH, prints JQ (raw) over the answer.
jget() {
	local body
	body=$(admin_get "$1") || fail "GET $1 failed"
	jq -r "$2" <<<"$body" || fail "GET $1: jq '$2' failed on: $body"
}

# jtrue PATH JQ: true when GET PATH answers and JQ holds on the answer.
jtrue() {
	local body
	body=$(admin_get "$1" 2>/dev/null) || return 1
	jq -e "$2" >/dev/null 2>&1 <<<"$body"
}

# wait_api TIMEOUT PATH JQ [WHAT]: waits until jtrue PATH JQ; fails with
# the last answer after TIMEOUT seconds.
wait_api() {
	wait_until "$1" jtrue "$2" "$3" ||
		fail "${4:-$2}: not true within $1 s: $3 :: $(admin_get "$2" 2>&1 | head -c 3000)"
}

# members: the active set's backends, sorted, comma-separated.
members() {
	jget /api/v1/active-set '.backends | sort | join(",")'
}

# generation: the active set's generation.
generation() {
	jget /api/v1/active-set .generation
}

# be JQ ADDR: JQ over GET /api/v1/backends/ADDR.
be() {
	jget "/api/v1/backends/$2" "$1"
}

# be_line ADDR: a one-line summary of a backend for the log.
be_line() {
	jget "/api/v1/backends/$1" '"\(.address) \(.state) score=\(.score)
	    cf=\(.consecutive_failures) sr=\(.success_rate) pen=\(.penalty)
	    bonus=\(.bonus) probes=\(.probes)" | gsub("\n\\s*"; " ")'
}

# jq_set LIST: a jq array literal of the comma-separated LIST.
jq_set() {
	jq -cn --arg l "$1" '$l | split(",") | map(select(. != "")) | sort'
}

# wait_members TIMEOUT LIST [WHAT]: waits until the active set is exactly
# the comma-separated LIST (any order).
wait_members() {
	wait_api "$1" /api/v1/active-set \
		"(.backends | sort) == $(jq_set "$2")" "${3:-active set is $2}"
}

# wait_dp_in_sync TIMEOUT [N]: waits until N (1) data planes report to the
# control plane and serve its current set.
wait_dp_in_sync() {
	wait_api "$1" /api/v1/status \
		"(.dataplanes | length) == ${2:-1} and
		 (.dataplanes | all(.in_sync))" "data planes in sync"
}

# start_dataplane_ns NAME NS CONFIG: a data plane inside namespace NS
# (lib.sh's short name); waits for $LISTEN inside it.
start_dataplane_ns() {
	require_bin tcpfwd-dataplane
	tfwd_start "$1" ip netns exec "$(netns_name "$2")" \
		"$TFWD_BIN/tcpfwd-dataplane" -c "$3"
	netns_wait_port "$2" "${LISTEN%:*}" "${LISTEN##*:}"
}

# veth_to_ns NS HOST_IF HOST_CIDR NS_CIDR: a veth pair between the host
# and namespace NS (created by netns_create), both ends up. Deleting the
# namespace deletes the pair.
veth_to_ns() {
	local ns
	ns=$(netns_name "$1")
	ip link add "$2" type veth peer name "$2n" netns "$ns" ||
		fail "ip link add $2"
	ip addr add "$3" dev "$2" || fail "ip addr add $3 dev $2"
	ip link set "$2" up || fail "$2 up"
	ip -n "$ns" addr add "$4" dev "$2n" || fail "ip addr add $4 in $ns"
	ip -n "$ns" link set "$2n" up || fail "$2n up in $ns"
}

# nft_ns NS: nft rules (stdin) applied inside namespace NS.
nft_ns() {
	ip netns exec "$(netns_name "$1")" nft -f - || fail "nft in $1"
}

# check_cp_alive NAME: the control plane NAME still runs.
check_cp_alive() {
	tfwd_running "$1" || fail "control plane $1 died"
}

# mval FAMILY [LABEL-SUBSTRING]: like lib.sh's metric, reading /metrics
# whole (no early exit that breaks curl's pipe); 0 when absent.
mval() {
	local v
	v=$(admin_get "${METRICS_PATH:-/metrics}" 2>/dev/null | awk -v m="$1" -v l="${2:-}" '
	    $1 !~ /^#/ && !found {
		name = $1; sub(/\{.*/, "", name)
		if (name == m && index($1, l) > 0) { print $2; found = 1 }
	    }')
	echo "${v:-0}"
}

# free_net PREFIX LO HI: prints PREFIX.N for a random N in LO..HI such that
# nothing on the host uses PREFIX.N.0/24 (no address, no route), so that two
# runs of the suite at once do not collide. E.g. free_net 10.201 0 255.
free_net() {
	local n i
	for ((i = 0; i < 50; i++)); do
		n=$(($2 + RANDOM % ($3 - $2 + 1)))
		if [ -z "$(ip -o -4 addr show to "$1.$n.0/24")" ] &&
			! ip -4 route show | grep -q "^$1\.$n\."; then
			echo "$1.$n"
			return 0
		fi
	done
	fail "free_net: no free $1.N.0/24"
}
