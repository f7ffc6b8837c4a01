#!/usr/bin/env bash
# The OpenID Connect provider (docs/OIDC.md) end to end with a virtual My
# Number card behind pcscd: a relying party registered by a CA officer,
# /authorize, the log-in step answered by `jpki login` against the
# request's own docs/LOGIN.md base (the client module over PC/SC, as the
# browser bridge would), the consent signed with the signing certificate
# (`jpki sign --detached`), /token with PKCE and the client secret,
# /userinfo; and the refusals: wrong PKCE verifier, reused code (which
# revokes its access token), unregistered redirect URI, wrong client
# secret, a consent signed by another person's card, a revoked
# authentication certificate.
#
# usage: test_oidc.sh PATH/TO/jpki
set -euo pipefail

JPKI=$(realpath "$1")
work=$(mktemp -d /tmp/jpki-oidc-XXXXXX)
here=$(dirname "$(realpath "$0")")
server_pid=""

fail() {
	echo "FAIL: $*" >&2
	[ -f "$work/serve.log" ] && tail -20 "$work/serve.log" >&2
	exit 1
}
pass() { echo "ok - $*"; }

# shellcheck source=pcsc_lib.sh
. "$here/pcsc_lib.sh"
cleanup() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	pcsc_cleanup
	rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
rp="http://127.0.0.1:9/cb"
jpki() { "$JPKI" --data "$work/var" --log warn "$@"; }
client() { "$JPKI" --log warn "$@"; }

jpki ca init --public-url "$url" >/dev/null
issue() { # FILE PERSON NAME
	jpki card new --kind mynumber "$1" >/dev/null
	jpki card issue "$1" --auth-pin 1234 --sign-pin ABC123 --person "$2" \
		--municipality-code 131016 --prefecture Tokyo-to \
		--municipality Chiyoda-ku --name "$3" --sex female \
		--birth 1990-02-28 --address "東京都千代田区霞が関１丁目"
}
issue card.bin P-7 "山田 花子" >issue.txt
issue other.bin P-8 "佐藤 一郎" >/dev/null
auth_serial=$(sed -n 's/^authentication certificate \([0-9A-F]*\) .*/\1/p' issue.txt)

# --- registration by the operator --------------------------------------------
export JPKI_NEW_OPERATOR_PASSWORD="officer-password-1"
jpki operator add officer --role ca-officer >/dev/null
export JPKI_OPERATOR=officer JPKI_OPERATOR_PASSWORD="officer-password-1"
jpki oidc client add "千代田区 電子申請" --redirect-uri "$rp" \
	--secret-file secret.txt >client.txt
client_id=$(sed -n 's/^client_id //p' client.txt)
[ -n "$client_id" ] && [ "$(stat -c %a secret.txt)" = 600 ] ||
	fail "client add: $(cat client.txt)"
secret=$(cat secret.txt)
jpki oidc client list | grep -q "^$client_id	" || fail "client list"
if jpki oidc client add bad --redirect-uri "http://rp.example.jp/cb" >out.txt 2>&1; then
	fail "an http:// redirect URI off the loopback was registered"
fi
jpki audit verify >/dev/null || fail "the audit chain"
pass "client registered by a CA officer (secret file 0600, list); http:// elsewhere refused"

"$JPKI" --data "$work/var" --log info serve --listen "127.0.0.1:$port" \
	--roles oidc,ocsp,repository --oidc-issuer "$url" >serve.log 2>&1 &
server_pid=$!
for _ in $(seq 100); do
	curl -sf "$url/.well-known/openid-configuration" >disc.json 2>/dev/null && break
	sleep 0.1
done
python3 - "$url" <<'EOF' || fail "discovery: $(cat disc.json)"
import json, sys
d = json.load(open("disc.json"))
u = sys.argv[1]
assert d["issuer"] == u and d["token_endpoint"] == u + "/oidc/token", d
assert d["code_challenge_methods_supported"] == ["S256"], d
assert d["subject_types_supported"] == ["pairwise"], d
EOF
curl -sf "$url/oidc/jwks" | python3 -c 'import json,sys; k=json.load(sys.stdin)["keys"][0]; assert k["kty"]=="RSA" and "d" not in k and k["alg"]=="RS256"' ||
	fail "jwks"
