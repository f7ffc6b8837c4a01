#!/usr/bin/env bash
# Operator management and the chain read back, from the command line:
# log-in delays and the lock an officer lifts, disable / enable, a new
# password, sessions listed and ended (a session opened through
# `jpki serve`'s /api/login), `jpki audit show` with filters, text and
# JSON, for an auditor only; each refusal beside its success.
#
# usage: test_operator_cli.sh PATH/TO/jpki
set -euo pipefail

. "$(dirname "$(realpath "$0")")/lib.sh"
lib_init operator "$1"

# A moved clock (each process starts at JPKI_NOW): a log-in delay, once
# due, does not pass between two commands.
export JPKI_NOW=2026-11-17T01:00:00Z
export JPKI_ARGON2_TEST=1
unset JPKI_OPERATOR JPKI_OPERATOR_PASSWORD
jpki_log_level=error
# as WHO PASSWORD ARGS...: one command acting as an operator
as() {
	local who=$1 pw=$2
	shift 2
	JPKI_OPERATOR=$who JPKI_OPERATOR_PASSWORD=$pw jpki "$@"
}
# expect CODE ARGS...: the command exits with CODE (output in last.txt)
expect() {
	local want=$1 got=0
	shift
	"$@" >last.txt 2>&1 || got=$?
	[ "$got" = "$want" ] || {
		cat last.txt >&2
		fail "exit $got, not $want: $*"
	}
}

port=$(free_port)
url="http://127.0.0.1:$port"
ca_and_admin "$url"
add_operator clerk window-clerk 131016
add_operator aud auditor
A=(admin pw-admin-0123)
C=(clerk pw-clerk-012345)
V=(aud pw-aud-012345)

# --- log-in delays and the lock -------------------------------------------
for _ in 1 2 3 4 5; do
	expect 1 as clerk wrong-password audit show
	grep -q "wrong operator or password" last.txt || fail "wrong password"
done
expect 1 as "${C[@]}" operator sessions
grep -Eq "try again in [0-9]+ seconds?" last.txt || fail "no delay after 5 failures"
pass "after 5 failures the right password waits too"
expect 1 as "${C[@]}" operator unlock clerk
expect 1 as "${V[@]}" operator unlock clerk
expect 0 as "${A[@]}" operator unlock clerk
grep -q "clerk unlocked" last.txt || fail "unlock"
expect 1 as "${C[@]}" audit show # logs in; an auditor's verb
grep -q "cannot do the work of an auditor" last.txt ||
	fail "unlocked clerk: $(cat last.txt)"
pass "only a CA officer unlocks; then the clerk logs in"

# --- disable / enable ------------------------------------------------------
expect 1 as "${C[@]}" operator disable aud
expect 1 as "${A[@]}" operator disable admin
expect 1 as "${A[@]}" operator disable nobody
grep -q "no operator 'nobody'" last.txt || fail "unknown operator"
expect 0 as "${A[@]}" operator disable clerk
expect 1 as "${C[@]}" audit show
grep -q "disabled" last.txt || fail "a disabled clerk logged in"
expect 0 as "${A[@]}" operator enable clerk
expect 1 as "${C[@]}" audit show # logs in; an auditor's verb
grep -q "cannot do the work of an auditor" last.txt ||
	fail "enabled clerk: $(cat last.txt)"
pass "disable refuses log-ins, enable allows them; only a CA officer"

# --- a new password --------------------------------------------------------
printf 'short\n' >short.txt
printf 'pw-clerk-new-0123\n' >new.txt
expect 1 as "${C[@]}" operator password clerk --new-password-file short.txt
expect 1 as "${C[@]}" operator password admin --new-password-file new.txt
expect 0 as "${C[@]}" operator password clerk --new-password-file new.txt
expect 1 as "${C[@]}" operator sessions
grep -q "wrong operator or password" last.txt || fail "old password works"
C=(clerk pw-clerk-new-0123)
expect 1 as "${C[@]}" operator sessions # its own: not a reader of sessions
grep -q "cannot do the work" last.txt || fail "new password: $(cat last.txt)"
JPKI_NEW_OPERATOR_PASSWORD=pw-clerk-012345 expect 0 as "${A[@]}" \
	operator password clerk
C=(clerk pw-clerk-012345)
pass "a new password from a file or the environment; the old one fails"

# --- sessions, one opened through the server -------------------------------
serve_bg "$url" --listen "127.0.0.1:$port" --roles window,ocsp
token=$(curl -sf -H 'Content-Type: application/json' \
	--data '{"operator":"clerk","password":"pw-clerk-012345"}' \
	"$url/api/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
st=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" \
	"$url/api/window/fees")
[ "$st" != 401 ] || fail "the clerk's session does not work ($st)"
expect 0 as "${A[@]}" operator sessions clerk
grep -q "^1 session$" last.txt || fail "sessions: $(cat last.txt)"
grep -q " clerk " last.txt || fail "sessions list"
expect 0 as "${V[@]}" operator sessions
expect 1 as "${C[@]}" operator sessions
expect 1 as "${V[@]}" operator sessions --end clerk
expect 2 as "${A[@]}" operator sessions --end
expect 0 as "${A[@]}" operator sessions --end clerk
grep -q "1 session of clerk ended" last.txt || fail "end: $(cat last.txt)"
st=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" \
	"$url/api/window/fees")
[ "$st" = 401 ] || fail "an ended session still works ($st)"
pass "sessions listed (officer, auditor) and ended (officer only)"

# --- the chain, to an auditor ----------------------------------------------
expect 0 as "${V[@]}" audit show --operator clerk --action 'audit.login*'
grep -q "audit.login-failed" last.txt || fail "show: failures"
grep -q "audit.login " last.txt || fail "show: log-ins"
if grep -q "audit.operator-" last.txt; then fail "show: filter"; fi
expect 0 as "${V[@]}" audit show --action audit.operator-disable --json
python3 - last.txt <<'PY' || fail "show --json"
import json, sys
e = json.load(open(sys.argv[1]))
assert len(e) == 1, e
assert e[0]["subject"] == "clerk" and e[0]["operator"] == "admin", e
assert e[0]["detail"] == {"sessions_ended": 0}, e
PY
expect 0 as "${V[@]}" audit show --since 2026-11-17T01:00:00Z \
	--until 2026-11-17T01:00:00Z --municipality 131016 --limit 3
[ "$(wc -l <last.txt)" = 3 ] || fail "show --limit: $(cat last.txt)"
expect 0 as "${V[@]}" audit show --until 2026-11-16
[ ! -s last.txt ] || fail "show --until before everything: $(cat last.txt)"
expect 1 as "${A[@]}" audit show
expect 1 as "${V[@]}" audit show --municipality 13
expect 2 as "${V[@]}" audit show --since yesterday
expect 0 as "${V[@]}" audit show --action audit.show
[ "$(grep -c audit.show last.txt)" -ge 4 ] || fail "reads not recorded"
pass "audit show: filters, text and JSON, auditor only, reads recorded"

expect 0 jpki audit verify
pass "the chain holds"
