#!/usr/bin/env bash
#
# Guards the admission limits (issue 5): limits.per_source_ip.max_connections
# (one client IP holds at most N at once, another IP has its own N),
# limits.per_source_ip.rate/burst (new connections per second per IP, a
# token bucket) and limits.per_backend.max_connections (a backend at its cap
# is skipped; all at their cap: the client is closed). Each refusal is
# counted by kind in the report (source_limit, rate_limited, backend_full)
# and every admitted connection gives its place back when it closes.

set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
tfwd_tmpdir
require_bin tcpfwd-dataplane tfwd-backend tfwd-client tfwd-cp

A=127.0.0.2:$(free_port)
B=127.0.0.3:$(free_port)
start_backend a echo "$A"
start_backend b echo "$B"

# ---- per source IP: concurrent connections -----------------------------
POOL_TYPE=none write_config "$TMP/config.yaml"
cat >>"$TMP/config.yaml" <<'YAML'
limits:
  per_source_ip:
    max_connections: 5
YAML
start_cp cp --set "$A"
start_dataplane dp "$TMP/config.yaml"
wait_report cp 10 '.serving_generation == 1' "set served"

for src in 127.0.0.1 127.0.0.9; do
	tfwd_start "hold-$src" "$TFWD_BIN/tfwd-client" hold --connect "$LISTEN" \
		--bind "$src" --conns 8 --hold-ms 1500 --echo-check \
		--ready-file "$TMP/ready-$src" --json --timeout 30
done
for src in 127.0.0.1 127.0.0.9; do
	tfwd_wait_exit "hold-$src" 30
	out=$(tail -n 1 "$TMP/hold-$src.log")
	log "$src: $out"
	assert_eq "$(json_get conns_ok <<<"$out")" 5 "$src: clients served"
	assert_eq "$(json_get conns_failed <<<"$out")" 3 "$src: clients refused"
done
wait_report cp 10 '.errors.source_limit == 6' "source_limit counted"
dp_assert_idle cp
# every place came back: the same IP gets 5 again
out=$("$TFWD_BIN/tfwd-client" hold --connect "$LISTEN" --bind 127.0.0.1 \
	--conns 5 --echo-check --json --timeout 20) || fail "second round: $out"
assert_eq "$(json_get conns_ok <<<"$out")" 5 "second round served"
stop_clean dp
tfwd_stop cp

# ---- per source IP: rate -------------------------------------------------
POOL_TYPE=none write_config "$TMP/config.yaml"
cat >>"$TMP/config.yaml" <<'YAML'
limits:
  per_source_ip:
    rate: 20
    burst: 10
YAML
start_cp cp2 --set "$A"
start_dataplane dp2 "$TMP/config.yaml"
wait_report cp2 10 '.serving_generation == 1' "set served"
out=$("$TFWD_BIN/tfwd-client" rate --connect "$LISTEN" --no-spread \
	--concurrency 4 --seconds 3 --json --timeout 20 || true)
log "rate: $out"
ok=$(json_get conns_ok <<<"$out")
# 10 at once, then 20 a second for about 3 s: 60-80 (slack for timing)
assert_ge "$ok" 50 "connections admitted under the rate limit"
assert_le "$ok" 90 "connections admitted under the rate limit"
wait_report cp2 10 '.errors.rate_limited > 0' "rate_limited counted"
dp_assert_idle cp2
stop_clean dp2
tfwd_stop cp2

# ---- per backend cap ----------------------------------------------------
POOL_TYPE=none write_config "$TMP/config.yaml"
cat >>"$TMP/config.yaml" <<'YAML'
limits:
  per_backend:
    max_connections: 4
YAML
start_cp cp3 --set "$A,$B"
start_dataplane dp3 "$TMP/config.yaml"
wait_report cp3 10 '.serving_generation == 1' "set served"
out=$("$TFWD_BIN/tfwd-client" hold --connect "$LISTEN" --conns 11 \
	--hold-ms 1500 --echo-check --json --timeout 30 || true)
log "cap: $out"
assert_eq "$(json_get conns_ok <<<"$out")" 8 "clients served (2 backends x 4)"
assert_eq "$(json_get conns_failed <<<"$out")" 3 "clients refused"
wait_report cp3 10 '.errors.backend_full == 3' "backend_full counted"
dp_assert_idle cp3
stop_clean dp3
