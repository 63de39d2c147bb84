#!/usr/bin/env bash
#
# Guards the data path's first promise: no byte lost, added or reordered.
# 64 MiB each way go through the data plane and are compared byte for byte,
# with 1 and with 8 streams: both ways at once through an echo backend, up
# only into a verify backend (checks every byte) and a sink (checksum), down
# only from a source backend. The data plane's byte counters must match
# exactly what the clients moved, per backend and in total.

set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
tfwd_tmpdir
require_bin tcpfwd-dataplane tfwd-backend tfwd-client tfwd-cp

M64=$((64 * 1024 * 1024))
ECHO=127.0.0.2:$(free_port)
VERIFY=127.0.0.3:$(free_port)
SINK=127.0.0.4:$(free_port)
SOURCE=127.0.0.5:$(free_port)

start_backend echo echo "$ECHO" --threads 2
start_backend verify verify "$VERIFY"
start_backend sink sink "$SINK"
start_backend source source "$SOURCE"

write_config "$TMP/config.yaml"
start_cp cp --set "$ECHO"
start_dataplane dp "$TMP/config.yaml"
wait_report cp 10 '.serving_generation == 1' "first set served"

GEN=1
# counted NAME ADDR: the data plane counted, for backend ADDR, exactly the
# bytes backend NAME saw both ways (checked before ADDR leaves the set: a
# backend out of the set and without connections leaves the report).
counted() {
	local in out
	in=$(backend_stat "$1" bytes_in)
	out=$(backend_stat "$1" bytes_out)
	wait_report cp 10 "$(be_field "$2" bytes_in) == $in and
	    $(be_field "$2" bytes_out) == $out" "$1: bytes counted by the data plane"
}

# serve ADDR: makes ADDR the only backend and waits until it is served.
serve() {
	GEN=$((GEN + 1))
	cp_ctl cp "set $1"
	wait_report cp 10 ".serving_generation == $GEN" "set $GEN served"
}

# run_ok NAME CLIENT-ARGS...: tfwd-client must exit 0 (its own check of
# every byte); its JSON goes to $TMP/NAME.json.
run_ok() {
	local name=$1 rc=0
	shift
	client "$@" --connect "$LISTEN" --json --timeout 50 \
		>"$TMP/$name.json" 2>"$TMP/$name.err" || rc=$?
	[ "$rc" = 0 ] || fail "$name: exit $rc: $(cat "$TMP/$name.json" "$TMP/$name.err")"
	log "$name: $(json_get gbps_total <"$TMP/$name.json") Gbit/s"
}
get() {
	json_get "$2" <"$TMP/$1.json"
}

# ---- both ways through an echo backend --------------------------------------

run_ok both1 bulk --bytes 64M --direction both
assert_eq "$(get both1 bytes_up)" $M64 "echo x1: bytes up"
assert_eq "$(get both1 bytes_down)" $M64 "echo x1: bytes down"
run_ok both8 bulk --bytes 8M --streams 8 --direction both
assert_eq "$(get both8 streams_ok)" 8 "echo x8: streams verified"
assert_eq "$(get both8 bytes_down)" $M64 "echo x8: bytes down"
assert_eq "$(backend_stat echo bytes_in)" $((2 * M64)) "echo backend: bytes in"
counted echo "$ECHO"

# ---- up: every byte checked by the backend ----------------------------------

serve "$VERIFY"
run_ok verify1 bulk --bytes 64M --direction up
run_ok verify8 bulk --bytes 8M --streams 8 --direction up
assert_eq "$(backend_stat verify verify_ok)" 9 "verify backend: streams OK"
assert_eq "$(backend_stat verify verify_bad)" 0 "verify backend: streams BAD"
assert_eq "$(backend_stat verify bytes_in)" $((2 * M64)) "verify backend: bytes"
counted verify "$VERIFY"

serve "$SINK"
run_ok sink1 bulk --bytes 64M --direction up
run_ok sink8 bulk --bytes 8M --streams 8 --direction up
assert_eq "$(backend_stat sink bytes_in)" $((2 * M64)) "sink backend: bytes"
counted sink "$SINK"

# ---- down: from a source ----------------------------------------------------

serve "$SOURCE"
run_ok down1 bulk --bytes 64M --direction down
assert_eq "$(get down1 bytes_down)" $M64 "source x1: bytes down"
run_ok down8 bulk --bytes 8M --streams 8 --direction down
assert_eq "$(get down8 bytes_down)" $M64 "source x8: bytes down"
assert_eq "$(get down8 streams_ok)" 8 "source x8: streams verified"
assert_eq "$(backend_stat source bytes_out)" $((2 * M64)) "source backend: bytes"
counted source "$SOURCE"

# ---- the data plane's own accounting ----------------------------------------

dp_assert_idle cp
total_in=0
total_out=0
for b in echo verify sink source; do
	total_in=$((total_in + $(backend_stat $b bytes_in)))
	total_out=$((total_out + $(backend_stat $b bytes_out)))
done
assert_eq "$(report_get cp '.bytes_in')" $total_in "bytes_in, all backends"
assert_eq "$(report_get cp '.bytes_out')" $total_out "bytes_out, all backends"
assert_eq "$(report_get cp '.connections_total')" 36 "connections_total"
assert_eq "$(report_get cp '[.errors[]] | add')" 0 "errors"
stop_clean dp
log "bulk transfers byte-exact"
