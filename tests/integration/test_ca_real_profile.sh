#!/usr/bin/env bash
# Our CAs beside the real JPKI CAs (tests/data/real_ca): `jpki ca init`
# makes CA certificates whose `openssl x509 -text` shows the extensions of
# the real 2023 ones, in the same order and criticality, valid 10 years as
# theirs; `jpki serve --ocsp-signer ca|delegated` answers OCSP that openssl
# accepts with only the CA certificate as trust, the CA-key answer without
# a certificate in it.
#
# usage: test_ca_real_profile.sh PATH/TO/jpki
set -euo pipefail

here=$(dirname "$(realpath "$0")")
real=$(realpath "$here/../data/real_ca")
. "$here/lib.sh"
lib_init carealprof "$1"

port=$(free_port)
url="http://127.0.0.1:$port"
jpki ca init --public-url "$url" >/dev/null
jpki ca cert sign >sign-ca.pem
jpki ca cert auth >auth-ca.pem

# The extension lines of `openssl x509 -text`: each name with its
# criticality, in order.
extensions() {
	openssl x509 -in "$1" -noout -text |
		sed -n '/X509v3 extensions:/,/Signature Algorithm:/p' |
		grep -E '^ {12}[A-Za-z]' | sed 's/^ *//'
}
for t in sign auth; do
	extensions "$real/${t}_ca_2023.pem" >real-$t.txt
	extensions "$t-ca.pem" >ours-$t.txt
	[ -s real-$t.txt ] || fail "no extensions read from the real $t CA"
	diff real-$t.txt ours-$t.txt >diff-$t.txt ||
		fail "$t CA extensions differ from the real 2023 one: $(cat diff-$t.txt)"
	extensions "$real/${t}_ca_2015.pem" | diff - ours-$t.txt >/dev/null ||
		fail "$t CA extensions differ from the real 2015 one"
	# the subject and the alternative name, as openssl prints them
	names() {
		openssl x509 -in "$1" -noout -subject -nameopt utf8,sep_comma_plus_space \
			-ext subjectAltName,crlDistributionPoints
	}
	names "$real/${t}_ca_2023.pem" >real-names-$t.txt
	names "$t-ca.pem" | diff real-names-$t.txt - >diff-$t.txt ||
		fail "$t CA names differ: $(cat diff-$t.txt)"
done
pass "openssl x509 -text: our CAs' extensions are the real ones' (names, criticality, order)"

# The comparison fails on a CA with another extension list (the one
# `jpki ca init` made before: issuerAltName and an authority key id).
openssl req -x509 -new -key var/keys/sign-ca.key -days 3650 \
	-subj "/C=JP/O=JPKI/OU=JPKI for digital signature/OU=Japan Agency for Local Authority Information Systems" \
	-addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign,cRLSign" \
	-addext "subjectKeyIdentifier=hash" \
	-addext "authorityKeyIdentifier=keyid:always" \
	-addext "issuerAltName=dirName:ian" -config <(printf '[req]\ndistinguished_name=dn\n[dn]\n[ian]\nC=JP\nO=JPKI\n') \
	-out old-ca.pem 2>/dev/null
[ "$(extensions old-ca.pem | wc -l)" = 5 ] || fail "the old-profile CA was not made"
extensions old-ca.pem | diff -q real-sign.txt - >/dev/null &&
	fail "the comparison does not see a different extension list"
pass "the comparison refuses the old profile's extension list"

