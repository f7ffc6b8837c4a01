#!/usr/bin/env bash
# The kiosk as a terminal page (docs/BROWSER.md): the server reads no card
# (--kiosk-reader is gone, the role runs without one); /kiosk is a page
# whose one script comes from its own origin under a Content-Security-
# Policy that allows only self; POST /kiosk takes the bridge's log-in
# answer as JSON only (a cross-site form cannot post it), checks it with
# the log-in verifier (a forged answer: 403, with the verifier's reason)
# and each terminal has a budget of two log-ins, past it 429 + Retry-After.
# The accepted log-in through the bridge, and another origin's answer
# refused, are in test_portal_web (headless Chromium with the extension).
#
# usage: test_kiosk.sh PATH/TO/jpki
set -euo pipefail

here=$(dirname "$(realpath "$0")")
. "$here/lib.sh"
lib_init kiosk "$1"

fail_more() { serve_log_tail 5; }

port=$(free_port)
url="http://127.0.0.1:$port"
jpki ca init --public-url "$url" >/dev/null

start() { # serve with extra options; waits until it answers
	"$JPKI" --data "$work/var" --log info serve --listen "127.0.0.1:$port" \
		"$@" >serve.log 2>&1 &
	server_pid=$!
	wait_healthz "$url" 200 || fail "the server did not start"
}
post() { # CONTENT-TYPE BODY: prints the status, the body to kiosk.out, headers to kiosk.h
	curl -s -o kiosk.out -D kiosk.h -w '%{http_code}' -H "Content-Type: $1" \
		--data-binary "$2" "$url/kiosk"
}
answer() { # a well-formed answer to a fresh challenge, with a made-up signature
	curl -sf "$url/login/challenge" | python3 -c '
import json, sys, base64
c = json.load(sys.stdin)
print(json.dumps({"challenge": c["challenge"], "origin": c["origin"],
                  "signature": base64.b64encode(b"x" * 256).decode(),
                  "certificate": base64.b64encode(b"not a certificate").decode()}))'
}

# the server reads no card: the option is gone, the role needs no reader
# (timeout: a server that took it would run on)
if timeout 10 "$JPKI" --data "$work/var" --log warn serve --listen 127.0.0.1:0 \
	--kiosk-reader "Virtual PCD 00 00" >old.log 2>&1 || [ $? = 124 ]; then
	fail "serve took --kiosk-reader"
fi
grep -q "kiosk-reader" old.log || fail "no word about --kiosk-reader: $(cat old.log)"
pass "--kiosk-reader is refused: the server reads no card"

start --roles login,kiosk
grep -q "kiosk .*/kiosk" serve.log || fail "serve does not list the kiosk: $(cat serve.log)"
curl -s -D page.h -o page.html "$url/kiosk" >/dev/null
grep -qi "^Content-Security-Policy: default-src 'self'; script-src 'self';" page.h ||
	fail "the kiosk page has no CSP allowing only self: $(cat page.h)"
grep -q '<script src="/jpki-bridge.js"></script><script src="/kiosk/kiosk.js"></script>' page.html ||
	fail "the page loads not the shared log-in and its own script"
[ "$(grep -o '<script' page.html | wc -l)" = 2 ] || fail "the page has another script: $(cat page.html)"
grep -q 'name="pin"' page.html && fail "the page still asks the PIN itself"
curl -s -D js.h -o kiosk.js "$url/kiosk/kiosk.js" >/dev/null
grep -qi '^Content-Type: text/javascript' js.h && grep -q "jpkiLogin('/login/challenge')" kiosk.js ||
	fail "the page's script: $(cat js.h)"
curl -s -D bjs.h -o bridge.js "$url/jpki-bridge.js" >/dev/null
grep -qi '^Content-Type: text/javascript' bjs.h && grep -q "op: 'login'" bridge.js ||
	fail "the shared log-in script: $(cat bjs.h)"
pass "the page: two scripts of its own origin (the shared card log-in, its own), CSP self only, no PIN field"
grep -q '<select id="document">' page.html && grep -q 'value="seal-certificate"' page.html &&
	grep -q "document: \$('document').value" kiosk.js ||
	fail "the page offers no document choice, or its script does not send it"
code=$(post application/json "$(answer | sed 's/}$/, "document": "passport"}/')")
[ "$code" = 400 ] && grep -q 'seal-certificate' kiosk.out || fail "an unknown document: HTTP $code $(cat kiosk.out)"
code=$(post application/json '{"document": 7}')
[ "$code" = 400 ] || fail "a document that is no string: HTTP $code $(cat kiosk.out)"
pass "the page's select (residence copy or seal certificate) goes in the body; another value: 400, the budget untouched"

# a form post (what a page of another site can send without asking): 415
code=$(post application/x-www-form-urlencoded "pin=1234")
[ "$code" = 415 ] || fail "a form post to the kiosk: HTTP $code $(cat kiosk.out)"
code=$(post text/plain "$(answer)")
[ "$code" = 415 ] || fail "a text/plain post to the kiosk: HTTP $code"
pass "a form or text/plain post (a cross-site form) is refused: 415, the budget untouched"

# a forged answer: the verifier refuses it, with its reason, as JSON
code=$(post application/json "$(answer)")
[ "$code" = 403 ] && grep -q '"result":"refused"' kiosk.out && grep -qi 'certificate' kiosk.out ||
	fail "a forged answer: HTTP $code $(cat kiosk.out)"
code=$(post application/json '{"challenge": 1}')
[ "$code" = 403 ] || fail "a malformed answer: HTTP $code $(cat kiosk.out)"
# the third of a budget of two: 429, not looked at
code=$(post application/json "$(answer)")
[ "$code" = 429 ] || fail "over the terminal's budget: HTTP $code $(cat kiosk.out)"
grep -qi '^Retry-After: [0-9]' kiosk.h || fail "429 without Retry-After: $(cat kiosk.h)"
stop_server
pass "a forged or malformed answer refused (403, the reason); the third log-in 429 with Retry-After"

start --roles login,kiosk --kiosk-burst 3
for n in 1 2 3; do
	code=$(post application/json "$(answer)")
	[ "$code" = 403 ] || fail "log-in $n of a budget of 3: HTTP $code"
done
code=$(post application/json "$(answer)")
[ "$code" = 429 ] || fail "log-in 4 of a budget of 3: HTTP $code"
stop_server
pass "--kiosk-burst 3: three log-ins looked at, then 429"

# the kiosk needs the login role's verifier
start --roles kiosk
code=$(curl -s -o /dev/null -w '%{http_code}' "$url/kiosk")
[ "$code" = 503 ] || fail "the kiosk without the login role: HTTP $code"
stop_server
pass "without the login role the kiosk answers 503"
echo "all kiosk checks passed"
