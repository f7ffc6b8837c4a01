#!/usr/bin/env bash
# The browser bridge's native-messaging host (jpki-native-host,
# docs/BROWSER.md) driven over its stdin/stdout as the browser drives it,
# with a virtual My Number card behind pcscd: "certificates"; "sign" gives a
# detached CMS that openssl cms -verify accepts against the CA, whose
# messageDigest is the page's hash; "login" gives an answer the login role
# (docs/LOGIN.md) accepts for the origin it was bound to and refuses for
# another; "seal" puts the card's signature and the document in an
# EnvelopedData the agency's key opens (and refuses changed bytes, a
# recipient that is no encryption certificate, a document over 32 KiB); a
# wrong, cancelled or locked PIN; and the protocol's refusals.
#
# usage: test_bridge_host.sh PATH/TO/jpki   (jpki-native-host beside it)
set -euo pipefail

JPKI=$(realpath "$1")
HOST=$(dirname "$JPKI")/jpki-native-host
work=$(mktemp -d /tmp/jpki-bridge-XXXXXX)
here=$(dirname "$(realpath "$0")")
server_pid=""

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
pass() { echo "ok - $*"; }

# shellcheck source=pcsc_lib.sh
. "$here/pcsc_lib.sh"
cleanup() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	pcsc_cleanup
	rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
[ -x "$HOST" ] || fail "no jpki-native-host beside $JPKI"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
jpki() { "$JPKI" --data "$work/var" --log warn "$@"; }

jpki ca init --public-url "$url" >/dev/null
jpki card new --kind mynumber card.bin >/dev/null
jpki card issue card.bin --auth-pin 1234 --sign-pin ABC123 --person P-8 \
	--municipality-code 131016 --prefecture Tokyo-to \
	--municipality Chiyoda-ku --name "山田 花子" --sex female \
	--birth 1990-02-28 --address "東京都千代田区霞が関１丁目" >issue.txt
auth_serial=$(sed -n 's/^authentication certificate \([0-9A-F]*\) .*/\1/p' issue.txt)
jpki ca cert sign >sign-ca.pem
"$JPKI" --data "$work/var" --log warn serve --roles login \
	--listen "127.0.0.1:$port" >serve.log 2>&1 &
server_pid=$!
for _ in $(seq 50); do
	curl -sf "$url/login/challenge" >/dev/null 2>&1 && break
	sleep 0.1
done

export JPKI_PINENTRY="$here/bridge_pinentry.sh"
export JPKI_TEST_PINENTRY_DIR="$work/pins"
mkdir -p pins
host() { python3 "$here/native_msg.py" "$HOST"; }
# one request in, its reply's field (a python expression over d) out
ask() { # JSON-REQUEST EXPR
	printf '%s\n' "$1" | host >reply.json || true
	python3 -c 'import json,sys; d=json.load(open("reply.json")); print(eval(sys.argv[1]))' "$2" 2>/dev/null ||
		fail "no reply to $1: $(cat reply.json)"
}

pcsc_start

# --- no card ---------------------------------------------------------------
got=$(ask '{"id":"n1","op":"certificates","origin":"https://a.example"}' 'd["error"]["code"]')
[ "$got" = no_card ] || [ "$got" = no_reader ] || fail "without a card: $got $(cat reply.json)"
pass "no card in the reader: $got"

card_serve card.bin

# --- certificates --------------------------------------------------------------
ask '{"id":"c1","op":"certificates","origin":"https://a.example"}' 'd["id"]+" "+str(d["ok"])' | grep -qx "c1 True" ||
	fail "certificates: $(cat reply.json)"
for k in authentication authentication_ca signing_ca; do
	ask '{"id":"c1","op":"certificates","origin":"https://a.example"}' "d['result']['$k']" |
		base64 -d >"$k.der"
	openssl x509 -inform DER -in "$k.der" -noout 2>/dev/null || fail "certificates: $k is no certificate"
done
openssl x509 -inform DER -in authentication.der -noout -serial | grep -qi "=$auth_serial$" ||
	fail "certificates: not the card's authentication certificate"
