#!/usr/bin/env bash
# The window clerk's web page in headless Chromium (Debian's chromium,
# driven by puppeteer-core): one issue at the counter onto a virtual card
# in pcscd's vpcd reader. Screenshots of every step are kept in
# $JPKI_SCREENSHOTS (default: ./screenshots/window beside the test run).
#
# usage: test_window_web.sh PATH/TO/jpki
set -euo pipefail

here=$(dirname "$(realpath "$0")")
. "$here/lib.sh"
browser_dir=$(realpath "$here/../browser")
shots=${JPKI_SCREENSHOTS:-$PWD/screenshots/window}
lib_init web "$1"

fail_more() { serve_log_tail 5; }

# shellcheck source=pcsc_lib.sh
. "$here/pcsc_lib.sh"
cleanup_more() { pcsc_cleanup; }

[ -d "$browser_dir/node_modules/puppeteer-core" ] ||
	fail "puppeteer-core is not installed (scripts/setup.sh installs it)"
command -v chromium >/dev/null || fail "chromium is not installed"

# a working day at the window, 10:00 in Japan
export JPKI_NOW=2026-11-17T01:00:00Z
export JPKI_ARGON2_TEST=1
port=$(free_port)
url="http://127.0.0.1:$port"

window_staff "$url"
JPKI_OPERATOR=reg1 JPKI_OPERATOR_PASSWORD=pw-reg-01234 jpki registry register \
	--municipality-code 131016 --prefecture 東京都 --municipality 千代田区 \
	--name "鈴木 一郎" --sex male --birth 1985-04-10 \
	--address "千代田４番４号" >/dev/null
jpki card new --kind mynumber card.bin >/dev/null

pcsc_start
card_serve card.bin
serve_log_level=info serve_bg "$url" --listen "127.0.0.1:$port"

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
