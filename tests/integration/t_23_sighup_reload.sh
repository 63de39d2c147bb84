#!/usr/bin/env bash
#
# Guards SIGHUP reload of the data plane (SPEC 2): pool settings and the
# log level are re-read. A static pool of 3 per backend grows to 7 and
# shrinks back to 3 (report's pool_target and pool_idle, and the sockets the
# backend sees), and debug lines appear once logging.level is debug. A
# broken file on SIGHUP (a bad value, then broken YAML) keeps everything
# running as it was, with the error logged.

set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
tfwd_tmpdir
require_bin tcpfwd-dataplane tfwd-backend tfwd-client tfwd-cp

ECHO=127.0.0.2:$(free_port)
start_backend echo echo "$ECHO"
CFG=$TMP/config.yaml
POOL_TYPE=static POOL_SIZE=3 LOG_LEVEL=info write_config "$CFG"
start_cp cp --set "$ECHO"
start_dataplane dp "$CFG"

# pool_is N: the report and the backend both show a pool of N.
pool_is() {
	wait_report cp 10 "$(be_field "$ECHO" pool_target) == $1 and
	    $(be_field "$ECHO" pool_idle) == $1" "pool of $1"
	wait_output 5 = "$1" backend_stat echo active ||
		fail "the backend holds $(backend_stat echo active) pooled sockets, want $1"
}
# one_client: an echo-checked client through the data plane.
one_client() {
	client latency --connect "$LISTEN" --count 3 --warmup 0 --json --timeout 10 \
		>"$TMP/client.json" 2>&1 || fail "client: $(cat "$TMP/client.json")"
}
# debug_lines: session debug lines in the data plane's log so far.
debug_lines() {
	grep -c 'DEBUG session: .*closed (done)' "$TMP/dp.log" || true
}
# reloads N: waits for the Nth "reload" outcome line in the log.
reloads() {
	wait_until 10 eval "[ \$(grep -Ec 'reloaded|keeping the running configuration' \
	    '$TMP/dp.log') -ge $1 ]" || fail "reload $1 not logged"
}

pool_is 3
one_client
assert_eq "$(debug_lines)" 0 "debug lines at level info"

# ---- a good reload: pool 7, level debug ---------------------------------------

POOL_TYPE=static POOL_SIZE=7 LOG_LEVEL=debug write_config "$CFG"
tfwd_signal dp HUP
reloads 1
assert_contains "$TMP/dp.log" 'reloaded' "reload logged"
pool_is 7
one_client
wait_output 5 -ge 1 debug_lines || fail "no debug line after the reload to debug"

# ---- broken files: nothing changes ------------------------------------------

cp "$CFG" "$TMP/good.yaml"
sed -i 's/^\(  algorithm: \).*/\1"fastest"/' "$CFG"
tfwd_signal dp HUP
reloads 2
assert_contains "$TMP/dp.log" 'has errors, keeping the running configuration' \
	"bad value: kept the running configuration"
assert_contains "$TMP/dp.log" 'config.yaml:[0-9]+:[0-9]+: pools.algorithm' \
	"bad value: the error names file, line, column and key"
printf 'pools:\n  strategy: [unclosed\n' >>"$CFG"
tfwd_signal dp HUP
reloads 3
tfwd_running dp || fail "the data plane died on a broken configuration"
report_fresh cp
assert_eq "$(report_get cp "$(be_field "$ECHO" pool_target)")" 7 "pool target after broken reloads"
n=$(debug_lines)
one_client
wait_output 5 -gt "$n" debug_lines || fail "log level changed by a broken reload"

# ---- and back: pool 3 ---------------------------------------------------------

POOL_TYPE=static POOL_SIZE=3 LOG_LEVEL=info write_config "$CFG"
tfwd_signal dp HUP
reloads 4
pool_is 3
dp_assert_idle cp
assert_eq "$(report_get cp '[.errors[]] | add')" 0 "errors"
stop_clean dp