pass "discovery document and JWKS (public key only)"

pcsc_start
card_serve card.bin

verifier="dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
challenge="E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
authorize() { # SCOPE [REDIRECT] -> page.html, status in $code
	local scope=$1 redirect=${2:-$rp}
	code=$(curl -s -o page.html -w '%{http_code}' -G "$url/oidc/authorize" \
		--data-urlencode response_type=code \
		--data-urlencode "client_id=$client_id" \
		--data-urlencode "redirect_uri=$redirect" \
		--data-urlencode "scope=$scope" \
		--data-urlencode "state=xyz" --data-urlencode "nonce=n-0S6" \
		--data-urlencode "code_challenge=$challenge" \
		--data-urlencode code_challenge_method=S256)
}
page_json() { # ID: the page's <script type=application/json id=ID>
	python3 -c 'import json,re,sys; print(json.loads(re.search(r"<script type=\"application/json\" id=\"%s\">(.*?)</script>" % sys.argv[1], open("page.html").read()).group(1)))' "$1"
}
code_of() { # JSON with redirect -> the code, checking the state
	python3 -c 'import json,sys,urllib.parse as u; r=json.load(open(sys.argv[1]))["redirect"]; q=u.parse_qs(u.urlsplit(r).query); assert r.startswith(sys.argv[2]+"?") and q["state"]==["xyz"], r; print(q["code"][0])' "$1" "$rp"
}
token() { # CODE VERIFIER SECRET -> tok.json, status in $code
	code=$(curl -s -o tok.json -w '%{http_code}' -u "$client_id:$3" \
		"$url/oidc/token" --data-urlencode grant_type=authorization_code \
		--data-urlencode "code=$1" --data-urlencode "redirect_uri=$rp" \
		--data-urlencode "code_verifier=$2")
}
login_flow() { # SCOPE -> rid
	authorize "$1"
	[ "$code" = 200 ] || fail "authorize: $code $(cat page.html)"
	rid=$(page_json rid)
	JPKI_PIN=1234 client login "$url/oidc/login/$rid" --json >login.json ||
		fail "login: $(cat login.json)"
}

# --- log in: the pairwise subject -------------------------------------------
login_flow openid
curl -sf -X POST "$url/oidc/login/$rid/finish" >fin.json || fail "finish"
c1=$(code_of fin.json)
# the Basic pair form-urlencoded, every byte (RFC 6749 2.3.1), as
# openid-client sends it
basic=$(python3 -c 'import base64,sys; e=lambda s: "".join("%%%02X" % b for b in s.encode()); print(base64.b64encode((e(sys.argv[1]) + ":" + e(sys.argv[2])).encode()).decode())' "$client_id" "$secret")
code=$(curl -s -o tok.json -w '%{http_code}' -H "Authorization: Basic $basic" \
	"$url/oidc/token" --data-urlencode grant_type=authorization_code \
	--data-urlencode "code=$c1" --data-urlencode "redirect_uri=$rp" \
	--data-urlencode "code_verifier=$verifier")
[ "$code" = 200 ] || fail "token: $code $(cat tok.json)"
python3 - "$url" "$client_id" <<'EOF' >sub.txt || fail "id token: $(cat tok.json)"
import base64, json, sys
t = json.load(open("tok.json"))
p = t["id_token"].split(".")[1]
c = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
assert c["iss"] == sys.argv[1] and c["aud"] == sys.argv[2], c
assert c["nonce"] == "n-0S6" and len(c["sub"]) == 43 and "name" not in c, c
print(c["sub"])
EOF
sub=$(cat sub.txt)
at=$(python3 -c 'import json; print(json.load(open("tok.json"))["access_token"])')
curl -sf -H "Authorization: Bearer $at" "$url/oidc/userinfo" | grep -q "\"sub\":\"$sub\"" ||
	fail "userinfo"
pass "log-in with the card: code, ID token (iss, aud, nonce, pairwise sub), userinfo"

# --- refusals at /token --------------------------------------------------------
token "$c1" "$verifier" "$secret"
[ "$code" = 400 ] && grep -q "already used" tok.json || fail "reused code: $code $(cat tok.json)"
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $at" "$url/oidc/userinfo")" = 401 ] ||
	fail "the reused code's access token still works"
