#!/usr/bin/env bash
# CA key rollover as the outside world sees it: `jpki ca rollover` by the CA
# officer, the link certificates in the repository, `openssl verify` from
# either generation's root to a certificate of the other, `openssl ocsp`
# answering for both generations, and a card issued before the rollover
# read by OpenSC through pcscd and signing an application that the
# verifier accepts after it.
#
# usage: test_ca_rollover.sh PATH/TO/jpki
set -euo pipefail
here=$(dirname "$(realpath "$0")")
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=pcsc_lib.sh
. "$here/pcsc_lib.sh"
lib_init rollover "$1"
cleanup_more() { pcsc_cleanup; }
fail_more() { serve_log_tail 20; }

port=$(free_port)
url="http://127.0.0.1:$port"
officer() { JPKI_OPERATOR=admin JPKI_OPERATOR_PASSWORD=pw-admin-0123 jpki "$@"; }
expect_fail() { # MESSAGE-REGEX command...
	local want=$1
	shift
	if "$@" >out.txt 2>err.txt; then
		fail "succeeded: $* ($(cat out.txt))"
	fi
	grep -Eq "$want" err.txt || fail "$*: said '$(cat err.txt)', not /$want/"
}
# csr NAME: a key and a PKCS#10 request
csr() {
	openssl req -new -newkey rsa:2048 -nodes -subj "/CN=$1" \
		-keyout "$1.key" -out "$1.csr" 2>/dev/null
}
# issue NAME TYPE PERSON: a certificate for NAME's request into NAME.pem
issue() {
	local facts=()
	[ "$2" = sign ] && facts=(--prefecture Tokyo-to --municipality Chiyoda-ku
		--name "山田 一郎" --sex male --address "千代田１番１号")
	csr "$1"
	jpki ca issue --csr "$1.csr" --type "$2" --person "$3" \
		--municipality-code 131016 --birth 1980-06-01 \
		--card-expiry 2035-06-01 "${facts[@]}" --out "$1.pem" >/dev/null
}
serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }

# --- generation 1: a CA, its officer, a card and a certificate ------------
ca_and_admin "$url"
add_operator clerk1 window-clerk 131016 pw-window-01
jpki card new --kind mynumber card.bin >/dev/null
jpki card issue card.bin --auth-pin 1234 --sign-pin ABC123 --person P-1 \
	--municipality-code 131016 --prefecture Tokyo-to \
	--municipality Chiyoda-ku --name "山田 太郎" --sex male \
	--birth 1980-06-01 --address "東京都千代田区千代田１番１号" >issue.txt
issue old-sign sign P-2
issue old-auth auth P-2
jpki ca cert sign >sign-1.pem
jpki ca cert auth >auth-1.pem
pass "generation 1: a card and certificates issued"

# --- refusals -----------------------------------------------------------------
expect_fail "jpki ca rollover" jpki ca init --public-url "$url"
expect_fail "CA officer|ca-officer|cannot" env JPKI_OPERATOR=clerk1 \
	JPKI_OPERATOR_PASSWORD=pw-window-01 "$JPKI" --data "$work/var" \
	--log warn ca rollover --type sign
expect_fail "who is acting" jpki ca rollover --type sign
expect_fail "no earlier CA generation" officer ca retire
cmp -s sign-1.pem <(jpki ca cert sign) || fail "a refused rollover changed the CA"
pass "a second init points to rollover; a window clerk and nobody cannot roll over"

# --- the rollover -------------------------------------------------------------
officer ca rollover --type both >rollover.txt ||
	fail "rollover: $(cat rollover.txt)"
grep -q "the sign CA rolled over to generation 2" rollover.txt ||
	fail "rollover said: $(cat rollover.txt)"
jpki ca cert sign >sign-2.pem
[ "$(openssl x509 -in sign-1.pem -noout -subject)" = \
	"$(openssl x509 -in sign-2.pem -noout -subject)" ] || fail "the DN changed"
ski() { openssl x509 -in "$1" -noout -ext subjectKeyIdentifier | tail -1; }
aki() { openssl x509 -in "$1" -noout -ext authorityKeyIdentifier | tail -1 |
	sed 's/keyid://'; }
