#!/usr/bin/env bash
# "Revoked at the next request after its commit" on SQLite, with the
# responders' answers by request bytes (src/ca/ocsp.c): two `jpki serve
# --roles ocsp` processes on one SQLite store have answered the same request
# many times (kept in memory, not read again while nothing is committed);
# a separate `jpki ca revoke` process commits a revocation, and
#   - the first request each responder gets after the command returned is
#     answered "revoked" (a plain curl, one request each);
#   - under load from kept-alive clients (ocsp_watch.py), no responder
#     answers "good" to a request sent after it answered "revoked", and
#     every one says revoked within the bound, measured from the command's
#     return;
#   - an unrelated certificate stays good, and a hold then release by other
#     processes is answered each time at the next request.
#
# usage: test_ocsp_sqlite_revoke.sh PATH/TO/jpki
# Skipped (77) without Python's cryptography package (ocsp_watch.py reads
# the answers with it).
set -euo pipefail

here=$(dirname "$(realpath "$0")")
BOUND_MS=1000
. "$here/lib.sh"

watch_py=""
for py in python3 /usr/bin/python3; do
	if "$py" -c 'from cryptography.x509 import ocsp' 2>/dev/null; then
		watch_py=$py
		break
	fi
done
if [ -z "$watch_py" ]; then
	echo "SKIP: no python3 cryptography (apt-get install python3-cryptography)"
	exit 77
fi

lib_init ocspsq "$1"
fail_more() { serve_errs; }

jpki ca init --public-url "http://127.0.0.1:1" >/dev/null
jpki ca cert sign >sign-ca.pem
jpki ca cert auth >auth-ca.pem
serials=()
for i in 1 2 3; do
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
pass "a CA and three signing certificates in SQLite"

urls=()
for i in 1 2; do
	p=$(free_port)
	"$JPKI" --data "$work/var" --log warn serve --roles ocsp \
		--listen "127.0.0.1:$p" >"serve$i.out" 2>"serve$i.err" &
	pids+=($!)
	urls+=("http://127.0.0.1:$p/ocsp/sign")
	wait_healthz "http://127.0.0.1:$p" || fail "responder $i did not start"
done

# status URL N: good / revoked, from one POST of ocspN.der
status() {
	curl -sf --data-binary "@ocsp$2.der" \
		-H 'Content-Type: application/ocsp-request' "$1" -o "answer.der" ||
		fail "no answer from $1"
	openssl ocsp -respin answer.der -issuer sign-ca.pem -CAfile sign-ca.pem \
		-cert "cert$2.pem" 2>/dev/null | sed -n "s/^cert$2.pem: //p"
}
# the same request answered many times at both: kept by request bytes
for u in "${urls[@]}"; do
	for _ in $(seq 1 20); do
		[ "$(status "$u" 1)" = good ] || fail "cert1 not good at $u"
	done
done
pass "two responders answer the same request good, twenty times each"

# --- the next request after the commit ------------------------------------
jpki ca revoke "${serials[0]}" --reason keyCompromise >/dev/null
for u in "${urls[@]}"; do
	s=$(status "$u" 1)
	[ "$s" = revoked ] || fail "the first request after the revocation at $u: $s"
done
pass "the first request after 'jpki ca revoke' returned: revoked at both"
for u in "${urls[@]}"; do
	[ "$(status "$u" 3)" = good ] || fail "cert3 is not good at $u"
done
pass "an unrelated certificate is still good"

# --- hold and release by other processes ----------------------------------
for u in "${urls[@]}"; do status "$u" 3 >/dev/null; done
jpki ca hold "${serials[2]}" >/dev/null
for u in "${urls[@]}"; do
	[ "$(status "$u" 3)" = revoked ] || fail "hold not seen at $u"
done
jpki ca release "${serials[2]}" >/dev/null
for u in "${urls[@]}"; do
	[ "$(status "$u" 3)" = good ] || fail "release not seen at $u"
done
pass "a hold and its release by other processes: each seen at the next request"

# --- under load ------------------------------------------------------------
"$watch_py" "$here/ocsp_watch.py" ocsp2.der 0.5 2 "${urls[@]}" -- \
	"$JPKI" --data "$work/var" --log warn \
	ca revoke "${serials[1]}" --reason affiliationChanged >watch.out 2>&1 ||
	fail "under load: $(cat watch.out)"
sed 's/^/# /' watch.out
python3 - "$(tail -1 watch.out)" "$BOUND_MS" <<'EOF' || fail "under load: $(tail -1 watch.out)"
import json, sys
s = json.loads(sys.argv[1])
assert s["monotonic"], "a responder answered good after revoked"
assert s["reasons"] == ["affiliation_changed"], s["reasons"]
assert s["delay_ms"] < float(sys.argv[2]), s["delay_ms"]
EOF
pass "under load: revoked at both within $BOUND_MS ms of the command's return, never good after revoked ($(tail -1 watch.out))"
