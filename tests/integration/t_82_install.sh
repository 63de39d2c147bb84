#!/usr/bin/env bash
#
# t_82: `make install` (deploy/install.sh) into a temp DESTDIR with
# PREFIX=/usr/local. Guards: every file lands where the systemd units, man
# and the docs say, with its mode, and nothing else does; @BINDIR@ and
# @SYSCONFDIR@ are replaced; the installed units pass `systemd-analyze
# verify` silently (binaries, /bin/kill and the Documentation= man pages
# resolved inside the DESTDIR) and a broken one does not; the hardening
# keeps systemd's exposure score low; the data plane's unit never depends
# on the control plane's; the man pages render without warnings; the
# installed example config passes both daemons' --check. Also PREFIX=/usr
# puts the units in /lib/systemd/system.

. "$(dirname "$0")/lib.sh"
tfwd_tmpdir
require_bin tcpfwd-dataplane tcpfwd-controlplane tcpfwdctl
require_cmd systemd-analyze groff man

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
D=$TMP/destdir
P=/usr/local

assert_ok "$ROOT/deploy/install.sh" "$D" "$P" "$TFWD_BUILD" >"$TMP/install.log"

# ---- the tree ---------------------------------------------------------------

cat >"$TMP/want.txt" <<EOF
755 usr/local/bin/tcpfwd-controlplane
755 usr/local/bin/tcpfwd-dataplane
755 usr/local/bin/tcpfwdctl
644 usr/local/lib/systemd/system/tcpfwd-controlplane.service
644 usr/local/lib/systemd/system/tcpfwd-dataplane.service
644 usr/local/lib/sysusers.d/tcp-forwarder.conf
644 usr/local/lib/tmpfiles.d/tcp-forwarder.conf
644 usr/local/share/man/man1/tcpfwdctl.1
644 usr/local/share/man/man8/tcpfwd-controlplane.8
644 usr/local/share/man/man8/tcpfwd-dataplane.8
644 usr/local/share/tcp-forwarder/README-production.md
644 usr/local/share/tcp-forwarder/config.yaml
644 usr/local/share/tcp-forwarder/grafana/tcp-forwarder.json
644 usr/local/share/tcp-forwarder/ip_list.txt
644 usr/local/share/tcp-forwarder/prometheus/prometheus.yml
644 usr/local/share/tcp-forwarder/prometheus/tcp-forwarder.rules.yml
EOF
LC_ALL=C sort -o "$TMP/want.txt" "$TMP/want.txt"
(cd "$D" && find . -type f -printf '%m %P\n' | LC_ALL=C sort) >"$TMP/got.txt"
diff -u "$TMP/want.txt" "$TMP/got.txt" >"$TMP/tree.diff" ||
	fail "installed tree differs (- expected, + installed):
$(cat "$TMP/tree.diff")"
bad=$(find "$D" -type d ! -perm 0755 -printf '%m %P\n')
[ -z "$bad" ] || fail "folders not 0755: $bad"
for b in tcpfwd-dataplane tcpfwd-controlplane tcpfwdctl; do
	cmp -s "$TFWD_BIN/$b" "$D$P/bin/$b" || fail "$b differs from the build"
done
cmp -s "$ROOT/ip_list.txt" "$D$P/share/tcp-forwarder/ip_list.txt" ||
	fail "ip_list.txt differs"
log "tree: $(wc -l <"$TMP/got.txt") files, modes as expected"

# ---- the units ----------------------------------------------------------------

UD=$D$P/lib/systemd/system
for u in tcpfwd-dataplane tcpfwd-controlplane; do
	f=$UD/$u.service
	! grep -n '@[A-Z]*@' "$f" || fail "$u: placeholder left"
	assert_contains "$f" "^ExecStart=$P/bin/$u -c /etc/tcp-forwarder/config.yaml\$"
	assert_contains "$f" '^Type=notify$'
	assert_contains "$f" '^WatchdogSec=10s$'
	assert_contains "$f" '^Restart=always$'
	assert_contains "$f" '^User=tcp-forwarder$'
	assert_contains "$f" '^RuntimeDirectory=tcp-forwarder$'
	assert_contains "$f" '^RuntimeDirectoryPreserve=yes$'
	assert_contains "$f" '^RuntimeDirectoryMode=0750$'
	assert_contains "$f" '^StateDirectory=tcp-forwarder$'
	assert_contains "$f" '^WorkingDirectory=/var/lib/tcp-forwarder$'
	assert_contains "$f" '^NoNewPrivileges=yes$'
	assert_contains "$f" '^ProtectSystem=strict$'
	assert_contains "$f" '^CapabilityBoundingSet=$'
