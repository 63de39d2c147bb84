#!/usr/bin/env bash
#
# Guards issue 3's bounded memory and measures the figures its "Done when"
# asks for (printed at the end):
#  - control-plane RSS with 1,000 listed backends, all tracked and scored
#    (one listener on 0.0.0.0:PORT answers for every 127/8 address);
#  - control-plane RSS with the range 127.0.0.0/8 and with 127.0.0.0/16
#    (max_tracked 4096, the default): tracked never exceeds max_tracked and
#    the /8 costs no more than the /16 (within 25% + 2 MiB): memory follows
#    max_tracked, not the size of the range;
#  - probes per second the control plane sustains, with 4,096 listed
#    backends probed every 100 ms (probe_candidate_count 4096, 1000 at
#    once): answering (accepted connects) and refused (RST) probes, with
#    the control plane's CPU use. Asserted loosely (>= 1000/s; the machine
#    is shared), the numbers are what matters.
# RSS bounds asserted: < 64 MiB in every case (not in a sanitizer build,
# whose shadow memory dwarfs the figures; the /8 against /16 comparison
# holds there too).

# tfwd-serial: measures CPU or rates; alone on the machine
set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/lib_cp.sh
. "$(dirname "$0")/lib_cp.sh"
tfwd_tmpdir
require_bin tcpfwd-controlplane tfwd-backend

P=$(free_port)      # answered on every 127/8 address
PR=$(free_port)     # nothing listens: refused
start_backend any echo "0.0.0.0:$P" --threads 2
HZ=$(getconf CLK_TCK)
declare -A RSS HWM MAX SCORED RATE CPU   # figures by phase

# cp_phase NAME: starts control plane NAME with $TMP/NAME.yaml.
cp_phase() {
	unset ADMIN
	ADMIN=127.0.0.1:$(free_port) IPLIST=$TMP/$1.list \
		IPC_URL=ipc://$TMP/$1.ipc CP_STATE=$TMP/state/$1.json \
		PROBE_INTERVAL=${INTERVAL:-1s} PROBE_TIMEOUT=500ms \
		PROBE_COUNT=${COUNT:-1000} LOG_LEVEL=warn write_config "$TMP/$1.yaml"
	cfg_set "$TMP/$1.yaml" remotes.provider.max_tracked "${MAX_TRACKED:-4096}"
	cfg_set "$TMP/$1.yaml" remotes.probing.initial.max_concurrency "${CONC:-200}"
	start_controlplane "$1" "$TMP/$1.yaml"
}

# tracked_max NAME SECONDS: samples tracked_backends for SECONDS, fails
# above max_tracked, prints the largest.
tracked_max() {
	local end n max=0
	end=$(($(date +%s) + $2))
	while [ "$(date +%s)" -lt "$end" ]; do
		check_cp_alive "$1"
		n=$(jget /api/v1/status .tracked_backends)
		assert_le "$n" "${MAX_TRACKED:-4096}" "tracked backends ($1)"
		[ "$n" -gt "$max" ] && max=$n
		sleep 0.25
	done
	echo "$max"
}

kib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

# ---- 1,000 listed backends ----------------------------------------------------------
for i in $(seq 0 999); do
	echo "127.60.$((i / 250)).$((i % 250 + 1)):$P"
done >"$TMP/l1000.list"
cp_phase l1000
wait_api 20 /api/v1/backends '.total == 1000 and
    ([.backends[] | select(.score != null)] | length) == 1000' \
	"1000 backends tracked and scored"
sleep 3
PID=$(tfwd_pid l1000)
RSS[l1000]=$(rss_kb "$PID") HWM[l1000]=$(hwm_kb "$PID")
stop_clean l1000

# ---- 127.0.0.0/8 and 127.0.0.0/16 ---------------------------------------------------
echo "127.0.0.0/8:$P" >"$TMP/r8.list"
echo "127.0.0.0/16:$P" >"$TMP/r16.list"
for r in r8 r16; do
	cp_phase "$r"
	wait_api 20 /api/v1/status '.tracked_backends == 4096' "$r: the sampler fills max_tracked"
	max=$(tracked_max "$r" 5)
	scored=$(jget /api/v1/backends '[.backends[] | select(.score != null)] | length')
	PID=$(tfwd_pid "$r")
	RSS[$r]=$(rss_kb "$PID") HWM[$r]=$(hwm_kb "$PID") MAX[$r]=$max
	SCORED[$r]=$scored
	stop_clean "$r"
done
assert_le "${RSS[r8]}" $((RSS[r16] * 5 / 4 + 2048)) "RSS with a /8 (KiB) against a /16"

# ---- probes per second ----------------------------------------------------------------
# probes_sum NAME: every tracked backend's probe count, summed.
probes_sum() {
	jget /api/v1/backends '[.backends[].probes] | add'
}
for kind in ok refused; do
	port=$P
	[ "$kind" = refused ] && port=$PR
	for i in $(seq 0 4095); do
		echo "127.61.$((i / 250)).$((i % 250 + 1)):$port"
	done >"$TMP/p$kind.list"
	INTERVAL=100ms COUNT=4096 CONC=1000 cp_phase "p$kind"
	PID=$(tfwd_pid "p$kind")
	sleep 3
	s0=$(probes_sum) c0=$(cpu_ticks "$PID") t0=$(date +%s%N)
	sleep 5
	s1=$(probes_sum) c1=$(cpu_ticks "$PID") ms=$(elapsed_ms "$t0")
	rate=$(((s1 - s0) * 1000 / ms))
	cpu=$(((c1 - c0) * 100 * 1000 / HZ / ms))
	RATE[$kind]=$rate CPU[$kind]=$cpu RSS[p$kind]=$(rss_kb "$PID")
	log "probes ($kind): $((s1 - s0)) in $ms ms = $rate/s at ${cpu}% CPU"
	stop_clean "p$kind"
	assert_ge "$rate" 1000 "probes per second ($kind)"
done

if ! grep -qa __asan_init "$TFWD_BIN/tcpfwd-controlplane"; then
	for k in "${!RSS[@]}"; do
		assert_le "${RSS[$k]}" $((64 * 1024)) "control-plane RSS (KiB), $k"
	done
fi

cat >&2 <<EOF
==== t_60 figures (control plane, $(basename "$TFWD_BUILD") build) ====
RSS, 1,000 listed backends, all scored:          $(kib "${RSS[l1000]}") (peak $(kib "${HWM[l1000]}"))
RSS, 127.0.0.0/8, max_tracked 4096:              $(kib "${RSS[r8]}") (peak $(kib "${HWM[r8]}")), tracked at most ${MAX[r8]}, ${SCORED[r8]} scored
RSS, 127.0.0.0/16, max_tracked 4096:             $(kib "${RSS[r16]}") (peak $(kib "${HWM[r16]}")), tracked at most ${MAX[r16]}, ${SCORED[r16]} scored
probes/s, 4,096 backends every 100 ms, answered: ${RATE[ok]}/s at ${CPU[ok]}% of a core (RSS $(kib "${RSS[pok]}"))
probes/s, 4,096 backends every 100 ms, refused:  ${RATE[refused]}/s at ${CPU[refused]}% of a core (RSS $(kib "${RSS[prefused]}"))
EOF
