#!/bin/sh
#
# Installs tcp-forwarder: `make install` runs it as
#
#	deploy/install.sh DESTDIR PREFIX BUILD
#
# DESTDIR (may be empty) is prepended to every path, for packaging; PREFIX
# is where the files will live (/usr/local by default); BUILD is the build
# folder holding bin/. Environment: SYSCONFDIR (default /etc: systemd's
# ConfigurationDirectory= is always /etc/tcp-forwarder), UNITDIR (default
# /lib/systemd/system for PREFIX=/usr, else PREFIX/lib/systemd/system).
#
# Lays out:
#	PREFIX/bin/                       tcpfwd-dataplane tcpfwd-controlplane
#	                                  tcpfwdctl (0755)
#	UNITDIR/                          the two units, @BINDIR@ and
#	                                  @SYSCONFDIR@ replaced
#	PREFIX/lib/sysusers.d/            tcp-forwarder.conf (the user)
#	PREFIX/lib/tmpfiles.d/            tcp-forwarder.conf (its folders)
#	PREFIX/share/tcp-forwarder/       config.yaml (the example, with
#	                                  production paths), ip_list.txt,
#	                                  README-production.md,
#	                                  grafana/, prometheus/
#	PREFIX/share/man/man1, man8/      tcpfwdctl.1, tcpfwd-*.8
#
# Without DESTDIR (a real install, as root) it also creates the user and
# the folders, copies the example config and IP list to
# SYSCONFDIR/tcp-forwarder/ unless they exist, and reloads systemd.
set -eu

