#!/usr/bin/env bash
#
# Guards SPEC 6 (issue 3: "/metrics passes promtool check metrics"): with a
# data plane reporting and clients flowing through it (short connections
# and a bulk stream open while /metrics is read),
#  - `promtool check metrics` accepts the output (no error, no lint
#    warning);
#  - every metric name of the seed's 监控指标 list is present with a
#    # TYPE line of the fitting type (_total counters, _seconds histograms
#    except uptime_seconds, gauges otherwise);
#  - tcp_forwarder_build_info{version="..."} 1 is present;
#  - the per-backend families carry backend="ip:port" for every tracked
#    backend, and live values (lb_requests_total > 0 for a member,
#    active_connections > 0 while the stream is open);
#  - Content-Type is Prometheus text.

set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/lib_cp.sh
. "$(dirname "$0")/lib_cp.sh"
tfwd_tmpdir
require_cmd promtool
require_bin tcpfwd-controlplane tcpfwd-dataplane tfwd-backend tfwd-client

P=$(free_port)
B1=127.0.53.1:$P B2=127.0.53.2:$P DEAD=127.0.53.3:$P
start_backend b1 echo "$B1"
start_backend b2 echo "$B2"
write_iplist "$TMP/ip_list.txt" "$B1" "$B2" "$DEAD"
PROBE_TIMEOUT=300ms ACTIVE_SET_SIZE=2 POOL_TYPE=dynamic write_config "$TMP/c.yaml"
start_controlplane cp "$TMP/c.yaml"
start_dataplane dp "$TMP/c.yaml"
wait_members 10 "$B1,$B2"
wait_dp_in_sync 10

client rate --connect "$LISTEN" --concurrency 4 --seconds 1 --fail-on-error \
	--json --timeout 20 >"$TMP/rate.json" ||
	fail "clients: $(cat "$TMP/rate.json")"
tfwd_start stream "$TFWD_BIN/tfwd-client" bulk --connect "$LISTEN" \
	--streams 1 --seconds 8 --direction both --json --timeout 30
wait_api 10 /api/v1/status '.dataplanes[0].connections_active >= 1' \
	"the stream is seen by the control plane"
# wait until the short connections are folded in
folded() { [ "$(mval tcp_forwarder_new_connections_total)" -ge 100 ]; }
wait_until 10 folded ||
	fail "new_connections_total did not grow"

curl -sS --max-time 5 -D "$TMP/headers" -o "$TMP/metrics.txt" \
	"http://$ADMIN/metrics" || fail "GET /metrics"
tfwd_running stream || fail "the stream ended before /metrics was read"
grep -qi '^content-type: text/plain; version=0.0.4' "$TMP/headers" ||
	fail "content type: $(grep -i content-type "$TMP/headers")"
out=$(promtool check metrics <"$TMP/metrics.txt" 2>&1) ||
	fail "promtool check metrics: $out"
[ -z "$out" ] || fail "promtool check metrics warns: $out"
log "promtool: clean ($(grep -vc '^#' "$TMP/metrics.txt") samples)"

# type NAME: the # TYPE of family NAME.
type_of() {
	awk -v n="$1" '$1 == "#" && $2 == "TYPE" && $3 == n { print $4 }' \
		"$TMP/metrics.txt"
}
seed=/work/shared/seed/tcp-forwarder-README.zh.md
names=(tcp_forwarder_new_connections_total tcp_forwarder_active_connections
	tcp_forwarder_connection_duration_seconds
	tcp_forwarder_bytes_transferred_total
	tcp_forwarder_server_probe_success_total
	tcp_forwarder_server_probe_duration_seconds tcp_forwarder_server_score
	tcp_forwarder_server_consecutive_failures tcp_forwarder_pool_connections
	tcp_forwarder_pool_hits_total tcp_forwarder_pool_misses_total
	tcp_forwarder_pool_scale_up_total tcp_forwarder_pool_scale_down_total
	tcp_forwarder_pool_total_connections
	tcp_forwarder_pool_available_connections
	tcp_forwarder_pool_active_connections
	tcp_forwarder_pool_utilization_percent
	tcp_forwarder_pool_peak_concurrency tcp_forwarder_lb_requests_total
	tcp_forwarder_lb_backend_connections tcp_forwarder_uptime_seconds
	tcp_forwarder_errors_total tcp_forwarder_health_checks_total)
