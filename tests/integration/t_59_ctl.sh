#!/usr/bin/env bash
#
# Guards SPEC 5's tcpfwdctl against a real control plane with a token:
#  - status, backends, active-set print tables naming the backends, exit 0;
#  - --json prints JSON that parses and equals what the API says (active
#    set members and generation, backend count);
#  - -c CONFIG finds admin.listen_addr and admin.token_file by itself;
#  - disable/enable change the backend's state (seen through the API),
#    disable of an unknown backend exits 1, the last serving backend
#    exits 1 (409), a mutation without the token exits 1 (401);
#  - reload exits 0 with a good list and 1 with a broken one;
#  - with the control plane down: exit 3 (unreachable); bad usage: 2.

set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/lib_cp.sh
. "$(dirname "$0")/lib_cp.sh"
tfwd_tmpdir
require_bin tcpfwdctl tcpfwd-controlplane tfwd-backend

P=$(free_port)
A=127.0.59.1:$P B=127.0.59.2:$P C=127.0.59.3:$P
for i in 1 2 3; do start_backend "b$i" echo "127.0.59.$i:$P"; done
TOKEN=t59-$RANDOM$RANDOM
printf '%s\n' "$TOKEN" >"$TMP/token"
write_iplist "$TMP/ip_list.txt" "$A" "$B" "$C"
PROBE_TIMEOUT=300ms ACTIVE_SET_SIZE=2 DEBOUNCE=30s TOKEN_FILE=$TMP/token \
	write_config "$TMP/c.yaml"
start_controlplane cp "$TMP/c.yaml"
wait_api 10 /api/v1/active-set '(.backends | length) == 2' "a set of 2"

ctl() { "$TFWD_BIN/tcpfwdctl" -c "$TMP/c.yaml" "$@"; }
ctlu() { "$TFWD_BIN/tcpfwdctl" -u "http://$ADMIN" "$@"; }

# ---- tables --------------------------------------------------------------------
out=$(assert_ok ctl status)
grep -q "$(jget /api/v1/status .instance)" <<<"$out" || fail "status table: $out"
out=$(assert_ok ctl backends)
for x in "$A" "$B" "$C"; do grep -qF "$x" <<<"$out" || fail "backends table lacks $x: $out"; done
out=$(assert_ok ctl active-set)
for x in $(members | tr ',' ' '); do grep -qF "$x" <<<"$out" || fail "active-set table lacks $x: $out"; done

# ---- --json equals the API ----------------------------------------------------------
for f in --json -j; do
	j=$(assert_ok ctlu "$f" active-set)
	jq -e . >/dev/null <<<"$j" || fail "active-set $f is not JSON: $j"
	assert_eq "$(jq -r '.backends | sort | join(",")' <<<"$j")" "$(members)" "active-set $f members"
	assert_eq "$(jq -r .generation <<<"$j")" "$(generation)" "active-set $f generation"
done
j=$(assert_ok ctl --json backends)
assert_eq "$(jq '.backends | length' <<<"$j")" 3 "backends --json"
j=$(assert_ok ctl --json status)
assert_eq "$(jq -r .instance <<<"$j")" "$(jget /api/v1/status .instance)" "status --json"

# ---- mutations -----------------------------------------------------------------------
set0=$(members)
X=${set0%%,*}
# no token: -u alone does not read the config's token file
assert_status 1 ctlu disable "$X" >/dev/null
assert_eq "$(be .state "$X")" active "state of $X after an unauthorised disable"
gen=$(generation)
assert_ok ctl disable "$X" >/dev/null
assert_eq "$(be .state "$X")" disabled "state of $X after tcpfwdctl disable"
assert_eq "$(generation)" $((gen + 1)) "generation after tcpfwdctl disable"
j=$(assert_ok ctl --json enable "$X")
jq -e . >/dev/null <<<"$j" || fail "enable --json is not JSON: $j"
assert_eq "$(be .state "$X")" candidate "state of $X after tcpfwdctl enable"
assert_ok ctlu -t "$TMP/token" disable "$X" >/dev/null
assert_ok ctlu -t "$TMP/token" enable "$X" >/dev/null
assert_status 1 ctl disable "127.0.59.9:$P" >/dev/null
# the last serving backend: disable the others first
s=$(members)
for x in "$A" "$B" "$C"; do
	case ",$s," in *",$x,"*) ;; *) assert_ok ctl disable "$x" >/dev/null ;; esac
done
last=${s%%,*}
assert_ok ctl disable "${s#*,}" >/dev/null
assert_eq "$(members)" "$last" "one backend left"
out=$(assert_status 1 ctl disable "$last")
log "refused: $out"
for x in "$A" "$B" "$C"; do assert_ok ctl enable "$x" >/dev/null; done

# ---- reload ----------------------------------------------------------------------------
assert_ok ctl reload >/dev/null
printf '%s\n' "$A" "bogus" >"$TMP/ip_list.txt"
assert_status 1 ctl reload >/dev/null
write_iplist "$TMP/ip_list.txt" "$A" "$B" "$C"
check_cp_alive cp

# ---- usage, unreachable -------------------------------------------------------------------
assert_status 2 ctl no-such-command >/dev/null
assert_status 2 ctl disable >/dev/null
assert_ok "$TFWD_BIN/tcpfwdctl" -V >/dev/null
stop_clean cp
for cmd in status backends active-set reload; do
	assert_status 3 ctl "$cmd" >/dev/null
done
assert_status 3 ctl disable "$A" >/dev/null
assert_status 3 "$TFWD_BIN/tcpfwdctl" -u "http://127.0.0.1:1" --json status >/dev/null
