#!/usr/bin/env bash
# Connection limits (docs/SECURITY.md, "Network limits"): per address, the
# header and body deadlines, and OCSP on a listener of its own while other
# clients hold every connection of the main one (conn_limits.py).
#
# usage: test_conn_limits.sh PATH/TO/jpki
set -euo pipefail
here=$(dirname "$(realpath "$0")")
. "$here/lib.sh"
lib_init conn "$1"
port=$(free_port)
oport=$(free_port)
ocsp_request_fixture "$port"
serve_log_level=error serve_bg "http://127.0.0.1:$port" --roles ocsp,repository \
	--listen "127.0.0.1:$port" --ocsp-listen "127.0.0.1:$oport" \
	--max-connections 64 --per-address 16 --header-timeout 3 \
	--body-timeout 3
python3 "$here/conn_limits.py" "$port" "$oport" req.der
kill -0 "$server_pid" || { echo "FAIL: the server died" >&2; exit 1; }
