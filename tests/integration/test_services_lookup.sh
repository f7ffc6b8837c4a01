#!/usr/bin/env bash
# Identity information for agencies (本人確認情報の提供) over mutual TLS,
# and its disclosure (docs/REGISTRY.md):
#   - a registry clerk registers the agency "pension" (its client
#     certificate of the infrastructure CA, two purposes); a window clerk
#     cannot;
#   - `jpki services lookup` as the agency: by resident code (the 4 facts,
#     the latest change), by name + birth (exact), "not found" for no match
#     and for two matches; each answer a row of the look-ups' journal
#     (services_lookup_recent, later folded into services_lookup) and an
#     audit entry;
#   - a purpose not registered: 403, recorded; a certificate of the
#     infrastructure CA that is no agency's: 403, recorded; a foreign one
#     and none: 403; plain HTTP: 403;
#   - a batch of JSON Lines answered line by line, a bad line saying so;
#   - the resident, logged in with the card's authentication certificate
#     (docs/LOGIN.md's exchange, the card file in-process), sees the
#     look-ups (JSON and text); a wrong PIN, a forged answer see nothing;
#   - the resident's disclosure at the window (JSON and PDF) lists the
#     look-ups, is refused to a clerk of another municipality, is audited;
#   - `jpki audit verify` names an edited look-up record.
#
# usage: test_services_lookup.sh PATH/TO/jpki
set -euo pipefail

. "$(dirname "$(realpath "$0")")/lib.sh"
for c in curl sqlite3 openssl; do
	command -v $c >/dev/null || {
		echo "SKIP: no $c"
		exit 77
	}
done
lib_init services "$1"
export JPKI_ARGON2_TEST=1
# a Tuesday, 10:00 in Japan: the window takes applications
export JPKI_NOW=2026-11-17T01:00:00Z
fail_more() { serve_log_tail 20; }

# ---- the infrastructure PKI ---------------------------------------------
pki=$work/pki
mkdir -p "$pki"
(
	cd "$pki"
	cat >ext.cnf <<'EOF'
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
EOF
	ca() {
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
			-nodes -keyout "$1.key" -out "$1.crt" -days 30 \
			-subj "/O=OpenJPKI test/CN=$2" \
			-addext "basicConstraints=critical,CA:TRUE" \
			-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
	}
	leaf() {
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
			-nodes -keyout "$2.key" -out "$2.csr" \
			-subj "/O=OpenJPKI test/CN=$3" 2>/dev/null
		openssl x509 -req -in "$2.csr" -CA "$1.crt" -CAkey "$1.key" \
			-CAcreateserial -days 7 -extfile ext.cnf -extensions "$4" \
			-out "$2.crt" 2>/dev/null
	}
	ca infra "JPKI infrastructure CA"
	ca foreign "Someone else's CA"
	leaf infra server localhost server
	leaf infra pension "Japan Pension Service" client
	leaf infra stranger "An unregistered system" client
	leaf foreign rogue "Japan Pension Service" client
)
pass "a test PKI: infrastructure CA, the agency's and an unregistered client certificate, a foreign one"

port=$(free_port)
url="https://127.0.0.1:$port"
window_staff "$url"
add_operator reg2 registry-clerk 271004 pw-reg2-01234
add_operator clerk2 window-clerk 271004 pw-window-02
as_reg() { JPKI_OPERATOR=reg1 JPKI_OPERATOR_PASSWORD=pw-reg-01234 jpki "$@"; }
as_clerk() { JPKI_OPERATOR=clerk1 JPKI_OPERATOR_PASSWORD=pw-window-01 jpki "$@"; }
register() {
	as_reg registry register --municipality-code 131016 \
		--prefecture 東京都 --municipality 千代田区 --name "$1" \
		--sex "$2" --birth "$3" --address "$4" --json | json 'd["person"]'
}
taro=$(register "山田 太郎" male 1980-06-01 "千代田１番１号")
hanako1=$(register "佐藤 花子" female 1990-01-01 "千代田２番２号")
hanako2=$(register "佐藤 花子" female 1990-01-01 "千代田３番３号")
as_reg registry move "$taro" --address "千代田５番５号" >/dev/null
# 山田 太郎's card (authentication PIN 1234), for the disclosure
jpki card new --kind mynumber card.bin >/dev/null
app=$(as_clerk window apply "$taro" --id photo --photo-id driving-licence \
	--photo-id-address "千代田５番５号" --json | json 'd["id"]')
