#!/usr/bin/env bash
# The resident's disclosure (提供状況の開示, docs/REGISTRY.md) in headless
# Chromium (tests/browser/disclosure.mjs), the bridge as test_bridge_web.sh
# has it: the WebExtension installed by `make install`, jpki-native-host,
# the virtual card behind pcscd's vpcd, PINs answered by
# bridge_pinentry.sh. First the agency "pension" looks up two residents
# over mutual TLS (the card holder 鈴木 一郎 for pension.benefit, 佐藤 花子
# for pension.survey); then 鈴木 一郎 follows the portal site's link to
# /disclosure, logs in with the card through the bridge and sees
# pension's look-up (agency, purpose, day) and not 佐藤 花子's; before the
# log-in, after a wrong PIN and after a
# reload the page shows no record, and a post without the card's answer
# gets none. Each reading that showed the list is on the audit chain, and
# only those. Screenshots go to ${JPKI_SCREENSHOTS:-$PWD/screenshots}/disclosure.
#
# usage: test_services_disclosure_web.sh PATH/TO/jpki   (jpki-native-host beside it)
set -euo pipefail

here=$(dirname "$(realpath "$0")")
. "$here/lib.sh"
browser_dir=$(realpath "$here/../browser")
shots=${JPKI_SCREENSHOTS:-$PWD/screenshots}/disclosure
lib_init disclosure_web "$1"

fail_more() { serve_log_tail 8; }
# shellcheck source=pcsc_lib.sh
. "$here/pcsc_lib.sh"
cleanup_more() { pcsc_cleanup; }

[ -x "$(dirname "$JPKI")/jpki-native-host" ] || fail "no jpki-native-host beside $JPKI"
[ -d "$browser_dir/node_modules/puppeteer-core" ] ||
	fail "puppeteer-core is not installed (scripts/setup.sh installs it)"
command -v chromium >/dev/null || fail "chromium is not installed"

export JPKI_ARGON2_TEST=1
# a Tuesday, 10:00 in Japan: the window takes applications
export JPKI_NOW=2026-11-17T01:00:00Z
port=$(free_port)
url="http://127.0.0.1:$port" # the resident's page, and the log-in's origin
tport=$(free_port)
turl="https://127.0.0.1:$tport" # the agencies' mutual TLS

# ---- the infrastructure PKI: the server's and the agency's certificates ---
pki=$work/pki
mkdir -p "$pki"
(
	cd "$pki"
	cat >ext.cnf <<'EOF'
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
EOF
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout infra.key -out infra.crt -days 30 \
		-subj "/O=OpenJPKI test/CN=JPKI infrastructure CA" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
	leaf() {
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
			-nodes -keyout "$1.key" -out "$1.csr" \
			-subj "/O=OpenJPKI test/CN=$2" 2>/dev/null
		openssl x509 -req -in "$1.csr" -CA infra.crt -CAkey infra.key \
			-CAcreateserial -days 7 -extfile ext.cnf -extensions "$3" \
			-out "$1.crt" 2>/dev/null
	}
	leaf server localhost server
	leaf pension "Japan Pension Service" client
)

# ---- residents: 鈴木 一郎 with his card (PINs 1234, ABC123), 佐藤 花子 ------
issued_card "$url"
other=$(JPKI_OPERATOR=reg1 JPKI_OPERATOR_PASSWORD=pw-reg-01234 jpki registry register \
	--municipality-code 131016 --prefecture 東京都 --municipality 千代田区 \
	--name "佐藤 花子" --sex female --birth 1990-01-01 --address "千代田２番２号" \
	--json | json 'd["person"]')
JPKI_OPERATOR=reg1 JPKI_OPERATOR_PASSWORD=pw-reg-01234 jpki services agency add \
	pension --cert "$pki/pension.crt" --purpose pension.benefit \
	--purpose pension.survey >/dev/null || fail "agency add"
pass "鈴木 一郎 ($person) with his card, 佐藤 花子 ($other), the agency pension"

# ---- the agency's look-ups, over mutual TLS --------------------------------
"$JPKI" --data "$work/var" --log info serve --roles window \
	--listen "127.0.0.1:$tport" --tls-cert "$pki/server.crt" \
	--tls-key "$pki/server.key" --tls-client-ca "$pki/infra.crt" \
	>serve.log 2>&1 &
