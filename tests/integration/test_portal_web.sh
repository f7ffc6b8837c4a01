#!/usr/bin/env bash
# The agency portal (SPEC section 4, seed 004) and the convenience-store
# kiosk (コンビニ交付) in headless Chromium (Debian's chromium, driven by
# puppeteer-core), with a card issued at the window behind pcscd's vpcd
# reader:
#   in the page (tests/browser/portal_sign.mjs, the bridge loaded): choose,
#   fill in, 電子署名 (the card signs the hash), 送信 (the bridge's host
#   encrypts the signed application for the agency: the agency keeps a CMS
#   EnvelopedData, whose SignedData is attached as `jpki sign --to` makes
#   it) -> accepted; the host refuses to seal changed bytes; the same form
#   posted from another origin refused, and the application and its
#   signature posted in the clear refused (400); the CLI path:
#   choose, fill in, take the application text -> `jpki sign --to
#   agency.crt` with the card -> upload -> receipt; the same file under
#   another name -> refused with its reason; the inbox shows both; garbage
#   uploads are refused cleanly. Kiosk, a terminal page with the browser
#   bridge loaded (tests/browser/kiosk.mjs): a wrong PIN is refused; the
#   right one gives a 住民票の写し PDF with the resident's name; the same
#   page on another origin gets an answer the kiosk refuses.
# Screenshots go to ${JPKI_SCREENSHOTS:-$PWD/screenshots}/{portal,kiosk}.
#
# usage: test_portal_web.sh PATH/TO/jpki   (jpki-native-host beside it)
set -euo pipefail

here=$(dirname "$(realpath "$0")")
. "$here/lib.sh"
browser_dir=$(realpath "$here/../browser")
shots=${JPKI_SCREENSHOTS:-$PWD/screenshots}
lib_init portal "$1"

fail_more() { serve_log_tail 8; }

# shellcheck source=pcsc_lib.sh
. "$here/pcsc_lib.sh"
cleanup_more() { pcsc_cleanup; }

[ -d "$browser_dir/node_modules/puppeteer-core" ] ||
	fail "puppeteer-core is not installed (scripts/setup.sh installs it)"
command -v chromium >/dev/null || fail "chromium is not installed"
command -v pdftotext >/dev/null || fail "pdftotext (poppler-utils) is not installed"

# a working day at the window, 10:00 in Japan
export JPKI_NOW=2026-11-17T01:00:00Z
export JPKI_ARGON2_TEST=1
port=$(free_port)
url="http://127.0.0.1:$port"

# --- the installation, a resident, a card issued at the window ---------------
issued_card "$url"
pass "a resident with both certificates on a card issued at the window"
# Each process starts its clock at JPKI_NOW: the rest happens ten minutes
# after the issue, so no certificate is "not valid yet" to the signer.
export JPKI_NOW=2026-11-17T01:10:00Z

pcsc_start
card_serve card.bin
"$JPKI" --data "$work/var" --log info serve --listen "127.0.0.1:$port" \
	--kiosk-burst 4 >serve.log 2>&1 &
server_pid=$!
wait_healthz "$url" 200 || true
curl -sf "$url/healthz" >/dev/null || fail "the server did not start"
[ -s var/keys/agency.key ] && [ -s var/keys/agency.crt ] ||
	fail "serve made no agency key"

# the bridge as `make install` puts it, its host manifest in a private profile
JPKI_CHROMIUM_HOSTS_DIR="$work/profile/NativeMessagingHosts" \
	JPKI_FIREFOX_HOSTS_DIR="$work/firefox-hosts" \
	cmake --install "$(dirname "$JPKI")" --prefix "$work/prefix" >install.log 2>&1 ||
	fail "cmake --install: $(tail -5 install.log)"
export JPKI_PINENTRY="$here/bridge_pinentry.sh"
export JPKI_TEST_PINENTRY_DIR="$work/pins"
mkdir -p pins
echo ABC123 >pins/sign

# --- the portal: seed 004's seven steps ---------------------------------------
node "$browser_dir/portal.mjs" make "$url" "$shots/portal" "鈴木 一郎" \
	"千代田４番４号" "$work/application.txt" >/dev/null || fail "the browser could not make the application"
grep -q "氏名 (name): 鈴木 一郎" application.txt || fail "application text: $(cat application.txt)"
curl -sf "$url/portal/agency.crt" -o agency.crt || fail "no agency certificate"
JPKI_PIN=ABC123 "$JPKI" --log warn sign application.txt --to agency.crt >sign.txt ||
	fail "jpki sign: $(cat sign.txt)"
[ -s application.txt.p7m ] || fail "no application.txt.p7m"
pass "application made in the browser and signed with the card for the agency"

got=$(node "$browser_dir/portal.mjs" submit "$url" "$shots/portal" "鈴木 一郎" \
	"千代田４番４号" "$work/application.txt.p7m" accepted) || fail "the upload was not accepted"
receipt1=$(echo "$got" | cut -f1)
pass "accepted with receipt number $receipt1"

