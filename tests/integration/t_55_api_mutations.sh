#!/usr/bin/env bash
#
# Guards SPEC 5 and issue 3's operator actions, with admin.token_file set
# and a debounce of 30 s (so nothing below can be the debounce's doing):
#  - POST without a token or with a wrong one: 401, nothing changes; GETs
#    need no token;
#  - an unknown backend: 404 (GET and POST), with a JSON error;
#  - disabling an active backend: it leaves the set at once (generation
#    + 1, the set refilled to its size, answered before the next
#    evaluation), the data plane gets the new set and new connections
#    avoid it (its lb_requests_total stays put); enable: eligible again;
#  - disabling the last serving backend: 409, the set and generation
#    unchanged, clients still served; enabling others refills the set;
#  - POST /api/v1/reload and SIGHUP with a broken IP list: an error, the
#    control plane keeps running with its set, tracking and probing
#    unchanged (reload_errors counted);
#  - SIGHUP with a changed IP list (one candidate removed, one added): the
#    removed one leaves tracking (404) and is no longer probed, the added
#    one is probed and scored, the ones still listed keep their probe
#    counts and scores (no reset).

set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/lib_cp.sh
. "$(dirname "$0")/lib_cp.sh"
tfwd_tmpdir
require_bin tcpfwd-controlplane tcpfwd-dataplane tfwd-backend tfwd-client

P=$(free_port)
A=127.0.55.1:$P B=127.0.55.2:$P C=127.0.55.3:$P N=127.0.55.4:$P
UNKNOWN=127.0.55.9:$P
for i in 1 2 3 4; do
	start_backend "b$i" echo "127.0.55.$i:$P"
done
TOKEN=t55-$RANDOM$RANDOM
printf '%s\n' "$TOKEN" >"$TMP/token"
chmod 600 "$TMP/token"
write_iplist "$TMP/ip_list.txt" "$A" "$B" "$C"
PROBE_TIMEOUT=300ms ACTIVE_SET_SIZE=2 DEBOUNCE=30s TOKEN_FILE=$TMP/token \
	write_config "$TMP/c.yaml"
start_controlplane cp "$TMP/c.yaml"
start_dataplane dp "$TMP/c.yaml"
wait_api 10 /api/v1/active-set '(.backends | length) == 2' "a set of 2"
wait_dp_in_sync 10

# ---- the token ---------------------------------------------------------------
set0=$(members) gen0=$(generation)
X=${set0%%,*}
assert_eq "$(api POST "/api/v1/backends/$X/disable")" 401 "disable without a token"
jq -e '.error | type == "string"' "$TMP/api.body" >/dev/null ||
	fail "401 without a JSON error: $(api_body)"
assert_eq "$(api POST "/api/v1/backends/$X/disable" wrong-token)" 401 \
	"disable with a wrong token"
assert_eq "$(api POST /api/v1/reload)" 401 "reload without a token"
assert_eq "$(members)" "$set0" "active set after refused calls"
assert_eq "$(generation)" "$gen0" "generation after refused calls"
assert_eq "$(be .state "$X")" active "state of $X after refused calls"
for path in /healthz /api/v1/status /api/v1/backends /api/v1/active-set \
	"/api/v1/backends/$X" /metrics; do
	assert_eq "$(api GET "$path")" 200 "GET $path without a token"
done

# ---- unknown backends --------------------------------------------------------
assert_eq "$(api GET "/api/v1/backends/$UNKNOWN")" 404 "GET unknown backend"
jq -e '.error | type == "string"' "$TMP/api.body" >/dev/null ||
	fail "404 without a JSON error: $(api_body)"
assert_eq "$(api POST "/api/v1/backends/$UNKNOWN/disable" "$TOKEN")" 404 \
	"disable unknown backend"
assert_eq "$(api POST "/api/v1/backends/$UNKNOWN/enable" "$TOKEN")" 404 \
	"enable unknown backend"

# ---- disable an active backend: out at once -----------------------------------
lb() { mval tcp_forwarder_lb_requests_total "backend=\"$1\""; }
t0=$(date +%s%N)
assert_eq "$(api POST "/api/v1/backends/$X/disable" "$TOKEN")" 200 "disable $X"
assert_eq "$(jq -r .state "$TMP/api.body")" disabled "state in the answer"
set1=$(members) gen1=$(generation)
ms=$(elapsed_ms "$t0")
log "disabled $X: set $set0 -> $set1, generation $gen0 -> $gen1, seen after $ms ms"
assert_eq "$gen1" $((gen0 + 1)) "generation after disabling $X"
case ",$set1," in *",$X,"*) fail "$X still in the set: $set1" ;; esac
assert_eq "$(tr ',' '\n' <<<"$set1" | wc -l)" 2 "set size after disabling $X"
assert_eq "$(be .state "$X")" disabled "state of $X"
jtrue /api/v1/active-set '.reason | test("^removed|^replaced")' ||
	fail "reason: $(jget /api/v1/active-set .reason)"
