#!/usr/bin/env bash
#
# Guards issue 3's persistence (controlplane.state_file): scores, probe
# counts and the stability bonus survive a restart of the control plane.
# historical_bonus.checks_per_point is 2 so a bonus accrues within seconds.
#  - after a graceful stop (SIGTERM, which saves): right after the restart,
#    before any new probe could add up to it, each backend has at least the
#    probes and bonus it had at the stop (at most 2 probes more), its score
#    and latency, and the closed port is still without a score; the active
#    set is restored from the file with its generation;
#  - after kill -9: at least what the state file held at the kill;
#  - the state file is written atomically: it is valid JSON whenever read
#    while the control plane runs (read 50 times during rounds).

set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/lib_cp.sh
. "$(dirname "$0")/lib_cp.sh"
tfwd_tmpdir
require_bin tcpfwd-controlplane tfwd-backend

P=$(free_port)
A=127.0.56.1:$P B=127.0.56.2:$P DEAD=127.0.56.3:$P
start_backend a echo "$A"
start_backend b echo "$B"
write_iplist "$TMP/ip_list.txt" "$A" "$B" "$DEAD"
PROBE_INTERVAL=300ms PROBE_TIMEOUT=200ms EVAL_INTERVAL=500ms ACTIVE_SET_SIZE=2 \
	write_config "$TMP/c.yaml"
cfg_set "$TMP/c.yaml" remotes.scoring.historical_bonus.checks_per_point 2
STATE=$TMP/state/scores.json
start_controlplane cp1 "$TMP/c.yaml"
wait_members 10 "$A,$B"
wait_api 20 "/api/v1/backends/$A" '.bonus >= 3' "bonus of $A accrues"

# the file is always whole JSON while it is rewritten every evaluation
for _ in $(seq 1 50); do
	jq -e '.backends | length == 3' "$STATE" >/dev/null 2>&1 ||
		fail "state file not valid JSON with 3 backends: $(head -c 500 "$STATE")"
	sleep 0.02
done

# snap FILE: the backends' figures from the API, as a JSON object by address.
snap() {
	jget /api/v1/backends '[.backends[] | {key: .address, value: {probes,
	    bonus, score, latency_ms, success_rate, consecutive_failures,
	    penalty}}] | from_entries' >"$1"
}

# ---- graceful stop ---------------------------------------------------------
gen=$(generation)
tfwd_stop cp1
assert_eq "${TFWD_STATUS[cp1]}" 0 "exit status of cp1"
jq -e --arg a "$A" '.backends | map(select(.addr == $a or .address == $a)) |
    length == 1' "$STATE" >/dev/null || fail "$A not in the state file: $(head -c 800 "$STATE")"
start_controlplane cp2 "$TMP/c.yaml"
snap "$TMP/after.json"
# first a coarse look (scores there); the exact comparison with the file
# follows with cp3
log "after the restart: $(jq -c . "$TMP/after.json")"
for x in "$A" "$B"; do
	jq -e --arg a "$x" '.[$a] | .score != null and .latency_ms != null' \
		"$TMP/after.json" >/dev/null || fail "$x lost its score: $(jq -c --arg a "$x" '.[$a]' "$TMP/after.json")"
done
jq -e --arg a "$DEAD" '.[$a].score == null' "$TMP/after.json" >/dev/null ||
	fail "$DEAD has a score after the restart"
# the set comes once the learning window (no data plane here) is over
wait_members 5 "$A,$B" "active set restored after the restart"
assert_eq "$(generation)" "$gen" "generation after the restart"
assert_eq "$(jget /api/v1/status .last_switch_reason)" \
	"restored from the state file" "where the set came from"
tfwd_stop cp2

# Now exactly: stop, read the file, start, compare before any round.
# saved ADDR FIELD: FIELD of ADDR's score object in the state file.
saved() {
	jq -r --arg a "$1" ".backends[] | select(.addr == \$a) | .score.$2" "$STATE"
}
for x in "$A" "$B" "$DEAD"; do
	[ -n "$(saved "$x" probes)" ] || fail "no score.probes for $x in the state file: $(head -c 800 "$STATE")"
done
declare -A p0 b0
for x in "$A" "$B" "$DEAD"; do p0[$x]=$(saved "$x" probes) b0[$x]=$(saved "$x" bonus); done
start_controlplane cp3 "$TMP/c.yaml"
snap "$TMP/after3.json"
for x in "$A" "$B" "$DEAD"; do
	p=$(jq -r --arg a "$x" '.[$a].probes' "$TMP/after3.json")
	b=$(jq -r --arg a "$x" '.[$a].bonus' "$TMP/after3.json")
	log "$x: saved probes ${p0[$x]} bonus ${b0[$x]}; after the restart probes $p bonus $b"
	assert_ge "$p" "${p0[$x]}" "probes of $x after the restart"
	assert_le "$p" $((p0[$x] + 2)) "probes of $x after the restart (no double count)"
	awk -v n="$b" -v o="${b0[$x]}" 'BEGIN { exit !(n >= o) }' ||
		fail "bonus of $x after the restart: $b < ${b0[$x]}"
done
awk -v n="$(jq -r --arg a "$A" '.[$a].bonus' "$TMP/after3.json")" 'BEGIN { exit !(n >= 3) }' ||
	fail "bonus of $A did not survive"

# ---- kill -9 -----------------------------------------------------------------
sleep 2 # more probes, more bonus, saved every evaluation
jq . "$STATE" >/dev/null || fail "state file not JSON"
tfwd_kill cp3 KILL
for x in "$A" "$B"; do p0[$x]=$(saved "$x" probes) b0[$x]=$(saved "$x" bonus); done
start_controlplane cp4 "$TMP/c.yaml"
snap "$TMP/after4.json"
for x in "$A" "$B"; do
	p=$(jq -r --arg a "$x" '.[$a].probes' "$TMP/after4.json")
	b=$(jq -r --arg a "$x" '.[$a].bonus' "$TMP/after4.json")
	log "$x after kill -9: file had probes ${p0[$x]} bonus ${b0[$x]}; now probes $p bonus $b"
	assert_ge "$p" "${p0[$x]}" "probes of $x after kill -9"
	awk -v n="$b" -v o="${b0[$x]}" 'BEGIN { exit !(n >= o) }' ||
		fail "bonus of $x after kill -9: $b < ${b0[$x]}"
done
wait_members 5 "$A,$B" "active set after kill -9"
ls "$TMP/state" >"$TMP/state.ls"
if grep -v '^scores.json$' "$TMP/state.ls" | grep -q .; then
	fail "stray files in the state folder: $(tr '\n' ' ' <"$TMP/state.ls")"
fi

stop_clean cp4
