#!/usr/bin/env bash
# The agency decides at receipt and keeps what it relied on (SPEC section
# 4): `jpki verify --keep` stores the evidence of an accepted application;
# after the certificate is revoked (a move), `jpki verify --as-of-receipt`
# still says it was accepted at receipt, offline from the kept evidence
# with the server stopped, and with the server up also what changed since.
# A kept file with one byte changed is refused by its name. The form's
# four facts are matched: another birth date or sex is refused by name.
#
# usage: test_receipt_evidence.sh PATH/TO/jpki
set -euo pipefail

. "$(dirname "$(realpath "$0")")/lib.sh"
lib_init receipt "$1"

port=$(free_port)
url="http://127.0.0.1:$port"
ca_and_admin "$url"
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
serve_bg "$url" --listen "127.0.0.1:$port" --roles repository,ocsp,portal

form=(--name "山田太郎" --birth "昭和55年6月1日" --sex 男 --address "千代田1番1号")

# ---- the four facts ----------------------------------------------------------
jpki verify app.p7s --ca sign-ca.pem "${form[@]}" >ok.txt ||
	fail "the certificate's own facts refused: $(cat ok.txt)"
grep -q "sex:     male" ok.txt || fail "no sex in the report: $(cat ok.txt)"
if jpki verify app.p7s --ca sign-ca.pem --name "山田 太郎" \
	--address "千代田１番１号" --birth 1980-06-02 --sex male 2>err.txt; then
	fail "a birth date off by one day was accepted"
fi
grep -q "date of birth differs: form 1980-06-02, certificate 1980-06-01" err.txt ||
	fail "birth mismatch not named: $(cat err.txt)"
if jpki verify app.p7s --ca sign-ca.pem --form "name=山田 太郎,sex=female" \
	--json >mm.json; then
	fail "another sex was accepted"
fi
[ "$(json '[r["code"] for r in d["reasons"]]' <mm.json)" = "['sex_mismatch']" ] ||
	fail "sex mismatch: $(cat mm.json)"
if jpki verify app.p7s --ca sign-ca.pem --birth "昭和元年13月1日" 2>err.txt; then
	fail "an unreadable birth date was accepted"
fi
grep -q "cannot be read\|not a day" err.txt || fail "unreadable date: $(cat err.txt)"
pass "the four facts matched, each mismatch named, an unreadable date refused"

# ---- receipt -----------------------------------------------------------------
jpki verify app.p7s --ca sign-ca.pem "${form[@]}" --keep kept >keep.txt ||
	fail "not accepted at receipt: $(cat keep.txt)"
grep -q "evidence kept in kept" keep.txt || fail "not kept: $(cat keep.txt)"
for f in receipt.json application.p7s document report.json ocsp.der SHA256SUMS; do
	[ -f "kept/$f" ] || fail "kept/$f missing"
done
(cd kept && sha256sum -c --quiet SHA256SUMS) || fail "SHA256SUMS does not check"
ls -d kept.tmp-* 2>/dev/null && fail "a temporary directory was left"
if jpki verify app.p7s --ca sign-ca.pem --keep kept 2>err.txt; then
	fail "an existing receipt directory was written over"
fi
grep -q "exists" err.txt || fail "existing dir: $(cat err.txt)"
# a refused application keeps nothing
jpki verify app.p7s --ca sign-ca.pem --sex female --keep refused 2>/dev/null &&
	fail "refused form accepted"
[ ! -e refused ] || fail "a refused application was kept"
pass "jpki verify --keep: the evidence in a new directory, never over another"

# ---- the portal's inbox keeps the same evidence --------------------------------
curl -sf "$url/portal/agency.crt" -o agency.crt || fail "no agency certificate"
printf '転居届\n手続コード (procedure code): moving\n氏名: 山田 太郎\n' >pdoc.txt
openssl cms -sign -in pdoc.txt -signer cert.pem -inkey key.pem -binary \
	-nodetach -outform DER -out papp.p7s
openssl cms -encrypt -binary -in papp.p7s -outform DER -out papp.p7m \
	-aes256 agency.crt
submit() { # BIRTH SEX: the receipt page
	curl -s -F proc=moving -F "name=山田 太郎" -F "address=千代田１番１号" \
		-F "birth=$1" -F "sex=$2" -F "file=@papp.p7m" "$url/portal/submit"
}
submit 昭和55年6月1日 男 >p1.html
receipt1=$(sed -n 's/.*id="receipt">\([0-9-]*\)<.*/\1/p' p1.html | head -1)
[ -n "$receipt1" ] && grep -q 'id="accepted"' p1.html ||
	fail "the portal refused the certificate's own facts: $(cat p1.html)"
submit 1980-06-02 男 >p2.html
grep -q "date of birth differs: form 1980-06-02, certificate 1980-06-01" p2.html ||
	fail "the portal did not name the birth mismatch: $(cat p2.html)"
curl -s -c jar -H "Origin: $url" -d "operator=admin&password=pw-admin-0123" \
	"$url/portal/login" -o /dev/null
