#!/usr/bin/env bash
# Signed PDFs (PAdES, ETSI EN 319 142-1) with a virtual My Number card behind
# pcscd: `jpki sign --pdf` at B-B and B-LT, judged by poppler's pdfsig and
# qpdf --check, the original bytes kept as the prefix, `jpki verify` on the
# result; one changed byte in the signed range, and a later update that
# changes a page, refused; B-LT's OCSP response found in the DSS and used by
# `jpki verify --offline` with the CA's server stopped.
#
# usage: test_pdf_sign.sh PATH/TO/jpki
set -euo pipefail

JPKI=$(realpath "$1")
work=$(mktemp -d /tmp/jpki-pdf-XXXXXX)
here=$(dirname "$(realpath "$0")")
data="$here/../data/pdf"
server_pid=""

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
pass() { echo "ok - $*"; }

# shellcheck source=pcsc_lib.sh
. "$here/pcsc_lib.sh"
stop_server() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
		server_pid=""
	fi
}
cleanup() {
	stop_server
	pcsc_cleanup
	rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
jpki() { "$JPKI" --data "$work/var" --log warn "$@"; }
client() { "$JPKI" --log warn "$@"; }
expect_fail() { # MESSAGE-REGEX command...
	local want=$1
	shift
	if "$@" >out.txt 2>err.txt; then
		fail "succeeded: $* ($(cat out.txt))"
	fi
	grep -Eq "$want" err.txt out.txt || fail "$*: said '$(cat err.txt out.txt)', not /$want/"
}

jpki ca init --public-url "$url" >/dev/null
jpki card new --kind mynumber card.bin >/dev/null
jpki card issue card.bin --auth-pin 1234 --sign-pin ABC123 --person P-7 \
	--municipality-code 131016 --prefecture Tokyo-to \
	--municipality Chiyoda-ku --name "山田 花子" --sex female \
	--birth 1990-02-28 --address "東京都千代田区霞が関１丁目" >issue.txt
sign_serial=$(sed -n 's/^signing certificate \([0-9A-F]*\) .*/\1/p' issue.txt)
jpki ca cert sign >sign-ca.pem
"$JPKI" --data "$work/var" --log warn serve --listen "127.0.0.1:$port" \
	>serve.log 2>&1 &
server_pid=$!
for _ in $(seq 50); do
	curl -sf "$url/" >/dev/null 2>&1 && break
	sleep 0.1
done

pcsc_start
card_serve card.bin
echo "abc123" >pin.txt
cp "$data/application.pdf" in.pdf
size=$(stat -c %s in.pdf)

# --- B-B -----------------------------------------------------------------------
client sign --pdf in.pdf --out bb.pdf --pin-file pin.txt >sign.txt ||
	fail "sign --pdf: $(cat sign.txt)"
grep -q "PAdES B-B" sign.txt || fail "sign --pdf said: $(cat sign.txt)"
cmp -n "$size" in.pdf bb.pdf || fail "the original bytes are not the prefix of the signed PDF"
[ "$(stat -c %s bb.pdf)" -gt "$size" ] || fail "nothing was appended"
qpdf --check bb.pdf >check.txt 2>&1 || fail "qpdf --check: $(cat check.txt)"
pdfsig bb.pdf >pdfsig.txt 2>&1 || fail "pdfsig: $(cat pdfsig.txt)"
grep -q "Signature Validation: Signature is Valid." pdfsig.txt || fail "pdfsig: $(cat pdfsig.txt)"
grep -q "Total document signed" pdfsig.txt || fail "pdfsig: not the whole document: $(cat pdfsig.txt)"
grep -q "Signature Type: ETSI.CAdES.detached" pdfsig.txt || fail "pdfsig: $(cat pdfsig.txt)"
grep -q "Signing Hash Algorithm: SHA-256" pdfsig.txt || fail "pdfsig: $(cat pdfsig.txt)"
pass "B-B: pdfsig says valid and the total document signed; qpdf --check passes; the original is the prefix"

# the CMS: PAdES's signed attributes, and no signing-time (the time is /M)
python3 - bb.pdf >sig.der <<'EOF'
import re, sys
d = open(sys.argv[1], "rb").read()
m = re.search(rb"/Contents <([0-9A-Fa-f]+)>", d)
h = m.group(1).rstrip(b"0")
h += b"0" * (len(h) % 2)
sys.stdout.buffer.write(bytes.fromhex(h.decode()))
EOF
openssl cms -cmsout -print -inform DER -in sig.der >cms.txt 2>&1 || fail "the /Contents is not CMS"
sed -n '/signedAttrs:/,/unsignedAttrs/p' cms.txt >attrs.txt
for a in contentType messageDigest id-smime-aa-signingCertificateV2; do
	grep -q "object: $a " attrs.txt || fail "no $a signed attribute: $(cat attrs.txt)"
done
grep -q "signingTime" attrs.txt && fail "a signing-time attribute in a PAdES signature"
pass "B-B: content-type, message-digest, signing-certificate-v2 signed; no signing-time"

client verify bb.pdf --ca sign-ca.pem --json >v.json 2>v.err || fail "verify: $(cat v.json v.err)"
python3 - "$sign_serial" <<'EOF' || fail "verify --json: $(cat v.json)"
import json, sys
d = json.load(open("v.json"))
assert d["accepted"] and d["serial"] == sys.argv[1], d
assert d["revocation"] == "ocsp", d
assert d["facts"]["name"] == "山田\u3000花子", d
p = d["pdf"]
assert p["subfilter"] == "ETSI.CAdES.detached" and p["signatures"] == 1, p
assert not p["later_updates"] and p["signed_bytes"] == p["file_bytes"], p
assert p["signed_at_claimed"].startswith("D:"), p
EOF
client verify bb.pdf --ca sign-ca.pem --out got.pdf >/dev/null || fail "verify bb.pdf"
cmp -s got.pdf bb.pdf || fail "verify --out did not write the PDF"
client verify bb.pdf --ca sign-ca.pem --name "山田 花子" --address "東京都千代田区霞が関１丁目" >/dev/null ||
	fail "verify with the form"
expect_fail "name differs: form 山田 太郎, certificate" client verify bb.pdf --ca sign-ca.pem --name "山田 太郎"
pass "jpki verify accepts the signed PDF with the CMS report (chain, OCSP, the facts) and refuses another name"

# --- refusals --------------------------------------------------------------------
# one byte of the signed range, in the page's text
python3 - bb.pdf tampered.pdf <<'EOF'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
i = d.index(b"a permit")
d[i + 2] = ord("P")
open(sys.argv[2], "wb").write(d)
EOF
pdfsig tampered.pdf >pdfsig.txt 2>&1 || true
grep -q "Signature is Valid" pdfsig.txt && fail "pdfsig accepts a changed byte: $(cat pdfsig.txt)"
grep -Eq "Digest Mismatch|Signature is Invalid" pdfsig.txt || fail "pdfsig: $(cat pdfsig.txt)"
expect_fail "does not verify over the document" client verify tampered.pdf --ca sign-ca.pem
pass "one changed byte in the signed range: pdfsig and jpki verify refuse"

# a later incremental update that changes the page (the signature itself
# stays valid over its revision: pdfsig says so, and that it is not the
# whole document)
python3 - bb.pdf changed.pdf <<'EOF'
import re, subprocess, sys
src, dst = sys.argv[1], sys.argv[2]
d = open(src, "rb").read()
prev = int(d[d.rindex(b"startxref"):].split()[1])
size = int(re.findall(rb"/Size (\d+)", d)[-1])
page = subprocess.run(["qpdf", "--show-object=3", src], capture_output=True,
                      check=True).stdout.strip()
page = page.replace(b"595 842", b"300 300")
assert b"300 300" in page
off = len(d)
upd = b"3 0 obj\n" + page + b"\nendobj\n"
xref = off + len(upd)
upd += b"xref\n3 1\n%010d 00000 n\r\n" % off
upd += b"trailer\n<< /Size %d /Root 1 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (size, prev, xref)
open(dst, "wb").write(d + upd)
EOF
qpdf --check changed.pdf >/dev/null 2>&1 || fail "the test's own update is broken"
pdfsig changed.pdf >pdfsig.txt 2>&1 || true
grep -q "Not total document signed" pdfsig.txt || fail "pdfsig: $(cat pdfsig.txt)"
expect_fail "changed after it was signed.*3 0 obj" client verify changed.pdf --ca sign-ca.pem
pass "a later update that changes the page: jpki verify refuses and names the object"

printf '%%PDF-1.7\nnot really\n' >broken.pdf
expect_fail "qpdf cannot read" client verify broken.pdf --ca sign-ca.pem
expect_fail "holds no signature" client verify in.pdf --ca sign-ca.pem
printf 'not a pdf\n' >notpdf.pdf
expect_fail "is not a PDF" client sign --pdf notpdf.pdf --out x.pdf --pin-file pin.txt
[ ! -e x.pdf ] || fail "a refused PDF left an output"
pass "an unreadable PDF, an unsigned PDF and a non-PDF: said plainly, nothing written"

# --- B-LT ------------------------------------------------------------------------
client sign --pdf in.pdf --out lt.pdf --pades-level b-lt --pin-file pin.txt >sign.txt ||
	fail "sign --pades-level b-lt: $(cat sign.txt)"
grep -q "B-LT" sign.txt || fail "sign said: $(cat sign.txt)"
cmp -n "$size" in.pdf lt.pdf || fail "B-LT: the original bytes are not the prefix"
qpdf --check lt.pdf >check.txt 2>&1 || fail "qpdf --check B-LT: $(cat check.txt)"
pdfsig lt.pdf >pdfsig.txt 2>&1 || fail "pdfsig B-LT: $(cat pdfsig.txt)"
grep -q "Signature Validation: Signature is Valid." pdfsig.txt || fail "pdfsig B-LT: $(cat pdfsig.txt)"
root=$(qpdf --show-object=trailer lt.pdf | sed -n 's/.*\/Root \([0-9]*\) 0 R.*/\1/p')
dss=$(qpdf --show-object="$root" lt.pdf | sed -n 's/.*\/DSS \([0-9]*\) 0 R.*/\1/p')
[ -n "$dss" ] || fail "no /DSS in the catalog: $(qpdf --show-object="$root" lt.pdf)"
ocsp=$(qpdf --show-object="$dss" lt.pdf | sed -n 's/.*\/OCSPs \[ \([0-9]*\) 0 R.*/\1/p')
[ -n "$ocsp" ] || fail "no /OCSPs in the DSS: $(qpdf --show-object="$dss" lt.pdf)"
qpdf --show-object="$ocsp" --raw-stream-data lt.pdf >dss-ocsp.der
openssl ocsp -respin dss-ocsp.der -resp_text -noverify >ocsp.txt 2>&1 || fail "the DSS's OCSP: $(cat ocsp.txt)"
grep -q "Cert Status: good" ocsp.txt || fail "the DSS's OCSP response: $(cat ocsp.txt)"
grep -qi "Serial Number: $sign_serial" ocsp.txt || fail "the OCSP response is not about $sign_serial: $(cat ocsp.txt)"
pass "B-LT: pdfsig valid, qpdf --check passes, the DSS holds the signer's good OCSP response"

# a signature whose /M claims a later time than its OCSP evidence: the
# evidence says nothing about the certificate when it signed
later=$(date -u -d '+2 days' +%Y-%m-%d)
client --now "$later" sign --pdf in.pdf --out late.pdf --pades-level b-lt \
	--pin-file pin.txt >sign.txt 2>&1 || fail "sign --now $later: $(cat sign.txt)"

# the CA's server goes away: offline, only the DSS can answer
stop_server
expect_fail "older than the signature's time" \
	client --now "$later" verify late.pdf --ca sign-ca.pem --offline
client verify lt.pdf --ca sign-ca.pem --offline --json >v.json 2>v.err || fail "verify --offline B-LT: $(cat v.json v.err)"
python3 - <<'EOF' || fail "verify --offline B-LT: $(cat v.json)"
import json
d = json.load(open("v.json"))
assert d["accepted"] and d["revocation"] == "dss", d
p = d["pdf"]
assert p["later_updates"] and p["later_dss_only"] and p["revocation_from_dss"], p
assert p["dss_ocsp_responses"] == 1, p
EOF
expect_fail "B-LT needs the signing certificate's OCSP response" \
	client sign --pdf in.pdf --out lt2.pdf --pades-level b-lt --pin-file pin.txt
[ ! -e lt2.pdf ] || fail "a B-LT signature without its OCSP response was written"
expect_fail "revocation status unknown" client verify bb.pdf --ca sign-ca.pem --offline
expect_fail "revocation status unknown" client verify lt.pdf --ca sign-ca.pem
pass "B-LT: jpki verify --offline takes revocation from the DSS with the server stopped; B-B offline, and B-LT online without the server, cannot; no B-LT signing without the responder; OCSP evidence older than /M refused"
echo "all PDF signature checks passed"