[ "$(grep -c . pins/log)" = 4 ] && [ "$(grep -c "https://a.example asks to read the certificates" pins/log)" = 4 ] ||
	fail "certificates: not one question a request: $(cat pins/log)"
echo no >pins/confirm
got=$(ask '{"id":"c2","op":"certificates","origin":"https://a.example"}' 'd["error"]["code"]+" "+d["id"]')
[ "$got" = "pin_cancelled c2" ] || fail "certificates not allowed: $got"
rm pins/confirm
pass "certificates: the authentication certificate and both CAs, without a PIN, after the person allowed it (refused: pin_cancelled)"

# --- sign ----------------------------------------------------------------------
printf '転居届\nname: 山田 花子\n' >app.txt
hash=$(openssl dgst -sha256 -binary app.txt | base64 -w0)
hexhash=$(openssl dgst -sha256 -r app.txt | cut -d' ' -f1)
echo ABC123 >pins/sign
req='{"id":"s1","op":"sign","origin":"https://portal.example","hash":"'$hash'","hashAlgorithm":"SHA-256","description":"転居届 (notice of moving)"}'
ask "$req" 'd["result"]["cms"]' | base64 -d >app.p7s
ask "$req" 'd["result"]["certificate"]' | base64 -d >signer.der
openssl cms -verify -binary -inform DER -in app.p7s -content app.txt \
	-CAfile sign-ca.pem -out /dev/null 2>verify.txt || fail "openssl cms -verify: $(cat verify.txt)"
printf 'altered\n' >other.txt
openssl cms -verify -binary -inform DER -in app.p7s -content other.txt \
	-CAfile sign-ca.pem -out /dev/null 2>/dev/null && fail "the signature verified over other data"
openssl asn1parse -inform DER -in app.p7s >cms.txt
grep -A3 ":messageDigest" cms.txt | grep -qi "HEX DUMP\]:$hexhash\$" ||
	fail "the messageDigest is not the page's hash: $(grep -A3 messageDigest cms.txt)"
grep -q ":signingTime" cms.txt || fail "no signingTime"
grep -A2 ":contentType" cms.txt | grep -q ":pkcs7-data" || fail "contentType is not data"
cmp -s signer.der <(openssl cms -verify -binary -inform DER -in app.p7s -content app.txt \
	-CAfile sign-ca.pem -out /dev/null -signer /dev/stdout 2>/dev/null | openssl x509 -outform DER) ||
	fail "the certificate returned is not the signer"
grep -q "portal.example asks you to sign" pins/log || fail "the prompt did not name the origin: $(cat pins/log)"
grep -q "転居届 (notice of moving)" pins/log || fail "the prompt did not show the description"
grep -q "$hexhash" pins/log || fail "the prompt did not show the hash"
pass "sign: detached CMS verifies with openssl against the CA, messageDigest = the hash, the prompt named origin and document"

# --- seal (送信): the card's signature and the document, for the agency --------------
openssl req -x509 -newkey rsa:2048 -nodes -keyout agency.key -subj /CN=agency -days 30 \
	-addext keyUsage=critical,keyEncipherment -out agency.pem 2>/dev/null
agency=$(openssl x509 -in agency.pem -outform DER | base64 -w0)
seal() { # DOCUMENT-FILE RECIPIENT-B64 EXPR
	ask '{"id":"e1","op":"seal","origin":"https://portal.example","document":"'"$(base64 -w0 "$1")"'","signature":"'"$(base64 -w0 app.p7s)"'","recipient":"'"$2"'"}' "$3"
}
prompts=$(grep -c . pins/log)
seal app.txt "$agency" 'd["result"]["p7m"]' | base64 -d >app.p7m
openssl cms -cmsout -print -inform DER -in app.p7m | grep -q "contentType: pkcs7-envelopedData" ||
	fail "seal: not an EnvelopedData"
openssl cms -decrypt -binary -inform DER -in app.p7m -recip agency.pem -inkey agency.key \
	-out app.signed 2>dec.txt || fail "seal: the agency's key does not open it: $(cat dec.txt)"
openssl cms -verify -binary -inform DER -in app.signed -CAfile sign-ca.pem -out app.out 2>verify.txt ||
	fail "seal: the signed data inside does not verify: $(cat verify.txt)"
cmp -s app.out app.txt || fail "seal: the signed content is not the document"
[ "$(grep -c . pins/log)" = "$prompts" ] || fail "seal asked the person something: $(tail -2 pins/log)"
pass "seal: an EnvelopedData the agency's key opens, holding the attached SignedData (the card's signature, verifying against the CA), no prompt"
got=$(seal other.txt "$agency" 'd["error"]["code"]+" "+d["error"]["message"]')
case "$got" in "bad_request "*"not over this document"*) ;; *) fail "seal of other bytes: $got" ;; esac
got=$(seal app.txt "$(base64 -w0 signer.der)" 'd["error"]["code"]+" "+d["error"]["message"]')
case "$got" in "bad_request "*keyEncipherment*) ;; *) fail "seal for the signing certificate: $got" ;; esac
head -c $((32 * 1024 + 1)) /dev/zero | tr '\0' a >big.txt
got=$(seal big.txt "$agency" 'd["error"]["code"]')
[ "$got" = too_large ] || fail "seal of 32 KiB + 1: $got"
pass "seal refused: a document the signature is not over, a recipient that is no encryption certificate, a document over 32 KiB"

# the card is reset when the host lets it go: the signing PIN verified for
# that page is not left verified for the next program on the card
di=3031300d060960864801650304020105000420$hexhash
apdu=$(echo "802A0080$(printf '%02X' $((${#di} / 2)))${di}00" | sed 's/../&:/g; s/:$//')
opensc-tool -r "$(reader_index)" -s 00:A4:02:0C:02:00:1A -s "$apdu" >after.txt 2>&1 || true
grep -q "SW1=0x90, SW2=0x00" after.txt && [ "$(grep -c 'SW1=0x90, SW2=0x00' after.txt)" -ge 2 ] &&
	fail "the card signed without a PIN after the host's sign: $(cat after.txt)"
