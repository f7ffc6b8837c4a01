#!/usr/bin/env bash
# `jpki cert show FILE` on the real JPKI CA certificates, both generations
# (2015, 2023), signing and authentication (tests/data/real_ca/): what it
# prints is checked against `openssl x509`, as PEM and as DER; a file cut
# short fails with a sentence saying so and prints nothing on stdout.
#
# usage: test_cert_show_file.sh PATH/TO/jpki
set -euo pipefail

JPKI=$(realpath "$1")
here=$(dirname "$(realpath "$0")")
real="$here/../data/real_ca"
work=$(mktemp -d /tmp/jpki-certshow-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
pass() { echo "ok - $*"; }
jpki() { "$JPKI" --data "$work/var" --log warn "$@"; }

row() { # FILE LABEL -> the value of that row of `jpki cert show`
	sed -n "s/^  $2 \{1,\}//p" "$1" | head -1
}
ossl_day() { # openssl date -> the day in Japan (UTC+9), YYYY-MM-DD
	TZ=Asia/Tokyo date -d "$1" +%F
}

# the day the certificates are looked at: after the 2015 generation ended
today=2026-01-10
export JPKI_NOW=$today

n=0
for pem in "$real"/auth_ca_2015.pem "$real"/auth_ca_2023.pem \
	"$real"/sign_ca_2015.pem "$real"/sign_ca_2023.pem; do
	base=$(basename "$pem" .pem)
	openssl x509 -in "$pem" -outform DER -out "$base.der"
	subject=$(openssl x509 -in "$pem" -noout -subject -nameopt utf8,sep_comma_plus_space |
		sed 's/^subject=//')
	serial=$(openssl x509 -in "$pem" -noout -serial | sed 's/^serial=//')
	from=$(ossl_day "$(openssl x509 -in "$pem" -noout -startdate | sed 's/^notBefore=//')")
	until=$(ossl_day "$(openssl x509 -in "$pem" -noout -enddate | sed 's/^notAfter=//')")
	skid=$(openssl x509 -in "$pem" -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' ')
	fp=$(openssl x509 -in "$pem" -noout -fingerprint -sha256 | sed 's/^.*=//')
	# on JPKI_NOW (below) the 2015 generation has expired
	if [ "$(date -d "$until" +%s)" -lt "$(date -d "$today" +%s)" ]; then
		state="expired"
	else
		state="$((($(date -u -d "$until" +%s) - $(date -u -d "$today" +%s)) / 86400)) days left"
	fi
	case "$base" in
	auth_*) kind="利用者証明用 (authentication)" ou="公的個人認証サービス利用者証明用" ;;
	sign_*) kind="署名用 (signing)" ou="公的個人認証サービス署名用" ;;
	esac
	for form in "$pem" "$base.der"; do
		jpki cert show "$form" >show.txt 2>err.txt ||
			fail "jpki cert show $form: $(cat err.txt)"
		[ "$(head -1 show.txt)" = "$kind CA certificate, self-signed" ] ||
			fail "$form: first line '$(head -1 show.txt)'"
		[ "$(row show.txt subject)" = "$subject" ] ||
			fail "$form: subject '$(row show.txt subject)', openssl '$subject'"
		[ "$(row show.txt issuer)" = "$subject" ] || fail "$form: issuer"
		[ "$(row show.txt serial)" = "$serial" ] ||
			fail "$form: serial '$(row show.txt serial)', openssl '$serial'"
		[ "$(row show.txt "valid from")" = "$from" ] ||
			fail "$form: valid from '$(row show.txt "valid from")', openssl '$from'"
		[ "$(row show.txt "valid until")" = "$until ($state)" ] ||
			fail "$form: valid until '$(row show.txt "valid until")', openssl '$until' ($state)"
		[ "$(row show.txt "key id")" = "$skid" ] ||
			fail "$form: key id '$(row show.txt "key id")', openssl '$skid'"
		[ "$(row show.txt "authority key id")" = "(none)" ] ||
			fail "$form: an authority key id where the real CA has none"
		[ "$(row show.txt CA)" = "yes" ] || fail "$form: not shown as a CA"
		[ "$(row show.txt "key usage")" = "keyCertSign, cRLSign" ] ||
			fail "$form: key usage '$(row show.txt "key usage")'"
		[ "$(row show.txt key)" = "RSA-2048" ] || fail "$form: key '$(row show.txt key)'"
		row show.txt "alt name" | grep -qF "O=公的個人認証サービス, OU=$ou" ||
			fail "$form: alt name '$(row show.txt "alt name")'"
		[ "$(row show.txt SHA-256)" = "$fp" ] || fail "$form: fingerprint"
	done
	jpki cert show --json "$pem" >show.json
	python3 - "$skid" show.json <<'PY' || fail "$base: --json"
