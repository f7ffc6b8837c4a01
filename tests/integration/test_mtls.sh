#!/usr/bin/env bash
# Links between roles that run apart authenticate each other (mutual TLS):
#   1. the database link: a private PostgreSQL with ssl=on that accepts only
#      `hostssl ... cert clientcert=verify-full`; `jpki --store
#      'postgres://...?sslmode=verify-full&sslrootcert=&sslcert=&sslkey='`
#      works, and a connection without a client certificate, with one from
#      a foreign CA, with one for another role, in clear, or to a server
#      certificate it does not trust is refused, saying why, writing
#      nothing;
#   2. `jpki serve --tls-cert --tls-key --tls-client-ca`: the window's /api
#      and /window need a client certificate of the infrastructure CA (none,
#      a foreign one, an expired one: 403), the public OCSP answers without
#      one, and the clerk's log-in records the terminal's certificate.
# The test PKI is made here with the openssl command line. Servers are
# stopped by their PIDs, whatever happens.
#
# usage: test_mtls.sh PATH/TO/jpki
# Skipped (77) when PostgreSQL's server binaries are not installed.
set -euo pipefail

. "$(dirname "$(realpath "$0")")/lib.sh"
. "$(dirname "$(realpath "$0")")/pg_lib.sh"
pg_find_bin || exit 77
command -v curl >/dev/null || {
	echo "SKIP: no curl"
	exit 77
}

lib_init mtls "$1"
pg_own "$work" || exit 77
cleanup_more() { pg_stop "$work/pg"; }

# ---- the test PKI -------------------------------------------------------
pki=$work/pki
mkdir -p "$pki"
cd "$pki"
umask 077
cat >ext.cnf <<'EOF'
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
EOF
# ca NAME CN: a self-signed CA
ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$1.key" -out "$1.crt" -days 30 -subj "/O=OpenJPKI test/CN=$2" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
# leaf CA NAME CN server|client
leaf() {
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$2.key" -out "$2.csr" -subj "/O=OpenJPKI test/CN=$3" \
		2>/dev/null
	openssl x509 -req -in "$2.csr" -CA "$1.crt" -CAkey "$1.key" \
		-CAcreateserial -days 7 -extfile ext.cnf -extensions "$4" \
		-out "$2.crt" 2>/dev/null
}
ca infra "JPKI infrastructure CA"
ca foreign "Someone else's CA"
leaf infra server localhost server      # PostgreSQL's and jpki serve's
leaf foreign rogue-server localhost server
leaf infra db-jpki jpki client           # the database role jpki
leaf infra db-other window-terminal client # right CA, another name
leaf foreign db-foreign jpki client      # right name, foreign CA
leaf infra terminal window-terminal-01 client
leaf foreign terminal-foreign window-terminal-01 client
# expired: `openssl ca` sets dates in the past
mkdir -p oldca
: >oldca/index.txt
cat >oldca.cnf <<EOF
[ca]
default_ca = old
[old]
dir = $pki/oldca
database = \$dir/index.txt
new_certs_dir = \$dir
serial = \$dir/serial
default_md = sha256
policy = any
copy_extensions = none
[any]
commonName = supplied
organizationName = optional
EOF
echo 01 >oldca/serial
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout terminal-expired.key -out terminal-expired.csr \
	-subj "/O=OpenJPKI test/CN=window-terminal-02" 2>/dev/null
openssl ca -batch -config oldca.cnf -cert infra.crt -keyfile infra.key \
	-startdate 20240101000000Z -enddate 20240201000000Z \
	-extfile ext.cnf -extensions client -in terminal-expired.csr \
	-out terminal-expired.crt >/dev/null 2>&1 || fail "expired certificate"
out=$(openssl verify -CAfile infra.crt terminal-expired.crt 2>&1) &&
	fail "the expired certificate verifies"
grep -q <<<"$out" "certificate has expired" ||
	fail "the expired certificate: $out"
umask 022
pass "a test PKI: infrastructure CA, foreign CA, server, client and expired certificates"

# ---- the database link --------------------------------------------------
cd "$work"
port=$(free_port)
as_pg "$pgbin/initdb" -D "$work/pg" -A trust -U postgres -E UTF8 \
	--locale=C >"$work/initdb.log" 2>&1 ||
	fail "initdb: $(cat "$work/initdb.log")"
