#!/usr/bin/env bash
# The peers of bench/issue_bench: `openssl ca` issuing N certificates in one
# process (-infiles, random serials, the same extensions as a JPKI signing
# certificate: key usage, policy, CRL distribution point, OCSP), and cfssl's
# signing API (`cfssl serve`, POST /api/v1/cfssl/sign) under wrk with two
# connections per core. Each on an RSA-2048 CA made here. Prints
# "openssl_ca RATE" and "cfssl RATE" (certificates per second), or a line
# saying why one was not measured.
#
# Neither writes durably the way the CA does: `openssl ca` rewrites
# index.txt without fsync, and cfssl serve without -db-config stores nothing.
#
# usage: bench/issue_peers.sh N
set -euo pipefail
n=${1:-4000}
here=$(dirname "$(realpath "$0")")
. "$here/bench_lib.sh"
bench_work jpki-issue-peers
now() { date +%s.%N; }

openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem \
	-subj "/C=JP/O=JPKI/OU=Bench CA" -days 3650 2>/dev/null
openssl req -new -newkey rsa:2048 -nodes -keyout s.key -out s.csr \
	-subj "/C=JP/CN=P000000000000000000001" 2>/dev/null

# openssl ca
mkdir certs
: >index.txt
echo 01 >serial
cat >ca.cnf <<CNF
[ca]
default_ca = bench
[bench]
dir = .
database = ./index.txt
new_certs_dir = ./certs
certificate = ./ca.pem
private_key = ./ca.key
serial = ./serial
default_md = sha256
default_days = 1825
policy = any
unique_subject = no
x509_extensions = ext
[any]
commonName = supplied
[ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,nonRepudiation
authorityKeyIdentifier = keyid
subjectKeyIdentifier = hash
certificatePolicies = 1.2.392.200149.8.5.1.1.10
crlDistributionPoints = URI:http://127.0.0.1:8080/crl/sign/131016.crl
authorityInfoAccess = OCSP;URI:http://127.0.0.1:8080/ocsp/sign
CNF
mapfile -t files < <(yes s.csr | head -n "$n")
t0=$(now)
openssl ca -batch -config ca.cnf -rand_serial -notext -out issued.pem \
	-infiles "${files[@]}" 2>ca.log >/dev/null
t1=$(now)
got=$(find certs -name "*.pem" | wc -l)
if [ "$got" -ne "$n" ]; then
	echo "openssl ca: issued $got of $n: $(tail -3 ca.log)" >&2
	exit 1
fi
python3 -c "print('openssl_ca %.1f' % ($n / ($t1 - $t0)))"

# cfssl serve
if ! command -v cfssl >/dev/null || ! command -v wrk >/dev/null; then
	echo "cfssl: not measured (cfssl or wrk missing; scripts/setup.sh)"
	exit 0
fi
cat >cfssl.json <<'CFG'
{"signing": {"default": {"expiry": "43800h",
  "usages": ["digital signature", "content commitment"],
  "ocsp_url": "http://127.0.0.1:8080/ocsp/sign",
  "crl_url": "http://127.0.0.1:8080/crl/sign/131016.crl"}}}
CFG
port=$(free_port)
cfssl serve -address 127.0.0.1 -port "$port" -ca ca.pem -ca-key ca.key \
	-config cfssl.json >cfssl.log 2>&1 &
bench_track $!
python3 - s.csr >body.json <<'PY'
import json, sys
print(json.dumps({"certificate_request": open(sys.argv[1]).read()}))
PY
url="http://127.0.0.1:$port/api/v1/cfssl/sign"
for _ in $(seq 100); do
	curl -sf -o one.json -d @body.json "$url" && break
	sleep 0.1
done
python3 -c 'import json,sys; r=json.load(open("one.json")); sys.exit(0 if r["success"] else 1)' ||
	{ echo "cfssl: not measured (the signing API refused: $(head -c 300 one.json))"; exit 0; }
cat >post.lua <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("body.json", "r")
wrk.body = f:read("*a")
f:close()
LUA
c=$(( $(nproc) * 2 ))
wrk -t"$(nproc)" -c"$c" -d5s -s post.lua "$url" >wrk.txt
if grep -q 'Non-2xx' wrk.txt; then
	echo "cfssl: not measured ($(grep 'Non-2xx' wrk.txt))"
	exit 0
fi
awk '/^Requests\/sec/ {printf "cfssl %.1f\n", $2}' wrk.txt
