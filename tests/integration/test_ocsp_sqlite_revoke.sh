#!/usr/bin/env bash
# "Revoked at the next request after its commit" on SQLite, with the
# responders' answers by request bytes (src/ca/ocsp.c): two `jpki serve
# --roles ocsp` processes on one SQLite store have answered the same request
# many times (kept in memory, not read again while nothing is committed);
# a separate `jpki ca revoke` process commits a revocation, and
#   - the first request each responder gets after the command returned is
#     answered "revoked" (a plain curl, one request each);
#   - under load from kept-alive clients (ocsp_watch.py), no responder
#     answers "good" to a request sent after it answered "revoked", and
#     every one says revoked within the bound, measured from the command's
#     return;
#   - an unrelated certificate stays good, and a hold then release by other
#     processes is answered each time at the next request.
#
# usage: test_ocsp_sqlite_revoke.sh PATH/TO/jpki
# Skipped (77) without Python's cryptography package (ocsp_watch.py reads
# the answers with it).
set -euo pipefail

here=$(dirname "$(realpath "$0")")
BOUND_MS=1000
. "$here/lib.sh"

watch_python

lib_init ocspsq "$1"
fail_more() { serve_errs; }

ocsp_certs 3
jpki ca cert auth >auth-ca.pem
pass "a CA and three signing certificates in SQLite"

urls=()
for i in 1 2; do
	p=$(free_port)
	"$JPKI" --data "$work/var" --log warn serve --roles ocsp \
		--listen "127.0.0.1:$p" >"serve$i.out" 2>"serve$i.err" &
	pids+=($!)
	urls+=("http://127.0.0.1:$p/ocsp/sign")
	wait_healthz "http://127.0.0.1:$p" || fail "responder $i did not start"
done

# the same request answered many times at both: kept by request bytes
for u in "${urls[@]}"; do
	for _ in $(seq 1 20); do
		[ "$(ocsp_status "$u" 1)" = good ] || fail "cert1 not good at $u"
	done
done
pass "two responders answer the same request good, twenty times each"

# --- the next request after the commit ------------------------------------
jpki ca revoke "${serials[0]}" --reason keyCompromise >/dev/null
for u in "${urls[@]}"; do
	s=$(ocsp_status "$u" 1)
	[ "$s" = revoked ] || fail "the first request after the revocation at $u: $s"
done
pass "the first request after 'jpki ca revoke' returned: revoked at both"
for u in "${urls[@]}"; do
	[ "$(ocsp_status "$u" 3)" = good ] || fail "cert3 is not good at $u"
done
pass "an unrelated certificate is still good"

# --- hold and release by other processes ----------------------------------
for u in "${urls[@]}"; do ocsp_status "$u" 3 >/dev/null; done
hold_release_seen 3 "${serials[2]}" "${urls[@]}"
pass "a hold and its release by other processes: each seen at the next request"

# --- under load ------------------------------------------------------------
"$watch_py" "$here/ocsp_watch.py" ocsp2.der 0.5 2 "${urls[@]}" -- \
	"$JPKI" --data "$work/var" --log warn \
	ca revoke "${serials[1]}" --reason affiliationChanged >watch.out 2>&1 ||
	fail "under load: $(cat watch.out)"
sed 's/^/# /' watch.out
python3 - "$(tail -1 watch.out)" "$BOUND_MS" <<'EOF' || fail "under load: $(tail -1 watch.out)"
import json, sys
s = json.loads(sys.argv[1])
assert s["monotonic"], "a responder answered good after revoked"
assert s["reasons"] == ["affiliation_changed"], s["reasons"]
assert s["delay_ms"] < float(sys.argv[2]), s["delay_ms"]
EOF
pass "under load: revoked at both within $BOUND_MS ms of the command's return, never good after revoked ($(tail -1 watch.out))"
