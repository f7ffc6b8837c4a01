#!/usr/bin/env bash
# The virtual card read as clients of the real My Number card read it
# (issue #19): card_chunked_read, a PC/SC client that reads each file in
# fixed chunks from offset 0 until the card answers 6B 00 (255 bytes at a
# time, then Le = 00, 256 at a time), must get the same bytes as OpenSC's
# pkcs15-tool --read-certificate, which reads the DER length first: the
# authentication certificate, the signing certificate (after the signing
# PIN, in the same transaction) and both CA certificates.
#
# usage: test_card_chunked.sh PATH/TO/jpki PATH/TO/card_chunked_read
set -euo pipefail

JPKI=$(realpath "$1")
READ=$(realpath "${2:?usage: test_card_chunked.sh jpki card_chunked_read}")
work=$(mktemp -d /tmp/jpki-chunked-XXXXXX)
here=$(dirname "$(realpath "$0")")

fail() {
	echo "FAIL: $*" >&2
	[ -f "$work/card-serve.log" ] && tail -20 "$work/card-serve.log" >&2
	exit 1
}
pass() { echo "ok - $*"; }

# shellcheck source=pcsc_lib.sh
. "$here/pcsc_lib.sh"
cleanup() {
	pcsc_cleanup
	rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

jpki() { "$JPKI" --data "$work/var" --log warn "$@"; }

# --- a card issued by our CA, behind pcscd --------------------------------
jpki ca init >/dev/null
jpki card new --kind mynumber card.bin >/dev/null
jpki card issue card.bin --auth-pin 1234 --sign-pin ABC123 --person P-1 \
	--municipality-code 131016 --prefecture Tokyo-to \
	--municipality Chiyoda-ku --name "山田 太郎" --sex male \
	--birth 1980-06-01 --address "東京都千代田区千代田１番１号" >/dev/null

pcsc_start
card_serve card.bin
rd=$(reader_index)
[ -n "$rd" ] || fail "no vpcd reader"
reader="Virtual PCD 00 0$((VPCD_PORT - 35963))"

# --- what OpenSC reads: the DER length, then exactly that many bytes -------
# pkcs15-tool's IDs on a JPKI card: 01 authentication, 02 signing (behind
# the signing PIN, auth ID 02), 03 / 04 the authentication / signing CA.
der_of() { # PEM on stdin -> the exact DER bytes inside it on stdout
	sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' |
		grep -v -- '-----' | base64 -d
}
mkdir opensc
for pair in 01:000A 03:000B 04:0002; do
	pkcs15-tool -r "$rd" --read-certificate "${pair%%:*}" >"opensc/${pair#*:}.pem" 2>p15.txt ||
		fail "pkcs15-tool --read-certificate ${pair%%:*}: $(cat p15.txt)"
done
pkcs15-tool -r "$rd" --read-certificate 02 >nopin.pem 2>p15.txt &&
	grep -q -- "-----BEGIN CERTIFICATE" nopin.pem &&
	fail "pkcs15-tool read the signing certificate without the PIN"
pkcs15-tool -r "$rd" --verify-pin --auth-id 02 --pin ABC123 \
	--read-certificate 02 >opensc/0001.pem 2>p15.txt ||
	fail "pkcs15-tool --verify-pin --read-certificate 02: $(cat p15.txt)"
for fid in 000A 000B 0002 0001; do
	der_of <"opensc/$fid.pem" >"opensc/$fid.der"
	[ -s "opensc/$fid.der" ] || fail "pkcs15-tool gave no certificate $fid"
	openssl x509 -inform DER -in "opensc/$fid.der" -noout ||
		fail "pkcs15-tool's $fid is no certificate"
done
openssl x509 -inform DER -in opensc/0001.der -noout -ext keyUsage |
	grep -q "Non Repudiation" || fail "02 is not the signing certificate"
pass "pkcs15-tool reads the four certificates (02 after --verify-pin)"

# --- the chunked client gets the same bytes, 255 at a time and 256 --------
for chunk in 255 256; do
	mkdir "c$chunk"
	"$READ" "$reader" "$chunk" "c$chunk" ABC123 >"c$chunk.txt" 2>"c$chunk.err" ||
		fail "chunks of $chunk: $(cat "c$chunk.err")"
	for fid in 000A 000B 0002 0001; do
		cmp -s "c$chunk/$fid.der" "opensc/$fid.der" ||
			fail "chunks of $chunk: $fid differs from pkcs15-tool's"
		len=$(stat -c %s "opensc/$fid.der")
		# every chunk full but the last, then one read answered 6B 00
		reads=$(((len + chunk - 1) / chunk + 1))
		grep -qx "$fid $len $reads" "c$chunk.txt" ||
			fail "chunks of $chunk: '$(grep "^$fid" "c$chunk.txt")', want '$fid $len $reads'"
	done
	pass "chunks of $chunk bytes until 6B 00: the four certificates, byte for byte as pkcs15-tool's"
done

# --- the signing certificate stays behind its PIN -------------------------
mkdir nopin
"$READ" "$reader" 255 nopin - >nopin.txt 2>nopin.err &&
	fail "the chunked client read 0001 without the PIN"
grep -q "0001: READ BINARY at offset 0, Le 255: 0 bytes and status 6982" nopin.err ||
	fail "without the PIN: $(cat nopin.err)"
[ ! -e nopin/0001.der ] || fail "a signing certificate was written without the PIN"
mkdir wrong
"$READ" "$reader" 256 wrong WRONG1 >wrong.txt 2>wrong.err &&
	fail "the chunked client read 0001 with a wrong PIN"
grep -q "VERIFY of the signing PIN: status 63C4" wrong.err ||
	fail "with a wrong PIN: $(cat wrong.err)"
pass "without the signing PIN (69 82) or with a wrong one (63 C4) 0001 is not read"

# --- and OpenSC still reads as it did --------------------------------------
pkcs15-tool -r "$rd" --read-certificate 01 >again.pem 2>/dev/null ||
	fail "pkcs15-tool after the chunked reads"
cmp -s <(der_of <again.pem) opensc/000A.der || fail "pkcs15-tool reads 01 differently now"
pass "pkcs15-tool reads the authentication certificate as before"
echo "all chunked-read checks passed"
