#!/usr/bin/env bash
#
# Guards access control (issue 5, SPEC 3 admin.token_file): the admin API
# refuses to start on a non-loopback address without a token, and starts
# with one. Everything runs in a network namespace of its own (a veth
# pair holding 10.250.0.1), so binding 0.0.0.0 or [::] there exposes
# nothing on the host's interfaces.
#   - 10.250.0.1, 0.0.0.0 and [::] without admin.token_file: --check and
#     the start both fail, naming admin.token_file; nothing listens
#   - 127.0.0.1 and [::1] without a token: starts (loopback is trusted)
#   - 10.250.0.1 with a token: starts; GETs need nothing, POSTs need the
#     token (401 without, 200 with)
#   - a reload may not take the token away while the running listener is
#     off loopback, even when the new file moves admin.listen_addr to
#     loopback (that only applies at the next restart; the bug this guards
#     left the old listener taking POSTs without a token)
#   - a metrics-only listener (metrics.listen_addr apart from the admin
#     one) on a non-loopback address serves /metrics and nothing else

set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
tfwd_tmpdir
require_root
require_bin tcpfwd-controlplane
require_cmd curl ip

netns_create ns
NS=$(netns_name ns)
ip -n "$NS" link add tfwd0 type veth peer name tfwd1 || fail "veth in $NS"
ip -n "$NS" addr add 10.250.0.1/24 dev tfwd0
ip -n "$NS" link set tfwd1 up
ip -n "$NS" link set tfwd0 up
PUB=10.250.0.1
write_iplist "$TMP/ip_list.txt" 10.250.0.9:80
echo "t70-token-$RANDOM$RANDOM" >"$TMP/token"
chmod 600 "$TMP/token"
TOKEN=$(cat "$TMP/token")

# code URL [CURL ARGS...]: the HTTP status of a request made inside $NS.
code() {
	local url=$1
	shift
	netns_exec ns curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
		"$@" "$url" || true
}
# listening PORT: something listens on PORT inside $NS.
listening() {
	[ -n "$(netns_exec ns ss -Hltn "sport = :$1")" ]
}

