#!/usr/bin/env bash
# OCSP latency with and without a flood of operator log-ins, in the same
# run (issue #18 item 4): `jpki serve --roles ocsp,window --threads 2`, one
# client asking OCSP one request at a time (p50, p99), first alone, then
# while FLOODERS clients guess passwords at /api/login as fast as they are
# answered, each guess from a new loopback address (127.x.y.z) so that the
# per-address limit does not turn the flood into cheap 429s, and each for
# another name (no per-operator wait either): every guess costs the server
# an Argon2id hash at the production cost (64 MiB, t = 3).
# The log-ins' answers are counted by status (401 hashed, 503 queue full,
# 429 waited).
#
# usage: bench/login_flood_bench.sh PATH/TO/jpki [SECONDS] [FLOODERS]
set -euo pipefail
JPKI=$(realpath "$1")
secs=${2:-5}
flooders=${3:-4}
work=$(mktemp -d /tmp/jpki-flood-bench-XXXXXX)
pid=""
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
unset JPKI_ARGON2_TEST
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
jpki() { "$JPKI" --data "$work/var" --log error "$@"; }
jpki ca init --public-url "http://127.0.0.1:$port" >/dev/null
jpki ca cert sign >sign-ca.pem
openssl req -new -newkey rsa:2048 -nodes -subj /CN=x -keyout k.pem -out r.pem 2>/dev/null
jpki ca issue --csr r.pem --type sign --person P-1 --municipality-code 131016 \
	--prefecture Tokyo-to --municipality Chiyoda-ku --name "山田 太郎" \
	--sex male --birth 1980-06-01 --address "千代田１番１号" --out cert.pem >/dev/null
openssl ocsp -issuer sign-ca.pem -cert cert.pem -reqout req.der -no_nonce >/dev/null
JPKI_NEW_OPERATOR_PASSWORD=pw-admin-0123 jpki operator add admin --role ca-officer >/dev/null
"$JPKI" --data "$work/var" --log error serve --roles ocsp,window --threads 2 \
	--listen "127.0.0.1:$port" >serve.log 2>&1 &
pid=$!
for _ in $(seq 100); do
	curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
	sleep 0.05
done
python3 - "$port" "$secs" "$flooders" <<'PY'
import http.client, json, statistics, sys, threading, time
port, secs, flooders = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
req = open("req.der", "rb").read()

def ocsp_run(seconds):
    lat, end = [], time.monotonic() + seconds
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.monotonic() < end:
        t = time.perf_counter()
        c.request("POST", "/ocsp/sign", req, {"Content-Type": "application/ocsp-request"})
        r = c.getresponse(); r.read()
        assert r.status == 200, r.status
        lat.append((time.perf_counter() - t) * 1000)
    c.close()
    lat.sort()
    return len(lat), lat[len(lat) // 2], lat[int(len(lat) * 0.99)]

stop = False
counts = {}
lock = threading.Lock()
def flood(k):
    n = 0
    while not stop:
        n += 1
        a = 1 + (k * 1000003 + n) % 250
        b = (k * 7919 + n // 250) % 250
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60,
                                       source_address=(f"127.{k + 1}.{b}.{a}", 0))
        try:
            c.request("POST", "/api/login",
                      json.dumps({"operator": f"guess{k}-{n}", "password": "not-the-password"}),
                      {"Content-Type": "application/json"})
            s = c.getresponse().status
        except Exception as e:
            s = type(e).__name__
        c.close()
        with lock:
            counts[s] = counts.get(s, 0) + 1

ocsp_run(0.5)  # warm up: connections, the OCSP cache
n0, p50_0, p99_0 = ocsp_run(secs)
ts = [threading.Thread(target=flood, args=(k,)) for k in range(flooders)]
for t in ts: t.start()
time.sleep(0.5)
n1, p50_1, p99_1 = ocsp_run(secs)
stop = True
for t in ts: t.join()
print(f"OCSP during a log-in flood (jpki serve --threads 2, {flooders} guessing clients, {secs:g}s each):")
print(f"  alone       {n0:6d} requests  p50 {p50_0:6.2f} ms  p99 {p99_0:6.2f} ms")
print(f"  with flood  {n1:6d} requests  p50 {p50_1:6.2f} ms  p99 {p99_1:6.2f} ms  (target p99 < 5 ms)")
print("  log-in answers: " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items(), key=str)))
PY