# Validity: 10 years to the end of the day (in Japan) before the 10th
# anniversary, as the real 2023 CAs (2023-07-16 .. 2033-07-15 23:59:59 JST).
end=$(openssl x509 -in sign-ca.pem -noout -enddate | cut -d= -f2)
want=$(python3 -c '
import datetime as d
jst = d.timezone(d.timedelta(hours=9))
t = d.datetime.now(jst).date()
e = d.datetime(t.year + 10, t.month, t.day, 23, 59, 59, tzinfo=jst) - d.timedelta(days=1)
print(e.astimezone(d.timezone.utc).strftime("%b %e %H:%M:%S %Y GMT"))')
[ "$end" = "$want" ] || fail "CA notAfter $end, want $want"
rend=$(openssl x509 -in "$real/sign_ca_2023.pem" -noout -enddate | cut -d= -f2)
[ "$rend" = "Jul 15 14:59:59 2033 GMT" ] || fail "real notAfter $rend"
pass "CA validity 10 years, ending as the real ones at 23:59:59 JST"

# OCSP: a certificate to ask about.
openssl req -new -newkey rsa:2048 -nodes -subj "/CN=x" -keyout key.pem \
	-out req.pem 2>/dev/null
jpki ca issue --csr req.pem --type auth --person P-0001 \
	--municipality-code 131016 --birth 1980-06-01 --out auth.pem >/dev/null
jpki ca issue --csr req.pem --type sign --person P-0001 \
	--municipality-code 131016 --prefecture Tokyo-to \
	--municipality Chiyoda-ku --name "山田 太郎" --sex male \
	--birth 1980-06-01 --address "東京都千代田区千代田１番１号" \
	--name-subst "" --out sign.pem >/dev/null

ask() { # MODE -> resp-MODE.der and ocsp-MODE.txt
	openssl ocsp -issuer auth-ca.pem -cert auth.pem -CAfile auth-ca.pem \
		-url "$url/ocsp/auth" -respout "resp-$1.der" >"ocsp-$1.txt" 2>&1 || true
}
certs_in() { # response DER -> number of certificates it carries
	openssl ocsp -respin "$1" -resp_text -noverify 2>/dev/null |
		grep -c "^Certificate:" || true
}

serve_bg "$url" --listen "127.0.0.1:$port" --roles ocsp
ask delegated
stop_server
grep -q "Response verify OK" ocsp-delegated.txt || fail "delegated: $(cat ocsp-delegated.txt)"
grep -q "auth.pem: good" ocsp-delegated.txt || fail "delegated: $(cat ocsp-delegated.txt)"
[ "$(certs_in resp-delegated.der)" = 1 ] || fail "the delegated answer carries no signer certificate"

serve_bg "$url" --listen "127.0.0.1:$port" --roles ocsp --ocsp-signer ca
ask ca
grep -q "Response verify OK" ocsp-ca.txt || fail "CA key: $(cat ocsp-ca.txt)"
grep -q "auth.pem: good" ocsp-ca.txt || fail "CA key: $(cat ocsp-ca.txt)"
[ "$(certs_in resp-ca.der)" = 0 ] || fail "the CA-key answer carries a certificate"
# trusted with the other CA only, the CA-key answer does not verify
openssl ocsp -respin resp-ca.der -issuer auth-ca.pem -cert auth.pem \
	-CAfile sign-ca.pem >wrong.txt 2>&1 &&
	grep -q "Response verify OK" wrong.txt &&
	fail "the CA-key answer verifies under the other CA"
# jpki verify: an application signed under the signing certificate, our
# real-profile CA beside both real generations as --ca; then the real ones
# alone. Its OCSP answers come signed by the CA key.
printf '転入届\n' >doc.txt
openssl cms -sign -in doc.txt -signer sign.pem -inkey key.pem -md sha256 \
	-nodetach -binary -outform DER -out app.der
jpki verify app.der --ca "$real/sign_ca_2015.pem" --ca "$real/sign_ca_2023.pem" \
	--ca sign-ca.pem --json >verify.json || fail "jpki verify refused: $(cat verify.json)"
json 'd["accepted"] and d["revocation"] == "ocsp"' <verify.json | grep -q True ||
	fail "jpki verify: $(cat verify.json)"
rc=0
jpki verify app.der --ca "$real/sign_ca_2015.pem" --ca "$real/sign_ca_2023.pem" \
	--json >verify2.json || rc=$?
[ "$rc" = 1 ] || fail "jpki verify under the real CAs alone: exit $rc $(cat verify2.json)"
grep -q untrusted verify2.json || fail "not untrusted: $(cat verify2.json)"
ds=$(stat -c %s resp-delegated.der)
cs=$(stat -c %s resp-ca.der)
[ "$cs" -lt $((ds - 500)) ] || fail "sizes: CA key $cs, delegated $ds"
stop_server
pass "openssl ocsp accepts both signers with only the CA as trust; CA key: $cs bytes, no certificate; delegated: $ds"
pass "jpki verify accepts a real-profile application (both real generations as --ca beside ours), refuses it under the real CAs alone"

"$JPKI" --data "$work/var" serve --listen "127.0.0.1:0" --ocsp-signer cakey \
	>bad.txt 2>&1 && fail "--ocsp-signer cakey accepted"
grep -q "delegated or ca" bad.txt || fail "--ocsp-signer cakey: $(cat bad.txt)"
pass "--ocsp-signer refuses an unknown signer"
