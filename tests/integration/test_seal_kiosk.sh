#!/usr/bin/env bash
# Seal registration (印鑑登録) and its certificate at the kiosk (SPEC
# section 6, docs/REGISTRY.md): images that are no PNG, too large or
# damaged are refused by the window, and so is an identity check that
# fails; a seal registered, a second refused while it is active; after the
# card's log-in the kiosk hands out the copy of the residence certificate
# and the seal registration certificate (pdftotext reads both), each under
# a serial the public page /verify-document confirms (masked name, nothing
# more), rate-limited; the seal cancelled, the kiosk refuses its
# certificate with the reason and the page calls the earlier one invalid.
# The kiosk is the terminal page of docs/BROWSER.md (the server reads no
# card): its log-in answer is made here as the page's bridge makes it, by
# the native-messaging host (jpki-native-host beside jpki, the card behind
# pcscd, the PIN from tests' pinentry), and posted as JSON with the
# page's "document" beside it.
#
# usage: test_seal_kiosk.sh PATH/TO/jpki
set -euo pipefail

here=$(dirname "$(realpath "$0")")
. "$here/lib.sh"
lib_init seal_kiosk "$1"

fail_more() { serve_log_tail 5; }

# shellcheck source=pcsc_lib.sh
. "$here/pcsc_lib.sh"
cleanup_more() { pcsc_cleanup; }

export JPKI_NOW=2026-11-17T01:00:00Z
export JPKI_ARGON2_TEST=1
port=$(free_port)
url="http://127.0.0.1:$port"

issued_card "$url"
export JPKI_NOW=2026-11-17T01:10:00Z
clerk() { JPKI_OPERATOR=clerk1 JPKI_OPERATOR_PASSWORD=pw-window-01 jpki "$@"; }

# the images: a seal (96 x 96, a red ring), one 2000 x 40, one cut short,
# and a text file
python3 - <<'PY'
import struct, zlib
def png(w, h, px):
    raw = b"".join(b"\0" + bytes(px(x, y) for x in range(w) for _ in (0,)) for y in range(h))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
ring = lambda x, y: 0 if 30 <= ((x - 48) ** 2 + (y - 48) ** 2) ** 0.5 <= 40 else 255
open("seal.png", "wb").write(png(96, 96, ring))
open("wide.png", "wb").write(png(2000, 40, lambda x, y: 255))
good = png(96, 96, ring)
open("cut.png", "wb").write(good[: len(good) - 40])
open("text.png", "w").write("not an image\n")
PY

for bad in text.png wide.png cut.png; do
	if clerk window seal register "$person" --image "$bad" \
		--photo-id-address "千代田４番４号" >reg.out 2>&1; then
		fail "the image $bad was registered"
	fi
	grep -qE "not a PNG|pixels a side|damaged|readable" reg.out ||
		fail "$bad refused without the reason: $(cat reg.out)"
done
[ "$(sqlite3 var/jpki.db 'SELECT COUNT(*) FROM services_seal')" = 0 ] ||
	fail "a refused image left a seal behind"
pass "a text file, a 2000 x 40 PNG and a PNG cut short: refused with the reason, nothing kept"

if clerk window seal register "$person" --image seal.png \
	--photo-id-address "千代田１番１号" >reg.out 2>&1; then
	fail "a seal was registered on a photo ID with another address"
fi
grep -q "photo ID" reg.out || fail "no reason: $(cat reg.out)"
number=$(clerk window seal register "$person" --image seal.png \
	--photo-id-address "千代田４番４号" --json | json 'd["number"]')
[ "$number" = 131016-000001 ] || fail "registration number $number"
if clerk window seal register "$person" --image seal.png \
	--photo-id-address "千代田４番４号" >reg.out 2>&1; then
	fail "a second seal was registered while one is active"
fi
grep -q "already has a registered seal" reg.out || fail "no reason: $(cat reg.out)"
pass "the photo ID's address checked; seal $number registered; a second refused while it is active"

pcsc_start
card_serve card.bin
wait_card
HOST=$(dirname "$JPKI")/jpki-native-host
[ -x "$HOST" ] || fail "no jpki-native-host beside $JPKI"
export JPKI_PINENTRY="$here/bridge_pinentry.sh"
export JPKI_TEST_PINENTRY_DIR="$work/pins"
mkdir -p pins
echo 1234 >pins/auth
"$JPKI" --data "$work/var" --log info serve --listen "127.0.0.1:$port" \
	--kiosk-burst 6 >serve.log 2>&1 &
