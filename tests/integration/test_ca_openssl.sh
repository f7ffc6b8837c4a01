#!/usr/bin/env bash
# The CA as an operator and a relying party see it: `jpki ca` issues and
# revokes, `jpki serve` publishes, and the unmodified OpenSSL command line
# verifies certificates, OCSP answers and CRLs.
#
# usage: test_ca_openssl.sh PATH/TO/jpki
set -euo pipefail

. "$(dirname "$(realpath "$0")")/lib.sh"
lib_init it "$1"

# A free port on loopback.
port=$(free_port)
url="http://127.0.0.1:$port"

jpki ca init --public-url "$url" >/dev/null
jpki ca init --public-url "$url" 2>err.txt && fail "a second init succeeded"
grep -q "already exist" err.txt || fail "second init: $(cat err.txt)"
pass "ca init, and a second init refused"

jpki ca cert sign >sign-ca.pem
jpki ca cert auth >auth-ca.pem

openssl req -new -newkey rsa:2048 -nodes -subj "/CN=ignored/O=ignored" \
	-keyout key.pem -out req.pem 2>/dev/null
openssl req -new -newkey rsa:2048 -nodes -subj "/CN=ignored" \
	-keyout key2.pem -out req2.pem 2>/dev/null

jpki ca issue --csr req.pem --type sign --person P-0001 \
	--municipality-code 131016 --prefecture Tokyo-to \
	--municipality Chiyoda-ku --name "山田 太郎" --sex male \
	--birth 1980-06-01 --address "東京都千代田区千代田１番１号" \
	--name-subst "" --out sign.pem --json >sign.json
jpki ca issue --csr req2.pem --type auth --person P-0001 \
	--municipality-code 131016 --birth 1980-06-01 --out auth.pem \
	--json >auth.json
