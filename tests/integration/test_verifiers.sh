#!/usr/bin/env bash
# Registered relying parties (docs/RELYING_PARTY.md), over real mutual TLS:
#   1. `jpki verifier add/list/remove` by a CA officer (audited), refused
#      to a clerk, for a certificate registered twice or not for clients;
#   2. `jpki serve --revocation-access registered`: OCSP and CRLs refused
#      (403) without a client certificate (`openssl ocsp` itself too), with
#      an unregistered one of the same client CA, with a removed
#      verifier's; answered with a registered one and counted (`jpki
#      verifier usage` one more); a verifier for authentication refused
#      the signing CA's; CA certificates stay public; with stunnel4
#      installed, `openssl ocsp` through it with the verifier's
#      certificate is answered "good" and counted;
#   3. the linking look-up: the renewed certificate for an old serial,
#      "none" after a death in the registry, its CMS verified by
#      `openssl cms -verify` with the CA certificate and by `jpki verifier
#      link`; a tampered answer refused;
#   4. the same server in "open" mode answers anyone, as before.
#
# usage: test_verifiers.sh PATH/TO/jpki
set -euo pipefail

. "$(dirname "$(realpath "$0")")/lib.sh"
command -v curl >/dev/null || {
	echo "SKIP: no curl"
	exit 77
}
lib_init verifiers "$1"
fail_more() { serve_log_tail 20; }

# ---- the client PKI (the service's registration CA) ----------------------
pki=$work/pki
mkdir -p "$pki"
cd "$pki"
cat >ext.cnf <<'EOF'
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
[email]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = emailProtection
EOF
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout infra.key -out infra.crt -days 30 \
	-subj "/O=OpenJPKI test/CN=verifier registration CA" \
	-addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
leaf() { # NAME CN EXTENSIONS
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$1.key" -out "$1.csr" -subj "/O=OpenJPKI test/CN=$2" \
		2>/dev/null
	openssl x509 -req -in "$1.csr" -CA infra.crt -CAkey infra.key \
		-CAcreateserial -days 7 -extfile ext.cnf -extensions "$3" \
		-out "$1.crt" 2>/dev/null
}
leaf server localhost server
leaf bank "Example Bank" client       # registered, sign
leaf shop "Example Shop" client       # registered, auth
leaf stranger "Example Stranger" client # same CA, never registered
leaf gone "Example Gone" client       # registered, then removed
leaf mail "Example Mail" email        # not a TLS client certificate
cd "$work"

port=$(free_port)
url="https://127.0.0.1:$port"
window_staff "$url"
as_admin() { JPKI_OPERATOR=admin JPKI_OPERATOR_PASSWORD=pw-admin-0123 jpki "$@"; }
as_clerk() { JPKI_OPERATOR=clerk1 JPKI_OPERATOR_PASSWORD=pw-window-01 jpki "$@"; }

# ---- 1. the register -------------------------------------------------------
out=$(as_admin verifier add bank --cert "$pki/bank.crt" --purpose sign) ||
	fail "verifier add: $out"
as_admin verifier add shop --cert "$pki/shop.crt" --purpose auth >/dev/null
as_admin verifier add gone --cert "$pki/gone.crt" --purpose sign >/dev/null
out=$(as_clerk verifier add clerkbank --cert "$pki/stranger.crt" \
	--purpose sign 2>&1) && fail "a window clerk registered a verifier"
grep -q "ca-officer\|CA officer\|may not\|cannot" <<<"$out" ||
	fail "the clerk's refusal: $out"
out=$(as_admin verifier add bank2 --cert "$pki/bank.crt" --purpose sign 2>&1) &&
	fail "one certificate registered twice"
grep -q "registered already, as bank" <<<"$out" || fail "twice: $out"
out=$(as_admin verifier add mail --cert "$pki/mail.crt" --purpose sign 2>&1) &&
	fail "an e-mail certificate registered"
