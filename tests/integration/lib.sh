# Sourced by the integration tests (after set -euo pipefail): what every
# script had written again - the work dir, the server stopped by its PID at
# exit, fail / pass, the jpki wrapper, a free port, a CA with its officer
# and operators, `jpki serve` started and waited for.
#
#   . "$(dirname "$(realpath "$0")")/lib.sh"
#   lib_init NAME "$1"
#
# A script may redefine fail after sourcing, or define fail_more (what fail
# shows before it exits); it may define cleanup_more, which the exit trap
# calls before the work dir is removed. Background processes whose PIDs it
# adds to the array pids are stopped at exit, by PID, like $server_pid.
# The jpki wrapper logs at $jpki_log_level (warn unless set).

# lib_init NAME JPKI: $JPKI, $work (/tmp/jpki-NAME-XXXXXX), the exit trap,
# and cd "$work"
lib_init() {
	JPKI=$(realpath "$2")
	work=$(mktemp -d "/tmp/jpki-$1-XXXXXX")
	server_pid=""
	pids=()
	trap lib_cleanup EXIT
	cd "$work"
}

# stop_server: the server this script started, by its PID, never by name
stop_server() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
		server_pid=""
	fi
}

lib_cleanup() {
	local p
	stop_server
	for p in ${pids[@]+"${pids[@]}"}; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	if declare -F cleanup_more >/dev/null; then
		cleanup_more
	fi
	rm -rf "$work"
}

fail() {
	echo "FAIL: $*" >&2
	if declare -F fail_more >/dev/null; then
		fail_more
	fi
	exit 1
}

# serve_log_tail N: the last N lines of serve.log in $work (for fail_more)
serve_log_tail() {
	[ -f "$work/serve.log" ] && tail -"$1" "$work/serve.log" >&2
	return 0
}

# serve_errs: the last lines of each serve*.err in $work (for fail_more)
serve_errs() {
	local f
	for f in "$work"/serve*.err; do
		[ -s "$f" ] && echo "$(basename "$f"): $(tail -5 "$f")" >&2
	done
	return 0
}
pass() { echo "ok - $*"; }

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# json EXPR: EXPR of the JSON document d read from stdin
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

jpki() { "$JPKI" --data "$work/var" --log "${jpki_log_level:-warn}" "$@"; }

# wait_healthz URL [TRIES]: until URL/healthz answers (TRIES x 0.05 s at
# most, 100 unless given); 1 if never
wait_healthz() {
	for _ in $(seq "${2:-100}"); do
		curl -sf "$1/healthz" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}

# serve_bg URL ARGS...: `jpki serve ARGS` in the background (log level
# $serve_log_level, warn unless set; output to serve.log), its PID in
# $server_pid, and waits for URL/healthz
serve_bg() {
	local u=$1
	shift
	"$JPKI" --data "$work/var" --log "${serve_log_level:-warn}" serve "$@" \
		>serve.log 2>&1 &
	server_pid=$!
	wait_healthz "$u" || fail "jpki serve did not start: $(cat serve.log)"
}

# ca_and_admin URL: a CA whose public URL is URL, and its officer admin
# (password pw-admin-0123)
ca_and_admin() {
	jpki ca init --public-url "$1" >/dev/null
	JPKI_NEW_OPERATOR_PASSWORD=pw-admin-0123 jpki operator add admin \
		--role ca-officer >/dev/null
}

# add_operator NAME ROLE [MUNICIPALITY|-] [PASSWORD]: added by admin,
# with PASSWORD (pw-NAME-012345 unless given)
add_operator() {
	local m=()
	[ "${3:--}" != - ] && m=(--municipality-code "$3")
	JPKI_OPERATOR=admin JPKI_OPERATOR_PASSWORD=pw-admin-0123 \
		JPKI_NEW_OPERATOR_PASSWORD="${4:-pw-$1-012345}" \
		jpki operator add "$1" --role "$2" "${m[@]}" >/dev/null
}

# window_staff URL: a CA for URL, admin, the registry clerk reg1
# (pw-reg-01234) and the window clerk clerk1 (pw-window-01), both of 131016
window_staff() {
	ca_and_admin "$1"
	add_operator reg1 registry-clerk 131016 pw-reg-01234
	add_operator clerk1 window-clerk 131016 pw-window-01
}