import json, sys
o = json.load(open(sys.argv[2]))
assert o["ca"] is True and o["self_signed"] is True, o
assert o["key_id"] == sys.argv[1] and o["authority_key_id"] == "", o
assert o["jpki"] in ("signing", "authentication"), o
assert o["status"] == ("expired" if "2015" in o["not_before"] else "valid"), o
PY
	n=$((n + 1))
done
[ "$n" -eq 4 ] || fail "read $n real CA certificates, not 4"
pass "jpki cert show reads the four real JPKI CA certificates (PEM and DER) as openssl does"

# --- an end-entity certificate of ours is no CA -----------------------------
jpki ca init >/dev/null
jpki ca cert sign >ours.pem
jpki cert show ours.pem >ours.txt || fail "our CA certificate"
grep -q "^署名用 (signing) CA certificate, self-signed" ours.txt ||
	fail "our signing CA: $(head -1 ours.txt)"
openssl req -new -x509 -newkey rsa:2048 -nodes -keyout leaf.key -subj /CN=leaf \
	-days 1 -out leaf.pem -addext basicConstraints=critical,CA:FALSE 2>/dev/null
jpki cert show leaf.pem >leaf.txt || fail "a plain certificate"
[ "$(row leaf.txt CA)" = "no" ] || fail "a leaf shown as CA"
[ "$(head -1 leaf.txt)" = "certificate, self-signed" ] || fail "leaf: $(head -1 leaf.txt)"
pass "our CA certificate is named as such; a plain certificate is no CA"

# --- files cut short, or not certificates, fail clearly ---------------------
pem="$real/sign_ca_2023.pem"
expect_fail() { # FILE PATTERN
	if jpki cert show "$1" >out.txt 2>err.txt; then
		fail "jpki cert show accepted $1"
	fi
	[ ! -s out.txt ] || fail "$1: printed '$(cat out.txt)'"
	grep -q "$2" err.txt || fail "$1: '$(cat err.txt)', not '$2'"
}
head -c 700 "$pem" >cut.pem
expect_fail cut.pem "cut short: no END CERTIFICATE line"
{ head -8 "$pem"; tail -1 "$pem"; } >lines.pem
expect_fail lines.pem "cut short: its DER header claims"
head -c 1000 sign_ca_2023.der >cut.der
expect_fail cut.der "cut short: its DER header claims [0-9]* bytes, there are 1000"
head -c 3 sign_ca_2023.der >tiny.der
expect_fail tiny.der "cut short"
{ cat sign_ca_2023.der; printf 'xx'; } >long.der
expect_fail long.der "2 bytes follow the certificate"
: >empty.pem
expect_fail empty.pem "the file is empty"
printf 'hello\n' >text.txt
expect_fail text.txt "neither PEM nor DER"
expect_fail "$work/none.pem" "none.pem"
if jpki cert show --sign "$pem" >/dev/null 2>err.txt; then
	fail "--sign with a file was taken"
fi
pass "a file cut short (PEM or DER), too long, empty or not a certificate fails with a sentence"
echo "all cert show FILE checks passed"