server_pid=$!
wait_healthz "$url" 200 || fail "the server did not start"
# the page's request to the bridge for a fresh challenge, bound to the
# origin the server names; the answer with DOCUMENT beside it, in body.json
answer() { # DOCUMENT
	curl -sf "$url/login/challenge" >challenge.json || fail "no challenge"
	python3 -c 'import json; c = json.load(open("challenge.json"))
print(json.dumps({"id": "k1", "op": "login", "origin": c["origin"], "challenge": c["challenge"]}))' |
		python3 "$here/native_msg.py" "$HOST" >reply.json || true
	python3 -c 'import json, sys; d = json.load(open("reply.json")); r = d["result"]
r["document"] = sys.argv[1]; print(json.dumps(r))' "$1" >body.json ||
		fail "the bridge's host did not log in: $(cat reply.json)"
}
kiosk() { # DOCUMENT: prints the status, the body to kiosk.out
	answer "$1"
	curl -s -o kiosk.out -w '%{http_code}' -H 'Content-Type: application/json' \
		--data-binary @body.json "$url/kiosk"
}

# a document that is neither: 400 before the answer is looked at (the
# budget and the challenge untouched: the same answer then serves)
answer passport
code=$(curl -s -o kiosk.out -w '%{http_code}' -H 'Content-Type: application/json' \
	--data-binary @body.json "$url/kiosk")
[ "$code" = 400 ] && grep -q "seal-certificate" kiosk.out ||
	fail "an unknown document: HTTP $code $(cat kiosk.out)"
sed -i 's/"document": "passport"/"document": "residence-copy"/' body.json
code=$(curl -s -o kiosk.out -w '%{http_code}' -H 'Content-Type: application/json' \
	--data-binary @body.json "$url/kiosk")
[ "$code" = 200 ] || fail "the answer after the 400 did not serve: HTTP $code $(head -c 300 kiosk.out)"
pass "an unknown \"document\": 400, the answer not looked at (it logs in afterwards)"
serial_of() { pdftotext kiosk.out - | grep -o 'K[0-9A-F]\{16\}' | head -1; }

code=$(kiosk residence-copy)
[ "$code" = 200 ] && [ "$(head -c 5 kiosk.out)" = "%PDF-" ] ||
	fail "the residence copy: HTTP $code $(head -c 300 kiosk.out)"
pdftotext kiosk.out - | grep -q "住 民 票 の 写 し" || fail "not a residence copy"
copy_serial=$(serial_of)
code=$(kiosk seal-certificate)
[ "$code" = 200 ] && [ "$(head -c 5 kiosk.out)" = "%PDF-" ] ||
	fail "the seal certificate: HTTP $code $(head -c 300 kiosk.out)"
pdftotext kiosk.out seal.txt
grep -q "印 鑑 登 録 証 明 書" seal.txt && grep -q "$number" seal.txt &&
	grep -q "鈴木" seal.txt && grep -q "一郎" seal.txt || fail "the seal certificate reads: $(cat seal.txt)"
pdfimages -list kiosk.out | grep -q ' 96 *96 ' || fail "no 96x96 seal image in the PDF: $(pdfimages -list kiosk.out)"
seal_serial=$(grep -o 'K[0-9A-F]\{16\}' seal.txt | head -1)
[ -n "$copy_serial" ] && [ -n "$seal_serial" ] && [ "$copy_serial" != "$seal_serial" ] ||
	fail "serials: '$copy_serial' '$seal_serial'"
pass "after the card's log-in: the 住民票の写し ($copy_serial) and the 印鑑登録証明書 ($seal_serial, seal $number, its image) as PDFs"

check() { curl -s -o check.out -w '%{http_code}' "$url/verify-document?serial=$1"; }
code=$(check "$seal_serial")
[ "$code" = 200 ] || fail "the seal certificate's check: HTTP $code"
grep -q 'id="valid">有効' check.out && grep -q 'seal-certificate' check.out &&
	grep -q '鈴＊＊＊' check.out && grep -q '2026-11-17' check.out ||
	fail "the check says: $(cat check.out)"
if grep -qE '鈴木|一郎|千代田４|1985|R[0-9a-f]{16}' check.out; then
	fail "the public page tells more than it should: $(cat check.out)"