as_clerk window issue "$app" --card card.bin --auth-pin 1234 \
	--sign-pin ABC123 >issue.txt || fail "issue: $(cat issue.txt)"
pass "residents: 山田 太郎 ($taro, moved), two 佐藤 花子 born 1990-01-01"

# ---- agencies -------------------------------------------------------------
if out=$(as_clerk services agency add pension --cert "$pki/pension.crt" \
	--purpose pension.benefit 2>&1); then
	fail "a window clerk registered an agency"
fi
grep -qi "registry clerk\|cannot" <<<"$out" || fail "window clerk: $out"
as_reg services agency add pension --cert "$pki/pension.crt" \
	--purpose pension.benefit --purpose pension.survey >/dev/null ||
	fail "agency add"
if as_reg services agency add pension2 --cert "$pki/pension.crt" \
	--purpose x >/dev/null 2>&1; then
	fail "a second agency with the same certificate"
fi
fp=$(openssl x509 -in "$pki/pension.crt" -outform DER | sha256sum | cut -d' ' -f1)
[ "$(jpki services agency list --json | json 'd["fingerprint"]')" = "$fp" ] ||
	fail "agency list: $(jpki services agency list --json)"
pass "a registry clerk registers pension (pinned sha256 $fp); a window clerk may not; one certificate, one agency"

# ---- the server, plain first: nobody is an agency -------------------------
hport=$(free_port)
serve_bg "http://127.0.0.1:$hport" --roles window --listen "127.0.0.1:$hport"
st=$(curl -s -o body -w '%{http_code}' --data '{"purpose":"pension.benefit","resident_code":"x"}' \
	"http://127.0.0.1:$hport/api/services/lookup")
[ "$st" = 403 ] || fail "a look-up over plain HTTP: $st $(cat body)"
stop_server
pass "plain HTTP: 403 (no client certificate, no agency)"

serve_bg_tls() {
	"$JPKI" --data "$work/var" --log info serve --roles window,login \
		--listen "127.0.0.1:$port" --tls-cert "$pki/server.crt" \
		--tls-key "$pki/server.key" --tls-client-ca "$pki/infra.crt" \
		>serve.log 2>&1 &
	server_pid=$!
	for _ in $(seq 100); do
		curl -sf --cacert "$pki/infra.crt" "$url/healthz" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	fail "serve did not start: $(cat serve.log)"
}
serve_bg_tls
agency=(--url "$url" --cacert "$pki/infra.crt" --cert "$pki/pension.crt" --key "$pki/pension.key")
count() { sqlite3 "$work/var/jpki.db" "$1"; }
# the look-ups' records: the journal and what was folded out of it
lookups="(SELECT at, agency, person, purpose, outcome FROM services_lookup UNION ALL SELECT at, agency, person, purpose, outcome FROM services_lookup_recent)"

out=$(jpki services lookup "${agency[@]}" --purpose pension.benefit \
	--resident-code "$taro") || fail "lookup by code: $out"
echo "$out" | json '"|".join([d["result"], d["resident_code"], d["name"], d["birth"], d["sex"], d["address"], d["change"]["kind"]])' |
	grep -qx "found|$taro|山田　太郎|1980-06-01|male|東京都千代田区千代田５番５号|move" ||
	fail "the answer: $out"
[ "$(count "SELECT count(*) FROM $lookups WHERE person='$taro' AND agency='pension' AND purpose='pension.benefit' AND outcome='found'")" = 1 ] ||
	fail "the look-up is not recorded"