grep -q "clientAuth" <<<"$out" || fail "the e-mail certificate: $out"
out=$(as_admin verifier add 'bad name' --cert "$pki/stranger.crt" \
	--purpose sign 2>&1) && fail "a name with a space registered"
list=$(as_admin verifier list --json)
[ "$(json 'len(d)' <<<"$list")" = 3 ] || fail "the list: $list"
fp=$(openssl x509 -in "$pki/bank.crt" -outform DER | sha256sum | cut -d' ' -f1)
[ "$(json '[v["fingerprint"] for v in d if v["name"]=="bank"][0]' <<<"$list")" = "$fp" ] ||
	fail "bank's pinned fingerprint is not its certificate's SHA-256"
add_operator aud auditor
JPKI_OPERATOR_PASSWORD=pw-aud-012345 jpki audit show --by aud \
	--action 'verifier.*' --json | grep -q '"verifier.add"' ||
	fail "the registration is not on the audit chain"
pass "verifiers registered by a CA officer (audited); a clerk, a second registration, a non-client certificate and a bad name refused"

# ---- certificates to ask about --------------------------------------------
jpki ca cert sign >sign-ca.pem
jpki ca cert auth >auth-ca.pem
person=$(JPKI_OPERATOR=reg1 JPKI_OPERATOR_PASSWORD=pw-reg-01234 \
	jpki registry register --municipality-code 131016 \
	--prefecture 東京都 --municipality 千代田区 --name "山田 太郎" \
	--sex male --birth 1980-06-01 --address "千代田１番１号" \
	--json | json 'd["person"]')
issue() { # TYPE CSR OUT
	local facts=()
	[ "$1" = sign ] && facts=(--prefecture 東京都 --municipality 千代田区
		--name "山田 太郎" --sex male --address "千代田１番１号")
	jpki ca issue --csr "$2" --type "$1" --person "$person" \
		--municipality-code 131016 --birth 1980-06-01 "${facts[@]}" \
		--out "$3" >/dev/null
}
for k in s1 s2 a1; do
	openssl req -new -newkey rsa:2048 -nodes -subj /CN=x -keyout "$k.key" \
		-out "$k.csr" 2>/dev/null
done
issue sign s1.csr old.pem
issue auth a1.csr auth.pem
old=$(openssl x509 -in old.pem -noout -serial | cut -d= -f2)
# renew within its window: three months before it expires
na=$(openssl x509 -in old.pem -noout -enddate | cut -d= -f2)
soon=$(date -u -d "$na - 30 days" +%Y-%m-%d)
jpki --now "$soon" ca renew "$old" --csr s2.csr --out new.pem >/dev/null ||
	fail "renewal"
new=$(openssl x509 -in new.pem -noout -serial | cut -d= -f2)
keyid=$(openssl x509 -in sign-ca.pem -noout -ext subjectKeyIdentifier |
	tail -1 | tr -d ' :')
openssl ocsp -issuer sign-ca.pem -cert new.pem -reqout sign-req.der \
	-no_nonce >/dev/null
openssl ocsp -issuer auth-ca.pem -cert auth.pem -reqout auth-req.der \
	-no_nonce >/dev/null

# ---- 2. registered mode ----------------------------------------------------
serve_bg_tls() { # ACCESS
	"$JPKI" --data "$work/var" --log warn serve --listen "127.0.0.1:$port" \
		--roles repository,ocsp,window --tls-cert "$pki/server.crt" \
		--tls-key "$pki/server.key" --tls-client-ca "$pki/infra.crt" \
		--revocation-access "$1" >serve.log 2>&1 &
	server_pid=$!
	for _ in $(seq 100); do
		curl -sf --cacert "$pki/infra.crt" "$url/healthz" >/dev/null &&
			return 0
		sleep 0.05
	done
	fail "jpki serve did not start: $(cat serve.log)"
}
out=$("$JPKI" --data "$work/var" serve --listen "127.0.0.1:0" \
	--revocation-access registered 2>&1) &&
	fail "registered mode started without a client CA"