fi
code=$(check "$copy_serial")
[ "$code" = 200 ] && grep -q 'residence-copy' check.out || fail "the copy's check: HTTP $code"
code=$(check K0000000000000000)
[ "$code" = 404 ] || fail "an unknown serial: HTTP $code"
code=$(check "x'%3B--")
[ "$code" = 400 ] || fail "a malformed serial: HTTP $code"
pass "/verify-document: valid, kind, issued on, 鈴＊＊＊ and nothing more; unknown 404, malformed 400"

clerk window seal cancel "$person" --reason lost >cancel.out || fail "cancel: $(cat cancel.out)"
code=$(kiosk seal-certificate)
[ "$code" = 403 ] && grep -q "廃止" kiosk.out && grep -q "$number" kiosk.out ||
	fail "a cancelled seal at the kiosk: HTTP $code $(head -c 400 kiosk.out)"
code=$(check "$seal_serial")
[ "$code" = 200 ] && grep -q 'id="valid">無効' check.out && grep -q 'cancelled' check.out ||
	fail "the earlier seal certificate after the cancel: $(cat check.out)"
code=$(check "$copy_serial")
grep -q 'id="valid">有効' check.out || fail "the residence copy went invalid with the seal"
pass "the seal cancelled: the kiosk refuses its certificate (403, 廃止, the number); the earlier one checks as not valid, the copy still valid"

codes=""
for _ in $(seq 12); do codes="$codes $(check "$copy_serial")"; done
case "$codes" in *429*) ;; *) fail "twelve more checks from one address: $codes" ;; esac
pass "the public check is rate-limited per address (429 within $(echo "$codes" | wc -w) tries)"

# the JSON API: a new seal after the cancel, a body that is no image, a
# cancel without its reason; then the kiosk gives the new seal's certificate
token=$(curl -s -X POST -H 'Content-Type: application/json' \
	-d '{"operator":"clerk1","password":"pw-window-01"}' "$url/api/login" | json 'd["token"]')
api() { curl -s -o api.out -w '%{http_code}' -X POST -H "Authorization: Bearer $token" \
	-H 'Content-Type: application/json' --data-binary @- "$url/api/window/seal/$1"; }
code=$(printf '{"person":"%s","photo_id_address":"千代田４番４号","image":"%s"}' \
	"$person" "$(base64 -w0 text.png)" | api register)
[ "$code" = 400 ] && grep -q "not a PNG" api.out || fail "API, a text file as the image: HTTP $code $(cat api.out)"
code=$(printf '{"person":"%s","photo_id_address":"千代田４番４号","image":"%%%%%%"}' \
	"$person" | api register)
[ "$code" = 400 ] && grep -q "base64" api.out || fail "API, an image not in base64: HTTP $code $(cat api.out)"
code=$(printf '{"person":"%s"}' "$person" | api cancel)
[ "$code" = 400 ] && grep -q '"reason"' api.out || fail "API, a cancel without reason: HTTP $code $(cat api.out)"
code=$(printf '{"person":"%s","photo_id_address":"千代田４番４号","image":"%s"}' \
	"$person" "$(base64 -w0 seal.png)" | api register)
[ "$code" = 200 ] && [ "$(json 'd["number"]' <api.out)" = 131016-000002 ] ||
	fail "API, the new seal: HTTP $code $(cat api.out)"
code=$(kiosk seal-certificate)
[ "$code" = 200 ] && pdftotext kiosk.out - | grep -q 131016-000002 ||
	fail "the kiosk after the new seal: HTTP $code"
pass "API: /api/window/seal/register refuses a text file and bad base64 (400), cancel needs its reason; the new seal 131016-000002, whose certificate the kiosk gives"

actions=$(sqlite3 var/jpki.db "SELECT action FROM audit_log WHERE action LIKE 'services.seal%' OR action LIKE 'kiosk.%' ORDER BY seq" | sort | uniq -c)
for a in services.seal.register services.seal.register.refused services.seal.cancel \
	kiosk.residence_copy kiosk.seal_certificate kiosk.seal_certificate.refused; do
	echo "$actions" | grep -q " $a\$" || fail "no $a on the chain: $actions"
done
jpki audit verify >verify.out || fail "the chain does not verify: $(cat verify.out)"
stop_server
pass "registration, its refusal, the cancel, both documents and the refusal are on the audit chain"
echo "all seal and kiosk document checks passed"
