#!/usr/bin/env bash
# The window's JSON API (`jpki serve`, /api) with curl: log-in, the register,
# an application with photo ID and one by inquiry letter, the letter's PDF,
# a loss report, the audit verdict, and the refusals with their status
# codes: not logged in, a wrong password, a clerk of another municipality, a
# rule (under 15), malformed bodies. Reads bound to the clerk's municipality
# and role and on the audit chain; no letter code from any API; the API
# takes no cookie and a cookie POST needs this server's Origin and the
# session's token.
#
# usage: test_window_api.sh PATH/TO/jpki
set -euo pipefail

. "$(dirname "$(realpath "$0")")/lib.sh"
lib_init api "$1"

# a working Tuesday, 10:00 in Japan
export JPKI_NOW=2026-11-17T01:00:00Z
export JPKI_ARGON2_TEST=1
port=$(free_port)
url="http://127.0.0.1:$port"

ca_and_admin "$url"
add_operator reg1 registry-clerk 131016
add_operator win1 window-clerk 131016
add_operator win2 window-clerk 271004
add_operator win3 window-clerk 011002
add_operator aud1 auditor
serve_bg "$url" --listen "127.0.0.1:$port"

# call METHOD PATH [BODY]: prints the HTTP status, the body goes to out.json
call() {
	local args=(-s -o out.json -w '%{http_code}' -X "$1" "$url$2")
	[ -n "${token:-}" ] && args+=(-H "Authorization: Bearer $token")
	[ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' --data "$3")
	curl "${args[@]}"
}
field() { python3 -c "import json; print(json.load(open('out.json'))$1)"; }
expect() { # STATUS METHOD PATH [BODY]
	local want=$1 got
	shift
	got=$(call "$@")
	[ "$got" = "$want" ] || fail "$1 $2: HTTP $got, not $want: $(cat out.json)"
}
login() { # OPERATOR PASSWORD
	token=""
	expect 200 POST /api/login "{\"operator\":\"$1\",\"password\":\"$2\"}"
	token=$(field '["token"]')
}

token=""
expect 401 GET /api/window/applications
expect 401 POST /api/login '{"operator":"reg1","password":"not it"}'
[ "$(field '["error"]')" = "wrong operator or password" ] || fail "wrong password: $(cat out.json)"
pass "not logged in: 401; a wrong password: 401, said plainly"

login reg1 pw-reg1-012345
expect 200 POST /api/registry/register '{"municipality_code":"131016","prefecture":"東京都","municipality":"千代田区","name":"田中 一","sex":"male","birth":"1990-01-15","address":"千代田５番５号"}'
adult=$(field '["person"]')
expect 200 POST /api/registry/register '{"municipality_code":"131016","prefecture":"東京都","municipality":"千代田区","name":"田中 二郎","sex":"male","birth":"2016-05-05","address":"千代田５番５号"}'
child=$(field '["person"]')
expect 200 GET "/api/residents/$adult"
[ "$(field '["name"]')" = "田中　一" ] || fail "resident: $(cat out.json)"
expect 200 POST /api/registry/guardianship "{\"person\":\"$child\",\"on\":true}"
expect 400 POST /api/registry/register '{"municipality_code":"131016","name":"x"'
expect 400 POST /api/registry/register '[1,2,3]'
pass "registry over JSON: register, read back; malformed bodies 400"

login win1 pw-win1-012345
expect 200 POST /api/window/apply "{\"person\":\"$adult\",\"sign\":true,\"auth\":true,\"path\":\"photo\",\"photo_id\":\"driving-licence\",\"photo_id_address\":\"千代田５番５号\"}"
[ "$(field '["state"]')" = ready ] || fail "apply: not ready: $(cat out.json)"
expect 403 POST /api/window/apply "{\"person\":\"$child\",\"sign\":true,\"auth\":false,\"path\":\"photo\",\"photo_id\":\"passport\",\"photo_id_address\":\"千代田５番５号\"}"
grep -q "15" out.json || fail "under 15: $(cat out.json)"
expect 200 POST /api/window/apply "{\"person\":\"$child\",\"sign\":false,\"auth\":true,\"path\":\"letter\"}"
[ "$(field '["state"]')" = waiting-letter ] || fail "no photo ID: $(cat out.json)"
letter_app=$(field '["id"]')
expect 200 GET /api/window/applications
[ "$(python3 -c 'import json; print(len(json.load(open("out.json"))))')" = 2 ] ||
	fail "applications: $(cat out.json)"
pass "window over JSON: photo ID ready at once, under 15 refused (403), no photo ID waits for the letter"

grep -q letter_code out.json && fail "the API lists letter codes: $(cat out.json)"
pass "no letter code in the window clerk's list"

# the letter as the clerk's page prints it: a POST from the application's
# page, with the session's token and this server's Origin
curl -s -o app.html -b "jpki_session=$token" "$url/window/application?id=$letter_app"
csrf=$(sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' app.html | head -1)
[ ${#csrf} = 64 ] || fail "the application page has no CSRF token"
post_form() { # PATH BODY [ORIGIN]: prints the status, body to form.out
	local args=(-s -o form.out -w '%{http_code}' -b "jpki_session=$token"
		--data "$2" "$url$1")
	[ $# -ge 3 ] && args+=(-H "Origin: $3")
	curl "${args[@]}"
}
[ "$(post_form /window/letter "id=$letter_app&csrf=$csrf" "$url")" = 200 ] ||
	fail "the letter: $(cat form.out)"
cp form.out letter.pdf
[ "$(head -c 5 letter.pdf)" = "%PDF-" ] || fail "the inquiry letter is not a PDF"
pdftotext letter.pdf - | grep -q "照会書" || fail "the letter does not say 照会書"
code1=$(pdftotext letter.pdf - | grep -oE '^[A-Z2-9]{4} [A-Z2-9]{4} [A-Z2-9]{4} [A-Z2-9]{4}$' | tr -d ' ')
[ ${#code1} = 16 ] || fail "no code on the letter"
pass "the inquiry letter PDF, with its code"
[ "$(post_form /window/letter "id=$letter_app&csrf=$csrf")" = 403 ] ||
	fail "a cookie POST without Origin: $(cat form.out)"
[ "$(post_form /window/letter "id=$letter_app&csrf=$csrf" "http://127.0.0.1:1")" = 403 ] ||
	fail "a cookie POST from another origin: $(cat form.out)"
[ "$(post_form /window/letter "id=$letter_app" "$url")" = 403 ] ||
	fail "a cookie POST without the token: $(cat form.out)"
# another token: the last character changed (to 0, or to 1 where it was 0)
wrong=${csrf%?}0
[ "$wrong" != "$csrf" ] || wrong=${csrf%?}1
[ "$(post_form /window/letter "id=$letter_app&csrf=$wrong" "$url")" = 403 ] ||
	fail "a cookie POST with a wrong token: $(cat form.out)"
[ "$(curl -s -o /dev/null -w '%{http_code}' -b "jpki_session=$token" "$url/window/letter?id=$letter_app")" != 200 ] ||
	fail "the letter by GET"
saved=$token
token=""
code=$(curl -s -o out.json -w '%{http_code}' -b "jpki_session=$saved" \
	-H 'Content-Type: text/plain' --data "{\"person\":\"$adult\",\"kind\":\"lost\"}" \
	"$url/api/window/report")
[ "$code" = 401 ] || fail "the API took the cookie: $code $(cat out.json)"
token=$saved
pass "a cookie POST needs this server's Origin and the session's token; the API takes no cookie"

# the application form carries the notices the letter and the copy carry
curl -s -b "jpki_session=$token" -o page.html "$url/window/resident?person=$adult"
grep -q "虚偽の申請は処罰されます" page.html &&
	grep -q "暗証番号を他人に教えたりしないでください" page.html ||
	fail "the application form lacks the notices: $(head -c 300 page.html)"
pdftotext letter.pdf - | grep -q "虚偽の申請は処罰されます" ||
	fail "the inquiry letter lacks the false-application warning"
pass "the application form and the inquiry letter carry the notices"

# a second print makes a new code; the first stops working (the day after)
[ "$(post_form /window/letter "id=$letter_app&csrf=$csrf" "$url")" = 200 ] || fail "reprint"
code2=$(pdftotext form.out - | grep -oE '^[A-Z2-9]{4} [A-Z2-9]{4} [A-Z2-9]{4} [A-Z2-9]{4}$' | tr -d ' ')
[ ${#code2} = 16 ] && [ "$code1" != "$code2" ] || fail "the reprint has no new code"
pass "a reprint makes a new code"

# reads: the clerks of 131016 only, each on the audit chain
login win3 pw-win3-012345
expect 403 GET "/api/residents/$adult"
grep -q "011002" out.json || fail "refusal: $(cat out.json)"
expect 200 GET /api/window/applications
[ "$(cat out.json)" = "[]" ] || fail "011002 sees applications: $(cat out.json)"
curl -s -o page.html -w '%{http_code}' -b "jpki_session=$token" "$url/window/resident?person=$adult" | grep -q 403 ||
	fail "/window/resident for another municipality"
curl -s -o page.html -w '%{http_code}' -b "jpki_session=$token" "$url/window/application?id=$letter_app" | grep -q 403 ||
	fail "/window/application for another municipality"
login aud1 pw-aud1-012345
expect 403 GET /api/window/applications
expect 403 GET "/api/residents/$adult"
login reg1 pw-reg1-012345
expect 403 GET /api/window/applications
grep -q letter_code out.json && fail "a letter code for the registry clerk"
pass "a clerk of 011002: 403 for a 131016 resident (page and API); auditor and registry clerk get no applications"

login win2 pw-win2-012345
expect 403 POST /api/window/apply "{\"person\":\"$adult\",\"sign\":true,\"path\":\"photo\",\"photo_id\":\"passport\",\"photo_id_address\":\"千代田５番５号\"}"
expect 403 POST /api/window/report "{\"person\":\"$adult\",\"kind\":\"lost\"}"
pass "a clerk of another municipality: 403"

login win1 pw-win1-012345
expect 200 POST /api/window/report "{\"person\":\"$adult\",\"kind\":\"lost\"}"
[ "$(field '["revoked"]')" = 0 ] || fail "report: $(cat out.json)"
expect 200 POST /api/window/capacity '{"municipality_code":"131016","per_day":40}'
expect 200 POST /api/window/hours '{"municipality_code":"131016","open_minute":510,"close_minute":1035}'
expect 200 GET /api/window/fees
# offices: a branch added, set up and listed; another municipality's
# branch refused
expect 200 POST /api/window/office '{"code":"131016-kanda","name":"神田出張所"}'
expect 409 POST /api/window/office '{"code":"131016-kanda","name":"神田出張所"}'
expect 400 POST /api/window/office '{"code":"271004-kita","name":"北"}'
expect 200 POST /api/window/hours '{"municipality_code":"131016","office":"131016-kanda","open_minute":600,"close_minute":960}'
expect 200 POST /api/window/capacity '{"municipality_code":"131016","office":"131016-kanda","per_day":7}'
expect 400 POST /api/window/capacity '{"municipality_code":"131016","office":"271004-kita","per_day":7}'
expect 200 POST /api/window/counters '{"office":"131016-kanda","counters":3}'
expect 404 POST /api/window/counters '{"office":"131016-none","counters":3}'
expect 200 GET /api/window/offices
[ "$(field '[1]["code"]')" = 131016-kanda ] || fail "offices: $(cat out.json)"
[ "$(field '[0]["open_minute"]')" = 510 ] || fail "the main office's hours: $(cat out.json)"
[ "$(field '[1]["open_minute"]'),$(field '[1]["per_day"]'),$(field '[1]["counters"]'),$(field '[1]["may_issue"]')" = "600,7,3,False" ] ||
	fail "the branch's settings: $(cat out.json)"
pass "offices over the API: added (a taken code 409, another municipality's 400), hours, capacity and counters per office, listed main first"
expect 200 GET /api/audit/verify
[ "$(field '["ok"]')" = True ] || fail "audit: $(cat out.json)"
db=$(ls var/*.db 2>/dev/null | head -1)
if [ -n "$db" ] && command -v sqlite3 >/dev/null; then
	for a in registry.read registry.read.refused window.application.list \
		window.application.read.refused window.letter.print; do
		[ "$(sqlite3 "$db" "SELECT COUNT(*) FROM audit_log WHERE action = '$a'")" -gt 0 ] ||
			fail "no $a on the audit chain"
	done
	[ "$(sqlite3 "$db" "SELECT COUNT(*) FROM audit_log WHERE action = 'window.letter.print'")" = 2 ] ||
		fail "two prints, not two entries"
	pass "reads, refusals and prints are on the audit chain"
fi
expect 200 POST /api/logout '{}'
expect 401 GET /api/window/applications
pass "loss report, capacity, hours, fee ledger, offices, the audit chain holds, and a session ends at log-out"
echo "all window API checks passed"
