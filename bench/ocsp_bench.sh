#!/usr/bin/env bash
# OCSP responses per second and p99 latency under wrk on loopback (8
# connections, 2 threads, the same request for the same serial) for
# `jpki serve --roles ocsp` and the two peers in the same run:
#
#   cfssl ocspserve   serves responses signed beforehand by `cfssl ocspsign`
#                     with our CA's OCSP signer (its key is a file here:
#                     `jpki ca init` without --pkcs11);
#   openssl ocsp      signs each answer from an index.txt naming the serial;
#                     its -port binds every interface, so it runs (with its
#                     wrk) in a private network namespace holding only
#                     loopback, which needs root; it answers one request per
#                     connection and closes it, which wrk follows by
#                     reconnecting (its own count of requests is printed
#                     beside wrk's as a check). One process, as documented:
#                     with -multi its children (3.0.x) were seen spinning
#                     at full CPU after the run, which would load the
#                     machine for the others.
#
# All three are measured with POST: cfssl 1.2's GET handler cannot decode
# the base64 path (it keeps the leading '/'). jpki's GET figure is printed
# too. The machine's RSA-2048 signing rate from `openssl speed` is the
# reference for a responder that signs every answer.
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

# POST req.der. wrk.resolve is replaced by one that does not probe the
# address with an empty connection first: `openssl ocsp` (3.0) spins on a
# connection closed before its request and answers nobody after it.
cat >post.lua <<'EOF'
local f = assert(io.open("req.der", "rb"))
wrk.method = "POST"
wrk.body = f:read("*all")
f:close()
wrk.headers["Content-Type"] = "application/ocsp-request"
wrk.resolve = function(host, service)
	wrk.addrs = wrk.lookup(host, service)
end
EOF

wait_up() { # URL: until it answers a POST
	for _ in $(seq 100); do
		curl -sf -o /dev/null --data-binary @req.der \
			-H 'Content-Type: application/ocsp-request' "$1" && return 0
		sleep 0.05
	done
	return 1
}
# each answers "good" for the serial before anything is measured
check_good() { # URL
	openssl ocsp -issuer sign-ca.pem -cert cert.pem -url "$1" \
		-CAfile sign-ca.pem -no_nonce 2>/dev/null | grep -q ": good" ||
		{ echo "the responder at $1 does not answer good" >&2; exit 1; }
}

"$JPKI" --data "$work/var" --log error serve --roles ocsp \
	--listen "127.0.0.1:$p1" >jpki.log 2>&1 &
pids+=($!)
u1="http://127.0.0.1:$p1/ocsp/sign"
wait_up "$u1" || { echo "jpki serve did not start: $(cat jpki.log)" >&2; exit 1; }
check_good "$u1"

have_cfssl=0
if command -v cfssl >/dev/null; then
	p2=$(free_port)
	cfssl ocspsign -ca sign-ca.pem -responder sign-ocsp.pem \
		-responder-key var/keys/sign-ocsp.key -cert cert.pem \
		-status good -loglevel 5 2>/dev/null |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["ocspResponse"])' \
			>responses.txt
	cfssl ocspserve -address 127.0.0.1 -port "$p2" \
		-responses responses.txt -loglevel 5 >cfssl.log 2>&1 &
	pids+=($!)
	u2="http://127.0.0.1:$p2/"
	wait_up "$u2" || { echo "cfssl ocspserve did not start: $(cat cfssl.log)" >&2; exit 1; }
	check_good "$u2"
	have_cfssl=1
fi

# The share of the run in which some task waited for a CPU (Linux PSI):
# on a shared machine, what the tail latencies mostly measure.
psi() { awk '/^some/ {sub("total=", "", $5); print $5}' /proc/pressure/cpu 2>/dev/null || echo 0; }
pressure() { # TOTAL_BEFORE TOTAL_AFTER SECONDS
	python3 -c "print('%.0f%%' % (($2 - $1) / ($3 * 1e4)))"
}
measure() { # URL [wrk script] -> file wrk.txt; prints "rps p99_ms errors psi"
	local p0
	p0=$(psi)
	wrk -t2 -c8 -d"${secs}s" --latency ${2:+-s "$2"} "$1" >wrk.txt
	echo "$(parse wrk.txt) $(pressure "$p0" "$(psi)" "$secs")"
}
parse() { # wrk output file: "rps p99_ms errors"
	local rps p99 errs
	rps=$(awk '/^Requests\/sec/ {print $2}' "$1")
	p99=$(awk '$1 == "99%" {print $2}' "$1")
	case $p99 in
	*us) p99=$(python3 -c "print(${p99%us} / 1000)") ;;
	*ms) p99=${p99%ms} ;;
	*s) p99=$(python3 -c "print(${p99%s} * 1000)") ;;
	esac
	# socket errors (connect, read, write, timeout) and non-2xx answers
	errs=$(awk '/Socket errors/ {gsub(",", ""); n += $4 + $6 + $8 + $10}
		/Non-2xx/ {n += $NF} END {print n + 0}' "$1")
	echo "$rps $p99 $errs"
}