# the list above is the seed's, checked against the seed when it is here
if [ -r "$seed" ]; then
	from_seed=$(sed -n '/监控指标/,/项目结构/p' "$seed" |
		grep -o 'tcp_forwarder_[a-z_]*' | sort -u)
	assert_eq "$from_seed" "$(printf '%s\n' "${names[@]}" | sort -u)" \
		"metric names of the seed"
fi
for n in "${names[@]}"; do
	t=$(type_of "$n")
	case $n in
	*_uptime_seconds) want=gauge ;; # a duration, not a distribution
	*_total) want=counter ;;
	*_seconds) want=histogram ;;
	*) want=gauge ;;
	esac
	assert_eq "$t" "$want" "# TYPE of $n"
	case $want in
	histogram) grep -q "^${n}_bucket{.*le=\"+Inf\"" "$TMP/metrics.txt" ||
		fail "$n has no +Inf bucket" ;;
	*) grep -Eq "^$n(\{| )" "$TMP/metrics.txt" || fail "$n has no sample" ;;
	esac
done
grep -Eq '^tcp_forwarder_build_info\{version="[^"]+"\} 1$' "$TMP/metrics.txt" ||
	fail "tcp_forwarder_build_info: $(grep build_info "$TMP/metrics.txt")"

# Per-backend series: every tracked backend, labelled backend="ip:port".
for n in tcp_forwarder_server_score tcp_forwarder_server_consecutive_failures \
	tcp_forwarder_server_probe_success_total tcp_forwarder_lb_requests_total \
	tcp_forwarder_pool_connections tcp_forwarder_lb_backend_connections; do
	for b in "$B1" "$B2" "$DEAD"; do
		[ "$n" = tcp_forwarder_server_score ] && [ "$b" = "$DEAD" ] && continue
		grep -q "^$n{.*backend=\"$b\"" "$TMP/metrics.txt" ||
			fail "$n has no series for backend=\"$b\""
	done
done
grep -q "^tcp_forwarder_server_probe_duration_seconds_bucket{.*backend=\"$B1\"" \
	"$TMP/metrics.txt" || fail "probe histogram of $B1"
# the backend label is always ip:port
bad=$(grep -o 'backend="[^"]*"' "$TMP/metrics.txt" | sort -u |
	grep -Ev '^backend="[0-9.]+:[0-9]+"$|^backend="\[[0-9a-f:]+\]:[0-9]+"$' || true)
assert_eq "$bad" "" "backend labels that are not ip:port"
# no score series for a backend without a score (seed bug: invented score)
if grep -q "^tcp_forwarder_server_score{.*backend=\"$DEAD\"} [1-9]" "$TMP/metrics.txt"; then
	fail "the closed backend has a positive score: $(grep "$DEAD" "$TMP/metrics.txt" | grep score)"
fi

# Live values from the data plane's reports.
val() { awk -v k="$1" 'index($0, k) == 1 { print $2; exit }' "$TMP/metrics.txt"; }
lb1=$(val "tcp_forwarder_lb_requests_total{backend=\"$B1\"")
lb2=$(val "tcp_forwarder_lb_requests_total{backend=\"$B2\"")
assert_ge "$((${lb1%.*} + ${lb2%.*}))" 100 "lb_requests_total of the members"
act=$(val "tcp_forwarder_active_connections")
assert_ge "${act%.*}" 1 "active_connections with a stream open"
assert_ge "$(val tcp_forwarder_dataplanes)" 1 "tcp_forwarder_dataplanes"

tfwd_wait_exit stream 30
assert_eq "${TFWD_STATUS[stream]}" 0 "bulk stream exit status"
# and once more after the traffic (counters only grow, still clean)
admin_get /metrics >"$TMP/metrics2.txt"
out=$(promtool check metrics <"$TMP/metrics2.txt" 2>&1) ||
	fail "promtool check metrics (after): $out"
[ -z "$out" ] || fail "promtool check metrics warns (after): $out"

stop_clean dp
stop_clean cp
