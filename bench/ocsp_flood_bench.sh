#!/usr/bin/env bash
# OCSP p99 under wrk (8 connections, 2 threads, POST) in one run of one
# `jpki serve --roles ocsp,login,window`, three ways side by side:
#
#   quiet       nothing else;
#   log-in      while FLOODERS clients (default 4) post wrong passwords to
#   flood       /api/login as fast as they are answered, each guess from a
#               new loopback address (127.x.y.z) and for a new name, so that
#               neither the per-address nor the per-operator wait turns the
#               flood into cheap 429s: every guess costs an Argon2id hash at
#               the production cost (64 MiB, t = 3); the answers are counted
#               by status (401 hashed, 503 queue full, 429 waited);
#   per-address while 3 other loopback addresses hold every connection the
#   limits      per-address limit lets them (--per-address 32: 96 of the
#               main listener's 128), trickling headers and reconnecting
#               when cut: wrk asks the main listener;
#   all held    while 4 such addresses hold the whole main listener
#               (--max-connections 128): wrk asks the OCSP listener
#               (--ocsp-listen), which they cannot take.
#
# Bounded: each phase SECONDS (default 5), loopback addresses only.
#
# ACCESS (default open) is how OCSP is reached:
#   open        plain HTTP, as above;
#   open-tls    HTTPS with a client CA (--tls-client-ca) but
#               --revocation-access open: wrk reaches it through a local
#               stunnel that presents a verifier's client certificate;
#   registered  the same with --revocation-access registered and that
#               verifier registered: every answer looks the certificate up
#               and is counted (docs/RELYING_PARTY.md).
# With TLS the flooders still speak plain HTTP at the TLS listener: hostile
# clients whose handshakes fail (log-in flood) or that hold connections
# without a handshake (per-address, held); compare open-tls with
# registered, not with open.
# usage: bench/ocsp_flood_bench.sh PATH/TO/jpki [SECONDS] [FLOODERS] [ACCESS]
set -euo pipefail
JPKI=$(realpath "$1")
secs=${2:-5}
flooders=${3:-4}
access=${4:-open}
here=$(dirname "$(realpath "$0")")
. "$here/bench_lib.sh"
bench_need wrk
bench_work jpki-flood-bench
# real Argon2id parameters: what a guess costs
unset JPKI_ARGON2_TEST
port=$(free_port)
oport=$(free_port)
bench_ca "http://127.0.0.1:$port"
JPKI_NEW_OPERATOR_PASSWORD=pw-admin-0123 jpki operator add admin \
	--role ca-officer >/dev/null
bench_post_lua

# what wrk asks: the listeners themselves, or with TLS a local stunnel to
# each that presents the verifier's client certificate
wport=$port
woport=$oport
tls=()
case $access in
open) ;;
open-tls | registered)
	bench_need stunnel4
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout infra.key -out infra.crt -days 2 -subj /CN=bench-infra \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign" 2>/dev/null
	for who in server:serverAuth verifier:clientAuth; do
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
			-nodes -keyout "${who%%:*}.key" -out "${who%%:*}.csr" \
			-subj "/CN=${who%%:*}" 2>/dev/null
		printf 'extendedKeyUsage=%s\nsubjectAltName=IP:127.0.0.1\n' \
			"${who##*:}" >ext.cnf
		openssl x509 -req -in "${who%%:*}.csr" -CA infra.crt \
			-CAkey infra.key -CAcreateserial -days 2 -extfile ext.cnf \
			-out "${who%%:*}.crt" 2>/dev/null
	done
	JPKI_OPERATOR=admin JPKI_OPERATOR_PASSWORD=pw-admin-0123 \
		jpki verifier add bench --cert verifier.crt --purpose sign >/dev/null
	tls=(--tls-cert server.crt --tls-key server.key --tls-client-ca infra.crt
		--revocation-access "${access%-tls}")
	wport=$(free_port)
	woport=$(free_port)
	for svc in main:$wport:$port ocsp:$woport:$oport; do
		IFS=: read -r name from to <<<"$svc"
		printf '[%s]\nclient = yes\naccept = 127.0.0.1:%s\nconnect = 127.0.0.1:%s\ncert = %s\nkey = %s\nCAfile = %s\nverifyChain = yes\n' \
			"$name" "$from" "$to" "$BENCH_WORK/verifier.crt" \
			"$BENCH_WORK/verifier.key" "$BENCH_WORK/infra.crt"
	done >services.conf
	{ printf 'foreground = yes\npid =\n'; cat services.conf; } >stunnel.conf
	stunnel4 stunnel.conf >stunnel.log 2>&1 &
	bench_track $!
	;;
