#!/usr/bin/env bash
# "Log in with the My Number card" in headless Chromium (docs/OIDC.md): a
# relying party written with the certified openid-client package
# (tests/browser/oidc_rp.mjs) sends the browser to `jpki serve --roles
# oidc`; the provider's page logs the resident in through the browser
# bridge (the extension of src/bridge/extension loaded unpacked, the
# native host's manifest in the private profile, a virtual card behind
# pcscd, PINs answered by bridge_pinentry.sh); the relying party gets the
# pairwise subject, then the 4 facts after the consent signed in the page.
# Then the card's certificates are renewed at the window (`jpki window
# renew`, written through pcscd into the card behind vpcd) and the resident
# logs in again: the same subject, the new authentication certificate used
# (the provider's log), the facts after a consent signed with the new
# signing certificate. The card as it was before the renewal (its
# authentication certificate superseded, so revoked) cannot log in.
#
# The card is issued at the window on 2026-11-17 (the resident born
# 1990-02-28: both certificates end on 2031-02-28, the fifth birthday) and
# renewed on 2031-01-15, in the three months before. The provider runs under
# JPKI_NOW at each date; openid-client is told its clock's lead
# (JPKI_OIDC_CLOCK_SKEW) for the ID token's times.
# Screenshots go to ${JPKI_SCREENSHOTS:-$PWD/screenshots}/oidc.
#
# usage: test_oidc_web.sh PATH/TO/jpki   (jpki-native-host beside it)
set -euo pipefail

here=$(dirname "$(realpath "$0")")
. "$here/lib.sh"
# JPKI_BROWSER_DIR: a copy of tests/browser with its own node_modules
browser_dir=$(realpath "${JPKI_BROWSER_DIR:-$here/../browser}")
shots=${JPKI_SCREENSHOTS:-$PWD/screenshots}/oidc
lib_init oidcweb "$1"

fail_more() { serve_log_tail 8; }
# shellcheck source=pcsc_lib.sh
. "$here/pcsc_lib.sh"
cleanup_more() { pcsc_cleanup; }

[ -x "$(dirname "$JPKI")/jpki-native-host" ] || fail "no jpki-native-host beside $JPKI"
for m in puppeteer-core openid-client; do
	[ -d "$browser_dir/node_modules/$m" ] ||
		fail "$m is not installed in $browser_dir (npm install there)"
done
command -v chromium >/dev/null || fail "chromium is not installed"

port=$(free_port)
url="http://127.0.0.1:$port"
rp_port=$(free_port)
address="東京都千代田区霞が関１丁目"
export JPKI_ARGON2_TEST=1

# --- the card issued at the window, 2026-11-17 ----------------------------------
export JPKI_NOW=2026-11-17T01:00:00Z
window_staff "$url"
person=$(JPKI_OPERATOR=reg1 JPKI_OPERATOR_PASSWORD=pw-reg-01234 \
	jpki registry register --municipality-code 131016 --prefecture 東京都 \
	--municipality 千代田区 --name "山田 花子" --sex female --birth 1990-02-28 \
	--address "$address" --json | json 'd["person"]')
clerk() { JPKI_OPERATOR=clerk1 JPKI_OPERATOR_PASSWORD=pw-window-01 jpki "$@"; }
jpki card new --kind mynumber card.bin >/dev/null
app=$(clerk window apply "$person" --id photo --photo-id driving-licence \
	--photo-id-address "$address" --json | json 'd["id"]')
clerk window issue "$app" --card card.bin --auth-pin 1234 --sign-pin ABC123 >issue.txt ||
	fail "issue: $(cat issue.txt)"
auth1=$(sed -n 's/^authentication certificate \([0-9A-F]*\) .*/\1/p' issue.txt)
sign1=$(sed -n 's/^signing certificate \([0-9A-F]*\) .*/\1/p' issue.txt)
[ -n "$auth1" ] && [ -n "$sign1" ] || fail "issue: $(cat issue.txt)"
cp card.bin card-2026.bin
JPKI_OPERATOR=admin JPKI_OPERATOR_PASSWORD=pw-admin-0123 \
	jpki oidc client add "テスト区 電子申請" \
	--redirect-uri "http://127.0.0.1:$rp_port/cb" --secret-file secret.txt >client.txt
client_id=$(sed -n 's/^client_id //p' client.txt)

# provider DATE: `jpki serve` (oidc) under JPKI_NOW=DATE, and openid-client
# told how far that clock is ahead of this machine's
provider() {
	stop_server
	export JPKI_NOW=$1
	JPKI_OIDC_CLOCK_SKEW=$(($(date -d "$1" +%s) - $(date +%s)))
	export JPKI_OIDC_CLOCK_SKEW
	"$JPKI" --data "$work/var" --log info serve --roles oidc,ocsp,repository \
		--oidc-issuer "$url" --listen "127.0.0.1:$port" >>serve.log 2>&1 &
	server_pid=$!
	for _ in $(seq 100); do
		curl -sf "$url/.well-known/openid-configuration" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "the provider did not start"
}
provider 2026-11-17T01:10:00Z

JPKI_CHROMIUM_HOSTS_DIR="$work/profile/NativeMessagingHosts" \
	JPKI_FIREFOX_HOSTS_DIR="$work/firefox-hosts" \
	cmake --install "$(dirname "$JPKI")" --prefix "$work/prefix" >install.log 2>&1 ||
	fail "cmake --install: $(tail -5 install.log)"
ext="$work/prefix/share/openjpki/extension"

export JPKI_PINENTRY="$here/bridge_pinentry.sh"
export JPKI_TEST_PINENTRY_DIR="$work/pins"
mkdir pins
echo 1234 >pins/auth
echo ABC123 >pins/sign