[ "$(count "SELECT count(*) FROM audit_log WHERE action='services.lookup' AND operator='agency:pension' AND subject='$taro'")" = 1 ] ||
	fail "the look-up is not on the audit chain"
pass "by resident code: the 4 facts, the code, the latest change (move); a row and an audit entry"

out=$(jpki services lookup "${agency[@]}" --purpose pension.survey \
	--name "山田 太郎" --birth 1980-06-01) || fail "by name: $out"
[ "$(echo "$out" | json 'd["resident_code"]')" = "$taro" ] || fail "by name: $out"
out=$(jpki services lookup "${agency[@]}" --purpose pension.survey \
	--name "山田 太郎" --birth 1980-06-02) || fail "no match: $out"
[ "$(echo "$out" | json 'd["result"]')" = "not found" ] || fail "no match: $out"
out=$(jpki services lookup "${agency[@]}" --purpose pension.survey \
	--name "佐藤 花子" --birth 1990-01-01) || fail "ambiguous: $out"
[ "$(echo "$out" | json 'd["result"]')" = "not found" ] ||
	fail "two residents matched but the answer is: $out"
grep -q "$hanako1\|$hanako2" <<<"$out" && fail "the ambiguous answer names someone: $out"
[ "$(count "SELECT count(*) FROM $lookups WHERE outcome='ambiguous'")" = 1 ] ||
	fail "the ambiguous look-up is not recorded"
pass "by name and birth: an exact match; none and two matches both answer \"not found\" (recorded, no list)"

if out=$(jpki services lookup "${agency[@]}" --purpose tax.assessment \
	--resident-code "$taro"); then
	fail "a purpose not registered was answered: $out"
fi
grep -q "not registered for the purpose tax.assessment" <<<"$out" || fail "purpose: $out"
grep -q "山田" <<<"$out" && fail "a refused answer carries facts: $out"
[ "$(count "SELECT count(*) FROM audit_log WHERE action='services.lookup.refused' AND operator='agency:pension' AND detail LIKE '%tax.assessment%'")" = 1 ] ||
	fail "the refusal is not recorded"
pass "a purpose the agency is not registered for: 403, recorded"

if out=$(jpki services lookup --url "$url" --cacert "$pki/infra.crt" \
	--cert "$pki/stranger.crt" --key "$pki/stranger.key" \
	--purpose pension.benefit --resident-code "$taro"); then
	fail "an unregistered certificate was answered: $out"
fi
grep -q "no registered agency" <<<"$out" || fail "stranger: $out"
[ "$(count "SELECT count(*) FROM audit_log WHERE action='services.lookup.refused' AND operator='agency:?' AND detail LIKE '%An unregistered system%'")" = 1 ] ||
	fail "the unregistered certificate is not recorded"
st=$(curl -s -o body -w '%{http_code}' --cacert "$pki/infra.crt" \
	--cert "$pki/rogue.crt" --key "$pki/rogue.key" \
	--data '{"purpose":"pension.benefit","resident_code":"x"}' "$url/api/services/lookup") || true
[ "$st" = 403 ] || fail "a foreign certificate: $st"
st=$(curl -s -o body -w '%{http_code}' --cacert "$pki/infra.crt" \
	--data '{"purpose":"pension.benefit","resident_code":"x"}' "$url/api/services/lookup") || true
[ "$st" = 403 ] || fail "no certificate: $st"
pass "an unregistered certificate of the infrastructure CA: 403, recorded; a foreign one, none: 403"

# ---- a batch ----------------------------------------------------------------
cat >batch.jsonl <<EOF
{"id":"a1","purpose":"pension.benefit","resident_code":"$taro"}
{"id":"a2","purpose":"pension.benefit","name":"佐藤 花子","birth":"1990-01-01"}
this is not JSON
{"id":"a4","purpose":"tax.assessment","resident_code":"$hanako1"}
{"id":"a5","purpose":"pension.benefit","resident_code":"$hanako1"}
EOF
before=$(count "SELECT count(*) FROM $lookups")
jpki services lookup "${agency[@]}" --batch batch.jsonl >batch.out ||
	fail "batch: $(cat batch.out)"
