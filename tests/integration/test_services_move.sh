#!/usr/bin/env bash
# Two municipalities in one store, the window clerks of each (docs/REGISTRY.md):
#   the simplified move (転入転出の特例): a card holder of 千代田区 (131016)
#   signs the move-out notice through the portal (jpki sign + the upload;
#   another name on the form refused, a second notice refused); the move
#   is pending (no fact changes, the
#   signing certificate still good); 大阪市 (271004) takes the move-in with
#   the card within 14 days -> signing revoked (affiliationChanged) by the
#   registry event, exactly once (a replayed move-in emits nothing more),
#   authentication still good. Refused: the origin's clerk, another
#   person's card, a move-in after 14 days (the move then says expired).
#   The copy at any municipality (広域交付): 大阪市's clerk issues the copy
#   of a 千代田区 resident without 本籍, both audit views show it, and the
#   resident's record itself stays 403 to that clerk (recorded).
#
# usage: test_services_move.sh PATH/TO/jpki
set -euo pipefail

. "$(dirname "$(realpath "$0")")/lib.sh"
lib_init services-move "$1"

fail() {
	echo "FAIL: $*" >&2
	[ -f serve.log ] && tail -8 serve.log >&2
	exit 1
}

export JPKI_NOW=2026-11-17T01:00:00Z
export JPKI_ARGON2_TEST=1
port=$(free_port)
url="http://127.0.0.1:$port"
now="2026-11-17T00:50:00Z" # cards issued before the server starts at 01:00
jpki() { "$JPKI" --data "$work/var" --log warn --now "$now" "$@"; }
as() { # OPERATOR command...
	local who=$1
	shift
	JPKI_OPERATOR=$who JPKI_OPERATOR_PASSWORD="pw-$who-012345" jpki "$@"
}

ca_and_admin "$url"
add_operator reg1 registry-clerk 131016
add_operator winA window-clerk 131016
add_operator winB window-clerk 271004
add_operator aud1 auditor

# register NAME ADDRESS: a resident of 131016, its id on stdout
register() {
	as reg1 registry register --municipality-code 131016 --prefecture 東京都 \
		--municipality 千代田区 --name "$1" --sex male --birth 1985-04-10 \
		--address "$2" --json | json 'd["person"]'
}
# card PERSON ADDRESS FILE: both certificates onto a new card at A's window
card() {
	local app
	jpki card new --kind mynumber "$3" >/dev/null
	app=$(as winA window apply "$1" --id photo --photo-id driving-licence \
		--photo-id-address "$2" --json | json 'd["id"]')
	as winA window issue "$app" --card "$3" --auth-pin 1234 \
		--sign-pin ABC123 >"$3.issue" || fail "issue: $(cat "$3.issue")"
}
serial() { sed -n "s/^$1 certificate \([0-9A-F]*\) .*/\1/p" "$2.issue"; }
status() { jpki ca status "$1" --json | json 'd["status"] + " " + str(d.get("reason") or "")'; }

p1=$(register "鈴木 一郎" "千代田４番４号")
p2=$(register "佐藤 次郎" "千代田５番５号")
card "$p1" "千代田４番４号" card1.bin
card "$p2" "千代田５番５号" card2.bin
sign1=$(serial signing card1.bin)
auth1=$(serial authentication card1.bin)
sign2=$(serial signing card2.bin)
[ -n "$sign1" ] && [ -n "$auth1" ] && [ -n "$sign2" ] || fail "no serials"
serve_bg "$url" --listen "127.0.0.1:$port"

# --- the move-out through the portal: pending ---------------------------------
dest=(--to 271004 --to-prefecture 大阪府 --to-municipality 大阪市北区
	--to-address "大阪府大阪市北区梅田１番")
as winB window move-out "$p1" "${dest[@]}" --arrival 2026-11-20 >out.txt 2>&1 &&
	fail "the destination's clerk took a move-out notice: $(cat out.txt)"
# through the portal: the notice made there, signed with the card's signing
# certificate and sent encrypted to the agency, which hands it on
now="2026-11-17T01:05:00Z"
curl -sf "$url/portal/agency.crt" -o agency.crt || fail "no agency certificate"
curl -sf -o app.html "$url/portal/application" \
	--data-urlencode proc=move-out --data-urlencode "name=鈴木 一郎" \
	--data-urlencode "address=千代田４番４号" \
	--data-urlencode "to=271004 大阪府 大阪市北区" \
	--data-urlencode "to_address=大阪府大阪市北区梅田１番" \
	--data-urlencode "arrival=2026-11-20" || fail "no application page"