got=$(node "$browser_dir/portal.mjs" submit "$url" "$shots/portal" "佐藤 花子" \
	"千代田４番４号" "$work/application.txt.p7m" refused) || fail "the other name was not refused"
receipt2=$(echo "$got" | cut -f1)
reasons=$(echo "$got" | cut -f2)
grep -qi <<<"$reasons" "name" || fail "refusal without the name reason: $reasons"
pass "another name in the form is refused ($receipt2): $reasons"

# --- the seven steps signed in the page, through the bridge ----------------------
node "$browser_dir/portal_sign.mjs" "$work/prefix/share/openjpki/extension" "$work/profile" \
	"$url" "http://localhost:$port" "鈴木 一郎" "千代田４番４号" "$shots/portal" \
	"$work/signed-form.json" >sign.txt 2>&1 || fail "signing in the page: $(cat sign.txt)"
cat sign.txt | grep '^ok'
receipt3=$(grep '^receipt' sign.txt | cut -f2)
grep -q "$url asks you to sign" pins/log || fail "the signing prompt did not name the portal: $(cat pins/log)"
pass "the seven steps signed in the page: accepted ($receipt3); the same form from another origin refused"
# what the agency received from the page: an EnvelopedData for its key,
# holding the attached SignedData of the application, like the CLI's .p7m
sqlite3 var/jpki.db "SELECT hex(data) FROM agency_submission WHERE receipt = '$receipt3'" |
	xxd -r -p >page.p7m
[ -s page.p7m ] || fail "no stored submission $receipt3"
openssl cms -cmsout -print -inform DER -in page.p7m >page.print 2>&1 ||
	fail "the stored submission is no CMS: $(head -3 page.print)"
grep -q "contentType: pkcs7-envelopedData" page.print ||
	fail "the page's submission is not an EnvelopedData: $(grep contentType page.print | head -2)"
grep -q "aes-256-cbc" page.print || fail "not AES-256: $(grep -i algorithm page.print | head -3)"
for f in page.p7m application.txt.p7m; do
	openssl cms -decrypt -binary -inform DER -in "$f" -recip var/keys/agency.crt \
		-inkey var/keys/agency.key -out "$f.signed" 2>decrypt.err ||
		fail "the agency's key does not open $f: $(cat decrypt.err)"
	openssl cms -verify -noverify -binary -inform DER -in "$f.signed" -out "$f.content" 2>verify.err ||
		fail "$f: the signed data inside does not verify: $(cat verify.err)"
	openssl cms -cmsout -print -inform DER -in "$f.signed" | grep -c "eContent:" >"$f.attached"
done
grep -q "千代田５番５号" page.p7m.content ||
	fail "the page's signed application lacks the new address: $(cat page.p7m.content)"
cmp -s page.p7m.attached application.txt.p7m.attached ||
	fail "the page's SignedData is not attached like the CLI's"
pass "the agency received from the page an EnvelopedData (AES-256) its key opens, an attached SignedData inside, as from jpki sign --to"
# the page's application and signature by hand, in the clear: refused
python3 - signed-form.json <<'PY'
import base64, json, sys
f = json.load(open(sys.argv[1]))
text = base64.b64decode(f["content"]).decode()
assert "鈴木 一郎" in text, text
for k in ("content", "signature", "proc", "name", "address"):
    open("form." + k, "w").write(f[k])
PY
code=$(curl -s -o out.html -w '%{http_code}' -H "Origin: $url" -F proc=moving \
	-F "name=<form.name" -F "address=<form.address" -F "content=<form.content" \
	-F "signature=<form.signature" "$url/portal/submit")
[ "$code" = 400 ] && grep -q "in the clear" out.html ||
	fail "the page's signature in the clear: HTTP $code $(grep -o 'class=\"refusal[^<]*<[^<]*' out.html | head -2)"
pass "the application and its signature posted in the clear: 400, they must come encrypted for the agency"
code=$(curl -s -o out.html -w '%{http_code}' -H "Origin: http://127.0.0.1:1" -F proc=moving \
	-F "name=鈴木 一郎" -F "address=千代田４番４号" -F file=@application.txt.p7m "$url/portal/submit")
[ "$code" = 403 ] || fail "an upload from a foreign Origin: HTTP $code"
pass "an upload naming a foreign Origin: 403"

inbox=$(node "$browser_dir/portal.mjs" inbox "$url" "$shots/portal" admin pw-admin-0123) ||
	fail "the inbox cannot be read"
grep -q <<<"$inbox" "^$receipt1	鈴木 一郎	受付" || fail "inbox lacks the accepted one: $inbox"
grep -q <<<"$inbox" "^$receipt2	佐藤 花子	不受理" || fail "inbox lacks the refused one: $inbox"
grep -q <<<"$inbox" "^$receipt3	鈴木 一郎	受付" || fail "inbox lacks the one signed in the page: $inbox"
pass "the inbox lists all three, the one signed in the page accepted"
code=$(curl -s -o /dev/null -w '%{http_code}' "$url/portal/inbox")
[ "$code" = 200 ] && curl -s "$url/portal/inbox" | grep -q 'id="inbox"' &&
	fail "the inbox opens without a log-in"