pcsc_start
card_serve card.bin

rm -rf "$shots"
rp() { # OUT MODE: oidc_rp.mjs, its lines in OUT
	node "$browser_dir/oidc_rp.mjs" "$ext" "$work/profile" "$url" "$client_id" \
		"$(cat secret.txt)" "$rp_port" "$shots" "$2" >"$1" 2>rp.err ||
		fail "in the browser: $(cat rp.err "$1")"
}
# facts_ok RP-OUTPUT [SUB]: the two log-ins of one run (one subject, equal
# to SUB when given; the 4 facts after the consent); prints the subject
facts_ok() {
	python3 - "$1" "${2:-}" <<'PY'
import json, sys
a, b = [json.loads(l) for l in open(sys.argv[1])]
assert len(a["sub"]) == 43 and "name" not in a["claims"], a
assert a["userinfo"] == {"sub": a["sub"]}, a
assert b["sub"] == a["sub"], (a, b)
assert not sys.argv[2] or a["sub"] == sys.argv[2], ("another subject", sys.argv[2], a)
u = b["userinfo"]
assert u["name"] == "山田\u3000花子" and u["birthdate"] == "1990-02-28", u
assert u["gender"] == "female" and u["address"]["formatted"] == "東京都千代田区霞が関１丁目", u
assert b["claims"]["name"] == u["name"], b
print(a["sub"])
PY
}
rp rp.txt both
sub=$(facts_ok rp.txt) || fail "the relying party got: $(cat rp.txt)"
pass "openid-client logs in through the bridge: pairwise sub, then the 4 facts after the signed consent"
grep -q "$url asks you to log in" pins/log || fail "the PIN prompt did not name the provider: $(cat pins/log)"
grep -q "$url asks you to sign" pins/log || fail "the signing prompt did not name the provider: $(cat pins/log)"
pass "the bridge's PIN prompts named the provider's origin"
grep -q "oidc: logged in with certificate $auth1" serve.log ||
	fail "the provider did not log the card's certificate $auth1: $(grep oidc: serve.log | tail -3)"

# --- renewed at the window, 2031-01-15: both certificates, into the card ------
# behind vpcd, through pcscd, as the window's reader writes them
stop_server
export JPKI_NOW=2031-01-15T01:00:00Z
reader="Virtual PCD 00 0$((VPCD_PORT - 35963))"
for type in auth sign; do
	clerk window renew "$person" --type "$type" --reader "$reader" --id photo \
		--photo-id driving-licence --photo-id-address "$address" >"renew-$type.txt" 2>&1 ||
		fail "renew $type: $(cat "renew-$type.txt")"
done
auth2=$(sed -n 's/.*certificate \([0-9A-F]*\) written.*/\1/p' renew-auth.txt)
sign2=$(sed -n 's/.*certificate \([0-9A-F]*\) written.*/\1/p' renew-sign.txt)
[ -n "$auth2" ] && [ "$auth2" != "$auth1" ] && [ -n "$sign2" ] && [ "$sign2" != "$sign1" ] ||
	fail "renewal: $(cat renew-*.txt)"
[ "$(jpki ca status "$auth1" --json | json 'd["status"]')" = revoked ] ||
	fail "the renewed-away authentication certificate is not revoked"
pass "renewed at the window through the reader: authentication $auth1 -> $auth2, signing $sign1 -> $sign2"

provider 2031-01-15T01:10:00Z
logged=$(wc -l <serve.log)
JPKI_OIDC_TAG=renewed rp rp2.txt both
facts_ok rp2.txt "$sub" >/dev/null ||
	fail "after the renewal the relying party got: $(cat rp2.txt) (before: $sub)"
tail -n +"$logged" serve.log >serve2.log
grep -q "oidc: logged in with certificate $auth2" serve2.log ||
	fail "the provider did not log the renewed certificate $auth2: $(grep oidc: serve2.log | tail -3)"
grep -q "oidc: logged in with certificate $auth1" serve2.log &&
	fail "the renewed-away certificate $auth1 logged in"
grep -q "oidc: consent signed with certificate $sign2" serve2.log ||
	fail "the consent was not signed with the renewed $sign2: $(grep oidc: serve2.log | tail -3)"
pass "after the renewal: the same pairwise sub, logged in with the new authentication certificate $auth2, the 4 facts after a consent signed with the new signing certificate $sign2"

# --- the card as it was before the renewal: its certificate is revoked --------
card_kill
for _ in $(seq 100); do
	opensc-tool -l 2>/dev/null | grep -q "Yes .*$reader" || break
	sleep 0.1
done
card_serve card-2026.bin
logged=$(wc -l <serve.log)
JPKI_OIDC_TAG=revoked rp rp3.txt refused
python3 -c 'import json; d=json.load(open("rp3.txt")); assert "revoked" in d["refused"], d' ||
	fail "the revoked certificate: $(cat rp3.txt)"
tail -n +"$logged" serve.log | grep -q "oidc: log-in refused: .*revoked" ||
	fail "the provider's log has no refusal: $(tail -n +"$logged" serve.log | grep oidc: | tail -3)"
tail -n +"$logged" serve.log | grep -q "oidc: logged in" &&
	fail "the card before the renewal logged in"
pass "the card before the renewal (its authentication certificate revoked, superseded) cannot log in: $(python3 -c 'import json; print(json.load(open("rp3.txt"))["refused"])')"

for s in login-1-provider login-1-relying-party login-2-consent login-2-relying-party \
	renewed-1-relying-party renewed-2-consent revoked-refused; do
	[ -s "$shots/$s.png" ] || fail "no screenshot $s"
done
pass "screenshots in $shots"
