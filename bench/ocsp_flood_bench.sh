#!/usr/bin/env bash
# OCSP p99 under wrk (8 connections, 2 threads, POST) in one run of one
# `jpki serve --roles ocsp,login,window`, three ways side by side:
#
#   quiet       nothing else;
#   log-in      while 4 clients post wrong passwords to /api/login for an
#   flood       operator made by `jpki operator add` (each a full Argon2id,
#               64 MiB), continuously;
#   per-address while 3 other loopback addresses hold every connection the
#   limits      per-address limit lets them (--per-address 32: 96 of the
#               main listener's 128), trickling headers and reconnecting
#               when cut: wrk asks the main listener;
#   all held    while 4 such addresses hold the whole main listener
#               (--max-connections 128): wrk asks the OCSP listener
#               (--ocsp-listen), which they cannot take.
#
# Bounded: each phase SECONDS (default 5), 127.0.0.1-127.0.0.9 only.
# usage: bench/ocsp_flood_bench.sh PATH/TO/jpki [SECONDS]
set -euo pipefail
JPKI=$(realpath "$1")
secs=${2:-5}
here=$(dirname "$(realpath "$0")")
work=$(mktemp -d /tmp/jpki-flood-bench-XXXXXX)
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
port=$(free_port)
oport=$(free_port)
jpki() { "$JPKI" --data "$work/var" --log error "$@"; }
jpki ca init --public-url "http://127.0.0.1:$port" >/dev/null
jpki ca cert sign >sign-ca.pem
openssl req -new -newkey rsa:2048 -nodes -subj /CN=x -keyout k.pem -out r.pem 2>/dev/null
jpki ca issue --csr r.pem --type sign --person P-1 --municipality-code 131016 \
	--prefecture Tokyo-to --municipality Chiyoda-ku --name "山田 太郎" \
	--sex male --birth 1980-06-01 --address "千代田１番１号" --out cert.pem >/dev/null
openssl ocsp -issuer sign-ca.pem -cert cert.pem -reqout req.der -no_nonce >/dev/null
# real Argon2id parameters (no JPKI_ARGON2_TEST): what a guess costs
JPKI_NEW_OPERATOR_PASSWORD=pw-admin-0123 jpki operator add admin \
	--role ca-officer >/dev/null
JPKI_OPERATOR_PASSWORD=pw-admin-0123 JPKI_NEW_OPERATOR_PASSWORD=pw-clerk1-0123 \
	jpki operator add clerk1 \
	--role window-clerk --municipality-code 131016 --operator admin >/dev/null

cat >post.lua <<'EOF'
local f = assert(io.open("req.der", "rb"))
wrk.method = "POST"
wrk.body = f:read("*all")
f:close()
wrk.headers["Content-Type"] = "application/ocsp-request"
EOF

"$JPKI" --data "$work/var" --log error serve --roles ocsp,login,window \
	--listen "127.0.0.1:$port" --ocsp-listen "127.0.0.1:$oport" \
	--max-connections 128 --per-address 32 >jpki.log 2>&1 &
pids+=($!)
for _ in $(seq 100); do
	curl -sf -o /dev/null --data-binary @req.der \
		-H 'Content-Type: application/ocsp-request' \
		"http://127.0.0.1:$port/ocsp/sign" && break
	sleep 0.05
done
openssl ocsp -issuer sign-ca.pem -cert cert.pem -url "http://127.0.0.1:$oport/ocsp/sign" \
	-CAfile sign-ca.pem -no_nonce 2>/dev/null | grep -q ": good" ||
	{ echo "jpki serve does not answer good: $(cat jpki.log)" >&2; exit 1; }

parse() { # wrk output file: "rps p50_ms p99_ms errors"
	python3 - "$1" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
def ms(v):
    n, unit = re.match(r"([\d.]+)(us|ms|s)", v).groups()
    return float(n) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
p50 = ms(re.search(r"^\s+50%\s+(\S+)", text, re.M).group(1))
p99 = ms(re.search(r"^\s+99%\s+(\S+)", text, re.M).group(1))
errs = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", text))
m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
errs += int(m.group(1)) if m else 0
print("%.0f %.2f %.2f %d" % (rps, p50, p99, errs))
EOF
}
measure() { # URL -> "rps p50 p99 errors"
	wrk -t2 -c8 -d"${secs}s" --latency -s post.lua "$1" >wrk.txt
	parse wrk.txt
}
load=$(cut -d' ' -f1-3 /proc/loadavg)
read -r q_rps q_p50 q_p99 q_err <<<"$(measure "http://127.0.0.1:$port/ocsp/sign")"

python3 "$here/flood_clients.py" login "$port" 4 "$((secs + 2))" >flood.txt &
flood=$!
pids+=($flood)
sleep 1
read -r f_rps f_p50 f_p99 f_err <<<"$(measure "http://127.0.0.1:$port/ocsp/sign")"
wait "$flood"

python3 "$here/flood_clients.py" hold "$port" 32 2 3 "$((secs + 2))" >hold3.txt &
holders=$!
pids+=($holders)
sleep 1.5
read -r a_rps a_p50 a_p99 a_err <<<"$(measure "http://127.0.0.1:$port/ocsp/sign")"
wait "$holders"

python3 "$here/flood_clients.py" hold "$port" 32 2 4 "$((secs + 2))" >hold.txt &
holders=$!
pids+=($holders)
sleep 1.5
read -r h_rps h_p50 h_p99 h_err <<<"$(measure "http://127.0.0.1:$oport/ocsp/sign")"
wait "$holders"

line() { # LABEL RPS P50 P99 ERRORS
	printf '  %-36s %7.0f responses/s  p50 %7.2f ms  p99 %8.2f ms  errors %s\n' "$@"
}
printf 'OCSP beside hostile clients (wrk -t2 -c8 POST, %ss each, %s cores; load average before: %s)\n' \
	"$secs" "$(nproc)" "$load"
line "quiet" "$q_rps" "$q_p50" "$q_p99" "$q_err"
line "log-in flood (4 clients)" "$f_rps" "$f_p50" "$f_p99" "$f_err"
line "per-address limits reached" "$a_rps" "$a_p50" "$a_p99" "$a_err"
line "main listener held (OCSP listener)" "$h_rps" "$h_p50" "$h_p99" "$h_err"
echo "    log-in flood answers: $(cat flood.txt)"
echo "    3 holding addresses: $(cat hold3.txt)"
echo "    4 holding addresses: $(cat hold.txt)"
echo "  target: p99 during the log-in flood under 5 ms"