mkdir -p "$work/pgtls"
cp "$pki/server.crt" "$pki/server.key" "$pki/infra.crt" "$work/pgtls/"
chmod 600 "$work/pgtls/server.key"
[ "$(id -u)" -eq 0 ] && chown -R postgres "$work/pgtls"
# Over TCP only TLS with a client certificate of the infrastructure CA whose
# CN is the database role; the unix socket (the test's own administration)
# stays open to the cluster's owner.
cat >"$work/pg/pg_hba.conf" <<EOF
local   all  postgres                 trust
hostssl all  all       127.0.0.1/32   cert clientcert=verify-full
EOF
cat >>"$work/pg/postgresql.conf" <<EOF
ssl = on
ssl_cert_file = '$work/pgtls/server.crt'
ssl_key_file = '$work/pgtls/server.key'
ssl_ca_file = '$work/pgtls/infra.crt'
ssl_min_protocol_version = 'TLSv1.2'
EOF
as_pg "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w -t 60 \
	-o "-p $port -k $work -c listen_addresses=127.0.0.1" start >/dev/null ||
	fail "pg_ctl start: $(cat "$work/pg.log")"
psql_admin() {
	as_pg "$pgbin/psql" -h "$work" -p "$port" -U postgres -At -q "$@"
}
psql_admin -c "CREATE ROLE jpki LOGIN" -c "CREATE DATABASE jpki OWNER jpki" ||
	fail "CREATE ROLE/DATABASE"
pass "a private PostgreSQL on 127.0.0.1:$port: ssl=on, hostssl cert clientcert=verify-full only"

base="postgres://jpki@127.0.0.1:$port/jpki"
tls="sslmode=verify-full&sslrootcert=$pki/infra.crt"
good="$base?$tls&sslcert=$pki/db-jpki.crt&sslkey=$pki/db-jpki.key"
# no ~/.postgresql/postgresql.crt sneaks in
export HOME=$work/home
mkdir -p "$HOME"
export JPKI_ARGON2_TEST=1 # the operator's hash, cheaply
hport=$(free_port)
url="https://127.0.0.1:$hport"
jpki_with() {
	local store=$1
	shift
	"$JPKI" --data "$work/var" --store "$store" --log warn "$@"
}
tables() {
	psql_admin -d jpki -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
}

# refused STORE WHAT PATTERN: `jpki ca init` fails, says PATTERN, writes nothing
refused() {
	local out
	if out=$(jpki_with "$1" ca init --public-url "$url" 2>&1); then
		fail "$2: ca init succeeded"
	fi
	grep -qiE <<<"$out" "$3" || fail "$2: unclear message: $out"
	grep -q <<<"$out" "sslkey=\|$pki/db-jpki.key" &&
		fail "$2: the message prints the URL: $out"
	[ "$(tables)" = 0 ] || fail "$2: something was written"
	pass "refused $2: $(echo "$out" | tail -1 | cut -c1-150)"
}
refused "$base?$tls" "without a client certificate" \
	"requires a valid client certificate|certificate"
refused "$base?$tls&sslcert=$pki/db-foreign.crt&sslkey=$pki/db-foreign.key" \
	"a client certificate of a foreign CA" "unknown ca|certificate"
refused "$base?$tls&sslcert=$pki/db-other.crt&sslkey=$pki/db-other.key" \
	"a client certificate for another database role" \
	"certificate authentication failed|certificate"
refused "$base?sslmode=verify-full&sslrootcert=$pki/foreign.crt&sslcert=$pki/db-jpki.crt&sslkey=$pki/db-jpki.key" \
	"a server certificate the client does not trust" "certificate verify failed"
refused "$base?sslmode=disable&sslcert=$pki/db-jpki.crt&sslkey=$pki/db-jpki.key" \
	"a connection in clear" "no encryption|pg_hba"
[ -e "$work/var/jpki.db" ] && fail "a SQLite file appeared beside --store"

jpki() { jpki_with "$good" "$@"; }
jpki ca init --public-url "$url" >/dev/null || fail "ca init over mutual TLS"
jpki ca cert sign >sign-ca.pem
openssl req -new -newkey rsa:2048 -nodes -subj "/CN=ignored" \
	-keyout key.pem -out req.pem 2>/dev/null
jpki ca issue --csr req.pem --type sign --person P-0001 \
	--municipality-code 131016 --prefecture Tokyo-to \
	--municipality Chiyoda-ku --name "山田 太郎" --sex male \
	--birth 1980-06-01 --address "東京都千代田区千代田１番１号" \
	--name-subst "" --out sign.pem --json >sign.json ||
	fail "ca issue over mutual TLS"