grep -q "tls-client-ca" <<<"$out" || fail "without a client CA: $out"
serve_bg_tls registered

# ask AS METHOD PATH [DATA]: the HTTP status, the body in ans.bin
ask() {
	local as=$1 path=$2 data=${3:-} c=()
	[ "$as" != none ] && c=(--cert "$pki/$as.crt" --key "$pki/$as.key")
	if [ -n "$data" ]; then
		curl -s -o ans.bin -w '%{http_code}' --cacert "$pki/infra.crt" \
			"${c[@]}" -H 'Content-Type: application/ocsp-request' \
			--data-binary @"$data" "$url$path"
	else
		curl -s -o ans.bin -w '%{http_code}' --cacert "$pki/infra.crt" \
			"${c[@]}" "$url$path"
	fi
}
usage_of() { # VERIFIER QUERY: its count today
	as_admin verifier usage --json |
		json "sum(u['count'] for u in d if u['verifier']=='$1' and u['query']=='$2')"
}

[ "$(ask none /ocsp/sign sign-req.der)" = 403 ] ||
	fail "OCSP without a client certificate: $(cat ans.bin)"
grep -q "registered verifiers only" ans.bin || fail "403 text: $(cat ans.bin)"
out=$(openssl ocsp -issuer sign-ca.pem -cert new.pem -url "$url/ocsp/sign" \
	-CAfile sign-ca.pem -no_nonce 2>&1) && fail "openssl ocsp was answered: $out"
grep -q "403" <<<"$out" || fail "openssl ocsp without a certificate: $out"
[ "$(ask stranger /ocsp/sign sign-req.der)" = 403 ] ||
	fail "OCSP for an unregistered certificate of the client CA"
grep -q "not that of a registered verifier" ans.bin ||
	fail "the stranger's 403: $(cat ans.bin)"
[ "$(ask none /crl/sign.crl)" = 403 ] || fail "the CRL without a certificate"
[ "$(ask stranger /crl/sign/131016.crl)" = 403 ] || fail "the CRL for a stranger"
[ "$(ask none /ca/sign.pem)" = 200 ] || fail "the CA certificate is no longer public"
pass "registered mode: OCSP (curl and openssl ocsp) and CRLs refused (403) without a certificate and for an unregistered one of the same client CA; CA certificates public"

before=$(usage_of bank ocsp)
[ "$(ask bank /ocsp/sign sign-req.der)" = 200 ] || fail "bank's OCSP: $(cat ans.bin)"
openssl ocsp -respin ans.bin -issuer sign-ca.pem -cert new.pem \
	-CAfile sign-ca.pem -no_nonce 2>/dev/null | grep -q ": good" ||
	fail "bank's OCSP answer does not say good"
sleep 1.5 # the counts are flushed every second
after=$(usage_of bank ocsp)
[ "$after" = $((before + 1)) ] || fail "bank's OCSP count went $before -> $after"
# `openssl ocsp` itself has no TLS client certificate option: through a
# local stunnel that presents bank's (scripts/setup.sh installs it)
if command -v stunnel4 >/dev/null; then
	sport=$(free_port)
	printf 'foreground = yes\npid =\n[bank]\nclient = yes\naccept = 127.0.0.1:%s\nconnect = 127.0.0.1:%s\ncert = %s\nkey = %s\nCAfile = %s\nverifyChain = yes\n' \
		"$sport" "$port" "$pki/bank.crt" "$pki/bank.key" "$pki/infra.crt" \
		>stunnel.conf
	stunnel4 stunnel.conf >stunnel.log 2>&1 &
	pids+=($!)
	for _ in $(seq 50); do
		out=$(openssl ocsp -issuer sign-ca.pem -cert new.pem \
			-url "http://127.0.0.1:$sport/ocsp/sign" -CAfile sign-ca.pem \
			-no_nonce 2>&1) && break
		sleep 0.1
	done
	grep -q "new.pem: good" <<<"$out" || fail "openssl ocsp as bank: $out"
	sleep 1.5
	[ "$(usage_of bank ocsp)" = $((after + 1)) ] ||
		fail "openssl ocsp's answer was not counted"
	after=$((after + 1))
	echo "  (openssl ocsp through stunnel with bank's certificate: good)"