python3 -c 'import html,re,sys; t=open("app.html").read(); m=re.search(r"<pre id=\"application\">(.*?)</pre>", t, re.S); sys.stdout.write(html.unescape(m.group(1)))' >application.txt
grep -q "^転出予定日 (day of arrival, YYYY-MM-DD): 2026-11-20$" application.txt ||
	fail "application text: $(cat application.txt)"
JPKI_PIN=ABC123 "$JPKI" --log warn --now "$now" sign application.txt \
	--to agency.crt --card card1.bin >sign.txt 2>&1 || fail "jpki sign: $(cat sign.txt)"
# another name on the form: the agency refuses it, the registry hears nothing
code=$(curl -s -o refused.html -w '%{http_code}' "$url/portal/submit" \
	-F proc=move-out -F "name=佐藤 次郎" -F "address=千代田４番４号" \
	-F "file=@application.txt.p7m")
[ "$code" = 403 ] || fail "another name: HTTP $code"
[ "$(sqlite3 var/jpki.db 'SELECT count(*) FROM services_move')" = 0 ] ||
	fail "a refused notice became a move"
code=$(curl -s -o receipt.html -w '%{http_code}' "$url/portal/submit" \
	-F proc=move-out -F "name=鈴木 一郎" -F "address=千代田４番４号" \
	-F "file=@application.txt.p7m")
[ "$code" = 200 ] || fail "the notice was not accepted: HTTP $code $(cat receipt.html)"
grep -q 'id="handed">.*is pending' receipt.html ||
	fail "not handed to the registry: $(grep -o 'id="handed">[^<]*' receipt.html)"
as winA window move-status "$p1" >out.txt || fail "move-status: $(cat out.txt)"
grep -q "via portal" out.txt || fail "not via the portal: $(cat out.txt)"
grep -q "^pending" out.txt || fail "not pending: $(cat out.txt)"
# the same signed file again: one move is pending already
curl -s -o again.html "$url/portal/submit" -F proc=move-out \
	-F "name=鈴木 一郎" -F "address=千代田４番４号" -F "file=@application.txt.p7m"
grep -q "already pending" again.html || fail "a second notice: $(grep -o 'id="handed">[^<]*' again.html)"
[ "$(sqlite3 var/jpki.db 'SELECT count(*) FROM services_move')" = 1 ] ||
	fail "two moves from one notice"
[ "$(as winB window move-status "$p1" --json | json 'd["state"]')" = pending ] ||
	fail "the destination does not see the pending move"
sleep 1
[ "$(status "$sign1")" = "good " ] || fail "signing not good while pending: $(status "$sign1")"
[ "$(sqlite3 var/jpki.db 'SELECT count(*) FROM registry_event')" = 0 ] ||
	fail "an event while the move is only pending"
pass "move-out signed through the portal: pending, no event, signing certificate still good"

# --- the move-in: refusals, then within 14 days ------------------------------
now="2026-11-25T01:00:00Z"
as winA window move-in "$p1" --card card1.bin >out.txt 2>&1 &&
	fail "the origin's clerk took the move-in"
as winB window move-in "$p1" --card card2.bin >out.txt 2>&1 &&
	fail "a move-in with another person's card"
grep -q "not $p1's card" out.txt || fail "another card: $(cat out.txt)"
as winB window move-in "$p1" --card card1.bin >out.txt || fail "move-in: $(cat out.txt)"
grep -q "^done" out.txt || fail "not done: $(cat out.txt)"
for _ in $(seq 40); do
	[ "$(status "$sign1")" = "revoked affiliationChanged" ] && break
	sleep 0.05
done
[ "$(status "$sign1")" = "revoked affiliationChanged" ] ||
	fail "signing not revoked by the move-in: $(status "$sign1")"
[ "$(status "$auth1")" = "good " ] || fail "authentication not good: $(status "$auth1")"
pass "move-in at 271004 within 14 days: signing revoked (affiliationChanged), authentication good"

as winB window move-in "$p1" --card card1.bin >out.txt 2>&1 &&
	fail "a replayed move-in was taken"
sleep 1
events=$(sqlite3 var/jpki.db "SELECT count(*) FROM registry_event WHERE person = '$p1'")
revokes=$(sqlite3 var/jpki.db "SELECT count(*) FROM audit_log WHERE action = 'ca.revoke' AND subject = '$sign1'")
[ "$events" = 1 ] || fail "$events events for one move"
[ "$revokes" = 1 ] || fail "$revokes revocations for one move"
pass "a replayed move-in: refused, one event, one revocation"