done
f=$UD/tcpfwd-dataplane.service
assert_contains "$f" '^ExecReload=/bin/kill -USR2 \$MAINPID$'
assert_contains "$f" '^NotifyAccess=all$'
assert_contains "$f" '^LimitNOFILE=1048576$'
! grep -En '^(Requires|Requisite|BindsTo|PartOf|After|Wants)=.*controlplane' "$f" ||
	fail "the data plane's unit depends on the control plane"
assert_contains "$UD/tcpfwd-controlplane.service" '^ExecReload=/bin/kill -HUP \$MAINPID$'

# systemd-analyze verify, offline, inside the DESTDIR: it resolves
# ExecStart=, ExecReload= (/bin/kill) and the targets under --root, and the
# Documentation= man pages through MANPATH. It exits 0 on warnings, so its
# output must be empty too.
mkdir -p "$D/lib/systemd" "$D/bin"
cp -a /lib/systemd/system "$D/lib/systemd/"
cp /bin/kill "$D/bin/kill"
verify() {
	MANPATH=$D$P/share/man: systemd-analyze verify --root="$D" "$@" 2>&1
}
out=$(verify "$P/lib/systemd/system/tcpfwd-dataplane.service" \
	"$P/lib/systemd/system/tcpfwd-controlplane.service") ||
	fail "systemd-analyze verify failed: $out"
[ -z "$out" ] || fail "systemd-analyze verify warned: $out"
log "systemd-analyze verify: both units clean ($(systemctl --version | head -1))"

# ... and it does see a broken unit and a missing binary.
sed 's/^Restart=always/Restart=allways/' "$UD/tcpfwd-dataplane.service" \
	>"$UD/tfwd-broken.service"
out=$(verify "$P/lib/systemd/system/tfwd-broken.service") || true
grep -q 'allways' <<<"$out" || fail "verify missed a bad value: $out"
rm "$UD/tfwd-broken.service"
mv "$D$P/bin/tcpfwd-dataplane" "$TMP/dp.bin"
verify "$P/lib/systemd/system/tcpfwd-dataplane.service" >"$TMP/v.out" &&
	fail "verify passed without the binary: $(cat "$TMP/v.out")"
mv "$TMP/dp.bin" "$D$P/bin/tcpfwd-dataplane"

