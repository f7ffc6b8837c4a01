#!/usr/bin/env bash
# "Log in with the My Number card" in headless Chromium (docs/OIDC.md): a
# relying party written with the certified openid-client package
# (tests/browser/oidc_rp.mjs) sends the browser to `jpki serve --roles
# oidc`; the provider's page logs the resident in through the browser
# bridge (the extension of src/bridge/extension loaded unpacked, the
# native host's manifest in the private profile, a virtual card behind
# pcscd, PINs answered by bridge_pinentry.sh); the relying party gets the
# pairwise subject, then the 4 facts after the consent signed in the page.
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

jpki ca init --public-url "$url" >/dev/null
jpki card new --kind mynumber card.bin >/dev/null
jpki card issue card.bin --auth-pin 1234 --sign-pin ABC123 --person P-9 \
	--municipality-code 131016 --prefecture Tokyo-to \
	--municipality Chiyoda-ku --name "山田 花子" --sex female \
	--birth 1990-02-28 --address "東京都千代田区霞が関１丁目" >/dev/null
export JPKI_NEW_OPERATOR_PASSWORD="officer-password-1"
jpki operator add officer --role ca-officer >/dev/null
JPKI_OPERATOR=officer JPKI_OPERATOR_PASSWORD="officer-password-1" \
	jpki oidc client add "テスト区 電子申請" \
	--redirect-uri "http://127.0.0.1:$rp_port/cb" --secret-file secret.txt >client.txt
client_id=$(sed -n 's/^client_id //p' client.txt)
"$JPKI" --data "$work/var" --log info serve --roles oidc,ocsp,repository \
	--oidc-issuer "$url" --listen "127.0.0.1:$port" >serve.log 2>&1 &
server_pid=$!
for _ in $(seq 100); do
	curl -sf "$url/.well-known/openid-configuration" >/dev/null 2>&1 && break
	sleep 0.1
done

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
node "$browser_dir/oidc_rp.mjs" "$ext" "$work/profile" "$url" "$client_id" \
	"$(cat secret.txt)" "$rp_port" "$shots" >rp.txt 2>rp.err ||
	fail "in the browser: $(cat rp.err rp.txt)"
python3 - <<'EOF' || fail "the relying party got: $(cat rp.txt)"
import json
a, b = [json.loads(l) for l in open("rp.txt")]
assert len(a["sub"]) == 43 and "name" not in a["claims"], a
assert a["userinfo"] == {"sub": a["sub"]}, a
assert b["sub"] == a["sub"], (a, b)
u = b["userinfo"]
assert u["name"] == "山田\u3000花子" and u["birthdate"] == "1990-02-28", u
assert u["gender"] == "female" and u["address"]["formatted"] == "東京都千代田区霞が関１丁目", u
assert b["claims"]["name"] == u["name"], b
EOF
pass "openid-client logs in through the bridge: pairwise sub, then the 4 facts after the signed consent"
grep -q "$url asks you to log in" pins/log || fail "the PIN prompt did not name the provider: $(cat pins/log)"
grep -q "$url asks you to sign" pins/log || fail "the signing prompt did not name the provider: $(cat pins/log)"
pass "the bridge's PIN prompts named the provider's origin"
for s in login-1-provider login-1-relying-party login-2-consent login-2-relying-party; do
	[ -s "$shots/$s.png" ] || fail "no screenshot $s"
done
pass "screenshots in $shots"
