#!/usr/bin/env bash
# A/B of two builds' OCSP responder: wrk -t2 -c8 POST (as
# bench/ocsp_bench.sh) against `OLD serve` and `NEW serve`, alternating
# rounds in one run on one store, so both see the same machine. Used for
# docs/PERFORMANCE.md (the serve loop); OLD is e.g. a build of an earlier
# commit (git archive COMMIT | tar -x -C DIR; cmake; build the jpki target).
#
# usage: bench/ocsp_ab.sh OLD/jpki NEW/jpki [ROUNDS] [SECONDS] [ROLES]
set -euo pipefail
OLD=$1 NEW=$2 rounds=${3:-5} secs=${4:-5} roles=${5:-ocsp}
work=$(mktemp -d /tmp/jpki-ab-XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && { kill $pid 2>/dev/null; wait $pid 2>/dev/null; } ; rm -rf "$work"; }
trap cleanup EXIT
cd "$work"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
jpki() { "$NEW" --data "$work/var" --log error "$@"; }
jpki ca init --public-url "http://127.0.0.1:1" >/dev/null
jpki ca cert sign >sign-ca.pem
openssl req -new -newkey rsa:2048 -nodes -subj /CN=x -keyout k.pem -out r.pem 2>/dev/null
jpki ca issue --csr r.pem --type sign --person P-1 --municipality-code 131016 \
	--prefecture Tokyo-to --municipality Chiyoda-ku --name "山田 太郎" \
	--sex male --birth 1980-06-01 --address "千代田１番１号" --out cert.pem >/dev/null
openssl ocsp -issuer sign-ca.pem -cert cert.pem -reqout req.der -no_nonce >/dev/null
cat >post.lua <<'L'
local f = assert(io.open("req.der", "rb"))
wrk.method = "POST"
wrk.body = f:read("*all")
f:close()
wrk.headers["Content-Type"] = "application/ocsp-request"
L
psi() { awk '/^some/ {sub("total=", "", $5); print $5}' /proc/pressure/cpu; }
one() { # LABEL BINARY
	local p=$(free_port) p0
	"$2" --data "$work/var" --log error serve --roles "$roles" --listen "127.0.0.1:$p" >serve.log 2>&1 &
	pid=$!
	for _ in $(seq 100); do curl -sf -o /dev/null --data-binary @req.der -H 'Content-Type: application/ocsp-request' "http://127.0.0.1:$p/ocsp/sign" && break; sleep 0.05; done
	sleep 0.5
	p0=$(psi)
	wrk -t2 -c8 -d"${secs}s" --latency -s post.lua "http://127.0.0.1:$p/ocsp/sign" >wrk.txt
	p1=$(psi)
	kill $pid; wait $pid 2>/dev/null || true; pid=""
	rps=$(awk '/^Requests\/sec/ {print $2}' wrk.txt)
	p50=$(awk '$1 == "50%" {print $2}' wrk.txt)
	p99=$(awk '$1 == "99%" {print $2}' wrk.txt)
	pr=$(python3 -c "print('%.0f%%' % (($p1 - $p0) / ($secs * 1e4)))")
	printf '%-4s %9s rps  p50 %8s  p99 %8s  cpu-pressure %s  load %s\n' "$1" "$rps" "$p50" "$p99" "$pr" "$(cut -d' ' -f1 /proc/loadavg)"
}
for r in $(seq 1 $rounds); do
	one old "$OLD"
	one new "$NEW"
done