pass "a reused code is refused and its access token revoked"

login_flow openid
curl -sf -X POST "$url/oidc/login/$rid/finish" >fin.json || fail "finish"
c2=$(code_of fin.json)
token "$c2" "$verifier" "not-the-secret"
[ "$code" = 401 ] && grep -q invalid_client tok.json || fail "wrong secret: $code $(cat tok.json)"
token "$c2" "${verifier}x" "$secret"
[ "$code" = 400 ] && grep -q "code_verifier" tok.json || fail "wrong verifier: $code $(cat tok.json)"
pass "wrong client secret (401 invalid_client) and wrong PKCE verifier (400 invalid_grant)"

authorize openid "$rp/other"
[ "$code" = 400 ] && ! grep -q "$rid" page.html || fail "unregistered redirect URI: $code"
pass "an unregistered redirect URI gets a page, never a redirect"

# --- the 4 facts after the signed consent ----------------------------------------
login_flow "openid profile address"
page_json consent >consent.txt
printf '%s' "$(cat consent.txt)" >consent.txt # no final newline: the page's text
grep -q "request $rid" consent.txt || fail "consent text: $(cat consent.txt)"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/oidc/login/$rid/finish")" = 401 ] ||
	fail "a code before the consent"
for bad in '{"cms": ""}' '{"cms": "!!!!"}' '{"cms": "QUJD", "x": 1}' '[]'; do
	[ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
		--data-binary "$bad" "$url/oidc/consent/$rid")" = 400 ] || fail "consent body $bad was not refused as malformed"
done
sign_consent() { # -> cms.json
	echo ABC123 >pin.txt
	client sign consent.txt --pin-file pin.txt --detached --out consent.sig >/dev/null ||
		fail "sign the consent"
	python3 -c 'import base64,json; print(json.dumps({"cms": base64.b64encode(open("consent.sig","rb").read()).decode()}))' >cms.json
}
# another person's card signs: refused
card_kill
for _ in $(seq 100); do
	opensc-tool -l 2>/dev/null | grep -q "Yes .*Virtual PCD 00 00" || break
	sleep 0.1
done
card_serve other.bin
sign_consent
code=$(curl -s -o cons.json -w '%{http_code}' -H 'Content-Type: application/json' \
	--data-binary @cms.json "$url/oidc/consent/$rid")
[ "$code" = 401 ] && grep -q "another person" cons.json || fail "another card's consent: $code $(cat cons.json)"
card_kill
for _ in $(seq 100); do
	opensc-tool -l 2>/dev/null | grep -q "Yes .*Virtual PCD 00 00" || break
	sleep 0.1
done
card_serve card.bin
sign_consent
code=$(curl -s -o cons.json -w '%{http_code}' -H 'Content-Type: application/json' \
	--data-binary @cms.json "$url/oidc/consent/$rid")
[ "$code" = 200 ] || fail "consent: $code $(cat cons.json)"
c3=$(code_of cons.json)
token "$c3" "$verifier" "$secret"
[ "$code" = 200 ] || fail "token after consent: $code $(cat tok.json)"
at=$(python3 -c 'import json; print(json.load(open("tok.json"))["access_token"])')
curl -sf -H "Authorization: Bearer $at" "$url/oidc/userinfo" >ui.json || fail "userinfo"
python3 - "$sub" <<'EOF' || fail "claims: $(cat ui.json)"
import json, sys
d = json.load(open("ui.json"))
assert d["sub"] == sys.argv[1], d
assert d["name"] == "山田\u3000花子" and d["birthdate"] == "1990-02-28", d
assert d["gender"] == "female" and d["address"]["formatted"] == "東京都千代田区霞が関１丁目", d
EOF
pass "the 4 facts after a consent signed by the same person; another card's consent refused; same sub"

# --- a revoked authentication certificate cannot log in -------------------------
jpki ca revoke "$auth_serial" --reason keyCompromise >/dev/null
authorize openid
rid=$(page_json rid)
if JPKI_PIN=1234 client login "$url/oidc/login/$rid" --json >login.json 2>err.txt; then
	fail "a revoked certificate logged in: $(cat login.json)"
fi
grep -qi "revoked" login.json err.txt || fail "revoked: $(cat login.json err.txt)"
pass "a revoked authentication certificate cannot log in"