serial=$(python3 -c 'import json,sys; print(json.load(open("sign.json"))["serial"])')
aserial=$(python3 -c 'import json,sys; print(json.load(open("auth.json"))["serial"])')
[ ${#serial} -eq 32 ] || fail "serial $serial"

openssl verify -CAfile sign-ca.pem sign.pem | grep -q ": OK" ||
	fail "signing certificate does not verify"
openssl verify -CAfile auth-ca.pem auth.pem | grep -q ": OK" ||
	fail "auth certificate does not verify"
if openssl verify -CAfile sign-ca.pem auth.pem >/dev/null 2>&1; then
	fail "auth certificate verifies against the signing CA"
fi
pass "openssl verify -CAfile (and not against the other CA)"

openssl x509 -in sign.pem -noout -text >sign.txt
openssl x509 -in auth.pem -noout -text >auth.txt
check() { grep -q -- "$2" "$1" || fail "$1 lacks: $2"; }
check sign.txt "Signature Algorithm: sha256WithRSAEncryption"
check sign.txt "Public-Key: (2048 bit)"
check sign.txt "Issuer: C = JP, O = JPKI, OU = JPKI for digital signature, OU = Japan Agency for Local Authority Information Systems"
check sign.txt "Subject: C = JP, L = Tokyo-to, L = Chiyoda-ku, CN = "
check sign.txt "X509v3 Key Usage: critical"
check sign.txt "Digital Signature, Non Repudiation"
check sign.txt "X509v3 Certificate Policies: critical"
check sign.txt "Policy: 1.2.392.200149.8.5.1.1.20"
check sign.txt "X509v3 Subject Alternative Name"
check sign.txt "X509v3 CRL Distribution Points"
check sign.txt "URI:$url/crl/sign/131016.crl"
check sign.txt "OCSP - URI:$url/ocsp/sign"
check sign.txt "X509v3 Issuer Alternative Name"
check sign.txt "X509v3 Authority Key Identifier"
check auth.txt "Subject: C = JP, CN = "
check auth.txt "Policy: 1.2.392.200149.8.5.1.3.30"
check auth.txt "OCSP - URI:$url/ocsp/auth"
grep -q "Non Repudiation" auth.txt && fail "auth certificate has nonRepudiation"
grep -q "Subject Alternative Name" auth.txt && fail "auth certificate has a SAN"
grep -q "ignored" sign.txt && fail "the request's subject leaked into the certificate"
pass "openssl x509 -text shows the profile"

# The six otherNames decode back to the facts given.
openssl x509 -in sign.pem -outform DER -out sign.der
off=$(openssl asn1parse -inform DER -in sign.der |
	grep -A1 "X509v3 Subject Alternative Name" | tail -1 | cut -d: -f1 | tr -d ' ')
openssl asn1parse -inform DER -in sign.der -strparse "$off" >san.txt
for oid in 1 2 3 4 5 6; do
	check san.txt "1.2.392.200149.8.5.5.$oid"
done
check san.txt "UTF8STRING        :山田　太郎"
check san.txt "UTF8STRING        :1\$"
check san.txt "UTF8STRING        :319800601"
check san.txt "UTF8STRING        :東京都千代田区千代田１番１号"
pass "subjectAltName otherNames decode to the facts (name, sex, birth, address)"

"$JPKI" --data "$work/var" serve --listen "127.0.0.1:$port" \
	--pid-file server.pid >server.out 2>server.err &
server_pid=$!
for _ in $(seq 1 50); do
	curl -sf "$url/healthz" >/dev/null 2>&1 && break
	sleep 0.1
done
curl -sf "$url/healthz" >/dev/null || fail "server did not start: $(cat server.err)"
grep -q "$url/ocsp/sign" server.out || fail "serve did not print its URLs"
pass "jpki serve is up and printed its URLs"

ocsp() { # cert issuer -> openssl ocsp output
	openssl ocsp -issuer "$2" -cert "$1" -CAfile "$2" -url "$3" 2>&1
}
out=$(ocsp sign.pem sign-ca.pem "$url/ocsp/sign")
grep -q <<<"$out" "Response verify OK" || fail "OCSP verify: $out"
grep -q <<<"$out" "sign.pem: good" || fail "OCSP not good: $out"
out=$(ocsp auth.pem auth-ca.pem "$url/ocsp/auth")
grep -q <<<"$out" "auth.pem: good" || fail "auth OCSP not good: $out"
pass "openssl ocsp: good, response signature verified"

jpki ca revoke "$serial" --reason affiliationChanged >/dev/null
jpki ca revoke "$serial" --reason keyCompromise 2>err.txt &&
	fail "second revocation accepted"
grep -q "already revoked" err.txt || fail "second revoke: $(cat err.txt)"
out=$(ocsp sign.pem sign-ca.pem "$url/ocsp/sign")
grep -q <<<"$out" "Response verify OK" || fail "OCSP verify: $out"
grep -q <<<"$out" "sign.pem: revoked" || fail "OCSP not revoked: $out"
grep -q <<<"$out" "Reason: affiliationChanged" || fail "no reason: $out"
grep -q <<<"$out" "Revocation Time:" || fail "no time: $out"
pass "openssl ocsp: revoked with time and reason after jpki ca revoke"

jpki ca hold "$aserial" >/dev/null
out=$(ocsp auth.pem auth-ca.pem "$url/ocsp/auth")
grep -q <<<"$out" "Reason: certificateHold" || fail "hold: $out"
pass "hold shows as certificateHold"

# GET form (RFC 6960 A.1), with a nonce-less request.
openssl ocsp -issuer sign-ca.pem -cert sign.pem -no_nonce -reqout req.der
b64=$(base64 -w0 req.der | sed 's/+/%2B/g; s/\//%2F/g; s/=/%3D/g')
curl -sf "$url/ocsp/sign/$b64" -o resp.der || fail "OCSP GET"
openssl ocsp -respin resp.der -issuer sign-ca.pem -cert sign.pem \
	-CAfile sign-ca.pem 2>&1 | grep -q "sign.pem: revoked" ||
	fail "OCSP GET answer"
pass "OCSP over GET"

# Malformed requests: malformedRequest, and the server keeps serving.
printf 'garbage' | curl -sf --data-binary @- \
	-H 'Content-Type: application/ocsp-request' "$url/ocsp" -o bad.der
out=$(openssl ocsp -respin bad.der -resp_text -noverify 2>&1 || true)
grep -qi <<<"$out" "malformedrequest" || fail "garbage: $out"
head -c 20 req.der | curl -sf --data-binary @- "$url/ocsp" -o bad2.der
out=$(openssl ocsp -respin bad2.der -resp_text -noverify 2>&1 || true)
grep -qi <<<"$out" "malformedrequest" || fail "truncated: $out"
code=$(head -c 100000 /dev/zero | curl -s -o /dev/null -w '%{http_code}' \
	--data-binary @- "$url/ocsp")
[ "$code" = 413 ] || fail "oversized body answered $code"
curl -sf "$url/healthz" >/dev/null || fail "server died"
pass "malformed and oversized OCSP requests refused, server alive"

# CRLs: every published one parses and verifies; the revoked serial is in
# the full CRL and in its municipality's partition, with its reason.
for scope in sign auth sign/131016; do
	curl -sf "$url/crl/$scope.crl" -o crl.der || fail "GET $scope"
	issuer=sign-ca.pem
	[ "$scope" = auth ] && issuer=auth-ca.pem
	openssl crl -inform DER -in crl.der -CAfile "$issuer" -noout 2>&1 |
		grep -q "verify OK" || fail "CRL $scope does not verify"
	openssl crl -inform DER -in crl.der -noout -text >"crl-${scope//\//-}.txt"
done
check crl-sign.txt "Serial Number: $serial"
check crl-sign.txt "Key Compromise\|Affiliation Changed"
check crl-sign-131016.txt "Serial Number: $serial"
check crl-sign-131016.txt "Affiliation Changed"
check crl-sign-131016.txt "Issuing Distribution Point: critical"
check crl-sign-131016.txt "URI:$url/crl/sign/131016.crl"
check crl-sign-131016.txt "Only User Certificates"
check crl-auth.txt "Serial Number: $aserial"
check crl-auth.txt "Certificate Hold"
check crl-sign.txt "X509v3 CRL Number"
code=$(curl -s -o /dev/null -w '%{http_code}' "$url/crl/sign/999999.crl")
[ "$code" = 404 ] || fail "unknown partition answered $code"
pass "openssl crl parses every CRL; serials and reasons in full and partition"

curl -sf "$url/" | grep -q "SHA-256 fingerprint" || fail "index page"
curl -sf "$url/ca/sign.crt" -o ca.der
openssl x509 -inform DER -in ca.der -noout -subject | grep -q "digital signature" ||
	fail "CA certificate download"
pass "repository page and CA certificate download"

# Renewal is refused before the window, and bad input changes nothing.
jpki ca renew "$aserial" --csr req2.pem 2>err.txt && fail "renewed a held cert"
before=$(jpki ca list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
printf 'not a csr' >bad.csr
jpki ca issue --csr bad.csr --type auth --person P-9 \
	--municipality-code 131016 --birth 1980-06-01 2>err.txt &&
	fail "garbage CSR accepted"
grep -q "not a PKCS#10" err.txt || fail "garbage CSR message: $(cat err.txt)"
jpki ca status 0123 2>err.txt && fail "unknown serial found"
grep -q "no certificate with serial" err.txt || fail "unknown serial message"
after=$(jpki ca list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$before" = "$after" ] || fail "bad input changed the store"
pass "bad input: clear errors, nothing changed"

kill "$server_pid"
wait "$server_pid" || true
server_pid=""
[ ! -e server.pid ] || fail "pid file left behind"
pass "server stopped by its PID"