[ "$(wc -l <batch.out)" = 5 ] || fail "batch answers: $(cat batch.out)"
python3 - "$taro" "$hanako1" <<'EOF' || fail "batch: $(cat batch.out)"
import json, sys
lines = [json.loads(l) for l in open("batch.out")]
assert lines[0]["id"] == "a1" and lines[0]["resident_code"] == sys.argv[1], lines[0]
assert lines[1]["result"] == "not found", lines[1]
assert lines[2]["result"] == "refused" and lines[2]["line"] == 3, lines[2]
assert lines[3]["result"] == "refused" and lines[3]["id"] == "a4", lines[3]
assert lines[4]["resident_code"] == sys.argv[2], lines[4]
EOF
[ "$(count "SELECT count(*) FROM $lookups")" = $((before + 4)) ] ||
	fail "the batch's look-ups are not all recorded"
pass "a batch of 5 JSON Lines: 5 answer lines in order (a bad line refused, not recorded; the other 4 recorded)"

# a long batch: its transactions grow (1024, 1024, 2048, then the rest),
# every line answered in order, every look-up recorded
python3 - "$hanako2" >long.jsonl <<'EOF'
import sys
for i in range(5000):
    if i % 1000 == 999:
        print("not JSON")
    elif i % 3 == 0:
        print('{"id":"l%d","purpose":"pension.benefit","resident_code":"%s"}' % (i, sys.argv[1]))
    else:
        print('{"id":"l%d","purpose":"pension.benefit","resident_code":"R%016X"}' % (i, i))
EOF
before=$(count "SELECT count(*) FROM $lookups")
jpki services lookup "${agency[@]}" --batch long.jsonl >long.out ||
	fail "long batch: $(tail -3 long.out)"
python3 - "$hanako2" <<'EOF' || fail "long batch: $(head -3 long.out)"
import json, sys
lines = [json.loads(l) for l in open("long.out")]
assert len(lines) == 5000, len(lines)
for i, d in enumerate(lines):
    if i % 1000 == 999:
        assert d["result"] == "refused" and d["line"] == i + 1, d
    elif i % 3 == 0:
        assert d["id"] == "l%d" % i and d["resident_code"] == sys.argv[1], d
    else:
        assert d["id"] == "l%d" % i and d["result"] == "not found", d
EOF
[ "$(count "SELECT count(*) FROM $lookups")" = $((before + 4995)) ] ||
	fail "the long batch's look-ups are not all recorded"
pass "a batch of 5000 lines in growing transactions: 5000 answers in order, 4995 recorded"

# ---- the resident's own disclosure, after the card's log-in ---------------
JPKI_PIN=1234 jpki services disclosure "$url/disclosure" --card card.bin \
	--cacert "$pki/infra.crt" --json >mine.json || fail "disclosure: $(cat mine.json)"
python3 - "$taro" <<'EOF' || fail "the resident's disclosure: $(cat mine.json)"
import json, sys
d = json.load(open("mine.json"))
assert d["resident_code"] == sys.argv[1], d
got = sorted((x["agency"], x["purpose"]) for x in d["lookups"])
assert got == [("pension", "pension.benefit"), ("pension", "pension.benefit"),
               ("pension", "pension.survey")], got
EOF
[ "$(count "SELECT count(*) FROM audit_log WHERE action='services.disclosure' AND operator='resident:$taro'")" = 1 ] ||
	fail "the resident's reading is not audited"
JPKI_PIN=1234 jpki services disclosure "$url/disclosure" --card card.bin \
	--cacert "$pki/infra.crt" >mine.txt || fail "disclosure text: $(cat mine.txt)"
grep -q "3 look-ups" mine.txt && grep -q "pension  pension.survey" mine.txt ||
	fail "the disclosure as text: $(cat mine.txt)"