serial=$(python3 -c 'import json; print(json.load(open("sign.json"))["serial"])')
jpki ca list --json | grep -q "$serial" || fail "ca list lacks $serial"
pass "jpki ca init, issue, list over sslmode=verify-full with a client certificate (CN=jpki)"

# ---- HTTPS with client certificates ------------------------------------
JPKI_NEW_OPERATOR_PASSWORD=pw-admin-0123 jpki operator add admin \
	--role ca-officer >/dev/null || fail "operator add"

# a key that is not the certificate's, an unreadable one: refused at startup
if out=$(jpki serve --roles window,ocsp --listen "127.0.0.1:$hport" \
	--tls-cert "$pki/server.crt" --tls-key "$pki/terminal.key" 2>&1); then
	fail "serve started with a key that is not the certificate's"
fi
grep -q <<<"$out" "is not the key of the certificate" ||
	fail "mismatched key: $out"
if out=$(jpki serve --roles window,ocsp --listen "127.0.0.1:$hport" \
	--tls-cert "$pki/server.crt" --tls-key "$pki/nonexistent.key" 2>&1); then
	fail "serve started without its key"
fi
grep -q <<<"$out" "cannot be read" || fail "missing key: $out"
if out=$(jpki serve --roles window --listen "127.0.0.1:$hport" \
	--tls-client-ca "$pki/infra.crt" 2>&1); then
	fail "serve took --tls-client-ca without HTTPS"
fi
pass "serve refuses a mismatched key, a missing key, a client CA without HTTPS"

# start_serve ARGS...: jpki serve in the background, until /healthz answers
start_serve() {
	rm -f "$work/serve.pid"
	# the binary itself, not a function, so that $! is the server's PID
	"$JPKI" --data "$work/var" --store "$good" --log info serve \
		--listen "127.0.0.1:$hport" --pid-file "$work/serve.pid" \
		"$@" >"$work/server.out" 2>"$work/server.err" &
	server_pid=$!
	for _ in $(seq 1 100); do
		[ -s "$work/serve.pid" ] && break
		kill -0 "$server_pid" 2>/dev/null ||
			fail "serve exited: $(cat "$work/server.err")"
		sleep 0.1
	done
	[ -s "$work/serve.pid" ] || fail "serve did not start: $(cat "$work/server.err")"
}
stop_serve() {
	kill "$server_pid"
	wait "$server_pid" 2>/dev/null || true
	server_pid=""
	# a sanitizer build reports at exit
	if grep -q "Sanitizer" "$work/server.err"; then
		fail "the server: $(cat "$work/server.err")"
	fi
}

# without --tls-*: plain HTTP as before, and the startup says so
start_serve --roles window,ocsp
grep -q "http://127.0.0.1:$hport" "$work/server.out" ||
	fail "plain startup: $(cat "$work/server.out")"
grep -q "plain HTTP without client certificates" "$work/server.out" ||
	fail "the startup does not say the window is plain HTTP"
curl -sf "http://127.0.0.1:$hport/healthz" >/dev/null || fail "plain /healthz"
stop_serve
pass "without --tls-*: plain HTTP, and the startup says the window is unauthenticated"

start_serve --roles window,ocsp --tls-cert "$pki/server.crt" \
	--tls-key "$pki/server.key" --tls-client-ca "$pki/infra.crt"
grep -q "serving on https://127.0.0.1:$hport" "$work/server.out" ||
	fail "HTTPS startup: $(cat "$work/server.out" "$work/server.err")"
grep -q "client certificate issued by" "$work/server.out" ||
	fail "the startup does not name the client CA"
pass "jpki serve --roles window,ocsp --tls-cert --tls-key --tls-client-ca on $url"

# api CERT-ARGS... -- CURL-ARGS: status and body of a request to the server
login='{"operator":"admin","password":"pw-admin-0123"}'
call() {
	curl -s --cacert "$pki/infra.crt" -o "$work/body" -w '%{http_code}' "$@"
}
good_cert=(--cert "$pki/terminal.crt" --key "$pki/terminal.key")

st=$(call "${good_cert[@]}" -H 'Content-Type: application/json' \
	--data "$login" "$url/api/login")
