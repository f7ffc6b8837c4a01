#!/usr/bin/env bash
# Branch offices (本庁, 支所・出張所) from the command line: offices added
# and set up, a clerk added at a branch, certificates refused there by
# name (and recorded), a PIN reset at one branch and a loss report at
# another, each branch's own hours.
#
# usage: test_window_office.sh PATH/TO/jpki
set -euo pipefail

here=$(dirname "$(realpath "$0")")
. "$here/lib.sh"
lib_init office "$1"

# a working day at the window, 10:00 in Japan
export JPKI_NOW=2026-11-17T01:00:00Z
export JPKI_ARGON2_TEST=1
window_staff "http://127.0.0.1:1"
clerk() { JPKI_OPERATOR=clerk1 JPKI_OPERATOR_PASSWORD=pw-window-01 jpki "$@"; }
kanda() { JPKI_OPERATOR=kanda1 JPKI_OPERATOR_PASSWORD=pw-kanda-0123 jpki "$@"; }
fuji() { JPKI_OPERATOR=fuji1 JPKI_OPERATOR_PASSWORD=pw-fuji-01234 jpki "$@"; }
admin() { JPKI_OPERATOR=admin JPKI_OPERATOR_PASSWORD=pw-admin-0123 jpki "$@"; }

clerk window office add 131016-kanda --municipality-code 131016 --name 神田出張所 >/dev/null
clerk window office add 131016-fuji --municipality-code 131016 --name 富士見出張所 >/dev/null
clerk window office hours 131016-fuji 13:00 17:00 >/dev/null
clerk window office capacity 131016 30 >/dev/null
clerk window office counters 131016-kanda 2 >/dev/null
clerk window office list 131016 --json >offices.json
[ "$(json 'len(d)' <offices.json)" = 3 ] || fail "office list: $(cat offices.json)"
[ "$(json '[o["code"] for o in d if o["main"]][0]' <offices.json)" = 131016 ] ||
	fail "the main office is not listed first"
[ "$(json '[o for o in d if o["code"]=="131016-fuji"][0]["open"]' <offices.json)" = 13:00 ] ||
	fail "富士見's hours"
[ "$(json '[o for o in d if o["code"]=="131016"][0]["per_day"]' <offices.json)" = 30 ] ||
	fail "the main office's capacity"
[ "$(json '[o for o in d if o["code"]=="131016-kanda"][0]["may_issue"]' <offices.json)" = False ] ||
	fail "a branch issues without --issue"
pass "offices added, listed (main first), each with its hours, capacity and counters"
if clerk window office add 271004-x --municipality-code 131016 --name x 2>err.txt; then
	fail "a branch code of another municipality was taken"
fi
grep -q "branch" err.txt || fail "the wrong code's refusal: $(cat err.txt)"
if clerk window office add 131016-kanda --municipality-code 131016 --name y 2>err.txt; then
	fail "a taken office code was taken again"
fi
pass "a code of another municipality and a taken code are refused"

JPKI_NEW_OPERATOR_PASSWORD=pw-kanda-0123 admin operator add kanda1 --role window-clerk \
	--municipality-code 131016 --office 131016-kanda >/dev/null
JPKI_NEW_OPERATOR_PASSWORD=pw-fuji-01234 admin operator add fuji1 --role window-clerk \
	--municipality-code 131016 --office 131016-fuji >/dev/null
if JPKI_NEW_OPERATOR_PASSWORD=pw-x-0123456 admin operator add x1 --role window-clerk \
	--municipality-code 271004 --office 131016-kanda 2>err.txt; then
	fail "a clerk of 271004 was put at an office of 131016"
fi
grep -q "not of municipality 271004" err.txt || fail "refusal: $(cat err.txt)"
pass "operators added at a branch; an office of another municipality refused"

person=$(JPKI_OPERATOR=reg1 JPKI_OPERATOR_PASSWORD=pw-reg-01234 jpki registry register \
	--municipality-code 131016 --prefecture 東京都 --municipality 千代田区 \
	--name "鈴木 一郎" --sex male --birth 1985-04-10 \
	--address "千代田４番４号" --json | json 'd["person"]')
jpki card new --kind mynumber card.bin >/dev/null
app=$(kanda window apply "$person" --id photo --photo-id driving-licence \
	--photo-id-address "千代田４番４号" --json | json 'd["id"]')
if kanda window issue "$app" --card card.bin --auth-pin 1234 --sign-pin ABC123 2>err.txt; then
	fail "certificates were issued at a branch"
fi
grep -q "certificates are issued at the main office only" err.txt ||
	fail "the branch's refusal: $(cat err.txt)"
clerk window issue "$app" --card card.bin --auth-pin 1234 --sign-pin ABC123 >/dev/null
pass "the application taken at 神田 is refused issue there by name, issued at the main office"

kanda window pin-reset "$person" --type auth --photo-id-address "千代田４番４号" \
	--new-pin 5678 --card card.bin >/dev/null || fail "PIN reset at 神田"
if fuji window pin-reset "$person" --type auth --photo-id-address "千代田４番４号" \
	--new-pin 2468 --card card.bin 2>err.txt; then
	fail "富士見 took a PIN reset before it opens"
fi
grep -q "富士見出張所 (131016-fuji) is closed at 10:00" err.txt || fail "refusal: $(cat err.txt)"
export JPKI_NOW=2026-11-17T05:00:00Z # 14:00
fuji window pin-reset "$person" --type auth --photo-id-address "千代田４番４号" \
	--new-pin 2468 --card card.bin >/dev/null || fail "PIN reset at 富士見 in its hours"
pass "PIN resets at two branches, each in its own hours"
out=$(fuji window report "$person" --lost)
[ "$out" = "2 certificates revoked" ] || fail "loss report at a branch: $out"
pass "a loss report at a branch revokes at once"

JPKI_NEW_OPERATOR_PASSWORD=pw-aud-012345 admin operator add aud1 --role auditor >/dev/null
JPKI_OPERATOR=aud1 JPKI_OPERATOR_PASSWORD=pw-aud-012345 jpki audit show \
	--action window.issue.refused --json >refusals.json
[ "$(json 'len(d) if isinstance(d, list) else len(d["entries"])' <refusals.json)" = 1 ] ||
	fail "the refusal at the branch is not on the chain: $(cat refusals.json)"
pass "the branch's refusal to issue is on the audit chain"
echo "all office checks passed"
