#!/bin/sh
# A pinentry for the browser bridge's tests (tests/integration/
# test_bridge_host.sh, test_bridge_browser.sh): it speaks the Assuan
# protocol as GnuPG's pinentry does and answers GETPIN from files in
# $JPKI_TEST_PINENTRY_DIR: "sign" for the signing PIN's prompt, "auth" for
# the authentication PIN's; a file holding "cancel" (or none) cancels, one
# holding "timeout" answers as a prompt nobody answered does. CONFIRM is
# allowed unless the file "confirm" holds something else than "yes". Every
# description it was asked to show is appended to "log" there.
dir=${JPKI_TEST_PINENTRY_DIR:?}
which=auth
echo "OK Pleased to meet you"
while IFS= read -r line; do
	case "$line" in
	SETDESC\ *)
		printf '%s\n' "${line#SETDESC }" >>"$dir/log"
		echo OK
		;;
	SETPROMPT\ Signing*)
		which=sign
		echo OK
		;;
	SETPROMPT\ *)
		which=auth
		echo OK
		;;
	GETPIN)
		pin=$(cat "$dir/$which" 2>/dev/null || echo cancel)
		if [ "$pin" = cancel ]; then
			echo "ERR 83886179 Operation cancelled <Pinentry>"
		elif [ "$pin" = timeout ]; then
			echo "ERR 83886142 Timeout <Pinentry>"
		else
			echo "D $pin"
			echo OK
		fi
		;;
	CONFIRM)
		if [ "$(cat "$dir/confirm" 2>/dev/null || echo yes)" = yes ]; then
			echo OK
		else
			echo "ERR 83886179 Operation cancelled <Pinentry>"
		fi
		;;
	BYE)
		echo OK
		exit 0
		;;
	*) echo OK ;;
	esac
done
