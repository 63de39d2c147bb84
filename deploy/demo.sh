#!/usr/bin/env bash
# make demo: three local demo backends of different quality, the control
# plane and the data plane with the repo's config.yaml, in the foreground.
# Ctrl+C stops all of them. Backends (the project's echo test server):
#   127.0.0.1:9001  steady
#   127.0.0.1:9002  flaky: down 3 s out of every 11
#   127.0.0.1:9003  poor: up 2 s out of every 10
# Only processes this script started are stopped, by PID.
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/.." || exit 1
BIN=$BUILD/bin
for b in tcpfwd-controlplane tcpfwd-dataplane tfwd-backend; do
	[ -x "$BIN/$b" ] || { echo "demo: $BIN/$b missing: run make" >&2; exit 1; }
done

LOGS=/tmp/tcp-forwarder-demo
mkdir -p "$LOGS"
pids=()
cleanup() {
	trap - EXIT INT TERM
	echo
	echo "demo: stopping"
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	exit 0
}
trap cleanup EXIT INT TERM

# A backend that is up for $2 seconds, then down for $3, forever.
flap() {
	local port=$1 up=$2 down=$3 pid=
	trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; exit 0' TERM INT
	while :; do
		"$BIN/tfwd-backend" --listen "127.0.0.1:$port" --mode echo \
			>>"$LOGS/backend-$port.log" 2>&1 &
		pid=$!
		sleep "$up"
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		pid=
		sleep "$down"
	done
}

"$BIN/tfwd-backend" --listen 127.0.0.1:9001 --mode echo >>"$LOGS/backend-9001.log" 2>&1 &
pids+=($!)
flap 9002 8 3 & pids+=($!)
flap 9003 2 8 & pids+=($!)

"$BIN/tcpfwd-controlplane" -c config.yaml & pids+=($!)
"$BIN/tcpfwd-dataplane" -c config.yaml & pids+=($!)

cat <<'MSG'

demo: running. In another terminal:
  echo hi | nc 127.0.0.1 1234                     # forwarded to a backend
  curl 127.0.0.1:9099/api/v1/backends             # scores and their parts
  curl 127.0.0.1:9099/api/v1/active-set           # what is being served
  curl 127.0.0.1:9099/metrics                     # Prometheus
Backend logs: /tmp/tcp-forwarder-demo/. Press Ctrl+C to stop everything.

MSG
wait
