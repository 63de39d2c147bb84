#!/usr/bin/env bash
#
# t_80: the status page at GET / of the admin listener, in a real browser.
# Guards: the page is served as text/html (GET and HEAD) while the JSON
# index stays at /api/v1; loaded in headless Chromium against a running
# system (three echo backends, one dead address, both daemons, clients
# holding connections) it renders the active set (generation, members)
# and every tracked backend with its score parts, connections and pools;
# without the API it shows the error banner. Screenshots at phone
# (412x915, and the whole page) and desktop (1280x900) sizes are kept in
# $TFWD_BUILD/test-artifacts/ and their paths printed.
#
# SKIP (77) when Chromium is missing and cannot be installed, or cannot
# run here.

. "$(dirname "$0")/lib.sh"
tfwd_tmpdir
require_bin tcpfwd-dataplane tcpfwd-controlplane tfwd-backend tfwd-client
require_cmd curl jq

# ---- a browser ------------------------------------------------------------

find_chromium() {
	command -v chromium || command -v chromium-browser ||
		command -v google-chrome || true
}
CHROMIUM=$(find_chromium)
if [ -z "$CHROMIUM" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null
then
	log "installing chromium (Debian package)"
	DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y \
		--no-install-recommends chromium >"$TMP/apt.log" 2>&1 ||
		{ timeout 300 apt-get update >>"$TMP/apt.log" 2>&1 &&
		  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y \
			--no-install-recommends chromium >>"$TMP/apt.log" 2>&1; } ||
		true
	CHROMIUM=$(find_chromium)
fi
[ -n "$CHROMIUM" ] || skip "chromium is not installed and could not be"

# chrome ARGS...: one headless run with a fresh profile under $TMP.
chrome() {
	local profile
	profile=$(mktemp -d "$TMP/chrome-profile.XXXXXX")
	timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
		--disable-quic --no-first-run --disable-background-networking \
		--disable-component-update --disable-sync --disable-extensions \
		--disable-dev-shm-usage --hide-scrollbars \
		--user-data-dir="$profile" "$@" 2>>"$TMP/chromium.err"
}

chrome --dump-dom "data:text/html,<p id=ok>browser-ok</p>" \
	>"$TMP/probe.html" || true
grep -q 'browser-ok' "$TMP/probe.html" ||
	skip "chromium cannot run here: $(tail -n 3 "$TMP/chromium.err")"
log "browser: $("$CHROMIUM" --version 2>/dev/null)"

# ---- a running system -----------------------------------------------------

B1=127.0.0.1:$(free_port)
B2=127.0.0.1:$(free_port)
B3=127.0.0.1:$(free_port)
DEAD=127.0.0.1:$(free_port)	# nothing listens: tracked, never active
start_backend b1 echo "$B1"
start_backend b2 echo "$B2"
start_backend b3 echo "$B3"
write_iplist "$TMP/ip_list.txt" "$B1" "$B2" "$B3" "$DEAD"
POOL_TYPE=static POOL_SIZE=3 write_config "$TMP/config.yaml"
start_controlplane cp "$TMP/config.yaml"
start_dataplane dp "$TMP/config.yaml"

# api_true PATH JQ: JQ holds on GET PATH.
api_true() {
	admin_get "$1" 2>/dev/null | jq -e "$2" >/dev/null 2>&1
}
want_set=$(printf '%s\n' "$B1" "$B2" "$B3" | sort | jq -R . | jq -cs .)
wait_until 20 api_true /api/v1/active-set \
	"(.backends | sort) == $want_set" ||
	fail "active set is not $want_set: $(admin_get /api/v1/active-set)"
wait_until 20 api_true /api/v1/status \
	'(.dataplanes | length) == 1 and (.dataplanes | all(.in_sync))' ||
	fail "data plane not in sync: $(admin_get /api/v1/status)"
wait_until 20 api_true /api/v1/backends \
	"[.backends[] | select(.address == \"$DEAD\") | .probes] | .[0] > 0" ||
	fail "$DEAD not probed: $(admin_get /api/v1/backends)"

# Six clients hold connections, so the page has live figures to show.
tfwd_start holders "$TFWD_BIN/tfwd-client" hold --connect "$LISTEN" \
	--conns 6 --hold-ms 60000 --ready-file "$TMP/holders.ready"
wait_until 10 test -f "$TMP/holders.ready" || fail "clients did not connect"
wait_until 10 api_true /api/v1/backends \
	'([.backends[].connections] | add) == 6' ||
	fail "connections not reported: $(admin_get /api/v1/backends)"

# ---- HTTP -----------------------------------------------------------------

curl -sS -D "$TMP/head.txt" -o /dev/null --max-time 5 -I "http://$ADMIN/" ||
	fail "HEAD / failed"
grep -qi '^content-type: text/html; charset=utf-8' "$TMP/head.txt" ||
	fail "HEAD / is not text/html: $(cat "$TMP/head.txt")"
grep -q '^HTTP/1.1 200' "$TMP/head.txt" || fail "HEAD /: $(head -1 "$TMP/head.txt")"
curl -sS -D "$TMP/get.txt" -o "$TMP/page.html" --max-time 5 "http://$ADMIN/" ||
	fail "GET / failed"
grep -qi '^content-type: text/html; charset=utf-8' "$TMP/get.txt" ||
	fail "GET / is not text/html: $(cat "$TMP/get.txt")"
grep -q 'id="backends-body"' "$TMP/page.html" || fail "GET / is not the page"
admin_get /api/v1 | jq -e '.endpoints | length > 0' >/dev/null ||
	fail "the JSON index is not at /api/v1"

# ---- the page in the browser ---------------------------------------------

gen=$(admin_get /api/v1/active-set | jq -r .generation)
reason=$(admin_get /api/v1/active-set | jq -r .reason)

# dom_ok FILE: the dumped DOM shows what the API says.
dom_ok() {
	local f=$1 a body members
	body=$(sed -n '/id="backends-body"/,/<\/tbody>/p' "$f")
	for a in "$B1" "$B2" "$B3" "$DEAD"; do
		grep -qF "<td class=\"l addr\" data-label=\"address\">$a</td>" \
			<<<"$body" || { echo "backend $a missing"; return 1; }
	done
	members=$(sed -n '/id="active-members"/,/<\/ul>/p' "$f")
	for a in "$B1" "$B2" "$B3"; do
		grep -qF "<li>$a</li>" <<<"$members" ||
			{ echo "active member $a missing"; return 1; }
	done
	grep -qF "<li>$DEAD</li>" <<<"$members" &&
		{ echo "$DEAD shown in the active set"; return 1; }
	grep -qF "id=\"active-generation\">$gen<" "$f" ||
		{ echo "generation $gen missing"; return 1; }
	grep -qF "id=\"active-reason\">$reason<" "$f" ||
		{ echo "reason '$reason' missing"; return 1; }
	grep -q 'id="active-since">[0-9]*[smhd] .*ago' "$f" ||
		{ echo "since missing"; return 1; }
	grep -qF 'id="total-connections">6<' "$f" ||
		{ echo "6 live connections missing"; return 1; }
	grep -o 'class="badge active">active<' <<<"$body" | wc -l | grep -qx 3 ||
		{ echo "three active badges missing"; return 1; }
	grep -qF 'class="badge candidate">candidate<' <<<"$body" ||
		{ echo "candidate badge missing"; return 1; }
	grep -qF 'data-label="pool idle/target/peak">3 / 3 / ' <<<"$body" ||
		{ echo "pool figures missing"; return 1; }
	grep -qF 'data-label="latency ms">' <<<"$body" &&
		grep -qF 'data-label="penalty">' <<<"$body" &&
		grep -qF 'data-label="bonus">' <<<"$body" &&
		grep -qF 'data-label="success">100.0%<' <<<"$body" ||
		{ echo "score parts missing"; return 1; }
	grep -q 'id="error-banner"[^>]*class="shown"' "$f" &&
		{ echo "error banner shown"; return 1; }
	grep -q 'id="dataplanes-body"><tr><td class="l addr"' "$f" ||
		{ echo "data plane row missing"; return 1; }
	return 0
}

ok=0
for try in 1 2 3; do
	chrome --virtual-time-budget=5000 --dump-dom "http://$ADMIN/" \
		>"$TMP/dom.html" || true
	if why=$(dom_ok "$TMP/dom.html"); then
		ok=1
		break
	fi
	log "try $try: $why"
	sleep 1
done
[ "$ok" = 1 ] || fail "the page does not show the system: $why
$(head -c 6000 "$TMP/dom.html")"
log "the page shows generation $gen, 3 active backends, $DEAD as candidate"

# ---- screenshots ------------------------------------------------------------

ART=$TFWD_BUILD/test-artifacts
mkdir -p "$ART" || fail "cannot create $ART"
shot() {
	local name=$1 size=$2 url=$3 f
	f=$ART/$name.png
	rm -f "$f"
	chrome --virtual-time-budget=5000 --window-size="$size" \
		--screenshot="$f" "$url" >/dev/null || true
	[ -s "$f" ] && [ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = '211PNG' ] ||
		fail "no screenshot $f"
	[ "$(stat -c %s "$f")" -gt 10000 ] || fail "screenshot $f is blank"
	echo "screenshot: $f"
}
shot status-page-phone 412,915 "http://$ADMIN/"
shot status-page-phone-full 412,2400 "http://$ADMIN/"
shot status-page-desktop 1280,900 "http://$ADMIN/"

# ---- the API unreachable: the banner ------------------------------------

# The same page from a file: its API calls fail as if the control plane
# had gone.
chrome --virtual-time-budget=5000 --dump-dom "file://$TMP/page.html" \
	>"$TMP/offline.html" || true
grep -q 'id="error-banner" role="alert" class="shown">Control plane unreachable' \
	"$TMP/offline.html" ||
	fail "no error banner without the API: $(grep -o '<div id="error-banner"[^>]*>[^<]*' "$TMP/offline.html")"
cp "$TMP/page.html" "$TMP/offline-page.html"
shot status-page-offline 412,915 "file://$TMP/offline-page.html"

# ---- clean stop -------------------------------------------------------------

tfwd_stop holders
tfwd_stop dp
tfwd_stop cp
assert_eq "${TFWD_STATUS[dp]}" 0 "data plane exit status"
assert_eq "${TFWD_STATUS[cp]}" 0 "control plane exit status"
echo "PASS: status page rendered $gen/$reason with 4 backends; screenshots in $ART"