*)
	echo "ACCESS is open, open-tls or registered" >&2
	exit 2
	;;
esac

bench_serve jpki.log "$JPKI" --roles ocsp,login,window \
	--listen "127.0.0.1:$port" --ocsp-listen "127.0.0.1:$oport" \
	--max-connections 128 --per-address 32 ${tls[@]+"${tls[@]}"}
bench_wait_ocsp "http://127.0.0.1:$wport/ocsp/sign" ||
	{ echo "jpki serve did not start: $(cat jpki.log)" >&2; exit 1; }
bench_check_good "http://127.0.0.1:$woport/ocsp/sign"

measure() { # URL -> "rps p50 p99 errors"
	wrk -t2 -c8 -d"${secs}s" --latency -s post.lua "$1" >wrk.txt
	bench_wrk_parse wrk.txt
}
main="http://127.0.0.1:$wport/ocsp/sign"
load=$(cut -d' ' -f1-3 /proc/loadavg)
read -r q_rps q_p50 q_p99 q_err <<<"$(measure "$main")"

# beside OUT SETTLE URL ARGS...: wrk at URL while `flood_clients.py ARGS`
# runs (its counts to OUT), from SETTLE seconds after it starts; the
# figures in $got.
beside() {
	local out=$1 settle=$2 url=$3 pid
	shift 3
	python3 "$here/flood_clients.py" "$@" >"$out" &
	pid=$!
	bench_track $pid
	sleep "$settle"
	got=$(measure "$url")
	wait "$pid"
}
beside flood.txt 1 "$main" login "$port" "$flooders" "$((secs + 2))"
read -r f_rps f_p50 f_p99 f_err <<<"$got"
beside hold3.txt 1.5 "$main" hold "$port" 32 2 3 "$((secs + 2))"
read -r a_rps a_p50 a_p99 a_err <<<"$got"
beside hold.txt 1.5 "http://127.0.0.1:$woport/ocsp/sign" \
	hold "$port" 32 2 4 "$((secs + 2))"
read -r h_rps h_p50 h_p99 h_err <<<"$got"

line() { # LABEL RPS P50 P99 ERRORS
	printf '  %-36s %7.0f responses/s  p50 %7.2f ms  p99 %8.2f ms  errors %s\n' "$@"
}
printf 'OCSP beside hostile clients (wrk -t2 -c8 POST, %ss each, %s cores; access %s; load average before: %s)\n' \
	"$secs" "$(nproc)" "$access" "$load"
line "quiet" "$q_rps" "$q_p50" "$q_p99" "$q_err"
line "log-in flood ($flooders clients)" "$f_rps" "$f_p50" "$f_p99" "$f_err"
line "per-address limits reached" "$a_rps" "$a_p50" "$a_p99" "$a_err"
line "main listener held (OCSP listener)" "$h_rps" "$h_p50" "$h_p99" "$h_err"
echo "    log-in flood answers: $(cat flood.txt)"
echo "    3 holding addresses: $(cat hold3.txt)"
echo "    4 holding addresses: $(cat hold.txt)"
echo "  target: p99 during the log-in flood under 5 ms"
