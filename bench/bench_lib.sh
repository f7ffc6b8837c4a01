# What the bench scripts share; sourced (`. "$here/bench_lib.sh"`), never run.
# Everything stays on 127.0.0.1; what a script starts it gives to
# bench_track, and the EXIT trap of bench_work stops exactly those PIDs.

BENCH_PIDS=()

# bench_work PREFIX: a fresh directory /tmp/PREFIX-XXXXXX as $BENCH_WORK and
# the current directory, removed at exit with the tracked processes.
bench_work() {
	BENCH_WORK=$(mktemp -d "/tmp/$1-XXXXXX")
	trap bench_cleanup EXIT
	cd "$BENCH_WORK"
}
bench_cleanup() {
	local p
	for p in "${BENCH_PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$BENCH_WORK"
}
bench_track() { BENCH_PIDS+=("$1"); }
# bench_stop PID: stops one tracked process now and forgets it.
bench_stop() {
	local p keep=()
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	for p in "${BENCH_PIDS[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	BENCH_PIDS=("${keep[@]}")
}

bench_need() { # COMMAND
	command -v "$1" >/dev/null ||
		{ echo "$1 is not installed (scripts/setup.sh)" >&2; exit 1; }
}
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# `jpki` with $JPKI (the binary) on the work directory's data.
jpki() { "$JPKI" --data "$BENCH_WORK/var" --log error "$@"; }

# bench_serve LOG BINARY ARGS...: `BINARY serve ARGS` on the work
# directory's data in the background, its PID tracked and in $served.
bench_serve() {
	local log=$1 bin=$2
	shift 2
	"$bin" --data "$BENCH_WORK/var" --log error serve "$@" >"$log" 2>&1 &
	served=$!
	bench_track "$served"
}

# bench_ca PUBLIC_URL: a CA (`jpki ca init`), its signing CA certificate
# sign-ca.pem, one signing certificate cert.pem (key k.pem) and an OCSP
# request for it, req.der.
bench_ca() {
	jpki ca init --public-url "$1" >/dev/null
	jpki ca cert sign >sign-ca.pem
	openssl req -new -newkey rsa:2048 -nodes -subj /CN=x -keyout k.pem \
		-out r.pem 2>/dev/null
	jpki ca issue --csr r.pem --type sign --person P-1 \
		--municipality-code 131016 --prefecture Tokyo-to \
		--municipality Chiyoda-ku --name "山田 太郎" --sex male \
		--birth 1980-06-01 --address "千代田１番１号" \
		--out cert.pem >/dev/null
	openssl ocsp -issuer sign-ca.pem -cert cert.pem -reqout req.der \
		-no_nonce >/dev/null
}

# post.lua: wrk POSTs req.der as an OCSP request. wrk.resolve is replaced
# by one that does not probe the address with an empty connection first:
# `openssl ocsp` (3.0) spins on a connection closed before its request and
# answers nobody after it.
bench_post_lua() {
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
}

# bench_wait_ocsp URL: until it answers a POST of req.der (5 s at most).
bench_wait_ocsp() {
	for _ in $(seq 100); do
		curl -sf -o /dev/null --data-binary @req.der \
			-H 'Content-Type: application/ocsp-request' "$1" && return 0
		sleep 0.05
	done
	return 1
}
# bench_wait_get URL: until it answers a GET (5 s at most).
bench_wait_get() {
	for _ in $(seq 100); do
		curl -sf -o /dev/null "$1" && return 0
		sleep 0.05
	done
	return 1
}
# bench_check_good URL: the responder there says "good" for cert.pem, or
# the script ends.
bench_check_good() {
	openssl ocsp -issuer sign-ca.pem -cert cert.pem -url "$1" \
		-CAfile sign-ca.pem -no_nonce 2>/dev/null | grep -q ": good" ||
		{ echo "the responder at $1 does not answer good" >&2; exit 1; }
}

# The microseconds some task waited for a CPU since boot (Linux PSI); the
# difference over a run, as bench_pressure BEFORE AFTER SECONDS, is the
# share of the run in which something waited: on a shared machine, what
# tail latencies mostly measure.
bench_psi() {
	awk '/^some/ {sub("total=", "", $5); print $5}' /proc/pressure/cpu \
		2>/dev/null || echo 0
}
bench_pressure() {
	python3 -c "print('%.0f%%' % (($2 - $1) / ($3 * 1e4)))"
}

# bench_wrk_parse FILE: wrk --latency output as "rps p50_ms p99_ms errors"
# (errors: socket errors and non-2xx answers).
bench_wrk_parse() {
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