# issued_card URL: window_staff, then the resident 鈴木 一郎 ($person)
# registered by reg1, and both certificates issued by clerk1 at the window
# ($app) onto card.bin (PINs 1234 and ABC123)
issued_card() {
	window_staff "$1"
	person=$(JPKI_OPERATOR=reg1 JPKI_OPERATOR_PASSWORD=pw-reg-01234 \
		jpki registry register \
		--municipality-code 131016 --prefecture 東京都 --municipality 千代田区 \
		--name "鈴木 一郎" --sex male --birth 1985-04-10 \
		--address "千代田４番４号" --json | json 'd["person"]')
	jpki card new --kind mynumber card.bin >/dev/null
	app=$(JPKI_OPERATOR=clerk1 JPKI_OPERATOR_PASSWORD=pw-window-01 \
		jpki window apply "$person" \
		--id photo --photo-id driving-licence --photo-id-address "千代田４番４号" \
		--json | json 'd["id"]')
	JPKI_OPERATOR=clerk1 JPKI_OPERATOR_PASSWORD=pw-window-01 \
		jpki window issue "$app" \
		--card card.bin --auth-pin 1234 --sign-pin ABC123 >issue.txt ||
		fail "issue: $(cat issue.txt)"
}

# ocsp_request_fixture PORT: a CA at 127.0.0.1:PORT, one signing
# certificate (cert.pem, its CA sign-ca.pem) and an OCSP request for it
# (req.der)
ocsp_request_fixture() {
	jpki ca init --public-url "http://127.0.0.1:$1" >/dev/null
	jpki ca cert sign >sign-ca.pem
	openssl req -new -newkey rsa:2048 -nodes -subj /CN=x -keyout k.pem \
		-out r.pem 2>/dev/null
	jpki ca issue --csr r.pem --type sign --person P-1 \
		--municipality-code 131016 --prefecture Tokyo-to \
		--municipality Chiyoda-ku --name "山田 太郎" --sex male \
		--birth 1980-06-01 --address "千代田１番１号" --out cert.pem >/dev/null
	openssl ocsp -issuer sign-ca.pem -cert cert.pem -reqout req.der \
		-no_nonce >/dev/null
}

# watch_python: sets watch_py to the first Python with the cryptography
# package (ocsp_watch.py's; a python3 earlier on PATH than Debian's may lack
# the one apt-get installs), or skips the test.
watch_python() {
	watch_py=""
	for py in python3 /usr/bin/python3; do
		if "$py" -c 'from cryptography.x509 import ocsp' 2>/dev/null; then
			watch_py=$py
			return 0
		fi
	done
	echo "SKIP: no python3 cryptography (apt-get install python3-cryptography)"
	exit 77
}

# ocsp_certs N: a CA (sign-ca.pem) and N signing certificates (certI.pem),
# each with an OCSP request (ocspI.der); their serials in `serials`. Uses
# the test's jpki (which may name a --store).
ocsp_certs() {
	jpki ca init --public-url "http://127.0.0.1:1" >/dev/null
	jpki ca cert sign >sign-ca.pem
	serials=()
	for i in $(seq 1 "$1"); do
		openssl req -new -newkey rsa:2048 -nodes -subj "/CN=ignored" \
			-keyout "key$i.pem" -out "req$i.pem" 2>/dev/null
		jpki ca issue --csr "req$i.pem" --type sign --person "P-000$i" \
			--municipality-code 131016 --prefecture Tokyo-to \
			--municipality Chiyoda-ku --name "山田 太郎" --sex male \
			--birth 1980-06-01 --address "東京都千代田区千代田１番１号" \
			--out "cert$i.pem" --json >"cert$i.json"
		serials+=("$(json "d['serial']" <"cert$i.json")")
		openssl ocsp -issuer sign-ca.pem -cert "cert$i.pem" -no_nonce \
			-reqout "ocsp$i.der" >/dev/null
	done
}

# ocsp_status URL N: good / revoked, from one POST of ocspN.der
ocsp_status() {
	curl -sf --data-binary "@ocsp$2.der" \
		-H 'Content-Type: application/ocsp-request' "$1" -o answer.der ||
		fail "no answer from $1"
	openssl ocsp -respin answer.der -issuer sign-ca.pem -CAfile sign-ca.pem \
		-cert "cert$2.pem" 2>/dev/null | sed -n "s/^cert$2.pem: //p"
}

# hold_release_seen N SERIAL URL...: `jpki ca hold SERIAL` (the caller's
# jpki, another process), then certN is revoked at the next request to each
# URL; `jpki ca release`, then good again at the next request to each.
hold_release_seen() {
	local n=$1 serial=$2 u
	shift 2
	jpki ca hold "$serial" >/dev/null
	for u in "$@"; do
		[ "$(ocsp_status "$u" "$n")" = revoked ] || fail "the hold not seen at $u"
	done
	jpki ca release "$serial" >/dev/null
	for u in "$@"; do
		[ "$(ocsp_status "$u" "$n")" = good ] || fail "the release not seen at $u"
	done
}
