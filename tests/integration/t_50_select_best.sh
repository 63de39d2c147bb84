#!/usr/bin/env bash
#
# Guards issue 3's selection basics (and the seed's bug of a fake starting
# latency that let a never-answering backend score and be selected):
#  - of four listed backends, three healthy echo servers and one closed
#    port, the active set (size 2) never contains the closed one, sampled
#    every 100 ms for 6 s;
#  - /api/v1/backends shows the closed one with score null (no successful
#    probe: never eligible), consecutive_failures > 0, state candidate;
#    the healthy ones score above min_score_threshold;
#  - the data plane forwards to the chosen ones only: echo works, and the
#    per-backend lb_requests_total of /metrics grows only for members;
#  - the control plane's descriptors return to their baseline after
#    thousands of probes and admin requests (no socket leaked);
#  - both daemons stop cleanly (exit 0, no sanitizer report).

set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/lib_cp.sh
. "$(dirname "$0")/lib_cp.sh"
tfwd_tmpdir
require_bin tcpfwd-controlplane tcpfwd-dataplane tfwd-backend tfwd-client

P=$(free_port)
H1=127.0.50.1:$P H2=127.0.50.2:$P H3=127.0.50.3:$P DEAD=127.0.50.4:$P
start_backend h1 echo "$H1"
start_backend h2 echo "$H2"
start_backend h3 echo "$H3"
write_iplist "$TMP/ip_list.txt" "$H1" "$H2" "$DEAD" "$H3"
PROBE_TIMEOUT=300ms ACTIVE_SET_SIZE=2 DEBOUNCE=2s write_config "$TMP/c.yaml"
start_controlplane cp "$TMP/c.yaml"
start_dataplane dp "$TMP/c.yaml"

wait_api 10 /api/v1/active-set '(.backends | length) == 2' "a set of 2"
wait_dp_in_sync 10
CP_PID=$(tfwd_pid cp)
FD0=$(fd_count "$CP_PID")

# The closed port never joins, sampled for 6 s (several rounds and
# evaluations).
end=$(($(date +%s) + 6))
n=0
while [ "$(date +%s)" -lt "$end" ]; do
	m=$(members)
	case ",$m," in
	*",$DEAD,"*) fail "the closed backend $DEAD is in the active set: $m" ;;
	esac
	[ -n "$m" ] || fail "empty active set"
	n=$((n + 1))
	sleep 0.1
done
log "active set sampled $n times, never with $DEAD: $(members)"

# What the API says about each.
jget /api/v1/backends . >"$TMP/backends.json"
d=$(jq -c --arg a "$DEAD" '.backends[] | select(.address == $a)' \
	"$TMP/backends.json")
[ -n "$d" ] || fail "$DEAD not in /api/v1/backends"
assert_eq "$(jq -r .score <<<"$d")" null "score of the closed backend"
assert_eq "$(jq -r .latency_ms <<<"$d")" null "latency of the closed backend"
assert_eq "$(jq -r .state <<<"$d")" candidate "state of the closed backend"
assert_ge "$(jq -r .consecutive_failures <<<"$d")" 1 \
	"consecutive_failures of the closed backend"
assert_ge "$(jq -r .probes <<<"$d")" 2 "probes of the closed backend"
assert_eq "$(jq -r .last_probe.outcome <<<"$d")" failed \
	"last probe of the closed backend"
assert_eq "$(jq -r .total "$TMP/backends.json")" 4 "tracked backends"
for h in "$H1" "$H2" "$H3"; do
	jq -e --arg a "$h" '.backends[] | select(.address == $a) |
	    .score != null and .score > 15 and .consecutive_failures == 0 and
	    .success_rate == 1' "$TMP/backends.json" >/dev/null ||
		fail "healthy $h: $(jq -c --arg a "$h" \
			'.backends[] | select(.address == $a)' "$TMP/backends.json")"
done
# best first: the three scored ones, then the one without a score
assert_eq "$(jq -r '.backends[3].address' "$TMP/backends.json")" "$DEAD" \
	"the unscored backend sorts last"

# Traffic goes to the members only.
set0=$(members)
other=
for h in "$H1" "$H2" "$H3"; do
	case ",$set0," in *",$h,"*) ;; *) other=$h ;; esac
done
[ -n "$other" ] || fail "no healthy backend left out of $set0"
lb() { mval tcp_forwarder_lb_requests_total "backend=\"$1\""; }
declare -A before
for h in "$H1" "$H2" "$H3"; do before[$h]=$(lb "$h"); done
client rate --connect "$LISTEN" --concurrency 4 --seconds 2 \
	--fail-on-error --json --timeout 20 >"$TMP/rate.json" ||
	fail "clients through the data plane failed: $(cat "$TMP/rate.json")"
conns=$(json_get conns_ok <"$TMP/rate.json")
log "rate client: $(cat "$TMP/rate.json")"
client latency --connect "$LISTEN" --count 20 --json --timeout 10 \
	>"$TMP/lat.json" || fail "echo through the data plane: $(cat "$TMP/lat.json")"
assert_eq "$(members)" "$set0" "active set during the traffic"
# the data plane reports every second: wait until every connection shows
# up as a pick of a member
m1=${set0%,*} m2=${set0#*,}
want=$((conns + 1)) # latency mode: one connection
picks_grew() {
	[ $(($(lb "$m1") + $(lb "$m2") - before[$m1] - before[$m2])) -ge "$want" ]
}
wait_until 10 picks_grew ||
	fail "lb_requests_total of the members grew by less than $want"
sleep 1.5
assert_eq "$(lb "$other")" "${before[$other]}" \
	"lb_requests_total of $other (not a member)"
assert_eq "$(lb "$DEAD")" 0 "lb_requests_total of $DEAD"
log "picks: $(for h in "$H1" "$H2" "$H3"; do printf '%s=%s ' "$h" "$(lb "$h")"; done)"

# descriptors: probes in flight (at most 4 backends) are the only slack
fds_back() { [ "$(fd_count "$CP_PID")" -le $((FD0 + 4)) ]; }
wait_until 5 fds_back ||
	fail "control-plane descriptors: $FD0 at the start, $(fd_count "$CP_PID") now: $(find /proc/"$CP_PID"/fd -mindepth 1 -printf '%l\n' | sort | uniq -c | sort -rn | head -5)"
log "control-plane descriptors: $FD0 at the start, $(fd_count "$CP_PID") at the end"

stop_clean dp
stop_clean cp