[ "$st" = 200 ] || fail "/api/login with a good client certificate: $st $(cat "$work/body")"
token=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$work/body")
st=$(call "${good_cert[@]}" -H "Authorization: Bearer $token" \
	"$url/api/audit/verify")
[ "$st" = 200 ] || fail "/api/audit/verify: $st $(cat "$work/body")"
grep -q '"ok":true' "$work/body" || fail "audit chain: $(cat "$work/body")"
rec=$(psql_admin -d jpki -c "SELECT operator || ' ' || detail FROM audit_log WHERE action = 'window.client'")
grep -q <<<"$rec" '^admin .*CN=window-terminal-01' ||
	fail "the log-in's client certificate is not on the audit chain: $rec"
grep -q "admin logged in through client certificate CN=window-terminal-01" \
	"$work/server.err" || fail "the log lacks the client: $(cat "$work/server.err")"
pass "/api with the terminal's certificate: log-in, the audit chain records CN=window-terminal-01"
st=$(call "${good_cert[@]}" -H 'Content-Type: application/json' \
	--data '{"operator":"admin","password":"not the password"}' \
	"$url/api/login")
[ "$st" = 401 ] || fail "a wrong password through a good certificate: $st"
grep -q '"result":"refused"' "$work/body" || fail "401 body: $(cat "$work/body")"
pass "the terminal's certificate does not stand in for the clerk's password (401)"

# forbidden WHAT PATTERN CURL-ARGS...: 403 whose body says PATTERN
forbidden() {
	local what=$1 pattern=$2
	shift 2
	st=$(call "$@") || true
	[ "$st" = 403 ] || fail "$what: $st $(cat "$work/body" 2>/dev/null)"
	grep -q "$pattern" "$work/body" || fail "$what: $(cat "$work/body")"
	pass "refused $what: 403 $(head -c 160 "$work/body")"
}
forbidden "/api/login without a client certificate" \
	"no client certificate was presented" \
	-H 'Content-Type: application/json' --data "$login" "$url/api/login"
forbidden "/api with a session token but no client certificate" \
	"no client certificate" \
	-H "Authorization: Bearer $token" "$url/api/audit/verify"
forbidden "/window (the clerk's pages) without a client certificate" \
	"needs a client certificate" "$url/window"
forbidden "/api/login with a foreign CA's client certificate" \
	"unable to get local issuer certificate" \
	--cert "$pki/terminal-foreign.crt" --key "$pki/terminal-foreign.key" \
	-H 'Content-Type: application/json' --data "$login" "$url/api/login"
forbidden "/api/login with an expired client certificate" \
	"certificate has expired" \
	--cert "$pki/terminal-expired.crt" --key "$pki/terminal-expired.key" \
	-H 'Content-Type: application/json' --data "$login" "$url/api/login"
forbidden "/api/login with a server certificate as client certificate" \
	"unsuitable certificate purpose" \
	--cert "$pki/server.crt" --key "$pki/server.key" \
	-H 'Content-Type: application/json' --data "$login" "$url/api/login"
n=$(psql_admin -d jpki -c "SELECT count(*) FROM audit_log WHERE action = 'audit.login'")
[ "$n" = 1 ] || fail "$n log-ins on the chain: a refused request reached the window"

# The public OCSP answers without a client certificate (over HTTPS here;
# a real installation runs the public roles in their own plain-HTTP process).
openssl ocsp -issuer sign-ca.pem -cert sign.pem -no_nonce -reqout ocsp.req \
	>/dev/null 2>&1 || fail "ocsp request"
st=$(curl -s --cacert "$pki/infra.crt" -o ocsp.resp -w '%{http_code}' \
	-H 'Content-Type: application/ocsp-request' --data-binary @ocsp.req \
	"$url/ocsp/sign")
[ "$st" = 200 ] || fail "OCSP without a client certificate: $st"
out=$(openssl ocsp -respin ocsp.resp -issuer sign-ca.pem -cert sign.pem \
	-CAfile sign-ca.pem 2>&1)
grep -q <<<"$out" "Response verify OK" || fail "OCSP verify: $out"
grep -q <<<"$out" "sign.pem: good" || fail "OCSP not good: $out"
pass "the public OCSP answers without a client certificate: good"

# plain HTTP to the HTTPS listener gets nothing
curl -s -m 5 "http://127.0.0.1:$hport/healthz" >/dev/null 2>&1 &&
	fail "plain HTTP answered on the HTTPS listener"
stop_serve
pass "plain HTTP is not answered on the HTTPS listener"