grep -q "Received" after.txt || fail "opensc-tool did not talk to the card: $(cat after.txt)"
pass "after a sign the card is reset: no PIN stays verified for another program"

# --- login -------------------------------------------------------------------------
login() { # ORIGIN -> the verifier's verdict
	local ch
	ch=$(curl -sf "$url/login/challenge" | python3 -c 'import json,sys; print(json.load(sys.stdin)["challenge"])')
	ask '{"id":"l1","op":"login","origin":"'"$1"'","challenge":"'"$ch"'"}' 'json.dumps(d["result"])' >answer.json ||
		return 1
	curl -s -o verdict.json -w '%{http_code}' -H 'Content-Type: application/json' \
		--data-binary @answer.json "$url/login/response" >code.txt
	python3 -c 'import json; d=json.load(open("verdict.json")); print(d.get("result", d.get("error")))'
}
echo 1234 >pins/auth
got=$(login "$url")
[ "$got" = accepted ] || fail "login: $got $(cat verdict.json)"
python3 -c 'import json; d=json.load(open("answer.json")); assert set(d)=={"challenge","origin","signature","certificate"}, d' ||
	fail "the answer is not LOGIN.md's body: $(cat answer.json)"
pass "login: the answer for the page's origin is accepted at POST /login/response"
got=$(login "http://127.0.0.1:1")
[ "$got" != accepted ] || fail "an answer bound to another origin was accepted"
grep -qi "another site\|origin" verdict.json || fail "refused, but not for the origin: $(cat verdict.json)"
pass "login: an answer bound to another origin is refused by the verifier ($(cat code.txt))"

# --- PINs ---------------------------------------------------------------------------
echo 999999 >pins/sign
got=$(ask "$req" 'd["error"]["code"]+" "+d["error"]["message"]')
case "$got" in "pin_wrong "*"4 tries left"*) ;; *) fail "wrong PIN: $got" ;; esac
echo cancel >pins/sign
got=$(ask "$req" 'd["error"]["code"]')
[ "$got" = pin_cancelled ] || fail "cancelled PIN: $got"
jpki_pin_tries=$("$JPKI" --log warn pin status | grep -c "signing PIN: 4 of 5" || true)
[ "$jpki_pin_tries" = 1 ] || fail "a cancelled prompt cost a try"
pass "sign: wrong PIN (pin_wrong, tries left), cancelled prompt (pin_cancelled, no try spent)"
echo 0000 >pins/auth
for _ in 1 2 3; do
	printf '%s\n' '{"id":"l3","op":"login","origin":"'"$url"'","challenge":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}' |
		host >reply.json || true
	grep -q pin_wrong reply.json || grep -q pin_locked reply.json || fail "wrong auth PIN: $(cat reply.json)"
done
got=$(ask '{"id":"l2","op":"login","origin":"'"$url"'","challenge":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}' 'd["error"]["code"]')
[ "$got" = pin_locked ] || fail "locked PIN: $got"
pass "login: three wrong PINs lock it (pin_locked)"

# --- refusals of the protocol ----------------------------------------------------------
expect_code() { # WANT REQUEST
	local got
	got=$(ask "$2" 'd["error"]["code"]+" "+d["id"]')
	[ "${got% *}" = "$1" ] || fail "$2: $got, not $1"
}
expect_code unknown_op '{"id":"x1","op":"raw_sign","origin":"https://a.example"}'
expect_code bad_request '{"id":"x2","op":"certificates","origin":"https://a.example","pin":"1234"}'
expect_code bad_request '{"id":"x3","op":"sign","origin":"https://a.example","hash":"'$hash'","hashAlgorithm":"SHA-1","description":"x"}'
expect_code bad_request '{"id":"x4","op":"sign","origin":"https://a.example","hash":"AAAA","hashAlgorithm":"SHA-256","description":"x"}'
expect_code origin_refused '{"id":"x5","op":"certificates","origin":"http://a.example"}'
expect_code origin_refused '{"id":"x6","op":"certificates","origin":"https://a.example/path"}'
expect_code origin_refused '{"id":"x7","op":"certificates","origin":"chrome-extension://abc"}'
got=$(python3 "$here/native_msg.py" "$HOST" --raw-length 65537 || true)
case "$got" in *too_large*) ;; *) fail "a length over 64 KiB: $got" ;; esac
got=$(python3 "$here/native_msg.py" "$HOST" --truncate || true)
case "$got" in *bad_request*) ;; *) fail "a truncated message: $got" ;; esac
pass "refused: unknown op, unknown field, SHA-1, short hash, plain-http or path or non-web origin, over 64 KiB, truncated"
