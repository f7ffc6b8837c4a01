#!/usr/bin/env bash
# No public endpoint spends a card's PIN try (docs/SECURITY.md): the kiosk
# is off unless it has a reader of its own, so three anonymous wrong-PIN
# POST /kiosk on the defaults leave the card's tries as they were; named
# without a reader it does not start; with its reader it logs in with the
# verifier in-process (the right PIN gives the 住民票の写し) and each
# terminal has a budget of two log-ins, past it 429 + Retry-After and the
# card untouched.
#
# usage: test_kiosk.sh PATH/TO/jpki
set -euo pipefail

here=$(dirname "$(realpath "$0")")
. "$here/lib.sh"
lib_init kiosk "$1"

fail_more() { serve_log_tail 5; }

# shellcheck source=pcsc_lib.sh
. "$here/pcsc_lib.sh"
cleanup_more() { pcsc_cleanup; }

export JPKI_NOW=2026-11-17T01:00:00Z
export JPKI_ARGON2_TEST=1
port=$(free_port)
url="http://127.0.0.1:$port"

issued_card "$url"
export JPKI_NOW=2026-11-17T01:10:00Z

pcsc_start
card_serve card.bin
wait_card
reader="Virtual PCD 00 0$((VPCD_PORT - 35963))"
tries() {
	"$JPKI" --log warn pin status --reader "$reader" --json |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["authentication"]["tries_left"])'
}
start() { # serve with extra options; waits until it answers
	"$JPKI" --data "$work/var" --log info serve --listen "127.0.0.1:$port" \
		"$@" >serve.log 2>&1 &
	server_pid=$!
	wait_healthz "$url" 200 || fail "the server did not start"
}
kiosk() { # PIN: prints the status, the body to kiosk.out, headers to kiosk.h
	curl -s -o kiosk.out -D kiosk.h -w '%{http_code}' --data "pin=$1" "$url/kiosk"
}

before=$(tries)
[ "$before" = 3 ] || fail "the card's authentication PIN has $before tries, not 3"

# the defaults ("all"): no kiosk, and it says so
start
grep -q "kiosk .*off" serve.log || fail "serve does not say the kiosk is off: $(cat serve.log)"
for _ in 1 2 3; do
	code=$(kiosk 9999)
	# no kiosk route: the repository's "use GET" or not found
	[ "$code" = 404 ] || [ "$code" = 405 ] || fail "POST /kiosk on the defaults: HTTP $code"
done
[ "$(tries)" = "$before" ] || fail "anonymous POST /kiosk spent PIN tries: $(tries) left"
stop_server
pass "three anonymous wrong-PIN POST /kiosk on the defaults: no kiosk (404/405), the card's tries unchanged ($before)"

# named without a reader: refused at start
if "$JPKI" --data "$work/var" --log warn serve --listen "127.0.0.1:0" \
	--roles login,kiosk >refused.log 2>&1; then
	fail "serve --roles login,kiosk started without a kiosk reader"
fi
grep -q "reader of its own" refused.log || fail "no reason given: $(cat refused.log)"
pass "--roles kiosk without a reader of its own: refused at start, with the reason"

# with its reader: the in-process log-in works, then the budget
start --kiosk-reader "$reader"
code=$(kiosk 1234)
[ "$code" = 200 ] && [ "$(head -c 5 kiosk.out)" = "%PDF-" ] ||
	fail "the right PIN: HTTP $code $(head -c 300 kiosk.out)"
pass "the kiosk logs in with the verifier in-process: the 住民票の写し"
code=$(kiosk 9999)
[ "$code" = 403 ] || fail "a wrong PIN: HTTP $code"
[ "$(tries)" = 2 ] || fail "a wrong PIN at the kiosk: $(tries) tries left, not 2"
code=$(kiosk 9999)
[ "$code" = 429 ] || fail "over the terminal's budget: HTTP $code"
grep -qi '^Retry-After: [0-9]' kiosk.h || fail "429 without Retry-After: $(cat kiosk.h)"
[ "$(tries)" = 2 ] || fail "a log-in over the budget reached the card: $(tries) tries left"
stop_server
pass "two log-ins per terminal, then 429 with Retry-After; the card untouched (2 tries left)"

# bad input is refused, never tried as "": a control character (the route
# table's check, before the budget) and a PIN too long for the field; then
# a budget of 3 (--kiosk-burst) lets a third log-in through
start --kiosk-reader "$reader" --kiosk-burst 3
code=$(kiosk "12%0a34")
[ "$code" = 400 ] && grep -q '&quot;pin&quot;' kiosk.out ||
	fail "a PIN with a control character: HTTP $code $(head -c 300 kiosk.out)"
code=$(kiosk "$(printf '1%.0s' $(seq 100))")
[ "$code" = 400 ] && grep -q '&quot;pin&quot;' kiosk.out ||
	fail "a 100-digit PIN: HTTP $code $(head -c 300 kiosk.out)"
[ "$(tries)" = 2 ] || fail "a refused PIN reached the card: $(tries) tries left"
for n in 2 3; do
	code=$(kiosk 1234)
	[ "$code" = 200 ] || fail "log-in $n of a budget of 3: HTTP $code"
done
code=$(kiosk 1234)
[ "$code" = 429 ] || fail "log-in 4 of a budget of 3: HTTP $code"
stop_server
pass "a PIN with a control character or too long: 400 naming the field, the card untouched; --kiosk-burst 3: three log-ins, then 429"
echo "all kiosk checks passed"
