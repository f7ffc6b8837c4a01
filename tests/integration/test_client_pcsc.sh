#!/usr/bin/env bash
# The resident's client software through pcscd, against a virtual My Number
# card issued by the project's CA: every verb (cert show, pin status, pin
# change, sign, login) and the messages for what goes wrong at home: no
# reader, no card, wrong card, wrong PIN, PIN locked, certificate revoked or
# expired. OpenSSL's CMS tool checks what `jpki sign` makes.
#
# usage: test_client_pcsc.sh PATH/TO/jpki
set -euo pipefail

JPKI=$(realpath "$1")
work=$(mktemp -d /tmp/jpki-client-XXXXXX)
here=$(dirname "$(realpath "$0")")
server_pid=""
fake_pid=""

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
pass() { echo "ok - $*"; }

# shellcheck source=pcsc_lib.sh
. "$here/pcsc_lib.sh"
cleanup() {
	for p in $server_pid $fake_pid; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	pcsc_cleanup
	rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
jpki() { "$JPKI" --data "$work/var" --log warn "$@"; }
# what the resident runs: no data directory, the card in the vpcd reader
client() { "$JPKI" --log warn "$@"; }
expect_fail() { # MESSAGE-REGEX command...
	local want=$1
	shift
	if "$@" >out.txt 2>err.txt; then
		fail "succeeded: $* ($(cat out.txt))"
	fi
	grep -Eq "$want" err.txt || fail "$*: said '$(cat err.txt)', not /$want/"
}

jpki ca init --public-url "$url" >/dev/null
jpki card new --kind mynumber card.bin >/dev/null
jpki card issue card.bin --auth-pin 1234 --sign-pin ABC123 --person P-7 \
	--municipality-code 131016 --prefecture Tokyo-to \
	--municipality Chiyoda-ku --name "山田 花子" --sex female \
	--birth 1990-02-28 --address "東京都千代田区霞が関１丁目" >issue.txt
auth_serial=$(sed -n 's/^authentication certificate \([0-9A-F]*\) .*/\1/p' issue.txt)
sign_serial=$(sed -n 's/^signing certificate \([0-9A-F]*\) .*/\1/p' issue.txt)
jpki ca cert sign >sign-ca.pem
# "$JPKI" itself, not the function: $! must be the server, to stop it
"$JPKI" --data "$work/var" --log warn serve --listen "127.0.0.1:$port" \
	>serve.log 2>&1 &
server_pid=$!
for _ in $(seq 50); do
	curl -sf "$url/" >/dev/null 2>&1 && break
	sleep 0.1
done

pcsc_start

# --- before the card is in the reader --------------------------------------
expect_fail "no reader named 'Nowhere 00 00'" client pin status --reader "Nowhere 00 00"
expect_fail "no card in any reader" client pin status
pass "no reader / no card: said plainly"

# --- a card that is not a JPKI card -----------------------------------------
python3 "$here/fake_card.py" 35964 &
fake_pid=$!
VPCD_PORT=35964 wait_card
expect_fail "not a JPKI card" client cert show --reader "Virtual PCD 00 01"
kill "$fake_pid"
wait "$fake_pid" 2>/dev/null || true
fake_pid=""
for _ in $(seq 100); do
	opensc-tool -l 2>/dev/null | grep -q "Yes .*Virtual PCD 00 01" || break
	sleep 0.1
done
pass "a card that is not a JPKI card: said plainly"

card_serve card.bin

# --- cert show ---------------------------------------------------------------
client cert show >show.txt
grep -q "利用者証明用電子証明書" show.txt || fail "cert show: $(cat show.txt)"
grep -q "$auth_serial" show.txt || fail "cert show: no serial $auth_serial"
grep -q "status       valid" show.txt || fail "cert show: status: $(cat show.txt)"
grep -q "days left" show.txt || fail "cert show: no days left"
JPKI_PIN=abc123 client cert show --sign --json >show.json
python3 - "$sign_serial" <<'EOF' || fail "cert show --sign --json: $(cat show.json)"
import json, sys
d = json.load(open("show.json"))
s = [c for c in d["certificates"] if c["kind"] == "signing"][0]
assert s["serial"] == sys.argv[1], s
assert s["status"] == "valid", s
f = s["facts"]
assert f["name"] == "山田\u3000花子", f
assert f["birth"] == "1990-02-28" and f["birth_text"].startswith("平成2年2月28日"), f
assert f["sex"] == "female" and f["address"] == "東京都千代田区霞が関１丁目", f
assert d["card"] == "mynumber"
EOF
pass "cert show: both certificates, the 4 facts after the PIN, era and Gregorian birth, OCSP status"

# --- pin status, wrong PIN --------------------------------------------------
client pin status --json >pins.json
python3 -c 'import json; d=json.load(open("pins.json")); assert d["authentication"]["tries_left"]==3 and d["signing"]["tries_left"]==5, d' ||
	fail "pin status: $(cat pins.json)"
JPKI_PIN=WRONG9 expect_fail "wrong PIN: the signing PIN .* 4 tries left" client cert show --sign
client pin status | grep -q "signing PIN: 4 of 5 tries left" || fail "pin status after a wrong PIN"
pass "pin status, and a wrong PIN says the tries left"

# --- sign: attached, detached, enveloped ------------------------------------
printf '転居届\nname: 山田 花子\n' >app.txt
echo "abc123" >pin.txt
client sign app.txt --pin-file pin.txt >/dev/null
openssl cms -verify -binary -inform DER -in app.txt.p7s -CAfile sign-ca.pem \
	-out got.txt 2>verify.txt || fail "openssl cms -verify: $(cat verify.txt)"
cmp -s got.txt app.txt || fail "the signed content is not the file"
client sign app.txt --pin-file pin.txt --detached --out app.sig >/dev/null
openssl cms -verify -binary -inform DER -in app.sig -content app.txt \
	-CAfile sign-ca.pem >/dev/null 2>verify.txt || fail "detached: $(cat verify.txt)"
printf 'altered\n' >other.txt
openssl cms -verify -binary -inform DER -in app.sig -content other.txt \
	-CAfile sign-ca.pem >/dev/null 2>&1 && fail "the detached signature verified over other data"
openssl req -x509 -newkey rsa:2048 -nodes -subj "/CN=Agency" -days 30 \
	-keyout agency.key -out agency.pem 2>/dev/null
client sign app.txt --pin-file pin.txt --to agency.pem >/dev/null
openssl cms -decrypt -inform DER -in app.txt.p7m -inkey agency.key \
	-recip agency.pem -out inner.der 2>err.txt || fail "decrypt: $(cat err.txt)"
openssl cms -verify -binary -inform DER -in inner.der -CAfile sign-ca.pem \
	-out got2.txt 2>/dev/null || fail "the enveloped signed data does not verify"
cmp -s got2.txt app.txt || fail "the enveloped content is not the file"
pass "sign: openssl cms verifies attached and detached, and decrypts the enveloped form"

# --- pin change ----------------------------------------------------------------
echo "ABCDEF" >new.txt
expect_fail "at least one" client pin change --sign --pin-file pin.txt --new-pin-file new.txt
echo "newpin77" >new.txt
client pin change --sign --pin-file pin.txt --new-pin-file new.txt >/dev/null
client pin status | grep -q "signing PIN: 5 of 5 tries left" || fail "tries after change"
expect_fail "wrong PIN" client sign app.txt --pin-file pin.txt --out old.p7s
[ ! -e old.p7s ] || fail "a refused signature left a file"
JPKI_PIN=NEWPIN77 client sign app.txt --out new.p7s >/dev/null
openssl cms -verify -binary -inform DER -in new.p7s -CAfile sign-ca.pem \
	-out /dev/null 2>/dev/null || fail "the signature with the new PIN"
echo 9999 >a-old.txt
echo 4321 >a-new.txt
echo 1234 >a-cur.txt
expect_fail "4 digits" client pin change --auth --pin-file a-cur.txt --new-pin-file pin.txt
client pin change --auth --pin-file a-cur.txt --new-pin-file a-new.txt >/dev/null
pass "pin change, then status and a signature with the new PIN; the old one no longer works"

# --- login ----------------------------------------------------------------------
if curl -sf "$url/login/challenge" >/dev/null; then
	JPKI_PIN=4321 client login "$url/login" --json >login.json ||
		fail "login: $(cat login.json)"
	python3 -c 'import json; d=json.load(open("login.json")); assert d["accepted"] and d["account"], d' ||
		fail "login: $(cat login.json)"
	JPKI_PIN=1111 expect_fail "wrong PIN: the authentication PIN .* 2 tries left" client login "$url/login"
	pass "login at the relying party with the authentication certificate"
else
	fail "jpki serve offers no log-in at $url/login"
fi

# --- locked ----------------------------------------------------------------------
JPKI_PIN=1111 expect_fail "1 try left" client login "$url/login"
JPKI_PIN=1111 expect_fail "locked.*municipality window" client login "$url/login"
JPKI_PIN=4321 expect_fail "locked" client login "$url/login"
client pin status | grep -q "authentication PIN: LOCKED" || fail "pin status does not say locked"
pass "a locked PIN sends the resident to the window"

# --- revoked and expired -----------------------------------------------------------
jpki ca revoke "$sign_serial" --reason keyCompromise >/dev/null
JPKI_PIN=NEWPIN77 client cert show --sign >show.txt
grep -q "revoked on .* because the card was reported lost" show.txt ||
	fail "cert show after revocation: $(cat show.txt)"
JPKI_PIN=NEWPIN77 expect_fail "revoked on .*no agency would accept" client sign app.txt --out rev.p7s
[ ! -e rev.p7s ] || fail "signed with a revoked certificate"
JPKI_PIN=NEWPIN77 client --now 2036-01-01 cert show --sign >show.txt
grep -q "expired on 2031-02-28" show.txt || fail "cert show in 2036: $(cat show.txt)"
pass "revoked (through OCSP) and expired certificates said plainly; no signature with them"
echo "all client checks passed"