# the officer's log-in: only from this server's own page (Origin), and
# under the log-in limits of every password check (the hashing pool)
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Origin: http://127.0.0.1:1" \
	--data 'operator=admin&password=pw-admin-0123' "$url/portal/login")
[ "$code" = 403 ] || fail "a foreign page's log-in to the inbox: $code, not 403"
# past the address's free failures a guess must wait (1 s, then 2, 4 ...):
# one sent at once gets 429 (a slow machine may let the first wait pass)
for i in $(seq 1 40); do
	code=$(curl -s -o /dev/null -w '%{http_code}' -H "Origin: $url" \
		--data "operator=nobody$i&password=wrong-guess" "$url/portal/login")
	[ "$code" = 401 ] || break
done
[ "$code" = 429 ] || fail "guessing at the inbox's log-in: $code after $i guesses, not 429"
pass "the inbox's log-in refuses a foreign Origin and a guesser (429)"

# --- garbage uploads ------------------------------------------------------------
head -c 5000 /dev/urandom >garbage.p7m
code=$(curl -s -o out.html -w '%{http_code}' -F proc=moving -F "name=鈴木 一郎" \
	-F "address=千代田４番４号" -F file=@garbage.p7m "$url/portal/submit")
[ "$code" = 403 ] && grep -q 'id="refused"' out.html || fail "garbage file: $code $(head -c 300 out.html)"
code=$(curl -s -o out.html -w '%{http_code}' -H 'Content-Type: multipart/form-data; boundary=xyz' \
	--data-binary @garbage.p7m "$url/portal/submit")
[ "$code" = 400 ] || fail "garbage multipart: $code $(head -c 300 out.html)"
code=$(curl -s -o out.html -w '%{http_code}' -H 'Content-Type: application/octet-stream' \
	--data-binary @garbage.p7m "$url/portal/submit")
[ "$code" = 400 ] || fail "garbage body: $code"
code=$(curl -s -o out.html -w '%{http_code}' -F proc=moving -F name=x -F address=y \
	-F file=@/dev/null "$url/portal/submit")
[ "$code" = 400 ] || fail "empty file: $code"
head -c $((5 * 1024 * 1024)) /dev/zero >big.p7m
code=$(curl -s -o out.html -w '%{http_code}' -F proc=moving -F name=x -F address=y \
	-F file=@big.p7m "$url/portal/submit")
[ "$code" = 413 ] || fail "oversized upload: $code"
curl -sf "$url/healthz" >/dev/null || fail "the server died on garbage"
pass "garbage, malformed, empty and oversized uploads refused cleanly (403, 400, 400, 400, 413)"

# --- the kiosk: a terminal page, the card through the browser bridge -----------
node "$browser_dir/kiosk.mjs" "$work/prefix/share/openjpki/extension" "$work/profile" \
	"$url/kiosk" "http://localhost:$port/kiosk" "$work/pins" "$shots/kiosk" \
	"$work/juminhyo.pdf" >kiosk.txt 2>&1 || fail "the kiosk run failed: $(cat kiosk.txt)"
cat kiosk.txt
grep -q "$url asks you to log in" pins/log || fail "the PIN prompt did not name the kiosk's origin: $(cat pins/log)"
pdftotext juminhyo.pdf - >juminhyo.txt
grep -q "鈴木" juminhyo.txt && grep -q "住 民 票 の 写 し\|住民票の写し" juminhyo.txt ||
	fail "the PDF lacks the name or title: $(head -20 juminhyo.txt)"
pdftoppm -png -r 60 -singlefile juminhyo.pdf "$shots/kiosk/5-juminhyo" 2>/dev/null || true
for s in portal/e4-signed portal/e5-accepted portal/e6-other-origin-refused kiosk/2-wrong-pin \
	kiosk/3-issued kiosk/4-other-origin-refused; do
	[ -s "$shots/$s.png" ] || fail "no screenshot $s"
done
pass "kiosk page: a wrong PIN refused, the right one gives the 住民票の写し, the seal certificate (no seal) refused, another origin's answer refused"
jpki audit verify >audit.txt || fail "audit: $(cat audit.txt)"
sqlite3 var/jpki.db "SELECT action, operator FROM audit_log WHERE action = 'kiosk.residence_copy'" 2>/dev/null |
	grep -q "kiosk" || fail "no audit entry for the kiosk copy"
[ "$(sqlite3 var/jpki.db "SELECT COUNT(*) FROM audit_log WHERE action = 'kiosk.seal_certificate.refused'")" = 1 ] ||
	fail "no audit entry for the refused seal certificate"
pass "the copy is in the audit chain, which verifies"
echo "all portal and kiosk checks passed; screenshots in $shots/portal and $shots/kiosk"
