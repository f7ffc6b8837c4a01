#!/usr/bin/env bash
# The registry's services at the counter (/window/services) in headless
# Chromium (tests/browser/window_services.mjs, run by window_procedures.mjs):
# a window clerk of 千代田区 (131016, A) issues the copy of the residence
# certificate of a resident of 大阪市北区 (271004, B) (広域交付: the PDF,
# without 本籍; another photo-ID address refused), B's resident's own page
# stays 403 to A's clerk; A's clerk records a move-out notice received by
# post (pending; a second refused), B's clerk sees it pending. Then the
# audit chain: the copy in both views, the refused copy and read recorded.
# Seal registration (window_seal.mjs, window_seal_cancel.mjs): A's clerk
# registers A's resident's seal with the image as a file of the form (a
# JPEG, a PNG over 512 KiB, the form without its CSRF token refused), the
# seal is in force as the kiosk reads it, B's clerk may not cancel it, A's
# clerk cancels it, and the kiosk's read finds it cancelled. The
# resident's disclosure in the browser: test_services_disclosure_web.sh.
#
# usage: test_window_services_web.sh PATH/TO/jpki
set -euo pipefail

here=$(dirname "$(realpath "$0")")
. "$here/lib.sh"
browser_dir=$(realpath "$here/../browser")
shots=${JPKI_SCREENSHOTS:-$PWD/screenshots/window}
lib_init serviceweb "$1"

fail_more() { serve_log_tail 5; }

[ -d "$browser_dir/node_modules/puppeteer-core" ] ||
	fail "puppeteer-core is not installed (scripts/setup.sh installs it)"
command -v chromium >/dev/null || fail "chromium is not installed"
command -v pdftotext >/dev/null || fail "pdftotext (poppler-utils) is not installed"

export JPKI_ARGON2_TEST=1
export JPKI_NOW=2026-11-17T01:00:00Z
port=$(free_port)
url="http://127.0.0.1:$port"

ca_and_admin "$url"
add_operator reg1 registry-clerk 131016
add_operator reg2 registry-clerk 271004
add_operator winA window-clerk 131016
add_operator winB window-clerk 271004
add_operator aud1 auditor
as() { # OPERATOR command...
	local who=$1
	shift
	JPKI_OPERATOR=$who JPKI_OPERATOR_PASSWORD="pw-$who-012345" jpki "$@"
}
a=$(as reg1 registry register --municipality-code 131016 --prefecture 東京都 \
	--municipality 千代田区 --name "鈴木 一郎" --sex male --birth 1985-04-10 \
	--address "千代田４番４号" --json | json 'd["person"]')
b=$(as reg2 registry register --municipality-code 271004 --prefecture 大阪府 \
	--municipality 大阪市北区 --name "渡辺 六郎" --sex male --birth 1994-10-10 \
	--address "梅田２番２号" --json | json 'd["person"]')

serve_log_level=info serve_bg "$url" --listen "127.0.0.1:$port"

# the seal's images: a 96 x 96 PNG, a JPEG, a PNG of 720 000 bytes
python3 - <<'PY'
import os, struct, zlib
def png(w, h, raw):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
ring = b"".join(b"\0" + bytes(0 if 30 <= ((x - 48) ** 2 + (y - 48) ** 2) ** 0.5 <= 40 else 255
                                for x in range(96)) for y in range(96))
open("seal.png", "wb").write(png(96, 96, ring))
open("seal.jpg", "wb").write(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
                             + b"\x00" * 200 + b"\xff\xd9")
noise = b"".join(b"\0" + os.urandom(1000) for _ in range(720))
open("big.png", "wb").write(png(1000, 720, noise))
PY
[ "$(stat -c %s big.png)" -gt 524288 ] || fail "big.png is not over the cap"
python3 - "$a" "$b" "$work" >cfg.json <<'PY'
import json, sys
a, b, work = sys.argv[1:]
print(json.dumps({"a": a, "b": b, "bAddress": "梅田２番２号", "aAddress": "千代田４番４号",
                  "images": {"png": work + "/seal.png", "jpeg": work + "/seal.jpg",
                             "big": work + "/big.png"},
                  "pw": {"winA": "pw-winA-012345", "winB": "pw-winB-012345"}}))
PY
started=$(date +%s)
node "$browser_dir/window_procedures.mjs" "$url" "$shots" cfg.json \
	services >browser.out 2>&1 ||
	fail "the browser run failed: $(tail -20 browser.out)"
grep '^ok ' browser.out | sed 's/^/  /'
echo "  browser run: $(($(date +%s) - started)) s"
ls "$shots"/services-move-status-b.png >/dev/null || fail "screenshots not saved"
pass "the services in the browser, with their refusals (screenshots in $shots)"