# openssl ocsp, in a private network namespace with its wrk; prints
# "rps p99_ms errors received", or nothing when it cannot be run.
openssl_ocsp() {
	[ "$(id -u)" -eq 0 ] && unshare --net true 2>/dev/null || return 0
	command -v ip >/dev/null || return 0
	S=$(openssl x509 -in cert.pem -noout -serial | cut -d= -f2)
	E=$(date -u -d "$(openssl x509 -in cert.pem -noout -enddate | cut -d= -f2)" +%y%m%d%H%M%SZ)
	printf 'V\t%s\t\t%s\tunknown\t/CN=x\n' "$E" "$S" >index.txt
	cat >ns.sh <<'EOF'
set -euo pipefail
secs=$1
ip link set lo up
openssl ocsp -port 8888 -index index.txt -CA sign-ca.pem \
	-rsigner sign-ocsp.pem -rkey var/keys/sign-ocsp.key -nmin 5 \
	-ignore_err >ossl.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
	curl -sf -o /dev/null --data-binary @req.der \
		-H 'Content-Type: application/ocsp-request' http://127.0.0.1:8888/ && break
	sleep 0.05
done
openssl ocsp -issuer sign-ca.pem -cert cert.pem -url http://127.0.0.1:8888/ \
	-CAfile sign-ca.pem -no_nonce 2>/dev/null | grep -q ": good" ||
	{ echo "openssl ocsp does not answer good" >&2; exit 1; }
before=$(grep -c "Received request" ossl.log || true)
wrk -t2 -c8 -d"${secs}s" --latency -s post.lua http://127.0.0.1:8888/ >wrk-openssl.txt
sleep 0.2
echo $(($(grep -c "Received request" ossl.log || true) - before)) >received.txt
EOF
	unshare --net bash ns.sh "$secs" >&2 || return 0
	echo "$(parse wrk-openssl.txt) $(cat received.txt)"
}

load=$(cut -d' ' -f1-3 /proc/loadavg)
read -r j_rps j_p99 j_err j_psi <<<"$(measure "$u1" post.lua)"
read -r jg_rps jg_p99 jg_err jg_psi <<<"$(measure "$u1/$b64")"
if [ "$have_cfssl" = 1 ]; then
	read -r c_rps c_p99 c_err c_psi <<<"$(measure "$u2" post.lua)"
fi
p0=$(psi)
o=$(openssl_ocsp)
o_psi=$(pressure "$p0" "$(psi)" "$secs")
speed=$(openssl speed -seconds 2 -multi "$(nproc)" rsa2048 2>/dev/null |
	awk '/^rsa 2048 bits/ {print $6}')

line() { # LABEL RPS P99 ERRORS PSI
	printf '  %-24s %8.0f responses/s  p99 %6.2f ms  errors %s  cpu pressure %s\n' "$@"
}
ratio() { python3 -c "print('%.1f' % ($1 / max(float('$2'), 0.001)))"; }
printf 'OCSP (wrk -t2 -c8, %ss, %s cores, POST unless said; load average before: %s)\n' \
	"$secs" "$(nproc)" "$load"
line "jpki serve --roles ocsp" "$j_rps" "$j_p99" "$j_err" "$j_psi"
line "jpki serve (GET)" "$jg_rps" "$jg_p99" "$jg_err" "$jg_psi"
if [ "$have_cfssl" = 1 ]; then
	line "cfssl ocspserve" "$c_rps" "$c_p99" "$c_err" "$c_psi"
else
	echo "  cfssl ocspserve: not measured (cfssl is not installed)"
fi
if [ -n "$o" ]; then
	read -r o_rps o_p99 o_err o_recv <<<"$o"
	line "openssl ocsp" "$o_rps" "$o_p99" "$o_err" "$o_psi"
	echo "    (openssl counted $o_recv requests, wrk $(python3 -c "print(round($o_rps * $secs))") at its rate)"
else
	echo "  openssl ocsp: not measured (needs root for a private network namespace)"
fi
printf '  openssl speed rsa2048: %8.0f signatures/s (all cores)\n' "$speed"
[ "$have_cfssl" = 1 ] &&
	echo "  ratio jpki / cfssl ocspserve:      $(ratio "$j_rps" "$c_rps") (target >= 2)"
[ -n "$o" ] &&
	echo "  ratio jpki / openssl ocsp:         $(ratio "$j_rps" "$o_rps") (target >= 10)"
echo "  ratio responses / raw signatures:  $(ratio "$j_rps" "$speed")"
echo "  jpki p99 target: under 2 ms at 8 connections"
echo "  (cpu pressure: share of the run in which a task waited for a CPU, /proc/pressure/cpu;"
echo "   wrk runs on the same $(nproc) cores, and high figures mean other load on the machine)"