# The hardening, as systemd rates it (0 = locked down, 10 = exposed).
for u in tcpfwd-dataplane tcpfwd-controlplane; do
	lvl=$(MANPATH=$D$P/share/man: systemd-analyze security --offline=yes \
		--root="$D" "$P/lib/systemd/system/$u.service" 2>&1 |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	[ -n "$lvl" ] || { log "systemd-analyze security gave no level"; continue; }
	log "$u: systemd exposure level $lvl"
	awk -v l="$lvl" 'BEGIN { exit !(l <= 3.0) }' ||
		fail "$u: exposure level $lvl above 3.0"
done

# sysusers and tmpfiles entries parse (dry: --root, no change on the host)
if command -v systemd-sysusers >/dev/null 2>&1; then
	mkdir -p "$D/etc"
	: >"$D/etc/passwd"; : >"$D/etc/group"; : >"$D/etc/shadow"; : >"$D/etc/gshadow"
	assert_ok systemd-sysusers --root="$D" \
		"$D$P/lib/sysusers.d/tcp-forwarder.conf" >/dev/null
	grep -q '^tcp-forwarder:x:[0-9]*:[0-9]*:tcp-forwarder daemons:/var/lib/tcp-forwarder:/usr/sbin/nologin$' \
		"$D/etc/passwd" || fail "sysusers: $(cat "$D/etc/passwd")"
	grep -q '^tcp-forwarder:x:' "$D/etc/group" || fail "sysusers: no group"
	assert_ok systemd-tmpfiles --root="$D" --create \
		"$D$P/lib/tmpfiles.d/tcp-forwarder.conf" >/dev/null
	[ "$(stat -c '%a %U' "$D/run/tcp-forwarder" 2>/dev/null)" = "750 root" ] ||
		[ "$(stat -c '%a' "$D/run/tcp-forwarder")" = 750 ] ||
		fail "tmpfiles: /run/tcp-forwarder is $(stat -c '%a %U' "$D/run/tcp-forwarder")"
	log "sysusers.d and tmpfiles.d entries apply under --root"
fi

# ---- man pages ----------------------------------------------------------------

for m in man1/tcpfwdctl.1 man8/tcpfwd-dataplane.8 man8/tcpfwd-controlplane.8; do
	f=$D$P/share/man/$m
	out=$(LC_ALL=C.UTF-8 groff -ww -mandoc -z "$f" 2>&1)
	[ -z "$out" ] || fail "groff warns on $m: $out"
	out=$(MANWIDTH=80 man -l "$f" 2>&1 >"$TMP/man.txt")
	[ -z "$out" ] || fail "man -l warns on $m: $out"
	for s in NAME SYNOPSIS DESCRIPTION OPTIONS ENVIRONMENT 'EXIT STATUS' \
	    EXAMPLES 'SEE ALSO'; do
		grep -q "^$s" "$TMP/man.txt" || fail "$m has no $s section"
	done
	if command -v mandoc >/dev/null 2>&1; then
		out=$(mandoc -T lint -W warning "$f" 2>&1)
		[ -z "$out" ] || fail "mandoc -T lint on $m: $out"
	fi
done
for m in man8/tcpfwd-dataplane.8 man8/tcpfwd-controlplane.8; do
	MANWIDTH=80 man -l "$D$P/share/man/$m" 2>/dev/null | grep -q '^SIGNALS' ||
		fail "$m has no SIGNALS section"
done
log "man pages render without warnings"

# ---- the example config ---------------------------------------------------

C=$D$P/share/tcp-forwarder/config.yaml
assert_contains "$C" '^  url: "ipc:///run/tcp-forwarder/control.ipc"'
assert_contains "$C" '^  state_file: "/var/lib/tcp-forwarder/dataplane.json"'
assert_contains "$C" '^  state_file: "/var/lib/tcp-forwarder/scores.json"'
# (leaks at exit are other tests' business: --check leaves its context to
# the exit under ASan builds)
assert_ok env ASAN_OPTIONS=detect_leaks=0 "$D$P/bin/tcpfwd-controlplane" \
	--check -c "$C" >/dev/null
assert_ok env ASAN_OPTIONS=detect_leaks=0 "$D$P/bin/tcpfwd-dataplane" \
	--check -c "$C" >/dev/null
assert_ok "$D$P/bin/tcpfwdctl" --version >/dev/null

# ---- PREFIX=/usr ----------------------------------------------------------------

D2=$TMP/destdir-usr
assert_ok "$ROOT/deploy/install.sh" "$D2" /usr "$TFWD_BUILD" >/dev/null
for f in lib/systemd/system/tcpfwd-dataplane.service \
    lib/systemd/system/tcpfwd-controlplane.service \
    usr/bin/tcpfwd-dataplane usr/lib/sysusers.d/tcp-forwarder.conf \
    usr/share/man/man8/tcpfwd-dataplane.8 \
    usr/share/tcp-forwarder/grafana/tcp-forwarder.json; do
	[ -f "$D2/$f" ] || fail "PREFIX=/usr: no $f"
done
assert_contains "$D2/lib/systemd/system/tcpfwd-dataplane.service" \
	'^ExecStart=/usr/bin/tcpfwd-dataplane '

# ---- refusals -------------------------------------------------------------------

assert_status 2 "$ROOT/deploy/install.sh" "$TMP/x" relative "$TFWD_BUILD" \
	>/dev/null
assert_status 1 "$ROOT/deploy/install.sh" "$TMP/x" /usr/local "$TMP/nobuild" \
	>/dev/null
echo "PASS: install tree, units verified, man pages, example config"
