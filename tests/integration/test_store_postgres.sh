#!/usr/bin/env bash
# The PostgreSQL backend of the store: a private PostgreSQL cluster on a free
# loopback port, the store's (and the CA's) unit tests run against it, then
# `jpki ca` and `jpki serve --store postgres://...` answering OpenSSL's OCSP
# questions from it. The cluster is stopped and removed at the end, whatever
# happens.
#
# usage: test_store_postgres.sh PATH/TO/jpki [UNIT-TEST-BINARY ...]
# Skipped (77) when PostgreSQL's server binaries are not installed.
set -euo pipefail

JPKI=$(realpath "$1")
shift
unit_tests=("$@")

. "$(dirname "$(realpath "$0")")/pg_lib.sh"
pg_find_bin || exit 77

work=$(mktemp -d /tmp/jpki-pg-XXXXXX)
server_pid=""

if ! pg_own "$work"; then
	rm -rf "$work"
	exit 77
fi

cleanup() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	pg_stop "$work/pg"
	rm -rf "$work"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
pass() { echo "ok - $*"; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pg_start "$port"
pg="postgres://postgres@127.0.0.1:$port/postgres"
pass "a private PostgreSQL on 127.0.0.1:$port"

for t in "${unit_tests[@]}"; do
	JPKI_TEST_PG=$pg JPKI_LOG=warn "$t" >"$work/unit.log" 2>&1 ||
		fail "$(basename "$t") against PostgreSQL: $(tail -40 "$work/unit.log")"
	pass "$(basename "$t") against PostgreSQL"
done
# Each test dropped the database it made.
left=$(as_pg "$pgbin/psql" -h 127.0.0.1 -p "$port" -U postgres -At \
	-c "SELECT count(*) FROM pg_database WHERE datname LIKE 'jpki_test_%'")
[ "$left" = 0 ] || fail "$left test databases left behind"
pass "the unit tests left no databases behind"

# The command line and the server over one PostgreSQL database.
as_pg "$pgbin/psql" -h 127.0.0.1 -p "$port" -U postgres -q \
	-c "CREATE DATABASE jpki" || fail "CREATE DATABASE jpki"
store="postgres://postgres@127.0.0.1:$port/jpki"
cd "$work"
hport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$hport"
jpki() { "$JPKI" --data "$work/var" --store "$store" --log warn "$@"; }

jpki ca init --public-url "$url" >/dev/null
jpki ca init --public-url "$url" 2>err.txt && fail "a second init succeeded"
grep -q "already exist" err.txt || fail "second init: $(cat err.txt)"
[ -e "$work/var/jpki.db" ] && fail "a SQLite file appeared beside --store"
pass "ca init into PostgreSQL, and a second init refused"

jpki ca cert sign >sign-ca.pem
openssl req -new -newkey rsa:2048 -nodes -subj "/CN=ignored" \
	-keyout key.pem -out req.pem 2>/dev/null
jpki ca issue --csr req.pem --type sign --person P-0001 \
	--municipality-code 131016 --prefecture Tokyo-to \
	--municipality Chiyoda-ku --name "山田 太郎" --sex male \
	--birth 1980-06-01 --address "東京都千代田区千代田１番１号" \
	--name-subst "" --out sign.pem --json >sign.json
serial=$(python3 -c 'import json; print(json.load(open("sign.json"))["serial"])')
openssl verify -CAfile sign-ca.pem sign.pem | grep -q ": OK" ||
	fail "signing certificate does not verify"
pass "ca issue from PostgreSQL"

"$JPKI" --data "$work/var" --store "$store" serve --listen "127.0.0.1:$hport" \
	>server.out 2>server.err &
server_pid=$!
for _ in $(seq 1 50); do
	curl -sf "$url/healthz" >/dev/null 2>&1 && break
	sleep 0.1
done
curl -sf "$url/healthz" >/dev/null || fail "server did not start: $(cat server.err)"
ocsp() {
	openssl ocsp -issuer sign-ca.pem -cert sign.pem -CAfile sign-ca.pem \
		-url "$url/ocsp/sign" 2>&1
}
out=$(ocsp)
grep -q <<<"$out" "Response verify OK" || fail "OCSP verify: $out"
grep -q <<<"$out" "sign.pem: good" || fail "OCSP not good: $out"
pass "jpki serve --store postgres://: openssl ocsp good"

# A revocation by the CLI is seen by the running server through the database.
jpki ca revoke "$serial" --reason keyCompromise >/dev/null
out=$(ocsp)
grep -q <<<"$out" "sign.pem: revoked" || fail "OCSP after revoke: $out"
grep -q <<<"$out" "Reason: keyCompromise" || fail "OCSP reason: $out"
curl -sf "$url/crl/sign/131016.crl" -o sign.crl || fail "CRL download"
openssl crl -inform DER -in sign.crl -noout -text | grep -qi "$serial" ||
	fail "the CRL lacks $serial"
pass "revoked by the CLI: OCSP revoked and on the CRL"