inbox_row() { # RECEIPT: the inbox's row of it, one line
	curl -s -b jar "$url/portal/inbox" | tr -d '\n' |
		grep -o "<tr><td class=\"receipt\">$1</td>.*" | sed 's|</tr>.*||'
}
row=$(inbox_row "$receipt1")
grep -q '受付時 (at receipt): OCSP good at 20[0-9T:-]*Z' <<<"$row" &&
	grep -q '現在 (now): still good' <<<"$row" ||
	fail "the inbox shows no evidence: $row"
[ "$(sqlite3 var/jpki.db "SELECT COUNT(*), SUM(LENGTH(ocsp) > 0) FROM agency_evidence")" = "1|1" ] ||
	fail "agency_evidence: $(sqlite3 var/jpki.db 'SELECT submission, LENGTH(ocsp) FROM agency_evidence')"
inbox_now() { # RECEIPT: its status now and at receipt, from the JSON inbox
	curl -sf -b jar "$url/portal/inbox.json" | python3 -c '
import json, sys
e = [e for e in json.load(sys.stdin) if e["receipt"] == sys.argv[1]][0]
print(e["verdict"], e["now"]["status"], e["now"].get("reason"), e["at_receipt"]["status_time"][:2])' "$1"
}
[ "$(inbox_now "$receipt1")" = "accepted good None 20" ] ||
	fail "inbox.json: $(curl -s -b jar "$url/portal/inbox.json")"
code=$(curl -s -o /dev/null -w '%{http_code}' "$url/portal/inbox.json")
[ "$code" = 401 ] || fail "inbox.json without a log-in: $code"
pass "the portal matches birth and sex, and keeps the OCSP response with the accepted submission"

jpki verify --as-of-receipt kept --ca sign-ca.pem >still.txt ||
	fail "re-check before revocation: $(cat still.txt)"
grep -Eq "^accepted at receipt \(OCSP good at 20[0-9T:-]+Z\), still good now$" still.txt ||
	fail "before revocation: $(cat still.txt)"

sleep 1 # the revocation is later than the receipt
jpki ca revoke "$serial" --reason affiliationChanged >/dev/null
if jpki verify app.p7s --ca sign-ca.pem >/dev/null 2>&1; then
	fail "a revoked certificate was accepted by a new check"
fi

jpki verify --as-of-receipt kept --ca sign-ca.pem >now.txt 2>&1 ||
	fail "re-check with the server up: $(cat now.txt)"
grep -Eq "^accepted at receipt \(OCSP good at 20[0-9T:-]+Z\), revoked since 20[0-9T:-]+Z \(affiliationChanged\)$" now.txt ||
	fail "with the server up: $(cat now.txt)"
jpki verify --as-of-receipt kept --ca sign-ca.pem --json >now.json
[ "$(json 'd["now"]["status"], d["now"]["reason"], d["at_receipt"]["accepted"]' <now.json)" = \
	"revoked affiliationChanged True" ] || fail "JSON: $(cat now.json)"
pass "after the move: accepted at receipt, revoked since (affiliationChanged)"
row=$(inbox_row "$receipt1")
grep -q '受付時 (at receipt): OCSP good at' <<<"$row" &&
	grep -q '現在 (now): revoked since 20[0-9T:-]*Z (affiliationChanged)' <<<"$row" &&
	grep -q '受付 (accepted)' <<<"$row" ||
	fail "the inbox after the move: $row"
[ "$(inbox_now "$receipt1")" = "accepted revoked affiliationChanged 20" ] ||
	fail "inbox.json after the move: $(curl -s -b jar "$url/portal/inbox.json")"
pass "the inbox: accepted at receipt, revoked since (affiliationChanged)"

stop_server
jpki verify --as-of-receipt kept --ca sign-ca.pem --offline >off.txt ||
	fail "offline re-check: $(cat off.txt)"
grep -Eq "^accepted at receipt \(OCSP good at 20[0-9T:-]+Z\)$" off.txt ||
	fail "offline: $(cat off.txt)"
jpki verify --as-of-receipt kept --ca sign-ca.pem >down.txt ||
	fail "server down: $(cat down.txt)"
grep -q "^accepted at receipt (OCSP good at .*; the status now is unknown" down.txt ||
	fail "server down: $(cat down.txt)"
pass "with the server stopped: accepted at receipt, from the kept evidence alone"

# another CA's certificate does not vouch for the kept evidence
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=other -keyout o.key \
	-out other.pem -days 1 2>/dev/null
if jpki verify --as-of-receipt kept --ca other.pem --offline 2>err.txt; then
	fail "re-checked under another CA"
fi
grep -q "trusted signing CA" err.txt || fail "other CA: $(cat err.txt)"

flip() { # FILE: one byte changed in the middle
	python3 - "$1" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 1
open(p, "wb").write(bytes(b))
PY
}
for f in ocsp.der application.p7s document report.json receipt.json; do
	rm -rf bad
	cp -r kept bad
	flip "bad/$f"
	if jpki verify --as-of-receipt bad --ca sign-ca.pem --offline 2>err.txt; then
		fail "$f changed and still accepted"
	fi
	grep -q "$f was changed since receipt" err.txt ||
		fail "$f changed: $(cat err.txt)"
done
pass "a kept file with one byte changed is refused by its name"
