#!/usr/bin/env bash
#
# Guards the admin API's request limits (issue 5; controlplane/admin.h
# ADMIN_URI_MAX and ADMIN_BODY_MAX, 4096 each, and nng's HTTP server):
#   - URI: 4096 bytes routed (404 for an unknown path), 4097 -> 414, 100 KB
#     refused (nng closes the connection: no 2xx)
#   - body: 4096 bytes accepted, 4097 and 1 MB -> 400 or 413, a
#     Content-Length of 10^12 with nothing sent -> refused at once
#   - headers: one of 8 KB accepted; one of 64 KB, 1,000 or 10,000 of them
#     refused (closed or 4xx); a 2 KB Authorization is treated as absent
#     (401 with a token configured)
#   - slowloris: 200 connections that never finish their headers (5 of
#     them trickling a byte each round) and 10 that never finish their
#     body do not slow other requests: /healthz answers within 1 s every
#     0.3 s for 8 s; afterwards the descriptors come back
# Each oversized request leaves the control plane serving. (nng 1.5.2 has
# no read timeout: the partial connections stay open until the client
# goes; the test logs how many are left, a known limit, not a failure.)

set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
tfwd_tmpdir
require_bin tcpfwd-controlplane
require_cmd python3 curl

echo "t72-token" >"$TMP/token"
chmod 600 "$TMP/token"
write_iplist "$TMP/ip_list.txt" "127.0.0.2:$(free_port)"
TOKEN_FILE="$TMP/token" write_config "$TMP/config.yaml"
start_controlplane cp "$TMP/config.yaml"
CP=$(tfwd_pid cp)
base=$(fd_count "$CP")

cat >"$TMP/raw.py" <<'EOF'
# raw.py HOST PORT CASE: sends one hand-made request, prints the status
# line's code or "closed" (no answer) or "timeout".
import socket, sys
host, port, case = sys.argv[1], int(sys.argv[2]), sys.argv[3]
H = b"Host: t72\r\nConnection: close\r\n"
A = b"Authorization: Bearer t72-token\r\n"
def post(n, cl=None, send=None):
    cl = n if cl is None else cl
    body = b"x" * (n if send is None else send)
    return (b"POST /api/v1/reload HTTP/1.1\r\n" + H + A +
            b"Content-Length: %d\r\n\r\n" % cl + body)
cases = {
    "uri4096": b"GET /" + b"a" * 4095 + b" HTTP/1.1\r\n" + H + b"\r\n",
    "uri4097": b"GET /" + b"a" * 4096 + b" HTTP/1.1\r\n" + H + b"\r\n",
    "uri100k": b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\n" + H + b"\r\n",
    "body4096": post(4096),
    "body4097": post(4097),
    "body1m": post(1 << 20),
    "cl1e12": post(0, cl=10**12, send=0),
    "hdr8k": b"GET /healthz HTTP/1.1\r\n" + H + b"X-Big: " + b"v" * 8000 + b"\r\n\r\n",
    "hdr64k": b"GET /healthz HTTP/1.1\r\n" + H + b"X-Big: " + b"v" * 65536 + b"\r\n\r\n",
    "hdr1000": b"GET /healthz HTTP/1.1\r\n" + H +
        b"".join(b"X-H%d: v\r\n" % i for i in range(1000)) + b"\r\n",
    "hdr10000": b"GET /healthz HTTP/1.1\r\n" + H +
        b"".join(b"X-H%d: v\r\n" % i for i in range(10000)) + b"\r\n",
    "auth2k": b"POST /api/v1/reload HTTP/1.1\r\n" + H +
        b"Authorization: Bearer " + b"v" * 2000 + b"\r\n\r\n",
}
s = socket.create_connection((host, port), timeout=5)
data = b""
try:
    s.sendall(cases[case])
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
except socket.timeout:
    print("timeout")
    sys.exit(0)
except (ConnectionResetError, BrokenPipeError):
    pass
line = data.split(b"\r\n")[0].split()
print(line[1].decode() if len(line) > 1 else "closed")
EOF

H=${ADMIN%:*}
P=${ADMIN##*:}
# status CASE: what the control plane answered to CASE.
status() {
	python3 "$TMP/raw.py" "$H" "$P" "$1"
}
# expect CASE ALLOWED...: the answer is one of ALLOWED; the API still works.
expect() {
	local case=$1 got a
	shift
	got=$(status "$case")
	for a in "$@"; do
		if [ "$got" = "$a" ]; then
			log "$case: $got"
			assert_eq "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
				"http://$ADMIN/healthz")" 200 "GET /healthz after $case"
			return 0
		fi
	done
	fail "$case: got '$got', expected one of: $*"
}
expect uri4096 404
expect uri4097 414
expect uri100k closed 400 414 431
expect body4096 200
expect body4097 400 413
expect body1m 400 413
expect cl1e12 400 413
expect hdr8k 200
expect hdr64k closed 400 431
expect hdr1000 closed 400 431
expect hdr10000 closed 400 431
expect auth2k 401

# slowloris on the admin port
cat >"$TMP/slow.py" <<'EOF'
# slow.py HOST PORT: 200 never-finished headers, 10 never-finished bodies,
# /healthz every 0.3 s for 8 s; prints the slowest answer in ms and how
# many partial connections the server still holds, then closes them.
import socket, sys, time
host, port = sys.argv[1], int(sys.argv[2])
held = []
for i in range(200):
    s = socket.create_connection((host, port), timeout=5)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t72\r\nX-Slow: ")
    held.append(s)
for i in range(10):
    s = socket.create_connection((host, port), timeout=5)
    s.sendall(b"POST /api/v1/reload HTTP/1.1\r\nHost: t72\r\n"
              b"Content-Length: 100\r\n\r\n0123456789")
    held.append(s)
worst = 0.0
end = time.time() + 8
while time.time() < end:
    t0 = time.time()
    s = socket.create_connection((host, port), timeout=5)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t72\r\nConnection: close\r\n\r\n")
    d = b""
    while True:
        x = s.recv(4096)
        if not x:
            break
        d += x
    s.close()
    if not d.startswith(b"HTTP/1.1 200"):
        print("BAD %r" % d[:60])
        sys.exit(1)
    worst = max(worst, time.time() - t0)
    for s in held[:5]:
        s.sendall(b"v")
    time.sleep(0.3)
open_ = 0
for s in held:
    s.setblocking(False)
    try:
        open_ += s.recv(1) != b""
    except BlockingIOError:
        open_ += 1
    except ConnectionResetError:
        pass
print("%d %d" % (int(worst * 1000), open_))
for s in held:
    s.close()
EOF
out=$(python3 "$TMP/slow.py" "$H" "$P") || fail "slowloris: $out"
read -r worst_ms still <<<"$out"
log "slowloris: slowest /healthz ${worst_ms} ms; partial connections still held by the server after 8 s: $still of 210"
assert_le "$worst_ms" 1000 "slowest /healthz during the slowloris (ms)"
wait_output 10 -le $((base + 2)) fd_count "$CP" ||
	fail "control plane descriptors: $(fd_count "$CP"), $base before"
tfwd_running cp || fail "the control plane died"
stop_clean cp