server_pid=$!
for _ in $(seq 100); do
	curl -sf --cacert "$pki/infra.crt" "$turl/healthz" >/dev/null 2>&1 && break
	sleep 0.05
done
agency=(--url "$turl" --cacert "$pki/infra.crt" --cert "$pki/pension.crt" --key "$pki/pension.key")
out=$(jpki services lookup "${agency[@]}" --purpose pension.benefit \
	--resident-code "$person") || fail "the look-up of $person: $out"
[ "$(echo "$out" | json 'd["result"]')" = found ] || fail "the look-up of $person: $out"
out=$(jpki services lookup "${agency[@]}" --purpose pension.survey \
	--resident-code "$other") || fail "the look-up of $other: $out"
[ "$(echo "$out" | json 'd["result"]')" = found ] || fail "the look-up of $other: $out"
stop_server
pass "pension looked up $person (pension.benefit) and $other (pension.survey) over mutual TLS"

# ---- the resident's page ---------------------------------------------------
serve_log_level=info serve_bg "$url" --roles window,login,repository --listen "127.0.0.1:$port"
curl -s -D page.h -o page.html "$url/disclosure"
grep -qi "^Content-Security-Policy: default-src 'self'; script-src 'self';" page.h ||
	fail "the disclosure page has no CSP allowing only self: $(cat page.h)"
grep -q '<script src="/jpki-bridge.js"></script><script src="/disclosure/disclosure.js"></script>' page.html ||
	fail "the page does not load the shared card log-in and its own script"
grep -q "pension" page.html && fail "the page itself carries a record"
pass "GET /disclosure: a page with no record, the shared card log-in, CSP self only"

# `make install` into $work: the host, the extension, the Chromium host
# manifest into the private profile (test_bridge_web.sh checks them)
JPKI_CHROMIUM_HOSTS_DIR="$work/profile/NativeMessagingHosts" \
	JPKI_FIREFOX_HOSTS_DIR="$work/firefox-hosts" \
	cmake --install "$(dirname "$JPKI")" --prefix "$work/prefix" >install.log 2>&1 ||
	fail "cmake --install: $(tail -5 install.log)"
ext="$work/prefix/share/openjpki/extension"
export JPKI_PINENTRY="$here/bridge_pinentry.sh"
export JPKI_TEST_PINENTRY_DIR="$work/pins"
mkdir pins
pcsc_start
card_serve card.bin

python3 - "$person" "$other" >cfg.json <<'PY'
import json, sys
print(json.dumps({"mine": {"agency": "pension", "purpose": "pension.benefit",
                           "day": "2026-11-17", "code": sys.argv[1]},
                  "other": {"purpose": "pension.survey", "code": sys.argv[2]}}))
PY
rm -rf "$shots"
node "$browser_dir/disclosure.mjs" "$ext" "$work/profile" "$url/" "$url/disclosure" \
	"$work/pins" "$shots" cfg.json >browser.txt 2>&1 ||
	fail "in the browser: $(cat browser.txt)"
cat browser.txt
grep -q "$url asks you to log in" pins/log || fail "the PIN prompt did not name the page's origin: $(cat pins/log)"
for s in 1-page 2-wrong-pin 3-disclosed 4-reloaded; do
	[ -s "$shots/$s.png" ] || fail "no screenshot $s"
done
pass "the resident's page in the browser (screenshots in $shots)"

count() { sqlite3 "$work/var/jpki.db" "$1"; }
[ "$(count "SELECT count(*) FROM audit_log WHERE action='services.disclosure' AND operator='resident:$person'")" = 1 ] ||
	fail "the reading that showed the list is not on the chain once: $(count "SELECT operator FROM audit_log WHERE action='services.disclosure'")"
[ "$(count "SELECT count(*) FROM audit_log WHERE action='services.disclosure' AND operator<>'resident:$person'")" = 0 ] ||
	fail "another reading of a disclosure is on the chain"
pass "the one reading that showed the list is on the audit chain as resident:$person; the refused ones read nothing"