fi
[ "$(ask bank /crl/sign/131016.crl)" = 200 ] || fail "bank's CRL"
openssl crl -inform DER -in ans.bin -noout -CAfile sign-ca.pem 2>&1 |
	grep -q "verify OK" || fail "bank's CRL does not verify"
[ "$(ask shop /ocsp/auth auth-req.der)" = 200 ] || fail "shop's OCSP"
[ "$(ask shop /ocsp/auth sign-req.der)" = 403 ] ||
	fail "an authentication verifier asked about a signing certificate"
grep -q "authentication certificates only" ans.bin || fail "shop's 403: $(cat ans.bin)"
[ "$(ask shop /crl/sign.crl)" = 403 ] || fail "shop fetched the signing CRL"
[ "$(ask bank /ocsp/sign auth-req.der)" = 403 ] ||
	fail "a signature verifier asked about an authentication certificate"
sleep 1.5
[ "$(usage_of bank crl)" = 1 ] || fail "bank's CRL count"
[ "$(usage_of shop ocsp)" = 1 ] || fail "shop's OCSP count (refusals counted?)"
as_admin verifier usage --day "$(TZ=Asia/Tokyo date +%Y-%m-%d)" | grep -q "bank" ||
	fail "usage --day"
[ "$(as_admin verifier usage --day 2001-01-01)" = "no query was counted" ] ||
	fail "usage of another day"
pass "registered verifiers answered (OCSP good, CRL verifies) and counted per day; each kept to its purpose (403)"

[ "$(ask gone /ocsp/sign sign-req.der)" = 200 ] || fail "gone before removal"
as_admin verifier remove gone >/dev/null
[ "$(ask gone /ocsp/sign sign-req.der)" = 403 ] || fail "a removed verifier answered"
grep -q "removed" ans.bin || fail "gone's 403: $(cat ans.bin)"
out=$(as_admin verifier remove gone 2>&1) && fail "removed twice"
as_admin verifier list | grep -q "gone.*(removed)" || fail "list after removal"
pass "a removed verifier is refused at its next request"

# ---- 3. the linking look-up -----------------------------------------------
[ "$(ask none "/link/$keyid/$old")" = 403 ] || fail "link without a certificate"
[ "$(ask shop "/link/$keyid/$old")" = 403 ] || fail "link of a signing cert for shop"
[ "$(ask bank "/link/$keyid/$old")" = 200 ] || fail "link: $(cat ans.bin)"
cp ans.bin link1.der
openssl cms -verify -binary -inform DER -in link1.der -CAfile sign-ca.pem \
	-purpose any -out link1.json 2>cms.err || fail "cms -verify: $(cat cms.err)"
[ "$(json 'd["result"]' <link1.json)" = current ] || fail "result: $(cat link1.json)"
[ "$(json 'd["current"]["serial"]' <link1.json)" = "$new" ] ||
	fail "the renewed certificate is not the answer: $(cat link1.json)"
[ "$(json 'd["links"][0]["kind"]+" "+d["links"][0]["reason"]' <link1.json)" = "renewal superseded" ] ||
	fail "the link: $(cat link1.json)"
out=$(jpki verifier link "$old" --issuer-key-id "$keyid" --url "$url" \
	--ca-cert sign-ca.pem --cert "$pki/bank.crt" --key "$pki/bank.key" \
	--tls-ca "$pki/infra.crt" --out kept.der) || fail "verifier link: $out"
