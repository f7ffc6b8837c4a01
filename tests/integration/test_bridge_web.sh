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
shots=${JPKI_SCREENSHOTS:-$PWD/screenshots}/bridge
lib_init bridge "$1"
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

[ -x "$(dirname "$JPKI")/jpki-native-host" ] || fail "no jpki-native-host beside $JPKI"
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

# `make install` (cmake --install) into $work: the programs under prefix/,
# the extension under prefix/share/openjpki/extension, the Chromium host
# manifest into the private profile (where Chromium looks for a user's
# hosts when --user-data-dir is given) and the Firefox one beside it
JPKI_CHROMIUM_HOSTS_DIR="$work/profile/NativeMessagingHosts" \
	JPKI_FIREFOX_HOSTS_DIR="$work/firefox-hosts" \
	cmake --install "$(dirname "$JPKI")" --prefix "$work/prefix" >install.log 2>&1 ||
	fail "cmake --install: $(tail -5 install.log)"
ext="$work/prefix/share/openjpki/extension"
HOST="$work/prefix/bin/jpki-native-host"
[ -x "$HOST" ] && [ -s "$ext/manifest.json" ] && [ -s "$ext/background.js" ] ||
	fail "make install left out the host or the extension"
ext_id=$(python3 - "$ext/manifest.json" <<'PY'
import base64, hashlib, json, sys
key = base64.b64decode(json.load(open(sys.argv[1]))["key"])
print("".join(chr(ord("a") + int(c, 16)) for c in hashlib.sha256(key).hexdigest()[:32]))
PY
)
python3 - "$work/profile/NativeMessagingHosts/jp.openjpki.bridge.json" \
	"$work/firefox-hosts/jp.openjpki.bridge.json" "$HOST" "$ext_id" <<'PY' ||
import json, sys
c, f = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert c["name"] == f["name"] == "jp.openjpki.bridge", (c, f)
assert c["path"] == f["path"] == sys.argv[3] and c["type"] == "stdio", (c, f)
assert c["allowed_origins"] == ["chrome-extension://%s/" % sys.argv[4]], c
assert f["allowed_extensions"] == ["bridge@openjpki.jp"], f
PY
	fail "the installed host manifests are wrong"
pass "make install: host, extension (id $ext_id from its key) and both browsers' host manifests"

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