if [ $# -ne 3 ]; then
	echo "usage: $0 DESTDIR PREFIX BUILD" >&2
	exit 2
fi
DESTDIR=$1
PREFIX=$2
BUILD=$3
SRC=$(cd "$(dirname "$0")/.." && pwd)
SYSCONFDIR=${SYSCONFDIR:-/etc}
case $PREFIX in
/usr | /usr/) UNITDIR=${UNITDIR:-/lib/systemd/system} ;;
*) UNITDIR=${UNITDIR:-$PREFIX/lib/systemd/system} ;;
esac
case $PREFIX in
/*) ;;
*) echo "$0: PREFIX must be absolute: $PREFIX" >&2; exit 2 ;;
esac
BINDIR=$PREFIX/bin
SHARE=$PREFIX/share/tcp-forwarder
BINARIES="tcpfwd-dataplane tcpfwd-controlplane tcpfwdctl"

for b in $BINARIES; do
	if [ ! -x "$BUILD/bin/$b" ]; then
		echo "$0: $BUILD/bin/$b is missing: run make first" >&2
		exit 1
	fi
done

# substitute FILE: FILE with @BINDIR@, @SYSCONFDIR@, @PREFIX@ replaced.
substitute() {
	sed -e "s|@BINDIR@|$BINDIR|g" -e "s|@SYSCONFDIR@|$SYSCONFDIR|g" \
	    -e "s|@PREFIX@|$PREFIX|g" "$1"
}

# put MODE SRC DEST: installs one file, creating the folder (0755).
put() {
	install -d -m 0755 "$(dirname "$3")"
	install -m "$1" "$2" "$3"
	echo "  $3"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "installing tcp-forwarder into ${DESTDIR:-/} (prefix $PREFIX)"
for b in $BINARIES; do
	put 0755 "$BUILD/bin/$b" "$DESTDIR$BINDIR/$b"
done

for u in tcpfwd-dataplane.service tcpfwd-controlplane.service; do
	substitute "$SRC/deploy/systemd/$u" >"$tmp/$u"
	if grep -q '@[A-Z]*@' "$tmp/$u"; then
		echo "$0: unreplaced placeholder in $u" >&2
		exit 1
	fi
	put 0644 "$tmp/$u" "$DESTDIR$UNITDIR/$u"
done
put 0644 "$SRC/deploy/systemd/tcp-forwarder.sysusers" \
	"$DESTDIR$PREFIX/lib/sysusers.d/tcp-forwarder.conf"
put 0644 "$SRC/deploy/systemd/tcp-forwarder.tmpfiles" \
	"$DESTDIR$PREFIX/lib/tmpfiles.d/tcp-forwarder.conf"

# The example config: the repo's, with the paths a service uses (IPC
# socket in the runtime folder, state in the state folder). Each
# replacement must have happened.
{
	echo "# tcp-forwarder example configuration, installed by make install."
	echo "# Copy it to $SYSCONFDIR/tcp-forwarder/config.yaml (with ip_list.txt"
	echo "# beside it), check it with: tcpfwd-controlplane --check -c FILE"
	echo "#"
	sed -e 's|^\(  url: \)"ipc://[^"]*"|\1"ipc:///run/tcp-forwarder/control.ipc"|' \
	    -e 's|^\(  state_file: \)"[^"]*dataplane.json"|\1"/var/lib/tcp-forwarder/dataplane.json"|' \
	    -e 's|^\(  state_file: \)"[^"]*scores.json"|\1"/var/lib/tcp-forwarder/scores.json"|' \
	    "$SRC/config.yaml"
} >"$tmp/config.yaml"
for want in 'url: "ipc:///run/tcp-forwarder/control.ipc"' \
    'state_file: "/var/lib/tcp-forwarder/dataplane.json"' \
    'state_file: "/var/lib/tcp-forwarder/scores.json"'; do
	if ! grep -qF "$want" "$tmp/config.yaml"; then
		echo "$0: config.yaml changed shape: cannot set $want" >&2
		exit 1
	fi
done
put 0644 "$tmp/config.yaml" "$DESTDIR$SHARE/config.yaml"
put 0644 "$SRC/ip_list.txt" "$DESTDIR$SHARE/ip_list.txt"
put 0644 "$SRC/deploy/README-production.md" \
	"$DESTDIR$SHARE/README-production.md"
put 0644 "$SRC/deploy/grafana/tcp-forwarder.json" \
	"$DESTDIR$SHARE/grafana/tcp-forwarder.json"
put 0644 "$SRC/deploy/prometheus/prometheus.yml" \
	"$DESTDIR$SHARE/prometheus/prometheus.yml"
put 0644 "$SRC/deploy/prometheus/tcp-forwarder.rules.yml" \
	"$DESTDIR$SHARE/prometheus/tcp-forwarder.rules.yml"

put 0644 "$SRC/deploy/man/tcpfwdctl.1" \
	"$DESTDIR$PREFIX/share/man/man1/tcpfwdctl.1"
for m in tcpfwd-dataplane.8 tcpfwd-controlplane.8; do
	put 0644 "$SRC/deploy/man/$m" "$DESTDIR$PREFIX/share/man/man8/$m"
done

case $UNITDIR in
/lib/systemd/system | /usr/lib/systemd/system | /etc/systemd/system | \
    /usr/local/lib/systemd/system) ;;
*) echo "note: systemd does not look for units in $UNITDIR; link them" \
	"into /etc/systemd/system (systemctl link FILE)" ;;
esac

if [ -n "$DESTDIR" ]; then
	exit 0
fi

# A real install: the user, the folders, a first config.
if [ "$(id -u)" != 0 ]; then
	echo "not root: create the user and folders as root:" \
	    "systemd-sysusers; systemd-tmpfiles --create"
	exit 0
fi
if command -v systemd-sysusers >/dev/null 2>&1; then
	systemd-sysusers "$PREFIX/lib/sysusers.d/tcp-forwarder.conf"
elif ! getent passwd tcp-forwarder >/dev/null; then
	useradd --system --user-group --home-dir /var/lib/tcp-forwarder \
	    --shell /usr/sbin/nologin tcp-forwarder
fi
if command -v systemd-tmpfiles >/dev/null 2>&1; then
	systemd-tmpfiles --create "$PREFIX/lib/tmpfiles.d/tcp-forwarder.conf"
fi
install -d -m 0750 -g tcp-forwarder "$SYSCONFDIR/tcp-forwarder"
for f in config.yaml ip_list.txt; do
	if [ -e "$SYSCONFDIR/tcp-forwarder/$f" ]; then
		echo "  kept $SYSCONFDIR/tcp-forwarder/$f"
	else
		install -m 0640 -g tcp-forwarder "$SHARE/$f" \
		    "$SYSCONFDIR/tcp-forwarder/$f"
		echo "  $SYSCONFDIR/tcp-forwarder/$f (from the example)"
	fi
done
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload
fi
echo "next: edit $SYSCONFDIR/tcp-forwarder/{config.yaml,ip_list.txt}, then"
echo "  systemctl enable --now tcpfwd-dataplane tcpfwd-controlplane"
