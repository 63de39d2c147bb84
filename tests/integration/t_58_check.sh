#!/usr/bin/env bash
#
# Guards SPEC 2's command line of both daemons:
#  - --check on a good config and IP list: exit 0, "configuration OK",
#    nothing started (no listener on the admin or client port, no IPC
#    socket, no state file);
#  - --check on a broken config: exit 1, every error printed with
#    file:line:column and the key path (two errors, both printed);
#  - --check on a broken IP list: exit 1, every bad line printed with
#    file:line (three bad lines, three messages), and a missing IP list
#    or token file is an error;
#  - -V/--version print "NAME VERSION", -h/--help print the usage, both
#    exit 0; an unknown option exits 2;
#  - in a sanitizer build, --check leaks nothing (checked on its own at the
#    end, so that a leak does not hide the behaviour above; leak detection
#    is off for the other runs).

set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/lib_cp.sh
. "$(dirname "$0")/lib_cp.sh"
tfwd_tmpdir
require_bin tcpfwd-controlplane tcpfwd-dataplane

DAEMONS=(tcpfwd-controlplane tcpfwd-dataplane)
ASAN_OPTIONS_ORIG=${ASAN_OPTIONS:-}
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0

write_iplist "$TMP/ip_list.txt" 127.0.0.1:9001 "10.0.0.0/24" "[::1]:9002" \
	"2001:db8::/64"
write_config "$TMP/good.yaml"
for d in "${DAEMONS[@]}"; do
	out=$(assert_status 0 "$TFWD_BIN/$d" -c "$TMP/good.yaml" --check)
	grep -q 'configuration OK' <<<"$out" || fail "$d --check on a good config: $out"
done
! port_listening "${ADMIN%:*}" "${ADMIN##*:}" || fail "--check started the admin API"
! port_listening "${LISTEN%:*}" "${LISTEN##*:}" || fail "--check started a listener"
[ ! -e "$TMP/control.ipc" ] || fail "--check created the IPC socket"
[ -z "$(ls -A "$TMP/state")" ] || fail "--check wrote state: $(ls "$TMP/state")"

# ---- broken config: every error with file:line:column ------------------------
cp "$TMP/good.yaml" "$TMP/bad.yaml"
cfg_set "$TMP/bad.yaml" remotes.probing.interval '"15x"'
cfg_set "$TMP/bad.yaml" remotes.selector.bogus_key 1
line_int=$(grep -n 'interval: "15x"' "$TMP/bad.yaml" | cut -d: -f1)
line_bogus=$(grep -n 'bogus_key' "$TMP/bad.yaml" | cut -d: -f1)
for d in "${DAEMONS[@]}"; do
	out=$(assert_status 1 "$TFWD_BIN/$d" -c "$TMP/bad.yaml" --check)
	grep -Eq "bad\.yaml:$line_int:[0-9]+: remotes\.probing\.interval: .*15x" <<<"$out" ||
		fail "$d: no file:line:col error for the duration: $out"
	grep -Eq "bad\.yaml:$line_bogus:[0-9]+: remotes\.selector\.bogus_key: " <<<"$out" ||
		fail "$d: no file:line:col error for the unknown key: $out"
	! grep -q 'configuration OK' <<<"$out" || fail "$d says OK: $out"
done
# and the same config refuses to start (exit non-zero, nothing listens)
for d in "${DAEMONS[@]}"; do
	rc=0
	timeout 10 "$TFWD_BIN/$d" -c "$TMP/bad.yaml" >"$TMP/start.out" 2>&1 || rc=$?
	if [ "$rc" = 0 ] || [ "$rc" = 124 ]; then
		fail "$d started with a broken config (rc $rc)"
	fi
done

# ---- broken IP list ------------------------------------------------------------
printf '%s\n' "# bad lines: 3, 5 and 7" 127.0.0.1:9001 "not-an-address" "" \
	"10.0.0.1/24" "# fine" "1.2.3.4:99999" "[::1]:9002" >"$TMP/bad_list.txt"
cp "$TMP/good.yaml" "$TMP/badlist.yaml"
cfg_set "$TMP/badlist.yaml" remotes.provider.file.path "\"$TMP/bad_list.txt\""
out=$(assert_status 1 "$TFWD_BIN/tcpfwd-controlplane" -c "$TMP/badlist.yaml" --check)
for l in 3 5 7; do
	grep -q "bad_list\.txt:$l: " <<<"$out" ||
		fail "tcpfwd-controlplane: no error for line $l of the IP list: $out"
done
assert_eq "$(grep -c 'bad_list\.txt:' <<<"$out")" 3 "IP-list errors printed"
# a missing IP list, a missing token file
cp "$TMP/good.yaml" "$TMP/nolist.yaml"
cfg_set "$TMP/nolist.yaml" remotes.provider.file.path "\"$TMP/missing.txt\""
out=$(assert_status 1 "$TFWD_BIN/tcpfwd-controlplane" -c "$TMP/nolist.yaml" --check)
grep -q 'missing\.txt' <<<"$out" || fail "missing IP list not named: $out"
cp "$TMP/good.yaml" "$TMP/notoken.yaml"
cfg_set "$TMP/notoken.yaml" admin.token_file "\"$TMP/missing-token\""
out=$(assert_status 1 "$TFWD_BIN/tcpfwd-controlplane" -c "$TMP/notoken.yaml" --check)
grep -q 'missing-token' <<<"$out" || fail "missing token file not named: $out"

# ---- -V, --help, bad options -----------------------------------------------------
for d in "${DAEMONS[@]}"; do
	for v in -V --version; do
		out=$(assert_status 0 "$TFWD_BIN/$d" "$v")
		grep -Eq "^$d [0-9]+\.[0-9]+\.[0-9]+" <<<"$out" || fail "$d $v: $out"
	done
	for h in -h --help; do
		out=$(assert_status 0 "$TFWD_BIN/$d" "$h")
		grep -q -- '--check' <<<"$out" || fail "$d $h: $out"
		grep -q -- '--config' <<<"$out" || fail "$d $h: $out"
	done
	assert_status 2 "$TFWD_BIN/$d" --no-such-option >/dev/null
done

# ---- sanitizer builds: --check frees what it allocates -----------------------------
if grep -qa __asan_init "$TFWD_BIN/tcpfwd-controlplane"; then
	for d in "${DAEMONS[@]}"; do
		for c in good bad badlist; do
			rc=0
			ASAN_OPTIONS=$ASAN_OPTIONS_ORIG "$TFWD_BIN/$d" -c "$TMP/$c.yaml" \
				--check >"$TMP/leak.out" 2>&1 || rc=$?
			if grep -q 'LeakSanitizer' "$TMP/leak.out"; then
				fail "$d --check ($c.yaml) leaks (exit $rc): $(grep -Eo 'leak of [0-9]+ byte|in [a-z_]+ [a-z/_]+\.c:[0-9]+' "$TMP/leak.out" | tr '\n' ' ')"
			fi
		done
	done
fi

# ---- SPEC 2: the data plane's --check validates the IP list too ------------------
out=$(assert_status 1 "$TFWD_BIN/tcpfwd-dataplane" -c "$TMP/badlist.yaml" --check)
for l in 3 5 7; do
	grep -q "bad_list\.txt:$l: " <<<"$out" ||
		fail "tcpfwd-dataplane: no error for line $l of the IP list: $out"
done
