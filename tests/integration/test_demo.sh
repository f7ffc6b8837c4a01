#!/usr/bin/env bash
# `make demo` must keep telling the whole story: run it and check that it
# ends with the accepted application after renewal and the log-in.
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
grep -q "9. He signs with the new certificate; the agency accepts" "$out" &&
	grep -A2 "the agency accepts" "$out" | grep -q "accepted: signed" &&
	grep -q "logged in at" "$out" &&
	grep -q "印 鑑 登 録 証 明 書" "$out" &&
	grep -qE "K[0-9A-F]{16}: 有効 \(valid\)" "$out" || {
	cat "$out" >&2
	echo "FAIL: the demo did not end as the story does" >&2
	exit 1
}
# (the demo sources pcsc_lib.sh: the name here puts this test in CTest's
# pcscd resource lock with the other card tests)
echo "ok - make demo: accepted after renewal, logged in at the kiosk, the seal certificate checked by its serial"
