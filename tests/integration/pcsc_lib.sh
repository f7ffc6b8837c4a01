# Sourced by the integration tests that put a virtual card behind pcscd.
# Provides: pcsc_start (uses the running pcscd, or starts one and owns it),
# card_serve FILE [PORT] (jpki card serve in the background),
# card_kill (SIGKILL), wait_card, and cleanup of everything started, by PID.
#
# Needs: $JPKI, $work, and the functions fail / pass of the caller.

VPCD_PORT=${VPCD_PORT:-35963}
pcscd_pid=""
card_pid=""
pcscd_owned=0

pcsc_cleanup() {
	pcsc_cleanup_owned
	# unlocking the open file description releases it for the children
	# that inherited it too (a card server or pcscd left behind)
	[ -n "${pcsc_lock_fd:-}" ] && flock -u "$pcsc_lock_fd" 2>/dev/null || true
}

pcsc_cleanup_owned() {
	if [ -n "$card_pid" ]; then
		kill "$card_pid" 2>/dev/null || true
		wait "$card_pid" 2>/dev/null || true
	fi
	if [ -n "$pcscd_pid" ]; then
		kill "$pcscd_pid" 2>/dev/null || true
		wait "$pcscd_pid" 2>/dev/null || true
	fi
}

# The vpcd driver binds its readers' ports (VPCD_PORT and the next) when
# pcscd starts and gives up on a port in use: then pcscd has no vpcd
# reader at all (its SO_REUSEADDR does not help against another program's
# socket in TIME_WAIT, which did not set it). The other tests' many connections walk
# through the ephemeral range, so a client's socket on that port (or one in
# TIME_WAIT, for a minute) was enough to fail the next pcscd test.
# vpcd_ports_reserve keeps the ports out of the ephemeral range (root);
# vpcd_ports_wait waits until nothing holds them.
vpcd_ports_reserve() {
	local f=/proc/sys/net/ipv4/ip_local_reserved_ports range cur
	range="$VPCD_PORT-$((VPCD_PORT + 1))"
	[ -w "$f" ] || return 0
	cur=$(cat "$f")
	case ",$cur," in *",$range,"*) return 0 ;; esac
	echo "${cur:+$cur,}$range" >"$f" 2>/dev/null || true
}

vpcd_ports_wait() {
	for _ in $(seq 70); do
		python3 - "$VPCD_PORT" <<'PY' && return 0
import socket, sys
port = int(sys.argv[1])
for p in (port, port + 1):
    s = socket.socket()
    # as vpcd binds: its own sockets in TIME_WAIT (a pcscd restarted) do
    # not stop it, another program's do
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("", p))
    except OSError:
        sys.exit(1)
    finally:
        s.close()
PY
		sleep 1
	done
	fail "port $VPCD_PORT or $((VPCD_PORT + 1)) stays in use: vpcd cannot listen"
}

# Starts pcscd in the foreground of a background job unless one runs
# already. A pcscd we did not start is used as it is and never stopped.
pcsc_start() {
	# One reader for the whole machine: tests of other build trees (or
	# other ctest runs) wait here instead of sharing pcscd's vpcd reader.
	# ctest's RESOURCE_LOCK covers one run only.
	if [ -z "${pcsc_lock_fd:-}" ]; then
		exec {pcsc_lock_fd}>/tmp/jpki-pcscd.lock
		flock -w 1200 "$pcsc_lock_fd" || fail "another test held the pcscd lock for 20 minutes"
	fi
	command -v pcscd >/dev/null || fail "pcscd is not installed (scripts/setup.sh installs it)"
	[ -e /usr/lib/pcsc/drivers/serial/libifdvpcd.so ] ||
		fail "vsmartcard-vpcd is not installed"
	if pgrep -x pcscd >/dev/null; then
		return 0
	fi
	[ "$(id -u)" -eq 0 ] || fail "no pcscd runs and only root can start one"
	vpcd_ports_reserve
	vpcd_ports_wait
	pcscd --foreground >"$work/pcscd.log" 2>&1 &
	pcscd_pid=$!
	pcscd_owned=1
	for _ in $(seq 50); do
		[ -S /run/pcscd/pcscd.comm ] && opensc-tool -l >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "pcscd did not start: $(cat "$work/pcscd.log")"
}

# Stops the pcscd we started and starts it again (the card must come back).
pcsc_restart() {
	[ "$pcscd_owned" -eq 1 ] || return 1
	kill "$pcscd_pid"
	wait "$pcscd_pid" 2>/dev/null || true
	pcscd_pid=""
	pcscd_owned=0
	pcsc_start
}

card_serve() {
	"$JPKI" --log info card serve "$1" --vpcd "127.0.0.1:$VPCD_PORT" \
		>>"$work/card-serve.log" 2>&1 &
	card_pid=$!
	wait_card
}

card_kill() {
	kill -KILL "$card_pid"
	wait "$card_pid" 2>/dev/null || true
	card_pid=""
}

# Waits until the vpcd reader of our port reports a card.
wait_card() {
	local slot=$((VPCD_PORT - 35963))
	for _ in $(seq 100); do
		if opensc-tool -l 2>/dev/null | grep -q "Yes .*Virtual PCD 00 0$slot"; then
			return 0
		fi
		sleep 0.1
	done
	fail "the card did not appear in the vpcd reader: $(tail -5 "$work/card-serve.log")"
}

# The vpcd reader index as opensc-tool counts readers.
reader_index() {
	opensc-tool -l 2>/dev/null | awk -v n="Virtual PCD 00 0$((VPCD_PORT - 35963))" \
		'index($0, n) { print $1; exit }'
}
