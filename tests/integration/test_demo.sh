#!/usr/bin/env bash
# `make demo` must keep telling the whole story: run it and check that it
# shows the simplified move (the move-out signed on the portal pending, the
# move-in at Osaka's window done) and ends with the accepted application
# after renewal the log-in, the agency's look-up he sees, and the seal certificate
# from the kiosk.
# Uses pcscd like the card tests (pcsc_lib.sh).
#
# usage: test_demo.sh PATH/TO/jpki
set -euo pipefail
here=$(dirname "$(realpath "$0")")
out=$(mktemp /tmp/jpki-demo-out-XXXXXX)
trap 'rm -f "$out"' EXIT
bash "$here/../../scripts/demo.sh" "$1" >"$out" 2>&1 || {
	cat "$out" >&2
	echo "FAIL: make demo failed" >&2
	exit 1
}
grep -q "10. He signs with the new certificate; the agency accepts" "$out" &&
	grep -q "move [0-9]* is pending" "$out" &&
	grep -A2 "7. At Osaka's window he moves in" "$out" | grep -q "^   done: moved in" &&
	grep -Eq "accepted at receipt \(OCSP good at 2026-[0-9T:-]+Z\), revoked since 2026-[0-9T:-]+Z \(affiliationChanged\)" "$out" &&
	grep -q "evidence kept in receipt-1" "$out" &&
	grep -A2 "the agency accepts" "$out" | grep -q "accepted: signed" &&
	grep -q "logged in at" "$out" &&
	grep -q "pension  pension.benefit" "$out" &&
	grep -q "印 鑑 登 録 証 明 書" "$out" &&
	grep -qE "K[0-9A-F]{16}: 有効 \(valid\)" "$out" || {
	cat "$out" >&2
	echo "FAIL: the demo did not end as the story does" >&2
	exit 1
}
# (the demo sources pcsc_lib.sh: the name here puts this test in CTest's
# pcscd resource lock with the other card tests)
echo "ok - make demo: moved across municipalities, accepted at receipt and revoked since, accepted after renewal, logged in, the agency's look-up disclosed, the seal certificate checked by its serial"
