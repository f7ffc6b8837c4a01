#!/usr/bin/env bash
# Delta CRLs (RFC 5280 5.2.4, 5.2.6; config crl_delta = 1, docs/CA.md): a
# signing certificate is issued, the full CRLs made; it is revoked, and
# `jpki serve` (repository role) publishes the delta of its municipality's
# partition within a second while the full CRL stays as it was. `openssl
# verify -crl_check -use_deltas` says revoked with full + delta and OK with
# the full CRL alone; `jpki verify`, whose OCSP responder is not served,
# says revoked from the delta. Negatives: a delta against a newer full CRL
# than the one served is refused by `jpki verify` and not used by OpenSSL;
# a delta served as the complete CRL is refused.
#
# usage: test_crl_delta.sh PATH/TO/jpki
set -euo pipefail

. "$(dirname "$(realpath "$0")")/lib.sh"
lib_init crl-delta "$1"
fail_more() { serve_log_tail 20; }

port=$(free_port)
url="http://127.0.0.1:$port"
jpki ca init --public-url "$url" >/dev/null
printf 'crl_delta = 1\n' >"$work/var/jpki.conf"
jpki ca cert sign >sign-ca.pem
openssl req -new -newkey rsa:2048 -nodes -subj /CN=x -keyout key.pem \
	-out req.pem 2>/dev/null
jpki ca issue --csr req.pem --type sign --person P-1 \
	--municipality-code 131016 --prefecture 東京都 --municipality 千代田区 \
	--name "山田 太郎" --sex male --birth 1980-06-01 \
	--address "千代田１番１号" --out cert.pem --json >cert.json
serial=$(json 'd["serial"]' <cert.json)
printf '転居届\n氏名: 山田 太郎\n' >doc.txt
openssl cms -sign -in doc.txt -signer cert.pem -inkey key.pem -binary \
	-nodetach -outform DER -out app.p7s
# full CRLs that name their deltas, and the first deltas
jpki ca crl --force --json >crl.json
[ "$(json 'd["deltas"]' <crl.json)" -ge 3 ] || fail "no deltas: $(cat crl.json)"
# the repository only: no OCSP, so `jpki verify` reads the CRLs
serve_bg "$url" --listen "127.0.0.1:$port" --roles repository

part="$url/crl/sign/131016"
curl -sf "$part.crl" -o full.der || fail "no partition CRL"
openssl crl -inform DER -in full.der -out full.pem
openssl crl -in full.pem -noout -text >full.txt
grep -q "$part.delta.crl" full.txt || fail "no FreshestCRL: $(cat full.txt)"
full_number=$(($(openssl crl -in full.pem -noout -crlnumber | sed "s/.*=//")))

# ---- revoked: the delta within a second --------------------------------------
t0=$(date +%s%N)
jpki ca revoke "$serial" --reason keyCompromise >/dev/null
ms=""
for _ in $(seq 100); do
	if curl -sf "$part.delta.crl" -o delta.der &&
		openssl crl -inform DER -in delta.der -noout -text 2>/dev/null |
		grep -q "Serial Number: $serial"; then
		ms=$((($(date +%s%N) - t0) / 1000000))
		break
	fi
	sleep 0.02
done
[ -n "$ms" ] || fail "the revocation is in no delta CRL after 2 s"
[ "$ms" -lt 1000 ] || fail "the delta took $ms ms"
openssl crl -inform DER -in delta.der -out delta.pem
openssl crl -in delta.pem -noout -text >delta.txt
grep -q "Delta CRL Indicator: critical" delta.txt || fail "no critical indicator: $(cat delta.txt)"
grep -A1 "Delta CRL Indicator" delta.txt | grep -q "^ *$full_number\$" ||
	fail "the delta's base is not CRL $full_number: $(cat delta.txt)"
# the full CRL waits for its period
curl -sf "$part.crl" -o full2.der
cmp -s full.der full2.der || fail "the full CRL changed with the revocation"
pass "revoked: the delta CRL names it ${ms} ms after 'jpki ca revoke' began (base $full_number), the full CRL unchanged"

