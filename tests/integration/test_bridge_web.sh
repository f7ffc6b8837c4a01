#!/usr/bin/env bash
# The browser bridge end to end in headless Chromium (tests/browser/
# bridge.mjs): the WebExtension of src/bridge/extension loaded unpacked, the
# host manifest of jpki-native-host in the private profile (as `make
# install` puts it in /etc/chromium/native-messaging-hosts), a virtual card
# behind pcscd, PINs answered by tests/integration/bridge_pinentry.sh. A
# page on 127.0.0.1 gets the certificates, signs a hash (openssl checks the
# CMS here) and logs in at `jpki serve --roles login`; the same page from
# another origin gets an answer bound to that origin, which the verifier
# refuses.
# Screenshots go to ${JPKI_SCREENSHOTS:-$PWD/screenshots}/bridge.
#
# usage: test_bridge_web.sh PATH/TO/jpki   (jpki-native-host beside it)
set -euo pipefail

here=$(dirname "$(realpath "$0")")
. "$here/lib.sh"
browser_dir=$(realpath "$here/../browser")
ext=$(realpath "$here/../../src/bridge/extension")
shots=${JPKI_SCREENSHOTS:-$PWD/screenshots}/bridge
lib_init bridge "$1"
HOST=$(dirname "$JPKI")/jpki-native-host
site_pid=""

fail_more() { serve_log_tail 8; }
# shellcheck source=pcsc_lib.sh
. "$here/pcsc_lib.sh"
cleanup_more() {
	if [ -n "$site_pid" ]; then
		kill "$site_pid" 2>/dev/null || true
		wait "$site_pid" 2>/dev/null || true
	fi
	pcsc_cleanup
}

[ -x "$HOST" ] || fail "no jpki-native-host beside $JPKI"
[ -d "$browser_dir/node_modules/puppeteer-core" ] ||
	fail "puppeteer-core is not installed (scripts/setup.sh installs it)"
command -v chromium >/dev/null || fail "chromium is not installed"

port=$(free_port)
url="http://127.0.0.1:$port"
pport=$(free_port)
page_origin="http://127.0.0.1:$pport"

jpki ca init --public-url "$url" >/dev/null
jpki card new --kind mynumber card.bin >/dev/null
jpki card issue card.bin --auth-pin 1234 --sign-pin ABC123 --person P-9 \
	--municipality-code 131016 --prefecture Tokyo-to \
	--municipality Chiyoda-ku --name "山田 花子" --sex female \
	--birth 1990-02-28 --address "東京都千代田区霞が関１丁目" >issue.txt
jpki ca cert sign >sign-ca.pem
# the relying party's pages are on $page_origin: answers are bound to it
printf 'login_origin = %s\n' "$page_origin" >"$work/var/jpki.conf"
"$JPKI" --data "$work/var" --log warn serve --roles login \
	--listen "127.0.0.1:$port" >serve.log 2>&1 &
server_pid=$!
for _ in $(seq 50); do
	curl -sf "$url/login/challenge" >/dev/null 2>&1 && break
	sleep 0.1
done
curl -sf "$url/login/challenge" | grep -q "$page_origin" || fail "the login role is not bound to $page_origin"

# the relying party's page, on 127.0.0.1 and (another origin) localhost
mkdir site
cp "$browser_dir/bridge_page.html" site/index.html
python3 -m http.server --bind 127.0.0.1 --directory site "$pport" >site.log 2>&1 &
site_pid=$!
for _ in $(seq 50); do
	curl -sf "$page_origin/" >/dev/null 2>&1 && break
	sleep 0.1
done

# the host manifest as `make install` writes it, in the private profile
ext_id=$(python3 - "$ext/manifest.json" <<'PY'
import base64, hashlib, json, sys
key = base64.b64decode(json.load(open(sys.argv[1]))["key"])
print("".join(chr(ord("a") + int(c, 16)) for c in hashlib.sha256(key).hexdigest()[:32]))
PY
)
mkdir -p profile/NativeMessagingHosts
cat >profile/NativeMessagingHosts/jp.openjpki.bridge.json <<JSON
{"name": "jp.openjpki.bridge",
 "description": "OpenJPKI: the My Number card for web pages",
 "path": "$HOST", "type": "stdio",
 "allowed_origins": ["chrome-extension://$ext_id/"]}
JSON

export JPKI_PINENTRY="$here/bridge_pinentry.sh"
export JPKI_TEST_PINENTRY_DIR="$work/pins"
mkdir pins
echo 1234 >pins/auth
echo ABC123 >pins/sign

pcsc_start
card_serve card.bin

rm -rf "$shots"
node "$browser_dir/bridge.mjs" "$ext" "$work/profile" "$page_origin/" \
	"http://localhost:$pport/" "$url/login" "$shots" >bridge.txt 2>&1 ||
	fail "in the browser: $(cat bridge.txt)"
cat bridge.txt
printf '転居届\nname: 山田 花子\n' >app.txt
base64 -d "$shots/signed.p7s.b64" >app.p7s
openssl cms -verify -binary -inform DER -in app.p7s -content app.txt \
	-CAfile sign-ca.pem -out /dev/null 2>verify.txt || fail "the page's CMS: $(cat verify.txt)"
pass "the CMS signed in the page verifies with openssl over the document"
grep -q "$page_origin asks you to sign" pins/log || fail "the sign prompt did not name $page_origin"
grep -q "http://localhost:$pport asks you to log in" pins/log ||
	fail "the other page's prompt did not name its origin: $(cat pins/log)"
pass "the PIN prompts named the page's origin as the browser reported it"
for s in 1-extension 2-certificates 3-signed 4-login-accepted 5-other-origin-refused; do
	[ -s "$shots/$s.png" ] || fail "no screenshot $s"
done
pass "screenshots in $shots"