# --- a move-in after 14 days --------------------------------------------------
now="2026-11-17T02:00:00Z" # by post this time, recorded by A's clerk
as winA window move-out "$p2" "${dest[@]}" --arrival 2026-11-18 >out.txt ||
	fail "move-out 2: $(cat out.txt)"
now="2026-12-03T01:00:00Z"
as winB window move-in "$p2" --card card2.bin >out.txt 2>&1 &&
	fail "a move-in 15 days after arrival was taken"
grep -q "regular 転入届" out.txt || fail "late move-in: $(cat out.txt)"
[ "$(as winA window move-status "$p2" --json | json 'd["state"]')" = expired ] ||
	fail "the late move is not expired"
sleep 1
[ "$(status "$sign2")" = "good " ] || fail "signing revoked by a refused move-in"
pass "move-in after 14 days refused; the move says expired; nothing revoked"

# --- the copy at any municipality ---------------------------------------------
as winB window residence-copy "$p2" --photo-id-address "千代田９番" \
	--out bad.pdf >out.txt 2>&1 && fail "a copy on a wrong address"
[ ! -e bad.pdf ] || fail "a refused copy left a file"
as winB window residence-copy "$p2" --photo-id-address "千代田５番５号" \
	--out copy.pdf >out.txt || fail "copy: $(cat out.txt)"
pdftotext copy.pdf copy.txt
grep -q "佐藤" copy.txt || fail "the copy lacks the name: $(cat copy.txt)"
grep -q "広域交付" copy.txt || fail "the copy does not say 広域交付"
grep -q "本籍" copy.txt && fail "本籍 on a copy at another municipality"
for m in 131016 271004; do
	JPKI_OPERATOR_PASSWORD=pw-aud1-012345 jpki audit show --municipality "$m" \
		--action 'services.copy.*' --by aud1 >"audit$m.txt" ||
		fail "audit show $m: $(cat "audit$m.txt")"
	grep -q "$p2" "audit$m.txt" || fail "the copy not in $m's audit view: $(cat "audit$m.txt")"
done
pass "A's clerk issued B's resident's copy without 本籍; both audit views show it"

token=""
curl -s -o login.json -X POST "$url/api/login" -H 'Content-Type: application/json' \
	--data '{"operator":"winB","password":"pw-winB-012345"}'
token=$(json 'd["token"]' <login.json)
code=$(curl -s -o out.json -w '%{http_code}' -H "Authorization: Bearer $token" \
	"$url/api/residents/$p2")
[ "$code" = 403 ] || fail "B's clerk read A's resident: HTTP $code"
refused=$(sqlite3 var/jpki.db "SELECT count(*) FROM audit_log WHERE action = 'registry.read.refused' AND subject = '$p2' AND operator = 'winB'")
[ "$refused" -ge 1 ] || fail "the refused read is not on the chain"
pass "the copy opens no other door: the resident's record is 403 to B's clerk, recorded"

# the API rows: the copy (its PDF in base64), and a move's state
api() { # METHOD PATH [BODY]: the status; the body in out.json
	local args=(-s -o out.json -w '%{http_code}' -X "$1" "$url$2"
		-H "Authorization: Bearer $token")
	[ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' --data "$3")
	curl "${args[@]}"
}
code=$(api POST /api/window/residence-copy "{\"person\":\"$p2\",\"photo_id_address\":\"千代田９番\"}")
[ "$code" = 403 ] || fail "API copy on a wrong address: HTTP $code $(cat out.json)"
code=$(api POST /api/window/residence-copy "{\"person\":\"$p2\",\"photo_id_address\":\"千代田５番５号\"}")
[ "$code" = 200 ] || fail "API copy: HTTP $code $(cat out.json)"
json 'd["pdf"]' <out.json | base64 -d >api-copy.pdf
pdftotext api-copy.pdf - | grep -q "佐藤" || fail "the API's PDF lacks the name"
pdftotext api-copy.pdf - | grep -q "本籍" && fail "本籍 on the API's copy"
code=$(api GET "/api/window/move?person=$p1")
[ "$code" = 200 ] && [ "$(json 'd["state"]' <out.json)" = done ] ||
	fail "API move state: HTTP $code $(cat out.json)"
pass "API: the copy at any municipality (PDF), refused on a wrong address; a move's state"

jpki audit verify >audit.txt || fail "audit verify: $(cat audit.txt)"
echo "all services-move checks passed"
