#!/usr/bin/env bash
# `make demo`: the whole story of the seeds on this machine, step by step,
# with the real programs: the CA and its OCSP, the registry and the window,
# a virtual My Number card in pcscd's reader, the resident's client, the
# agency's verification and the log-in with the card.
#
# usage: scripts/demo.sh PATH/TO/jpki   (as root, or with pcscd running)
set -euo pipefail

JPKI=$(realpath "${1:-build/jpki}")
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/jpki-demo-XXXXXX)
server_pid=""

fail() {
	echo "demo: FAILED: $*" >&2
	exit 1
}
pass() { :; }

# shellcheck source=../tests/integration/pcsc_lib.sh
. "$top/tests/integration/pcsc_lib.sh"
cleanup() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	if [ -n "${tls_pid:-}" ]; then
		kill "$tls_pid" 2>/dev/null || true
		wait "$tls_pid" 2>/dev/null || true
	fi
	pcsc_cleanup
	rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

step=0
say() {
	step=$((step + 1))
	printf '\n\033[1m%d. %s\033[0m\n' "$step" "$*"
}
show() { sed 's/^/   /'; }

# A working Tuesday at the window, 10:00 in Japan, from now on: every
# process of the demo reads the same moved clock.
export JPKI_NOW=2026-11-17T01:00:00Z
JPKI_NOW_AT=$(date +%s)
export JPKI_NOW_AT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
jpki() { "$JPKI" --data "$work/var" --log warn "$@"; }
as() {
	local who=$1
	shift
	JPKI_OPERATOR=$who JPKI_OPERATOR_PASSWORD="demo-pw-$who" jpki "$@"
}
client() { "$JPKI" --log warn "$@"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

say "The certification authority (J-LIS) starts: two CAs, CRLs, OCSP"
jpki ca init --public-url "$url" | show
jpki ca cert sign >sign-ca.pem
JPKI_NEW_OPERATOR_PASSWORD=demo-pw-admin jpki operator add admin --role ca-officer | show
for op in "registry 131016 registry-clerk" "window 131016 window-clerk" \
	"osaka 271004 window-clerk"; do
	set -- $op
	JPKI_NEW_OPERATOR_PASSWORD="demo-pw-$1" as admin operator add "$1" \
		--role "$3" --municipality-code "$2" | show
done
"$JPKI" --data "$work/var" --log warn serve --listen "127.0.0.1:$port" \
	>serve.log 2>&1 &
server_pid=$!
for _ in $(seq 100); do
	curl -sf "$url/healthz" >/dev/null 2>&1 && break
	sleep 0.05
done
echo "   serving the repository, OCSP, log-in, the window and the agency portal on $url"

say "Yamada Taro is registered as a resident of Chiyoda-ku (住民基本台帳)"
person=$(as registry registry register --municipality-code 131016 \
	--prefecture 東京都 --municipality 千代田区 --name "山田 太郎" --sex male \
	--birth 1980-06-01 --address "千代田１番１号" --json | json 'd["person"]')
as registry registry show "$person" | show

say "He gets his My Number card at the window, with his driving licence"
jpki card new --kind mynumber card.jpki | show
app=$(as window window apply "$person" --id photo --photo-id driving-licence \
	--photo-id-address "千代田１番１号" --json | json 'd["id"]')
pcsc_start
card_serve card.jpki
as window window issue "$app" --reader "Virtual PCD 00 00" --auth-pin 1234 \
	--sign-pin TARO2026 --copy-dir . | show
client cert show | show

say "He signs an online application (転居届) and sends it, encrypted, to the agency"
curl -sf "$url/portal/agency.crt" -o agency.crt ||
	fail "the agency portal publishes no certificate"
printf '転居届\n氏名: 山田 太郎\n住所: 東京都千代田区千代田１番１号\n' >application.txt
JPKI_PIN=TARO2026 client sign application.txt --to agency.crt | show

say "The agency checks signature, chain and revocation, matches the 4 facts, and keeps the evidence: accepted"
agency_key="$work/var/keys/agency.key"
verify_app() { # FILE [--keep DIR]: the agency's verdict
	jpki verify "$@" --agency-key "$agency_key" --agency-cert agency.crt \
		--ca sign-ca.pem --name "山田 太郎" --birth 昭和55年6月1日 \
		--sex 男 --address "千代田１番１号"
}
verify_app application.txt.p7m --keep receipt-1 | show ||
	fail "the agency refused the first application"

say "He moves to Osaka: he signs the move-out notice (転出届) on the portal, no visit"
curl -sf -o move.html "$url/portal/application" \
	--data-urlencode proc=move-out --data-urlencode "name=山田 太郎" \
	--data-urlencode "address=千代田１番１号" \
	--data-urlencode "to=271004 大阪府 大阪市北区" \
	--data-urlencode "to_address=梅田１番" --data-urlencode "arrival=2026-11-20" ||
	fail "the portal made no move-out notice"
python3 -c 'import html,re,sys; t=open("move.html").read(); m=re.search(r"<pre id=\"application\">(.*?)</pre>", t, re.S); sys.stdout.write(html.unescape(m.group(1)))' >move.txt
JPKI_PIN=TARO2026 client sign move.txt --to agency.crt | show
curl -sf -o receipt.html "$url/portal/submit" -F proc=move-out \
	-F "name=山田 太郎" -F "address=千代田１番１号" -F "file=@move.txt.p7m" ||
	fail "the portal did not accept the move-out notice"
sed -n 's/.*id="handed">\([^<]*\)<.*/\1/p' receipt.html | show
as window window move-status "$person" | show
echo "   his signing certificate is still good while the move is pending:"
client cert show --sign --pin-file <(echo TARO2026) | sed -n '/署名用/,$p' |
	grep -E "status" | show

say "At Osaka's window he moves in (転入届) with his card; the CA revokes his signing certificate"
as osaka window move-in "$person" --reader "Virtual PCD 00 00" | show
sleep 1
client cert show --sign --pin-file <(echo TARO2026) | sed -n '/署名用/,$p' |
	grep -E "署名用|status" | show
echo "   (the authentication certificate and the card go on)"

say "He signs again and is refused: the certificate was revoked by the move"
if JPKI_PIN=TARO2026 client sign application.txt --to agency.crt --out again.p7m 2>err.txt; then
	fail "signed with a revoked certificate"
fi
show <err.txt
echo "   and the agency, checking his first application again (a new check refuses it):"
if verify_app application.txt.p7m >again.txt 2>&1; then
	fail "the agency accepted a revoked certificate"
fi
show <again.txt
echo "   but it decided at receipt, and re-checks from the evidence it kept:"
jpki verify --as-of-receipt receipt-1 --ca sign-ca.pem | show ||
	fail "the application accepted at receipt is no longer accepted"

say "He gets a new signing certificate at Osaka's window, on the same card"
app2=$(as osaka window apply "$person" --id photo --photo-id driving-licence \
	--photo-id-address "梅田１番" --sign --json | json 'd["id"]')
as osaka window issue "$app2" --reader "Virtual PCD 00 00" \
	--sign-pin TARO2027 | show

say "He signs with the new certificate; the agency accepts"
printf '転居届\n氏名: 山田 太郎\n住所: 大阪府大阪市北区梅田１番\n' >application.txt
JPKI_PIN=TARO2027 client sign application.txt --to agency.crt | show
jpki verify application.txt.p7m --agency-key "$agency_key" \
	--agency-cert agency.crt --ca sign-ca.pem --name "山田 太郎" \
	--address "梅田１番" | show || fail "the agency refused after renewal"

say "He logs in with his card and 4-digit PIN (the kiosk's page does the same through the browser bridge)"
JPKI_PIN=1234 client login "$url/login" | show

say "The pension service looks him up over mutual TLS (本人確認情報の提供)"
# the installation's infrastructure CA, the window's server certificate
# and the agency's client certificate (openssl), then a window with
# --tls-client-ca for agencies
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout infra.key -out infra.crt -days 30 -subj "/CN=demo infrastructure CA" \
	-addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign" 2>/dev/null
for leaf in "server localhost serverAuth" "pension Japan-Pension-Service clientAuth"; do
	set -- $leaf
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$1.key" -out "$1.csr" -subj "/CN=$2" 2>/dev/null
	openssl x509 -req -in "$1.csr" -CA infra.crt -CAkey infra.key \
		-CAcreateserial -days 7 -out "$1.crt" \
		-extfile <(printf 'extendedKeyUsage=%s\nsubjectAltName=IP:127.0.0.1\n' "$3") 2>/dev/null
done
as registry services agency add pension --cert pension.crt \
	--purpose pension.benefit | show
tport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$JPKI" --data "$work/var" --log warn serve --roles window \
	--listen "127.0.0.1:$tport" --tls-cert server.crt --tls-key server.key \
	--tls-client-ca infra.crt >serve-tls.log 2>&1 &
tls_pid=$!
for _ in $(seq 100); do
	curl -sf --cacert infra.crt "https://127.0.0.1:$tport/healthz" >/dev/null 2>&1 && break
	sleep 0.05
done
client services lookup --url "https://127.0.0.1:$tport" --cacert infra.crt \
	--cert pension.crt --key pension.key --purpose pension.benefit \
	--name "山田 太郎" --birth 1980-06-01 | show || fail "the agency's look-up"
kill "$tls_pid" 2>/dev/null || true
wait "$tls_pid" 2>/dev/null || true
tls_pid=""

say "He logs in with his card and sees who looked him up (提供状況の開示)"
JPKI_PIN=1234 client services disclosure "$url/disclosure" | show ||
	fail "the resident's disclosure"

say "He registers his seal at the window; the kiosk prints its certificate"
python3 - <<'PY'
import struct, zlib
ring = lambda x, y: 0 if 24 <= ((x - 32) ** 2 + (y - 32) ** 2) ** 0.5 <= 30 else 255
raw = b"".join(b"\0" + bytes(ring(x, y) for x in range(64)) for y in range(64))
chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
open("seal.png", "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 64, 64, 8, 0, 0, 0, 0))
                             + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
PY
as osaka window seal register "$person" --image seal.png \
	--photo-id-address "梅田１番" | show
# the kiosk's page logs in through the browser bridge: here its native
# host makes the answer as the page's bridge would (the tests' pinentry
# types his PIN), and the page's choice of document goes beside it
mkdir -p pins && echo 1234 >pins/auth
curl -sf "$url/login/challenge" | python3 -c 'import json, sys; c = json.load(sys.stdin)
print(json.dumps({"id": "k1", "op": "login", "origin": c["origin"], "challenge": c["challenge"]}))' |
	JPKI_PINENTRY="$top/tests/integration/bridge_pinentry.sh" JPKI_TEST_PINENTRY_DIR="$work/pins" \
		python3 "$top/tests/integration/native_msg.py" "$(dirname "$JPKI")/jpki-native-host" |
	python3 -c 'import json, sys; r = json.load(sys.stdin)["result"]
r["document"] = "seal-certificate"; print(json.dumps(r))' >kiosk.json ||
	fail "the bridge's host did not log him in"
curl -sf -H 'Content-Type: application/json' --data-binary @kiosk.json "$url/kiosk" \
	-o seal.pdf || fail "the kiosk gave no seal registration certificate"
pdftotext seal.pdf - | grep -m2 -E "印 鑑|[0-9]{6}-[0-9]{6}" | show
serial=$(pdftotext seal.pdf - | grep -o 'K[0-9A-F]\{16\}' | head -1)
curl -sf "$url/verify-document?serial=$serial" |
	grep -o 'id="valid">[^<]*' | sed "s/^id=\"valid\">/$serial: /" | show
echo
echo "The story of the seeds, told end to end: registered, issued, signed,"
echo "accepted, moved (the simplified move across municipalities), revoked and"
echo "refused, renewed, accepted, logged in, looked up by an agency (and he saw"
echo "it), and his seal certificate from the kiosk, checked by its serial."
