#!/usr/bin/env bash
# jpki serve's log-in limits and kiosk budget as flags and config keys: a
# configured value takes effect (2 free failures: the third wrong password
# is 429 with Retry-After, where the default lets five go), and a value out
# of range is refused at start with a sentence naming it.
#
# usage: test_serve_limits.sh PATH/TO/jpki
set -euo pipefail

. "$(dirname "$(realpath "$0")")/lib.sh"
lib_init serve-limits "$1"

export JPKI_NOW=2026-11-17T01:00:00Z
export JPKI_ARGON2_TEST=1

jpki ca init --public-url http://127.0.0.1:1 >/dev/null 2>&1
JPKI_NEW_OPERATOR_PASSWORD=pw-admin-0123 jpki operator add admin --role ca-officer >/dev/null 2>&1
JPKI_OPERATOR=admin JPKI_OPERATOR_PASSWORD=pw-admin-0123 \
	JPKI_NEW_OPERATOR_PASSWORD=pw-aud1-012345 jpki operator add aud1 \
	--role auditor >/dev/null 2>&1 || fail "operator add aud1"

serve() { # PORT ARGS...: starts jpki serve, waits for it
	local port=$1
	shift
	serve_bg "http://127.0.0.1:$port" --roles window \
		--listen "127.0.0.1:$port" "$@"
}
wrong() { # PORT OPERATOR: the status of a wrong password
	curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
		-d "{\"operator\":\"$2\",\"password\":\"not it\"}" \
		"http://127.0.0.1:$1/api/login"
}

# the flag: 2 free failures
port=$(free_port)
serve "$port" --login-free-failures 2
# the wait after the first failure past the free ones is one second, in
# whole seconds: an attempt that comes after it is 401 once more, and the
# next meets a two-second wait (see the config key's case below)
s="$(wrong "$port" admin) $(wrong "$port" admin) $(wrong "$port" admin)"
[ "$s" = "401 401 401" ] && s="$s $(wrong "$port" admin)"
case "$s" in
"401 401 429" | "401 401 401 429") ;;
*) fail "--login-free-failures 2: $s" ;;
esac
stop_server
pass "--login-free-failures 2: 429 once the two free failures are spent ($s)"

# the config key, for another operator (the default would be 401 x 3)
printf 'login_free_failures = 1\n' >"$work/var/jpki.conf"
port=$(free_port)
serve "$port"
# The same one-second wait after the first failure. The default's five
# free failures give 401 three times.
s="$(wrong "$port" aud1) $(wrong "$port" aud1)"
[ "$s" = "401 401" ] && s="$s $(wrong "$port" aud1)"
case "$s" in
"401 429" | "401 401 429") ;;
*) fail "config login_free_failures 1: $s" ;;
esac
stop_server
rm "$work/var/jpki.conf"
pass "config login_free_failures = 1: 429 after the first wrong password's wait ($s)"

# out of range: refused at start, with a sentence
for args in "--login-free-failures 1001" "--login-max-wait 86401" \
	"--kiosk-burst 101" "--kiosk-every 0" \
	"--login-free-failures 30 --login-lock-failures 30"; do
	# shellcheck disable=SC2086
	if jpki serve --roles window --listen 127.0.0.1:0 $args >out.txt 2>&1; then
		fail "$args: started"
	fi
	grep -Eq "takes 1 to|must be more than" out.txt || fail "$args: $(cat out.txt)"
done
pass "values out of range are refused at start with a sentence"