if JPKI_PIN=9999 jpki services disclosure "$url/disclosure" --card card.bin \
	--cacert "$pki/infra.crt" >wrong.txt 2>&1; then
	fail "a wrong PIN saw the disclosure: $(cat wrong.txt)"
fi
grep -q "pension" wrong.txt && fail "a wrong PIN's output lists look-ups"
st=$(curl -s -o body -w '%{http_code}' --cacert "$pki/infra.crt" \
	-H 'Content-Type: application/json' --data '{"challenge":"x"}' \
	"$url/disclosure/response") || true
[ "$st" = 400 ] || [ "$st" = 401 ] || fail "a forged answer: $st $(cat body)"
pass "the resident logs in with the card and sees pension's 3 look-ups and their purposes (audited); a wrong PIN, a forged answer: nothing"

# the window's page: a link on the resident's page, the PDF behind it
terminal=(--cert "$pki/stranger.crt" --key "$pki/stranger.key")
tok=$(curl -s --cacert "$pki/infra.crt" "${terminal[@]}" \
	-H 'Content-Type: application/json' \
	--data '{"operator":"clerk1","password":"pw-window-01"}' "$url/api/login" | json 'd["token"]')
curl -s --cacert "$pki/infra.crt" "${terminal[@]}" -b "jpki_session=$tok" \
	"$url/window/resident?person=$taro" | grep -q "/window/disclosure?person=$taro" ||
	fail "the resident's page has no disclosure link"
st=$(curl -s --cacert "$pki/infra.crt" "${terminal[@]}" -b "jpki_session=$tok" \
	-o page.pdf -w '%{http_code}' "$url/window/disclosure?person=$taro")
[ "$st" = 200 ] && head -c 5 page.pdf | grep -q '%PDF-' || fail "/window/disclosure: $st"
pass "the clerk's resident page links the disclosure PDF, and /window/disclosure gives it"
stop_server

# ---- the disclosure --------------------------------------------------------
as_clerk window disclosure "$taro" --json >disc.json || fail "disclosure: $(cat disc.json)"
[ "$(grep -c '"agency": "pension"' disc.json)" = 3 ] ||
	fail "the disclosure does not list the 3 answered look-ups: $(cat disc.json)"
grep -q "pension.benefit" disc.json && grep -q "pension.survey" disc.json ||
	fail "purposes: $(cat disc.json)"
as_clerk window disclosure "$taro" --out disc.pdf >/dev/null || fail "disclosure PDF"
head -c 5 disc.pdf | grep -q '%PDF-' || fail "not a PDF"
if JPKI_OPERATOR=clerk2 JPKI_OPERATOR_PASSWORD=pw-window-02 \
	jpki window disclosure "$taro" --json >/dev/null 2>&1; then
	fail "a clerk of another municipality read the disclosure"
fi
[ "$(count "SELECT count(*) FROM audit_log WHERE action='services.disclosure' AND subject='$taro' AND operator='clerk1'")" = 3 ] ||
	fail "the disclosure's readings are not audited"
pass "the window's disclosure of $taro: 3 look-ups by pension (JSON, PDF), audited; refused to a clerk of 271004"

# ---- the chain ------------------------------------------------------------
JPKI_OPERATOR=admin JPKI_OPERATOR_PASSWORD=pw-admin-0123 jpki audit verify >verify.out 2>&1 ||
	fail "audit verify before the edit: $(cat verify.out)"
seq=$(count "SELECT seq FROM audit_log WHERE action='services.lookup' AND subject='$taro' ORDER BY seq LIMIT 1")
count "UPDATE audit_log SET detail=replace(detail,'pension.benefit','pension.survey') WHERE seq=$seq"
if JPKI_OPERATOR=admin JPKI_OPERATOR_PASSWORD=pw-admin-0123 jpki audit verify >verify.out 2>&1; then
	fail "audit verify missed the edited look-up record"
fi
grep -q "entry $seq" verify.out || fail "audit verify does not name entry $seq: $(cat verify.out)"
pass "audit verify names the edited look-up record (entry $seq)"
