#!/usr/bin/env bash
# Every window procedure in headless Chromium (Debian's chromium, driven by
# puppeteer-core), one browser test per procedure (tests/browser/
# window_<procedure>.mjs) run in one Chromium against one server: taking
# an application, an office's hours, renewal and PIN reset onto the card
# in pcscd's vpcd reader, the day's capacity, the returned inquiry
# letter, loss and card-fault reports, the fee ledger; with the refusals
# (another address on the photo ID, a branch outside its hours, a branch
# that does not issue, capacity reached, a wrong letter code, another
# municipality's resident, a registry clerk at the ledger) and their
# audit entries. Screenshots in $JPKI_SCREENSHOTS (default:
# ./screenshots/window beside the test run).
#
# The fixture is made from the command line on 2026-11-17 (certificates
# issued then); the server runs on 2031-04-01, 10:00 in Japan, when the
# first resident's authentication certificate may be renewed.
#
# usage: test_window_procedures_web.sh PATH/TO/jpki
set -euo pipefail

here=$(dirname "$(realpath "$0")")
. "$here/lib.sh"
browser_dir=$(realpath "$here/../browser")
shots=${JPKI_SCREENSHOTS:-$PWD/screenshots/window}
lib_init procweb "$1"

fail_more() { serve_log_tail 5; }

# shellcheck source=pcsc_lib.sh
. "$here/pcsc_lib.sh"
cleanup_more() { pcsc_cleanup; }

[ -d "$browser_dir/node_modules/puppeteer-core" ] ||
	fail "puppeteer-core is not installed (scripts/setup.sh installs it)"
command -v chromium >/dev/null || fail "chromium is not installed"
command -v pdftotext >/dev/null || fail "pdftotext (poppler-utils) is not installed"

export JPKI_ARGON2_TEST=1
export JPKI_NOW=2026-11-17T01:00:00Z
port=$(free_port)
url="http://127.0.0.1:$port"