pdf=$(sed -n 's/^copy //p' browser.out)
pdftotext -layout "$pdf" copy.txt
grep -q "渡辺 *六郎" copy.txt || fail "the copy does not name the resident: $(head -20 copy.txt)"
grep -q "梅田２番２号" copy.txt || fail "the copy has not B's address: $(head -20 copy.txt)"
! grep -q "本籍" copy.txt || fail "the copy prints 本籍: $(grep 本籍 copy.txt)"
grep -q "広域交付" copy.txt || fail "the copy does not say 広域交付"
pass "the copy names B's resident and prints no 本籍"

audit() { # ACTION OPERATOR: how many entries
	as aud1 audit show --action "$1" --operator "$2" --json |
		json 'len(d if isinstance(d, list) else d["entries"])'
}
[ "$(audit services.copy.issue winA)" = 1 ] || fail "the copy is not on the chain once"
[ "$(audit services.copy.refused winA)" -ge 1 ] || fail "the refused copy is not on the chain"
[ "$(audit registry.read.refused winA)" -ge 1 ] || fail "the read of B's resident is not on the chain"
[ "$(as winB window move-status "$a" --json | json 'd["state"]')" = pending ] ||
	fail "the CLI does not see the move pending"
pass "the copy, the refused copy and the refused read are on the audit chain; the move pending"

# ---- seal registration ------------------------------------------------------
before=$(audit services.seal.register winA)
node "$browser_dir/window_procedures.mjs" "$url" "$shots" cfg.json \
	seal >seal.out 2>&1 || fail "the seal in the browser: $(tail -20 seal.out)"
grep '^ok ' seal.out | sed 's/^/  /'
number=$(sed -n 's/^seal //p' seal.out)
[ "$(audit services.seal.register winA)" = $((before + 1)) ] ||
	fail "the refused images or the form without its token registered a seal"
# what the kiosk reads before it prints a seal certificate (kiosk.c:
# the resident's seal, in force; test_seal_kiosk.sh prints it through pcscd)
seal_state() { as winA window seal show "$a" --json | json '"%s %s %s" % (d["number"], d["state"], d["image_sha256"])'; }
[ "$(seal_state)" = "$number active $(sha256sum seal.png | cut -d' ' -f1)" ] ||
	fail "the kiosk's read of the seal: $(seal_state)"
pass "the seal registered in the page with the image file ($number, the file's SHA-256 kept); JPEG, 720 KB and no CSRF token refused"

node "$browser_dir/window_procedures.mjs" "$url" "$shots" cfg.json \
	seal_cancel >cancel.out 2>&1 || fail "the cancellation in the browser: $(tail -20 cancel.out)"
grep '^ok ' cancel.out | sed 's/^/  /'
[ "$(seal_state)" = "$number cancelled $(sha256sum seal.png | cut -d' ' -f1)" ] ||
	fail "the kiosk's read after the cancellation: $(seal_state)"
[ "$(audit services.seal.cancel winA)" = 1 ] || fail "the cancellation is not on the chain"
pass "the seal cancelled in the page (B's clerk refused): the kiosk's read finds it cancelled, so it refuses the certificate"
echo "all window services web checks passed"

# the form's parts as multipart.c keeps them (curl's own multipart): a
# field twice or a field with a control character refuse the whole form,
# before the CSRF token is looked for (403 saying why, nothing
# registered); the same form well made registers anew after the
# cancellation
curl -s -c jar -o /dev/null -H "Origin: $url" \
	--data "operator=winA&password=pw-winA-012345" "$url/window/login"
csrf=$(curl -s -b jar "$url/window/services" | grep -o 'name="csrf" value="[0-9a-f]*"' |
	head -1 | sed 's/.*value="//; s/"$//')
[ ${#csrf} = 64 ] || fail "no CSRF token on the services page for curl's session"
mp() { # PERSON...: posts the seal form with these person parts
	local parts=() p
	for p in "$@"; do parts+=(-F "person=$p"); done
	curl -s -b jar -H "Origin: $url" -o mp.out -w '%{http_code}' -F "csrf=$csrf" \
		"${parts[@]}" -F "photo_id_address=千代田４番４号" \
		-F "image=@seal.png;type=image/png" "$url/window/seal/register"
}
before=$(audit services.seal.register winA)
code=$(mp "$a" "$b")
[ "$code" = 403 ] && grep -q "names a field twice" mp.out || fail "a field twice: HTTP $code $(cat mp.out)"
code=$(mp "$(printf '%s\tx' "$a")")
[ "$code" = 403 ] && grep -q "control character" mp.out || fail "a tab in a field: HTTP $code $(cat mp.out)"
[ "$(audit services.seal.register winA)" = "$before" ] || fail "a refused multipart form registered a seal"
code=$(mp "$a")
[ "$code" = 200 ] && grep -q 'data-state="active"' mp.out || fail "the form from curl: HTTP $code $(cat mp.out)"
pass "multipart: a field twice, a control character refused whole (403 with the reason, nothing registered); the well-made form registers anew after the cancellation"