# ---- OpenSSL -use_deltas -------------------------------------------------------
# With -extended_crl: without it OpenSSL 3.0 scores any delta CRL as a
# complete one (get_crl_score), so the checks of its base are not made.
for ext in "" -extended_crl; do
	# shellcheck disable=SC2086
	openssl verify -crl_check $ext -use_deltas -CAfile sign-ca.pem \
		-CRLfile full.pem cert.pem >alone.txt 2>&1 ||
		fail "full CRL alone ($ext): $(cat alone.txt)"
	# shellcheck disable=SC2086
	if openssl verify -crl_check $ext -use_deltas -CAfile sign-ca.pem \
		-CRLfile full.pem -CRLfile delta.pem cert.pem >both.txt 2>&1; then
		fail "full + delta ($ext): $(cat both.txt)"
	fi
	grep -q "certificate revoked" both.txt || fail "full + delta: $(cat both.txt)"
done
if openssl verify -crl_check -extended_crl -use_deltas -CAfile sign-ca.pem \
	-CRLfile delta.pem cert.pem >only.txt 2>&1 ||
	! grep -q "unable to get certificate CRL" only.txt; then
	fail "the delta alone was taken for a complete CRL: $(cat only.txt)"
fi
pass "openssl verify -crl_check [-extended_crl] -use_deltas: OK with the full CRL alone, revoked with its delta; the delta alone is no complete CRL"

# ---- jpki verify ----------------------------------------------------------------
if jpki verify app.p7s --ca sign-ca.pem --json >v.json 2>v.err; then
	fail "jpki verify accepted a revoked certificate: $(cat v.json)"
fi
[ "$(json '[r["code"] for r in d["reasons"]]' <v.json)" = "['revoked']" ] ||
	fail "jpki verify: $(cat v.json v.err)"
[ "$(json 'd["revocation"], d["revocation_reason"]' <v.json)" = "crl keyCompromise" ] ||
	fail "not from the CRL: $(cat v.json)"
pass "jpki verify: revoked, from the partition's delta CRL (OCSP not served)"

# ---- a delta against a newer full CRL -----------------------------------------
# The full CRL regenerated (number above the old one), its delta against it;
# served beside the old full CRL by a plain file server on the same port.
jpki ca crl --force >/dev/null
for _ in $(seq 100); do
	curl -sf "$part.delta.crl" -o late.der &&
		base=$(openssl crl -inform DER -in late.der -noout -text |
			grep -A1 "Delta CRL Indicator" | tail -1 | tr -d ' ') &&
		[ "$base" -gt "$full_number" ] && break
	sleep 0.02
done
[ "${base:-0}" -gt "$full_number" ] || fail "no delta against the new full CRL"
openssl crl -inform DER -in late.der -out late.pem
stop_server
mkdir -p www/crl/sign
cp full.der www/crl/sign/131016.crl
cp late.der www/crl/sign/131016.delta.crl
python3 -m http.server "$port" --bind 127.0.0.1 --directory www \
	>http.log 2>&1 &
pids+=($!)
wait_healthz "$url" 2>/dev/null || true
for _ in $(seq 100); do
	curl -sf "$part.crl" -o /dev/null && break
	sleep 0.05
done
if jpki verify app.p7s --ca sign-ca.pem --json >v2.json 2>v2.err; then
	fail "jpki verify accepted with a delta of another base: $(cat v2.json)"
fi
json '[r["code"] for r in d["reasons"]]' <v2.json | grep -vq revoked ||
	fail "a delta against CRL $base was applied to CRL $full_number"
grep -q "against CRL number $base, newer" v2.json ||
	fail "no reason given: $(cat v2.json v2.err)"
openssl verify -crl_check -extended_crl -use_deltas -CAfile sign-ca.pem \
	-CRLfile full.pem -CRLfile late.pem cert.pem >late.txt 2>&1 ||
	fail "openssl used a delta against CRL $base with CRL $full_number: $(cat late.txt)"
pass "a delta against CRL $base is refused with CRL $full_number by jpki verify, not used by OpenSSL"

# ---- a delta served as the complete CRL ----------------------------------------
cp delta.der www/crl/sign/131016.crl
if jpki verify app.p7s --ca sign-ca.pem --json >v3.json 2>&1; then
	fail "a delta taken for the complete CRL: $(cat v3.json)"
fi
grep -q "answered a delta CRL, not a complete one" v3.json ||
	fail "delta as the full CRL: $(cat v3.json)"
pass "a delta CRL served as the complete CRL is refused"
