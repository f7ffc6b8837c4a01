#!/usr/bin/env bash
# OCSP responses per second and p99 latency under wrk on loopback (8
# connections, 2 threads) for `jpki serve --roles ocsp`, beside the
# machine's RSA-2048 signing rate from `openssl speed` in the same run (what
# a responder that signs every answer is bounded by). `openssl ocsp` as a
# live reference is left out: its -port binds every interface, and servers
# here listen on 127.0.0.1 only.
#
# usage: bench/ocsp_bench.sh PATH/TO/jpki [SECONDS]
set -euo pipefail
JPKI=$(realpath "$1")
secs=${2:-5}
work=$(mktemp -d /tmp/jpki-ocsp-bench-XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
command -v wrk >/dev/null || { echo "wrk is not installed (scripts/setup.sh)" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
p1=$(free_port)
jpki() { "$JPKI" --data "$work/var" --log error "$@"; }
jpki ca init --public-url "http://127.0.0.1:$p1" >/dev/null
jpki ca cert sign >sign-ca.pem
jpki ca cert sign --ocsp >sign-ocsp.pem
openssl req -new -newkey rsa:2048 -nodes -subj /CN=x -keyout k.pem -out r.pem 2>/dev/null
jpki ca issue --csr r.pem --type sign --person P-1 --municipality-code 131016 \
	--prefecture Tokyo-to --municipality Chiyoda-ku --name "山田 太郎" \
	--sex male --birth 1980-06-01 --address "千代田１番１号" --out cert.pem >/dev/null
openssl ocsp -issuer sign-ca.pem -cert cert.pem -reqout req.der -no_nonce >/dev/null
b64=$(base64 -w0 req.der | python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.stdin.read(), safe=""))')

"$JPKI" --data "$work/var" --log error serve --roles ocsp \
	--listen "127.0.0.1:$p1" >jpki.log 2>&1 &
pids+=($!)
u1="http://127.0.0.1:$p1/ocsp/sign"
for u in "$u1"; do
	for _ in $(seq 100); do
		curl -sf -o /dev/null "$u/$b64" && break
		sleep 0.05
	done
	# each answers "good" for the serial before anything is measured
	openssl ocsp -issuer sign-ca.pem -cert cert.pem -url "$u" \
		-CAfile sign-ca.pem -no_nonce 2>/dev/null | grep -q ": good" ||
		{ echo "the responder at $u does not answer good" >&2; exit 1; }
done

measure() { # URL: "requests/s p99_ms"
	wrk -t2 -c8 -d"${secs}s" --latency "$1" >wrk.txt
	local rps p99
	rps=$(awk '/^Requests\/sec/ {print $2}' wrk.txt)
	p99=$(awk '$1 == "99%" {print $2}' wrk.txt)
	case $p99 in
	*us) p99=$(python3 -c "print(${p99%us} / 1000)") ;;
	*ms) p99=${p99%ms} ;;
	*s) p99=$(python3 -c "print(${p99%s} * 1000)") ;;
	esac
	echo "$rps $p99"
}
read -r j_rps j_p99 <<<"$(measure "$u1/$b64")"
speed=$(openssl speed -seconds 2 -multi "$(nproc)" rsa2048 2>/dev/null |
	awk '/^rsa 2048 bits/ {print $6}')
printf 'OCSP (GET, 8 connections, %ss, %s cores)\n' "$secs" "$(nproc)"
printf '  jpki serve:          %10.0f responses/s  p99 %6.2f ms\n' "$j_rps" "$j_p99"
printf '  openssl speed rsa2048: %8.0f signatures/s (all cores)\n' "$speed"
python3 -c "print('  ratio responses / raw signatures: %.1f' % ($j_rps / max(float('$speed'), 0.001)))"
