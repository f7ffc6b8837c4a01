#!/usr/bin/env bash
# One resident through SPEC section 3, end to end, on a virtual card, with
# every certificate's status checked through the CA's OCSP and CRL as a
# relying party sees them (the openssl command line):
#   register -> apply with photo ID -> issue both certificates at the counter
#   -> move (signing revoked automatically, shown by OCSP within a second;
#   authentication still good) -> renew -> lose the card -> a new card ->
#   die. Then: the server killed between a registry change and its
#   revocation revokes exactly once after a restart, and `jpki audit verify`
#   passes and then names an edited entry.
#
# usage: test_window_e2e.sh PATH/TO/jpki
set -euo pipefail

. "$(dirname "$(realpath "$0")")/lib.sh"
lib_init window "$1"

fail() {
	echo "FAIL: $*" >&2
	[ -f serve.log ] && grep -v "^  \|^OpenJPKI\|^Stop" serve.log | tail -8 >&2
	exit 1
}

# A working Tuesday morning at the window (10:00 in Japan). The server's
# clock starts there; each command of the test stands one minute later than
# the one before, so the records keep their real order across processes.
export JPKI_NOW=2026-11-17T01:00:00Z
export JPKI_ARGON2_TEST=1
echo 0 >"$work/minute"
next_now() {
	local m
	m=$(($(cat "$work/minute") + 1))
	echo "$m" >"$work/minute"
	date -u -d "2026-11-17 01:00:00 UTC + $m minutes" +%Y-%m-%dT%H:%M:%SZ
}
port=$(free_port)
url="http://127.0.0.1:$port"
jpki() { "$JPKI" --data "$work/var" --log warn --now "$(next_now)" "$@"; }
as() { # OPERATOR command...: run as an operator (password from the env)
	local who=$1
	shift
	JPKI_OPERATOR=$who JPKI_OPERATOR_PASSWORD="pw-of-$who-0123" jpki "$@"
}

start_server() {
	"$JPKI" --data "$work/var" --log info serve --listen "127.0.0.1:$port" \
		>>serve.log 2>&1 &
	server_pid=$!
	wait_healthz "$url" || fail "the server did not start"
}

# OCSP status of a serial as openssl sees it: good, revoked (reason) ...
ocsp() { # sign|auth SERIAL
	openssl ocsp -issuer "$1-ca.pem" -serial "0x$2" -url "$url/ocsp/$1" \
		-CAfile "$1-ca.pem" -validity_period 315360000 2>ocsp.err |
		sed -n "s/^0x$2: //p; s/^[[:space:]]*Reason: /reason=/p" | tr '\n' ' '
}
expect_ocsp() { # sign|auth SERIAL REGEX
	local got
	got=$(ocsp "$1" "$2")
	echo "$got" | grep -Eq "$3" || fail "OCSP for $1 $2: '$got' ($(cat ocsp.err)), not /$3/"
}
in_crl() { # SCOPE SERIAL REASON
	curl -sf "$url/crl/$1.crl" -o crl.der
	openssl crl -inform DER -in crl.der -noout -text >crl.txt
	grep -A4 "Serial Number: $2" crl.txt | grep -q "$3" ||
		fail "$2 is not in CRL $1 with $3: $(grep -A4 "Serial Number" crl.txt | head -12)"
}

# --- the installation: CA, operators ---------------------------------------
jpki ca init --public-url "$url" >/dev/null
jpki ca cert sign >sign-ca.pem
jpki ca cert auth >auth-ca.pem
JPKI_NEW_OPERATOR_PASSWORD=pw-of-admin-0123 jpki operator add admin --role ca-officer >/dev/null
for op in "reg131016 registry-clerk 131016" "win131016 window-clerk 131016" \
	"reg271004 registry-clerk 271004" "win271004 window-clerk 271004"; do
	set -- $op
	JPKI_NEW_OPERATOR_PASSWORD="pw-of-$1-0123" as admin operator add "$1" \
		--role "$2" --municipality-code "$3" >/dev/null
done
pass "CA and operators (a CA officer, clerks of two municipalities)"
start_server

# --- register, apply with photo ID, issue both at the counter ------------------
person=$(as reg131016 registry register --municipality-code 131016 \
	--prefecture 東京都 --municipality 千代田区 --name "山田 太郎" --sex male \
	--birth 1980-06-01 --address "千代田１番１号" --json | json 'd["person"]')
jpki card new --kind mynumber card.bin >/dev/null
app=$(as win131016 window apply "$person" --id photo --photo-id driving-licence \
	--photo-id-address "千代田１番１号" --json | json 'd["id"]')
mkdir copies
as win131016 window issue "$app" --card card.bin --auth-pin 1234 \
	--sign-pin ABC123 --copy-dir copies >issue.txt
auth1=$(sed -n 's/^authentication certificate \([0-9A-F]*\) .*/\1/p' issue.txt)
sign1=$(sed -n 's/^signing certificate \([0-9A-F]*\) .*/\1/p' issue.txt)
[ -n "$auth1" ] && [ -n "$sign1" ] || fail "issue: $(cat issue.txt)"
expect_ocsp sign "$sign1" "^good"
expect_ocsp auth "$auth1" "^good"
pdftotext "copies/$sign1.pdf" - | grep -q "山田" || fail "the certificate copy lacks the name"
pass "registered, applied with photo ID, both certificates issued on the card; OCSP good"

# --- move: signing revoked automatically within a second ------------------------
as reg131016 registry move "$person" --address "千代田２番２号" >/dev/null
moved=$(date +%s%N)
until ocsp sign "$sign1" | grep -q "^revoked"; do
	[ $(($(date +%s%N) - moved)) -lt 1000000000 ] ||
		fail "OCSP does not say revoked 1 s after the move: $(ocsp sign "$sign1")"
	sleep 0.05