grep -q "current: $new (good)" <<<"$out" || fail "verifier link: $out"
cmp -s <(openssl cms -verify -binary -inform DER -in kept.der \
	-CAfile sign-ca.pem -purpose any 2>/dev/null | json 'd["current"]["serial"]') \
	<(echo "$new") || fail "the answer kept by --out"
# one byte of the content changed: both refuse it
python3 - link1.der <<'EOF'
import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read())
i = b.find(b'"result":"current"'); b[i + 11] ^= 0x01
open("tampered.der", "wb").write(b)
EOF
openssl cms -verify -binary -inform DER -in tampered.der -CAfile sign-ca.pem \
	-purpose any >/dev/null 2>&1 && fail "openssl took a tampered answer"
out=$(jpki verifier link "$old" --issuer-key-id "$keyid" --url "$url" \
	--ca-cert auth-ca.pem --cert "$pki/bank.crt" --key "$pki/bank.key" \
	--tls-ca "$pki/infra.crt" 2>&1) && fail "an answer checked with another CA"
grep -q "does not verify" <<<"$out" || fail "another CA: $out"
out=$(jpki verifier link "$old" --issuer-key-id "$keyid" --url "$url" \
	--ca-cert sign-ca.pem --tls-ca "$pki/infra.crt" 2>&1) &&
	fail "verifier link without a client certificate"
grep -q "403" <<<"$out" || fail "without a certificate: $out"
[ "$(ask bank "/link/$keyid/ABCDEF")" = 404 ] || fail "an unknown serial"
[ "$(ask bank "/link/00$keyid/$old")" = 404 ] || fail "an unknown key id"
[ "$(ask bank "/link/$keyid/$old/x")" = 404 ] || fail "a bad path"
pass "linking look-up: the renewed certificate for the old serial, signed (openssl cms -verify, jpki verifier link), a tampered one refused"

# the death is recorded after the renewal (moved to the same day): the CA
# revokes only what was issued before the event
JPKI_OPERATOR=reg1 JPKI_OPERATOR_PASSWORD=pw-reg-01234 \
	jpki --now "${soon}T12:00:00" registry death "$person" >/dev/null
for _ in $(seq 50); do
	jpki ca status "$new" | grep -q revoked && break
	sleep 0.1
done
[ "$(ask bank "/link/$keyid/$old")" = 200 ] || fail "link after death"
openssl cms -verify -binary -inform DER -in ans.bin -CAfile sign-ca.pem \
	-purpose any -out link2.json 2>/dev/null || fail "cms -verify after death"
[ "$(json 'd["result"]+" "+str(d["current"])+" "+d["last"]["serial"]+" "+d["last"]["reason"]' <link2.json)" = \
	"none None $new cessationOfOperation" ] || fail "after death: $(cat link2.json)"
out=$(jpki verifier link "$new" --issuer-key-id "$keyid" --url "$url" \
	--ca-cert sign-ca.pem --cert "$pki/bank.crt" --key "$pki/bank.key" \
	--tls-ca "$pki/infra.crt") || fail "verifier link after death: $out"
grep -q "current: none ($new revoked: cessationOfOperation" <<<"$out" ||
	fail "after death: $out"
sleep 1.5
# five answered (one the client refused, checked with the wrong CA); the
# 404s are not counted
[ "$(usage_of bank link)" = 5 ] || fail "bank's link count: $(usage_of bank link)"
pass "linking look-up after a death: none, the last certificate revoked (cessationOfOperation)"
stop_server

# ---- 4. open mode: as before ----------------------------------------------
serve_bg_tls open
[ "$(ask none /ocsp/sign sign-req.der)" = 200 ] || fail "open OCSP"
[ "$(ask none /crl/sign.crl)" = 200 ] || fail "open CRL"
[ "$(ask stranger "/link/$keyid/$old")" = 200 ] || fail "open link"
stop_server
pass "open mode: OCSP, CRLs and the linking look-up answer anyone"