[ "$(ski sign-1.pem)" != "$(ski sign-2.pem)" ] || fail "the key did not change"
issue new-sign sign P-3
issue new-auth auth P-3
[ "$(aki new-sign.pem | tr -d ' ')" = "$(ski sign-2.pem | tr -d ' ')" ] ||
	fail "a new certificate's AKI is not the new key's: $(aki new-sign.pem)"
[ "$(aki old-sign.pem | tr -d ' ')" = "$(ski sign-1.pem | tr -d ' ')" ] ||
	fail "the old certificate's AKI: $(aki old-sign.pem)"
openssl x509 -in new-sign.pem -noout -ext crlDistributionPoints |
	grep -q "$url/crl/sign-2/131016.crl" || fail "the CRL DP of generation 2"
jpki ca show >show.txt
grep -q "signing CA, generation 2" show.txt && grep -q "$url/crl/sign-2.crl" show.txt ||
	fail "ca show after the rollover: $(cat show.txt)"
pass "rollover: same DN, new key; new issues under it (AKI, CRL DP sign-2)"

# --- the repository -----------------------------------------------------------
serve_bg "$url" --listen "127.0.0.1:$port"
grep -q "$url/ca/sign-2.crt" serve.log || fail "serve does not name generation 2"
for f in sign auth sign-1 sign-2 sign-link-1-2 sign-link-2-1 auth-2 \
	auth-link-1-2 auth-link-2-1; do
	curl -sf "$url/ca/$f.crt" -o "$f.der" || fail "GET /ca/$f.crt"
	openssl x509 -inform DER -in "$f.der" -out "$f.crt.pem" ||
		fail "/ca/$f.crt is not a certificate"
done
cmp -s sign.crt.pem sign-1.pem || fail "/ca/sign.crt is not generation 1"
cmp -s sign-2.crt.pem sign-2.pem || fail "/ca/sign-2.crt"
curl -s -o /dev/null -w '%{http_code}' "$url/ca/sign-3.crt" | grep -q 404 ||
	fail "/ca/sign-3.crt answered"
curl -sf "$url/" >index.html
for f in sign-link-1-2 sign-link-2-1 auth-link-1-2 sign-2.crt; do
	grep -q "/ca/$f" index.html || fail "the index does not list $f"
done
pass "the repository publishes both generations and the link certificates"

# --- openssl verify through the link certificates -----------------------------
ok() { openssl verify -no-CApath -no-CAfile "$@" 2>&1 | tail -1; }
ok -CAfile sign-1.pem -untrusted sign-link-1-2.crt.pem new-sign.pem |
	grep -q ": OK" || fail "old root + OldWithNew: $(ok -CAfile sign-1.pem \
	-untrusted sign-link-1-2.crt.pem new-sign.pem)"
ok -CAfile sign-1.pem new-sign.pem | grep -q ": OK" &&
	fail "the new certificate verified to the old root without a link"
ok -CAfile sign-2.pem -untrusted sign-link-2-1.crt.pem old-sign.pem |
	grep -q ": OK" || fail "new root + NewWithOld"
ok -CAfile sign-2.pem old-sign.pem | grep -q ": OK" &&
	fail "the old certificate verified to the new root without a link"
ok -CAfile auth-1.pem -untrusted auth-link-1-2.crt.pem new-auth.pem |
	grep -q ": OK" || fail "auth: old root + OldWithNew"
ok -CAfile sign-1.pem old-sign.pem | grep -q ": OK" || fail "gen 1 to gen 1"
ok -CAfile sign-2.pem new-sign.pem | grep -q ": OK" || fail "gen 2 to gen 2"
pass "openssl verify: each generation's certificate from the other's root with the link certificate, and not without"

# --- openssl ocsp for both generations -----------------------------------------
ocsp() { # CERT ISSUER URL
	openssl ocsp -issuer "$2" -cert "$1" -CAfile "$2" -url "$3" 2>&1
}
ocsp old-sign.pem sign-1.pem "$url/ocsp/sign" | grep -q "old-sign.pem: good" ||
	fail "OCSP old: $(ocsp old-sign.pem sign-1.pem "$url/ocsp/sign")"
ocsp new-sign.pem sign-2.pem "$url/ocsp/sign" | grep -q "new-sign.pem: good" ||
	fail "OCSP new: $(ocsp new-sign.pem sign-2.pem "$url/ocsp/sign")"