# refused NAME ADDR: no token: --check fails and the daemon exits non-zero
# without ever listening, both naming admin.token_file.
refused() {
	local name=$1 addr=$2 port=${2##*:} out rc=0
	ADMIN=$addr TOKEN_FILE="" write_config "$TMP/$name.yaml"
	out=$(netns_exec ns "$TFWD_BIN/tcpfwd-controlplane" -c "$TMP/$name.yaml" \
		--check 2>&1) || rc=$?
	assert_eq "$rc" 1 "--check with admin.listen_addr $addr and no token ($out)"
	grep -q 'admin.token_file' <<<"$out" ||
		fail "--check for $addr does not name admin.token_file: $out"
	tfwd_start "$name" ip netns exec "$NS" "$TFWD_BIN/tcpfwd-controlplane" \
		-c "$TMP/$name.yaml"
	tfwd_wait_exit "$name" 10
	assert_ne "${TFWD_STATUS[$name]}" 0 "exit status with $addr and no token"
	assert_contains "$TMP/$name.log" 'admin.token_file' "$name's log"
	listening "$port" && fail "something listens on $addr after the refusal"
	log "$addr without a token: refused (${TFWD_STATUS[$name]}): $(grep -m1 'token_file' "$TMP/$name.log" | cut -c1-160)"
}
refused pub "$PUB:$(free_port)"
refused any4 "0.0.0.0:$(free_port)"
refused any6 "[::]:$(free_port)"

# loopback needs no token
for a in "127.0.0.1:$(free_port)" "[::1]:$(free_port)"; do
	ADMIN=$a TOKEN_FILE="" write_config "$TMP/lo.yaml"
	tfwd_start lo ip netns exec "$NS" "$TFWD_BIN/tcpfwd-controlplane" -c "$TMP/lo.yaml"
	host=${a%:*}
	host=${host#[}
	host=${host%]}
	netns_wait_port ns "$host" "${a##*:}"
	assert_eq "$(code "http://$a/healthz")" 200 "GET /healthz on $a"
	assert_eq "$(code "http://$a/api/v1/reload" -X POST)" 200 "POST on $a with no token configured"
	stop_clean lo
done

# a non-loopback address with a token
P=$(free_port)
ADMIN=$PUB:$P TOKEN_FILE="$TMP/token" write_config "$TMP/tok.yaml"
assert_ok netns_exec ns "$TFWD_BIN/tcpfwd-controlplane" -c "$TMP/tok.yaml" --check >/dev/null
tfwd_start cp ip netns exec "$NS" "$TFWD_BIN/tcpfwd-controlplane" -c "$TMP/tok.yaml"
netns_wait_port ns "$PUB" "$P"
U=http://$PUB:$P
for p in /healthz /api/v1/status /api/v1/backends /metrics; do
	assert_eq "$(code "$U$p")" 200 "GET $p on $PUB"
done
assert_eq "$(code "$U/api/v1/reload" -X POST)" 401 "POST without the token"
assert_eq "$(code "$U/api/v1/backends/10.250.0.9:80/disable" -X POST)" 401 "disable without the token"
assert_eq "$(code "$U/api/v1/reload" -X POST -H "Authorization: Bearer $TOKEN")" 200 "POST with the token"

# reload: the token stays while the listener is off loopback
sed -i -e 's|^\(  token_file:\).*|\1 ""|' "$TMP/tok.yaml"
tfwd_signal cp HUP
wait_until 5 grep -q 'reload failed' "$TMP/cp.log" ||
	fail "a reload without token_file on $PUB was not refused"
assert_eq "$(code "$U/api/v1/reload" -X POST)" 401 "POST after a reload without token_file"
sed -i -e "s|$PUB:$P|127.0.0.1:$P|g" "$TMP/tok.yaml"
n=$(grep -c 'reload failed' "$TMP/cp.log")
tfwd_signal cp HUP
wait_output 5 -gt "$n" grep -c 'reload failed' "$TMP/cp.log" ||
	fail "a reload moving admin.listen_addr to loopback and dropping the token was accepted: $(tail -n 3 "$TMP/cp.log")"
assert_eq "$(code "$U/api/v1/reload" -X POST)" 401 \
	"POST on the running $PUB listener after a reload to loopback without token_file"
# (a reload itself now fails: 500; disable/enable show the token works)
assert_eq "$(code "$U/api/v1/backends/10.250.0.9:80/disable" -X POST \
	-H "Authorization: Bearer $TOKEN")" 200 "disable with the token"
assert_eq "$(code "$U/api/v1/backends/10.250.0.9:80/enable" -X POST \
	-H "Authorization: Bearer $TOKEN")" 200 "enable with the token"
stop_clean cp

# a metrics-only listener off loopback: /metrics, nothing else
P=$(free_port)
M=$(free_port)
ADMIN=127.0.0.1:$P TOKEN_FILE="" write_config "$TMP/met.yaml"
sed -i -e "/^metrics:/,/^[a-z]/ s|listen_addr: .*|listen_addr: \"$PUB:$M\"|" "$TMP/met.yaml"
grep -q "\"$PUB:$M\"" "$TMP/met.yaml" || fail "metrics.listen_addr not set"
tfwd_start met ip netns exec "$NS" "$TFWD_BIN/tcpfwd-controlplane" -c "$TMP/met.yaml"
netns_wait_port ns "$PUB" "$M"
assert_eq "$(code "http://$PUB:$M/metrics")" 200 "GET /metrics on the metrics listener"
for p in /api/v1/status /api/v1/backends /healthz /; do
	assert_eq "$(code "http://$PUB:$M$p")" 404 "GET $p on the metrics listener"
done
assert_eq "$(code "http://$PUB:$M/api/v1/reload" -X POST)" 404 "POST reload on the metrics listener"
stop_clean met