wait_dp_in_sync 3
lbx=$(lb "$X")
m1=${set1%,*} m2=${set1#*,}
b1=$(lb "$m1") b2=$(lb "$m2")
client rate --connect "$LISTEN" --concurrency 4 --seconds 1 --fail-on-error \
	--json --timeout 20 >"$TMP/rate.json" ||
	fail "clients after disable: $(cat "$TMP/rate.json")"
conns=$(jq .conns_ok "$TMP/rate.json")
picks_grew() { [ $(($(lb "$m1") + $(lb "$m2"))) -ge $((b1 + b2 + conns)) ]; }
wait_until 10 picks_grew ||
	fail "the members did not get the $conns connections"
sleep 1.2
assert_eq "$(lb "$X")" "$lbx" "lb_requests_total of disabled $X"

# ---- enable: eligible again --------------------------------------------------
assert_eq "$(api POST "/api/v1/backends/$X/enable" "$TOKEN")" 200 "enable $X"
assert_eq "$(be .state "$X")" candidate "state of $X after enable"
wait_api 5 "/api/v1/backends/$X" '.score != null and .score >= 15 and
    .consecutive_failures == 0' "$X eligible"
assert_eq "$(members)" "$set1" "set after enable (no improvement, debounce)"

# ---- the last serving backend ------------------------------------------------
api_post_ok "/api/v1/backends/$m1/disable" "$TOKEN"
s=$(members)
case ",$s," in *",$X,"*) ;; *) fail "set not refilled with $X after disabling $m1: $s" ;; esac
api_post_ok "/api/v1/backends/$m2/disable" "$TOKEN"
assert_eq "$(members)" "$X" "set with two of three disabled"
gen2=$(generation)
assert_eq "$(api POST "/api/v1/backends/$X/disable" "$TOKEN")" 409 \
	"disabling the last serving backend"
jq -e '.error | type == "string"' "$TMP/api.body" >/dev/null ||
	fail "409 without a JSON error: $(api_body)"
assert_eq "$(members)" "$X" "set after the refused disable"
assert_eq "$(generation)" "$gen2" "generation after the refused disable"
assert_eq "$(be .state "$X")" active "state of $X after the refused disable"
wait_dp_in_sync 3
client latency --connect "$LISTEN" --count 5 --json --timeout 10 >"$TMP/lat.json" ||
	fail "echo with one backend left: $(cat "$TMP/lat.json")"
api_post_ok "/api/v1/backends/$m1/enable" "$TOKEN"
api_post_ok "/api/v1/backends/$m2/enable" "$TOKEN"
wait_api 3 /api/v1/active-set '(.backends | length) == 2' "set refilled to 2"

# ---- reload with a broken IP list --------------------------------------------
cp "$TMP/ip_list.txt" "$TMP/ip_list.good"
set3=$(members) gen3=$(generation)
tracked3=$(jget /api/v1/status .tracked_backends)
errs3=$(jget /api/v1/status .counters.reload_errors)
printf '%s\n' "$A" "$B" "300.1.2.3:$P" "$C" "not-an-address" >"$TMP/ip_list.txt"
code=$(api POST /api/v1/reload "$TOKEN")
case $code in 4??|5??) ;; *) fail "reload with a broken list: HTTP $code $(api_body)" ;; esac
jq -e '.error | type == "string"' "$TMP/api.body" >/dev/null ||
	fail "failed reload without a JSON error: $(api_body)"
log "reload with a broken list: HTTP $code $(api_body)"
tfwd_signal cp HUP
wait_api 5 /api/v1/status ".counters.reload_errors == $((errs3 + 2))" \
	"both failed reloads counted"
check_cp_alive cp
assert_contains "$TMP/cp.log" "ip_list.txt:3" "the log names the bad line"
pa=$(be .probes "$A")
sleep 2.5
check_cp_alive cp
assert_eq "$(members)" "$set3" "set after the broken reloads"
assert_eq "$(generation)" "$gen3" "generation after the broken reloads"
assert_eq "$(jget /api/v1/status .tracked_backends)" "$tracked3" "tracked after the broken reloads"
assert_ge "$(be .probes "$A")" $((pa + 1)) "probes of $A go on after the broken reloads"
client latency --connect "$LISTEN" --count 5 --json --timeout 10 >"$TMP/lat.json" ||
	fail "echo after the broken reloads: $(cat "$TMP/lat.json")"

# ---- SIGHUP with a changed list -----------------------------------------------
R=
for x in "$A" "$B" "$C"; do
	case ",$set3," in *",$x,"*) ;; *) R=$x ;; esac
done
keep=()
for x in "$A" "$B" "$C"; do [ "$x" = "$R" ] || keep+=("$x"); done
declare -A probes score
for x in "${keep[@]}"; do
	probes[$x]=$(be .probes "$x")
	score[$x]=$(be .score "$x")
done
assert_eq "$(api GET "/api/v1/backends/$N")" 404 "$N before it is listed"
write_iplist "$TMP/ip_list.txt" "${keep[@]}" "$N"
tfwd_signal cp HUP
wait_api 5 /api/v1/status ".counters.reloads >= 1" "reload counted"
for x in "${keep[@]}"; do
	p=$(be .probes "$x")
	assert_ge "$p" "${probes[$x]}" "probes of $x kept over the reload"
	[ "$(be .score "$x")" != null ] || fail "$x lost its score over the reload"
	log "$x kept: probes ${probes[$x]} -> $p, score ${score[$x]} -> $(be .score "$x")"
done
wait_api 5 "/api/v1/backends/$N" '.probes >= 1 and .score != null' \
	"the added $N probed"
assert_eq "$(members)" "$set3" "set after removing a candidate and adding one"
rp=$(mval tcp_forwarder_health_checks_total "backend=\"$R\",result=\"ok\"")
untracked() { [ "$(api GET "/api/v1/backends/$R")" = 404 ]; }
if ! wait_until 5 untracked; then
	rp2=$(mval tcp_forwarder_health_checks_total "backend=\"$R\",result=\"ok\"")
	fail "removed $R still tracked 5 s after the reload (probes answered: $rp right after the reload, $rp2 now): $(api_body)"
fi
assert_eq "$(jget /api/v1/status .tracked_backends)" 3 "tracked after the change"
hc() { mval tcp_forwarder_health_checks_total "backend=\"$1\",result=\"ok\""; }
assert_eq "$(hc "$R")" 0 "probe series of the removed $R"

stop_clean dp
stop_clean cp
