#!/usr/bin/env bash
# Connection limits (docs/SECURITY.md, "Network limits"): per address, the
# header and body deadlines, and OCSP on a listener of its own while other
# clients hold every connection of the main one (conn_limits.py).
#
# usage: test_conn_limits.sh PATH/TO/jpki
set -euo pipefail
JPKI=$(realpath "$1")
here=$(dirname "$(realpath "$0")")
work=$(mktemp -d /tmp/jpki-conn-XXXXXX)
server_pid=""
cleanup() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
port=$(free_port)
oport=$(free_port)
jpki() { "$JPKI" --data "$work/var" --log warn "$@"; }
jpki ca init --public-url "http://127.0.0.1:$port" >/dev/null
jpki ca cert sign >sign-ca.pem
openssl req -new -newkey rsa:2048 -nodes -subj /CN=x -keyout k.pem \
	-out r.pem 2>/dev/null
jpki ca issue --csr r.pem --type sign --person P-1 --municipality-code 131016 \
	--prefecture Tokyo-to --municipality Chiyoda-ku --name "山田 太郎" \
	--sex male --birth 1980-06-01 --address "千代田１番１号" --out cert.pem >/dev/null
openssl ocsp -issuer sign-ca.pem -cert cert.pem -reqout req.der -no_nonce >/dev/null
"$JPKI" --data "$work/var" --log error serve --roles ocsp,repository \
	--listen "127.0.0.1:$port" --ocsp-listen "127.0.0.1:$oport" \
	--max-connections 64 --per-address 16 --header-timeout 3 \
	--body-timeout 3 >serve.log 2>&1 &
server_pid=$!
for _ in $(seq 100); do
	curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
	sleep 0.05
done
python3 "$here/conn_limits.py" "$port" "$oport" req.der
kill -0 "$server_pid" || { echo "FAIL: the server died" >&2; exit 1; }