ocsp old-auth.pem auth-1.pem "$url/ocsp/auth" | grep -q "old-auth.pem: good" ||
	fail "OCSP old auth"
ocsp new-auth.pem auth-2.crt.pem "$url/ocsp/auth" | grep -q "new-auth.pem: good" ||
	fail "OCSP new auth"
# a certificate asked under the other generation's key is not its
ocsp old-sign.pem sign-2.pem "$url/ocsp/sign" | grep -q "old-sign.pem: unknown" ||
	fail "OCSP old under the new key: $(ocsp old-sign.pem sign-2.pem "$url/ocsp/sign")"
jpki ca revoke "$(serial_of old-sign.pem)" --reason keyCompromise >/dev/null
jpki ca revoke "$(serial_of new-sign.pem)" --reason keyCompromise >/dev/null
ocsp old-sign.pem sign-1.pem "$url/ocsp/sign" | grep -q "old-sign.pem: revoked" ||
	fail "OCSP old revoked"
ocsp new-sign.pem sign-2.pem "$url/ocsp/sign" | grep -q "new-sign.pem: revoked" ||
	fail "OCSP new revoked"
# each generation's CRL, signed by its key
curl -sf "$url/crl/sign/131016.crl" -o g1.crl && curl -sf "$url/crl/sign-2/131016.crl" -o g2.crl ||
	fail "the CRLs of both generations"
openssl crl -inform DER -in g1.crl -noout -CAfile sign-1.pem 2>&1 | grep -q "verify OK" ||
	fail "generation 1's CRL is not signed by its key"
openssl crl -inform DER -in g2.crl -noout -CAfile sign-2.pem 2>&1 | grep -q "verify OK" ||
	fail "generation 2's CRL is not signed by its key"
openssl crl -inform DER -in g1.crl -noout -text | grep -q "$(serial_of old-sign.pem)" ||
	fail "generation 1's CRL does not list its revoked certificate"
openssl crl -inform DER -in g2.crl -noout -text | grep -q "$(serial_of old-sign.pem)" &&
	fail "generation 2's CRL lists generation 1's certificate"
pass "openssl ocsp: good and revoked for both generations; a CRL per generation, signed by its key"

# --- retirement waits for the last certificate ----------------------------------
expect_fail "still holds" officer ca retire
pass "ca retire refused while generation 1 holds valid certificates"

# --- the card issued before the rollover ---------------------------------------
pcsc_start
card_serve card.bin
rd=$(reader_index)
[ -n "$rd" ] || fail "no vpcd reader"
pkcs15-tool -r "$rd" --list-certificates >certs.txt 2>&1
grep -qF "[Digital Signature Certificate CA]" certs.txt ||
	fail "pkcs15-tool: $(cat certs.txt)"
ca_id=$(awk '/\[Digital Signature Certificate CA\]/ { f = 1 }
	f && /ID/ { print $NF; exit }' certs.txt)
pkcs15-tool -r "$rd" --read-certificate "$ca_id" >card-ca.pem 2>/dev/null ||
	fail "pkcs15-tool --read-certificate $ca_id"
[ "$(openssl x509 -in card-ca.pem -noout -fingerprint -sha256)" = \
	"$(openssl x509 -in sign-1.pem -noout -fingerprint -sha256)" ] ||
	fail "the card's signing CA certificate is not generation 1"
pass "pkcs15-tool reads the card issued before the rollover (generation 1's CA in 0002)"

printf '転居届\nname: 山田 太郎\n' >app.txt
echo ABC123 >pin.txt
"$JPKI" --log warn sign app.txt --pin-file pin.txt >sign.txt 2>&1 ||
	fail "jpki sign: $(cat sign.txt)"
both=(--ca sign-1.pem --ca sign-2.pem)
jpki verify app.txt.p7s "${both[@]}" --name "山田 太郎" \
	--address "東京都千代田区千代田１番１号" >verify.txt 2>&1 ||
	fail "the verifier refused the old card's application: $(cat verify.txt)"
if jpki verify app.txt.p7s --ca sign-2.pem --name "山田 太郎" \
	--address "東京都千代田区千代田１番１号" >verify2.txt 2>&1; then
	fail "accepted with only the new generation trusted"
fi
pass "after the rollover the verifier accepts an application signed with the old card"