window_staff "$url"
add_operator reg2 registry-clerk 271004 pw-reg2-01234
add_operator aud1 auditor - pw-aud1-01234
as() { # OPERATOR PASSWORD command...
	local who=$1 pw=$2
	shift 2
	JPKI_OPERATOR=$who JPKI_OPERATOR_PASSWORD=$pw jpki "$@"
}
clerk() { as clerk1 pw-window-01 "$@"; }
# a photo ID of the municipality's own: the forms' selects list it
clerk window photo-ids 131016 --add disability-card --label 身体障害者手帳 >/dev/null
clerk window office add 131016-kanda --municipality-code 131016 --name 神田出張所 >/dev/null
clerk window office add 131016-fuji --municipality-code 131016 --name 富士見出張所 >/dev/null
clerk window office add 131016-ekimae --municipality-code 131016 --name 駅前支所 >/dev/null
for op in kanda1:kanda fuji1:fuji eki1:ekimae; do
	o=${op#*:}
	JPKI_OPERATOR=admin JPKI_OPERATOR_PASSWORD=pw-admin-0123 \
		JPKI_NEW_OPERATOR_PASSWORD="pw-$o-012345" \
		jpki operator add "${op%%:*}" --role window-clerk \
		--municipality-code 131016 --office "131016-$o" >/dev/null
done

register() { # NAME BIRTH [CODE PREF MUNI]
	as "${6:-reg1}" "${7:-pw-reg-01234}" registry register \
		--municipality-code "${3:-131016}" --prefecture "${4:-東京都}" \
		--municipality "${5:-千代田区}" --name "$1" --sex male --birth "$2" \
		--address "千代田４番４号" --json | json 'd["person"]'
}
issue_onto() { # PERSON CARD
	jpki card new --kind mynumber "$2" >/dev/null
	local app
	app=$(clerk window apply "$1" --id photo --photo-id driving-licence \
		--photo-id-address "千代田４番４号" --json | json 'd["id"]')
	clerk window issue "$app" --card "$2" --auth-pin 1234 --sign-pin ABC123 >"$2.txt" ||
		fail "issue onto $2: $(cat "$2.txt")"
}
a=$(register "鈴木 一郎" 1985-04-10)
b=$(register "佐藤 二郎" 1990-10-10)
c=$(register "高橋 三郎" 1991-10-10)
d=$(register "田中 四郎" 1992-10-10)
e=$(register "伊藤 五郎" 1993-10-10)
f=$(register "渡辺 六郎" 1994-10-10 271004 大阪府 大阪市北区 reg2 pw-reg2-01234)
issue_onto "$a" card.bin
issue_onto "$b" card_b.bin
issue_onto "$c" card_c.bin
auth_a=$(sed -n 's/^authentication certificate \([0-9A-F]*\) .*/\1/p' card.bin.txt)
letter_app=$(clerk window apply "$d" --id letter --json | json 'd["id"]')
clerk window letter "$letter_app" --out letter.pdf >/dev/null
letter_code=$(pdftotext letter.pdf - | grep -oE '^[A-Z2-9]{4} [A-Z2-9]{4} [A-Z2-9]{4} [A-Z2-9]{4}$' | tr -d ' ')
[ -n "$letter_code" ] || fail "no code on the letter"
d2=$(register "山本 七郎" 1995-10-10)
letter_app2=$(clerk window apply "$d2" --id letter --json | json 'd["id"]')
clerk window letter "$letter_app2" --out letter2.pdf >/dev/null
letter_code2=$(pdftotext letter2.pdf - | grep -oE '^[A-Z2-9]{4} [A-Z2-9]{4} [A-Z2-9]{4} [A-Z2-9]{4}$' | tr -d ' ')

pcsc_start
card_serve card.bin
reader="Virtual PCD 00 0$((VPCD_PORT - 35963))"
export JPKI_NOW=2031-04-01T01:00:00Z
serve_log_level=info serve_bg "$url" --listen "127.0.0.1:$port"

python3 - "$reader" "$a" "$b" "$c" "$e" "$f" "$letter_app" "$letter_code" \
	"$letter_app2" "$letter_code2" >cfg.json <<'PY'
import json, sys
reader, a, b, c, e, f, app, code, app2, code2 = sys.argv[1:]
print(json.dumps({
    "reader": reader, "address": "千代田４番４号",
    "a": a, "b": b, "c": c, "e": e, "f": f,
    "letterApp": app, "letterCode": code,
    "letterApp2": app2, "letterCode2": code2,
    "pw": {"clerk1": "pw-window-01", "reg1": "pw-reg-01234",
           "kanda1": "pw-kanda-012345",
           "fuji1": "pw-fuji-012345", "eki1": "pw-ekimae-012345"},
}))
PY
started=$(date +%s)
node "$browser_dir/window_procedures.mjs" "$url" "$shots" cfg.json \
	apply office renew pin_reset capacity returned report fees >browser.out 2>&1 ||
	fail "the browser run failed: $(tail -20 browser.out)"
grep '^ok ' browser.out | sed 's/^/  /'
grep '^time ' browser.out | sed 's/^/  /'
echo "  browser run: $(($(date +%s) - started)) s"
ls "$shots"/renew-done.png "$shots"/report-lost-at-branch.png >/dev/null ||
	fail "screenshots not saved"
pass "every procedure in the browser, with its refusals (screenshots in $shots)"

status() { jpki ca status "$1" --json | json 'd["status"]'; }
renewed=$(sed -n 's/^renewed //p' browser.out)
[ "$(status "$renewed")" = good ] || fail "the renewed certificate is not good"
[ "$(status "$auth_a")" = revoked ] || fail "the renewed-away certificate is still $(status "$auth_a")"
for s in $(sed -n 's/^[a-z]* certificate \([0-9A-F]*\) .*/\1/p' card_b.bin.txt card_c.bin.txt); do
	[ "$(status "$s")" = revoked ] || fail "reported certificate $s is $(status "$s")"
done
[ "$(clerk window list --json | json "[x['state'] for x in d if x['id']==$letter_app][0]")" = ready ] ||
	fail "the returned letter did not make the application ready"
pass "the CA agrees: renewed (old revoked, new good), reported certificates revoked, the letter's application ready"

audit() { # ACTION OPERATOR: how many entries
	as aud1 pw-aud1-01234 audit show --action "$1" --operator "$2" --json |
		json 'len(d if isinstance(d, list) else d["entries"])'
}
[ "$(audit window.issue.refused kanda1)" -ge 1 ] || fail "the branch's refused issue is not on the chain"
[ "$(audit window.renew.refused kanda1)" -ge 1 ] || fail "the branch's refused renewal is not on the chain"
[ "$(audit window.refused clerk1)" -ge 1 ] || fail "the report for 271004 is not on the chain"
[ "$(audit registry.read.refused clerk1)" -ge 1 ] || fail "the read of 271004's resident is not on the chain"
[ "$(audit window.fees.read.refused reg1)" -ge 1 ] || fail "the registry clerk's ledger read is not on the chain"
[ "$(audit window.fees.read clerk1)" -ge 1 ] || fail "the ledger read is not on the chain"
[ "$(audit window.pin_reset fuji1)" -ge 1 ] || fail "the PIN reset at 富士見 is not on the chain"
pass "the refusals (branch issue and renewal, another municipality, the ledger) and the reads are on the audit chain"
echo "all window procedure web checks passed"