done
took=$((($(date +%s%N) - moved) / 1000000))
expect_ocsp sign "$sign1" "revoked.*reason=affiliationChanged"
expect_ocsp auth "$auth1" "^good"
in_crl sign/131016 "$sign1" "Affiliation Changed"
pass "move: signing certificate revoked (affiliationChanged) in ${took} ms, in the municipality's CRL; authentication still good"

# --- renew the authentication certificate, 2 months before it expires ----------
# the identity check of a new issue: without a photo ID, never the same day
as win131016 --now 2031-04-01T01:00:00Z window renew "$person" --type auth \
	--card card.bin --id letter >noid.txt 2>&1 && fail "renewal without a photo ID was same-day"
grep -q "no same-day renewal" noid.txt || fail "renew without photo ID: $(cat noid.txt)"
as win131016 --now 2031-04-01T01:00:00Z window renew "$person" --type auth \
	--card card.bin --id photo --photo-id passport \
	--photo-id-address "千代田２番２号" >renew.txt 2>&1 || fail "renew: $(cat renew.txt)"
as win131016 --now 2026-12-01T01:00:00Z window renew "$person" --type auth \
	--card card.bin --id photo --photo-id passport \
	--photo-id-address "千代田２番２号" >early.txt 2>&1 && fail "renewal 4 years early was accepted"
auth2=$(sed -n 's/.*certificate \([0-9A-F]*\) written.*/\1/p' renew.txt)
[ -n "$auth2" ] || fail "renew: $(cat renew.txt)"
expect_ocsp auth "$auth1" "revoked.*reason=superseded"
expect_ocsp auth "$auth2" "^good"
pass "renewal from 3 months before expiry: the old one superseded, the new one good; too early refused"

# --- lose the card ----------------------------------------------------------------
as win131016 window report "$person" --lost >/dev/null
expect_ocsp auth "$auth2" "revoked.*reason=keyCompromise"
pass "loss report: the card's certificates revoked (keyCompromise)"

# --- a new card, then death ---------------------------------------------------------
jpki card new --kind mynumber card2.bin >/dev/null
app2=$(as win131016 window apply "$person" --id photo --photo-id passport \
	--photo-id-address "千代田２番２号" --json | json 'd["id"]')
as win131016 window issue "$app2" --card card2.bin --auth-pin 4321 \
	--sign-pin XYZ789 >issue2.txt
auth3=$(sed -n 's/^authentication certificate \([0-9A-F]*\) .*/\1/p' issue2.txt)
sign3=$(sed -n 's/^signing certificate \([0-9A-F]*\) .*/\1/p' issue2.txt)
expect_ocsp sign "$sign3" "^good"
as reg131016 registry death "$person" >/dev/null
sleep 1
expect_ocsp sign "$sign3" "revoked.*reason=cessationOfOperation"
expect_ocsp auth "$auth3" "revoked.*reason=cessationOfOperation"
pass "a new card after the loss; death revokes every certificate (cessationOfOperation)"

# --- killed between a registry change and its revocation ----------------------------
p2=$(as reg131016 registry register --municipality-code 131016 \
	--prefecture 東京都 --municipality 千代田区 --name "佐藤 花子" --sex female \
	--birth 1975-03-03 --address "千代田３番３号" --json | json 'd["person"]')
jpki card new --kind mynumber card3.bin >/dev/null
app3=$(as win131016 window apply "$p2" --id photo --photo-id passport \
	--photo-id-address "千代田３番３号" --json | json 'd["id"]')
as win131016 window issue "$app3" --card card3.bin --auth-pin 1111 \
	--sign-pin QWE123 >issue3.txt
sign4=$(sed -n 's/^signing certificate \([0-9A-F]*\) .*/\1/p' issue3.txt)
kill -KILL "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=""
# the move into another municipality, made while no CA process runs
as reg271004 registry move "$p2" --municipality-code 271004 \
	--prefecture 大阪府 --municipality 大阪市北区 --address "梅田１番" >/dev/null
[ "$(jpki ca status "$sign4" --json | json 'd["status"]')" = good ] ||
	fail "revoked before any CA process ran"
start_server
sleep 1
at1=$(jpki ca status "$sign4" --json | json 'd.get("revoked_at")')
kill "$server_pid"
wait "$server_pid" 2>/dev/null || true
start_server
sleep 1
at2=$(jpki ca status "$sign4" --json | json 'd.get("revoked_at")')
expect_ocsp sign "$sign4" "revoked.*reason=affiliationChanged"
[ "$at1" = "$at2" ] || fail "revoked again after another restart ($at1, $at2)"
revokes=$(sqlite3 var/jpki.db "SELECT count(*) FROM audit_log WHERE action = 'ca.revoke' AND subject = '$sign4'")
[ "$revokes" = 1 ] || fail "$revokes revocation entries for $sign4"
pass "server killed between the change and its revocation: revoked once after restart"

# --- the audit chain -------------------------------------------------------------------
jpki audit verify >audit.txt || fail "audit verify: $(cat audit.txt)"
grep -q "holds" audit.txt || fail "audit verify: $(cat audit.txt)"
sqlite3 var/jpki.db "UPDATE audit_log SET subject = 'someone else' WHERE seq = 5"
jpki audit verify >audit.txt 2>&1 && fail "an edited chain verified"
grep -q "entry 5" audit.txt || fail "audit verify did not name entry 5: $(cat audit.txt)"
pass "audit verify passes untouched and names an edited entry"
echo "all window checks passed"
