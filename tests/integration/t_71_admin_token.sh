#!/usr/bin/env bash
#
# Guards the admin API's bearer token (issue 5, SPEC 5): with a token
# configured, every mutating call with a wrong token gets 401 and the
# right one 200; wrong means every proper prefix of the token, every
# single-character change at every position, the token with a character
# more or less at either end, doubled, case-swapped, under another scheme
# or header, in the query string, or missing. GETs need no token.
#
# Constant time is a property of the code, not something a test on a
# busy machine can time. controlplane/admin_routes.c token_ok():
#
#	tl = strlen(token);
#	diff = hl != tl;
#	for (i = 0; i < tl; i++)
#		diff |= (unsigned char)token[i] ^
#		    (unsigned char)(i < hl ? h[i] : 0);
#	return diff == 0;
#
# with `volatile unsigned char diff`: every byte of the configured token is
# compared whatever the request holds (past the end of a shorter header it
# compares against 0), the differences are OR-ed together and the length
# mismatch folded in, and the one decision comes after the loop: no early
# exit, no memcmp/strcmp. The time depends on the configured token's
# length only. The last check below reads token_ok() and fails if a
# comparison function or an early return comes back into it.

set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
tfwd_tmpdir
require_bin tcpfwd-controlplane
require_cmd curl

TOKEN="Zq7-t71_0123456789abcdefABCDEF.x"
printf '%s\n' "$TOKEN" >"$TMP/token"
chmod 600 "$TMP/token"
B=127.0.0.2:$(free_port)
write_iplist "$TMP/ip_list.txt" "$B"
TOKEN_FILE="$TMP/token" write_config "$TMP/config.yaml"
start_controlplane cp "$TMP/config.yaml"
URL=http://$ADMIN/api/v1/reload

# post [CURL ARGS...]: the status of POST $URL.
post() {
	curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST "$@" "$URL"
}
n401=0
# wrong HEADER-VALUE...: each Authorization value must get 401.
wrong() {
	local v got
	for v in "$@"; do
		got=$(post -H "Authorization: $v")
		[ "$got" = 401 ] || fail "Authorization: '$v' got $got, not 401"
		n401=$((n401 + 1))
	done
}

assert_eq "$(post)" 401 "no Authorization header"
n401=$((n401 + 1))
assert_eq "$(post -H "Authorization: Bearer $TOKEN")" 200 "the right token"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://$ADMIN/api/v1/status")" 200 \
	"GET without a token"

len=${#TOKEN}
# every proper prefix, the empty one included
for ((i = 0; i < len; i++)); do
	wrong "Bearer ${TOKEN:0:i}"
done
# every proper suffix, and one character more at either end
for ((i = 1; i < len; i++)); do
	wrong "Bearer ${TOKEN:i}"
done
wrong "Bearer ${TOKEN}x" "Bearer x${TOKEN}" "Bearer ${TOKEN}${TOKEN}" \
	"Bearer ${TOKEN} ${TOKEN}"
# one character changed, at every position (two different replacements)
for ((i = 0; i < len; i++)); do
	c=${TOKEN:i:1}
	for r in A 9; do
		[ "$r" = "$c" ] && r=B
		wrong "Bearer ${TOKEN:0:i}${r}${TOKEN:i+1}"
	done
done
# case, scheme, placement
swapped=$(tr 'a-zA-Z' 'A-Za-z' <<<"$TOKEN")
wrong "Bearer $swapped" "Basic $TOKEN" "Token $TOKEN" "$TOKEN" \
	"Bearer$TOKEN" "Bearer: $TOKEN" "Bearer \"$TOKEN\""
got=$(post -H "X-Auth-Token: $TOKEN")
assert_eq "$got" 401 "the token in another header"
got=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST "$URL?token=$TOKEN")
assert_eq "$got" 401 "the token in the query string"
n401=$((n401 + 2))
log "$n401 wrong or missing tokens: all 401"

# the right token, as RFC 7235 lets a client write it: 200
assert_eq "$(post -H "Authorization: bearer $TOKEN")" 200 "scheme in lower case"
assert_eq "$(post -H "Authorization:   Bearer   $TOKEN  ")" 200 "extra blanks"
assert_eq "$(post -H "Authorization: Bearer $TOKEN")" 200 "the right token, at the end"
assert_contains "$TMP/cp.log" 'reload' "reloads logged"
stop_clean cp

# the code property: token_ok() has no comparison call and no early exit
src=$(dirname "$0")/../../controlplane/admin_routes.c
[ -f "$src" ] || skip "no source tree next to the test"
body=$(awk '/^token_ok\(/ { f = 1 } f { print } f && /^}/ { exit }' "$src")
[ -n "$body" ] || fail "token_ok() not found in $src"
grep -Eq 'volatile' <<<"$body" || fail "token_ok(): no volatile accumulator"
grep -Eq '\^' <<<"$body" || fail "token_ok(): no XOR accumulation"
if grep -Eq '\b(memcmp|bcmp|strcmp|strncmp|timingsafe_bcmp)\s*\(' <<<"$body"; then
	fail "token_ok() calls a comparison function: $(grep -E 'cmp' <<<"$body")"
fi
# one return, after the loop
[ "$(grep -c 'return' <<<"$body")" = 1 ] ||
	fail "token_ok() returns early: $(grep -n 'return' <<<"$body")"
