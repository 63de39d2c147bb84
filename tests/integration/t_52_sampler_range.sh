#!/usr/bin/env bash
#
# Guards issue 3's CIDR sampler (and the seed's bug of taking only the
# first address of a CIDR line): the IP list holds one line,
# 10.R.0.0/16:PORT (R picked free at random, 210-249), routed from the host
# over a veth pair into a network namespace where only 10.R.77.0/24
# answers (`ip route add local 10.R.77.0/24 dev lo` there, one echo
# listener on 0.0.0.0:PORT; SYNs to the rest of the /16 are dropped by the
# namespace, which does not forward). With max_tracked 512 (1/128 of the
# range):
#  - within 60 s the active set (size 3) consists of addresses inside
#    10.R.77.0/24 only, found by the sampler (none of them is listed);
#  - every backend with a score is inside 10.R.77.0/24 (nothing else
#    answered) and, within 30 s more, more than the 3 members were found
#    (exploitation near good addresses);
#  - tracked_backends never exceeds max_tracked (sampled every ~200 ms)
#    and the sampler explored (samples_added > max_tracked, evictions > 0).

set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/lib_cp.sh
. "$(dirname "$0")/lib_cp.sh"
require_root
require_cmd ip
tfwd_tmpdir
require_bin tcpfwd-controlplane tfwd-backend

MAX_TRACKED=512
LINK=$(free_net 10.203 0 255)
# a /16 nobody uses: none of its /24s in use (checked on the first, the
# 77th and by route prefix)
for _ in $(seq 1 20); do
	R=$((210 + RANDOM % 40))
	ip -4 route show | grep -q "^10\.$R\." && continue
	[ -z "$(ip -o -4 addr show to "10.$R.0.0/16")" ] && break
	R=
done
[ -n "${R:-}" ] || fail "no free 10.R.0.0/16"
RANGE=10.$R
netns_create rng
NS=$(netns_name rng)
HIF=t52h$$
veth_to_ns rng "$HIF" "$LINK.1/30" "$LINK.2/30"
ip route add "$RANGE.0.0/16" via "$LINK.2" dev "$HIF" || fail "route to the range"
ip -n "$NS" route add local "$RANGE.77.0/24" dev lo || fail "local /24 in $NS"
P=$(free_port)
tfwd_start good ip netns exec "$NS" "$TFWD_BIN/tfwd-backend" \
	--listen "0.0.0.0:$P" --mode echo
netns_wait_port rng 0.0.0.0 "$P"
for a in "$RANGE.77.1" "$RANGE.77.200"; do
	timeout 2 bash -c "exec 3<>/dev/tcp/$a/$P" 2>/dev/null ||
		fail "$a:$P does not answer"
done
if timeout 1 bash -c "exec 3<>/dev/tcp/$RANGE.78.1/$P" 2>/dev/null; then
	fail "$RANGE.78.1:$P answers: the namespace answers for more than the /24"
fi

write_iplist "$TMP/ip_list.txt" "$RANGE.0.0/16:$P"
PROBE_INTERVAL=1s PROBE_TIMEOUT=300ms PROBE_COUNT=64 ACTIVE_SET_SIZE=3 \
	write_config "$TMP/c.yaml"
cfg_set "$TMP/c.yaml" remotes.provider.max_tracked "$MAX_TRACKED"
start_controlplane cp "$TMP/c.yaml"

in77='test("^10\\.'"$R"'\\.77\\.[0-9]+:'"$P"'$")'
t0=$(date +%s%N)
max_seen=0
found=
end=$(($(date +%s) + 60))
while [ "$(date +%s)" -lt "$end" ]; do
	check_cp_alive cp
	n=$(jget /api/v1/status .tracked_backends)
	[ "$n" -gt "$max_seen" ] && max_seen=$n
	assert_le "$n" "$MAX_TRACKED" "tracked backends"
	if jtrue /api/v1/active-set "(.backends | length) == 3 and
	    (.backends | all($in77))"; then
		found=$(elapsed_ms "$t0")
		break
	fi
	sleep 0.2
done
[ -n "$found" ] ||
	fail "no active set inside $RANGE.77.0/24 within 60 s: $(admin_get /api/v1/active-set)"
log "active set inside $RANGE.77.0/24 after $found ms: $(members)"

# More rounds, still bounded, until more than the 3 members answer (the
# initial round may have hit exactly 3 by luck: exploitation finds more).
end=$(($(date +%s) + 30))
while :; do
	n=$(jget /api/v1/status .tracked_backends)
	[ "$n" -gt "$max_seen" ] && max_seen=$n
	assert_le "$n" "$MAX_TRACKED" "tracked backends"
	jget /api/v1/backends . >"$TMP/backends.json"
	scored=$(jq '[.backends[] | select(.score != null)] | length' "$TMP/backends.json")
	[ "$scored" -ge 4 ] && [ "$(jq .counters.evictions <<<"$(jget /api/v1/status .)")" -ge 1 ] && break
	[ "$(date +%s)" -lt "$end" ] || break
	sleep 0.2
done
outside=$(jq -r "[.backends[] | select(.score != null) | .address |
    select($in77 | not)] | join(\" \")" "$TMP/backends.json")
assert_eq "$outside" "" "scored backends outside $RANGE.77.0/24"
assert_ge "$scored" 4 "answering addresses found"
assert_eq "$(jq '[.backends[] | select(.listed)] | length' "$TMP/backends.json")" 0 \
	"backends marked listed (the list has only a range)"
jget /api/v1/status .counters >"$TMP/counters.json"
added=$(jq .samples_added "$TMP/counters.json")
evicted=$(jq .evictions "$TMP/counters.json")
log "tracked at most $max_seen of max_tracked $MAX_TRACKED; $scored answering addresses scored; $added samples added, $evicted evicted; $(jq .probe_rounds "$TMP/counters.json") rounds"
assert_ge "$max_seen" $((MAX_TRACKED / 2)) "tracked backends at the peak (the sampler fills its room)"
assert_ge "$added" "$((MAX_TRACKED + 1))" "samples added"
assert_ge "$evicted" 1 "evictions"
assert_eq "$(jq -r '[.backends[] | select(.state == "active") | .address] | sort | join(",")' \
	"$TMP/backends.json")" "$(members)" "active members in /api/v1/backends"

stop_clean cp
