#!/usr/bin/env bash
# The window clerk's web page in headless Chromium (Debian's chromium,
# driven by puppeteer-core): one issue at the counter onto a virtual card
# in pcscd's vpcd reader. Screenshots of every step are kept in
# $JPKI_SCREENSHOTS (default: ./screenshots/window beside the test run).
#
# usage: test_window_web.sh PATH/TO/jpki
set -euo pipefail

JPKI=$(realpath "$1")
here=$(dirname "$(realpath "$0")")
browser_dir=$(realpath "$here/../browser")
shots=${JPKI_SCREENSHOTS:-$PWD/screenshots/window}
work=$(mktemp -d /tmp/jpki-web-XXXXXX)
server_pid=""

fail() {
	echo "FAIL: $*" >&2
	[ -f "$work/serve.log" ] && tail -5 "$work/serve.log" >&2
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

[ -d "$browser_dir/node_modules/puppeteer-core" ] ||
	fail "puppeteer-core is not installed (scripts/setup.sh installs it)"
command -v chromium >/dev/null || fail "chromium is not installed"

# a working day at the window, 10:00 in Japan
export JPKI_NOW=2026-11-17T01:00:00Z
export JPKI_ARGON2_TEST=1
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
jpki() { "$JPKI" --data "$work/var" --log warn "$@"; }

jpki ca init --public-url "$url" >/dev/null
JPKI_NEW_OPERATOR_PASSWORD=pw-admin-0123 jpki operator add admin --role ca-officer >/dev/null
export JPKI_OPERATOR=admin JPKI_OPERATOR_PASSWORD=pw-admin-0123
JPKI_NEW_OPERATOR_PASSWORD=pw-reg-01234 jpki operator add reg1 \
	--role registry-clerk --municipality-code 131016 >/dev/null
JPKI_NEW_OPERATOR_PASSWORD=pw-window-01 jpki operator add clerk1 \
	--role window-clerk --municipality-code 131016 >/dev/null
JPKI_OPERATOR=reg1 JPKI_OPERATOR_PASSWORD=pw-reg-01234 jpki registry register \
	--municipality-code 131016 --prefecture 東京都 --municipality 千代田区 \
	--name "鈴木 一郎" --sex male --birth 1985-04-10 \
	--address "千代田４番４号" >/dev/null
unset JPKI_OPERATOR JPKI_OPERATOR_PASSWORD
jpki card new --kind mynumber card.bin >/dev/null

pcsc_start
card_serve card.bin
"$JPKI" --data "$work/var" --log info serve --listen "127.0.0.1:$port" \
	>serve.log 2>&1 &
server_pid=$!
for _ in $(seq 100); do
	curl -sf "$url/healthz" >/dev/null 2>&1 && break
	sleep 0.05
done

serials=$(node "$browser_dir/window_issue.mjs" "$url" clerk1 pw-window-01 \
	"鈴木 一郎" "Virtual PCD 00 00" 1234 ABC123 "千代田４番４号" "$shots") ||
	fail "the browser run failed"
for s in $serials; do
	[ "$(jpki ca status "$s" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')" = good ] ||
		fail "certificate $s is not recorded good"
done
ls "$shots"/*.png >/dev/null || fail "no screenshot saved"
pass "the clerk's page issued $serials onto the card in the reader; screenshots in $shots"
# the card now holds them: the resident's client reads the authentication one
"$JPKI" --log warn cert show --json >show.json ||
	fail "the client cannot read the issued card"
grep -q "$(echo "$serials" | cut -d' ' -f1)\|$(echo "$serials" | cut -d' ' -f2)" show.json ||
	fail "the card does not hold what the page issued"
pass "the card holds what the page issued"

# cross-site request forgery: a page on another port of 127.0.0.1 makes the
# logged-in clerk's browser post forms (urlencoded, text/plain) to
# /window/apply and /api/window/report; each refused, nothing changed
person=$(JPKI_OPERATOR=reg1 JPKI_OPERATOR_PASSWORD=pw-reg-01234 jpki registry find --json |
	python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["person"])')
apps() {
	JPKI_OPERATOR=clerk1 JPKI_OPERATOR_PASSWORD=pw-window-01 jpki window list --json |
		python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'
}
before=$(apps)
node "$browser_dir/window_csrf.mjs" "$url" clerk1 pw-window-01 "$person" \
	"千代田４番４号" "$shots" || fail "the cross-site run failed"
for s in $serials; do
	[ "$(jpki ca status "$s" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')" = good ] ||
		fail "certificate $s was changed by a foreign page"
done
[ "$(apps)" = "$before" ] || fail "a foreign page made an application"
pass "forms posted by a page of another origin (urlencoded, text/plain) to /window/apply and /api/window/report: refused, the certificates stay good, no application made"
echo "all window web checks passed"
