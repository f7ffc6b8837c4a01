#!/usr/bin/env bash
# The OCSP responder keeps serving while clients connect and send nothing,
# send one byte a second, or send an oversized body (`openssl ocsp`, the
# reference, freezes at the first of these).
#
# usage: test_slow_clients.sh PATH/TO/jpki
set -euo pipefail
here=$(dirname "$(realpath "$0")")
. "$here/lib.sh"
lib_init slow "$1"
port=$(free_port)
ocsp_request_fixture "$port"
serve_log_level=error serve_bg "http://127.0.0.1:$port" --roles ocsp \
	--listen "127.0.0.1:$port"
python3 "$here/slow_clients.py" "$port" req.der
kill -0 "$server_pid" || { echo "FAIL: the server died" >&2; exit 1; }
