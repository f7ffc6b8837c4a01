#!/usr/bin/env bash
# Scale-out of the OCSP responder: three `jpki serve --roles ocsp` processes
# on one private PostgreSQL cluster answer alike, and a revocation made by a
# separate `jpki ca revoke` process is visible at every one of them within
# the stated bound. The design gives the bound: a responder reuses an
# answer only while the CA's status counter (a trigger bumps it in every
# status change's transaction) is the one it was answered under, read
# after the request came (src/ca/stamp.c), so the first request after the
# commit sees it: a request answered many times at each responder is
# answered "on hold", then "good" again, at the first request after a hold
# and a release by other processes; the revocations below are asserted
# under 1 s and the figure printed. Under load, no responder answers
# "good" again once it has answered "revoked". Also: two processes
# migrating an empty database at once both succeed and the schema is made
# once.
#
# usage: test_ocsp_scaleout.sh PATH/TO/jpki
# Skipped (77) without PostgreSQL's server binaries or Python's
# cryptography package (for reading answers in the load phase).
set -euo pipefail

here=$(dirname "$(realpath "$0")")
BOUND_MS=1000

. "$(dirname "$(realpath "$0")")/lib.sh"
. "$(dirname "$(realpath "$0")")/pg_lib.sh"
pg_find_bin || exit 77
watch_python

lib_init scale "$1"
pg_own "$work" || exit 77
cleanup_more() { pg_stop "$work/pg"; }
fail_more() { serve_errs; }

port=$(free_port)
pg_start "$port"
psql() { pg_psql "$@"; }
pg="postgres://postgres@127.0.0.1:$port"
pass "a private PostgreSQL on 127.0.0.1:$port"
cd "$work"

# --- Two processes migrating one empty database at once -------------------
# Each round a fresh database: both `ca list` runs create the schema or find
# it made, neither fails on the catalog; both `ca init` runs race, exactly
# one makes the CAs and the other is refused as "already exist".
for round in 1 2 3 4 5; do
	psql -c "CREATE DATABASE race$round" || fail "CREATE DATABASE race$round"
	s="$pg/race$round"
	"$JPKI" --data "$work/r$round-a" --store "$s" --log warn ca list \
		>"list-a.out" 2>"list-a.err" &
	a=$!
	"$JPKI" --data "$work/r$round-b" --store "$s" --log warn ca list \
		>"list-b.out" 2>"list-b.err" &
	b=$!
	ra=0 rb=0
	wait $a || ra=$?
	wait $b || rb=$?
	[ "$ra" = "$rb" ] ||
		fail "round $round: two ca list exit $ra and $rb: $(cat list-a.err list-b.err)"
	grep -qi "postgres" list-a.err list-b.err &&
		fail "round $round: a store error: $(cat list-a.err list-b.err)"
	n=$(psql -d "race$round" -c "SELECT count(*) FROM jpki_schema WHERE module = 'ca'")
	[ "$n" = 1 ] || fail "round $round: $n schema rows for ca"

	psql -c "CREATE DATABASE init$round" || fail "CREATE DATABASE init$round"
	s="$pg/init$round"
	"$JPKI" --data "$work/i$round-a" --store "$s" --log warn ca init \
		--public-url http://127.0.0.1:1 >/dev/null 2>"init-a.err" &
	a=$!
	"$JPKI" --data "$work/i$round-b" --store "$s" --log warn ca init \
		--public-url http://127.0.0.1:1 >/dev/null 2>"init-b.err" &
	b=$!
	ra=0 rb=0
	wait $a || ra=$?
	wait $b || rb=$?
	if [ "$ra" = 0 ] && [ "$rb" != 0 ]; then
		loser=init-b.err
	elif [ "$rb" = 0 ] && [ "$ra" != 0 ]; then
		loser=init-a.err
	else
		fail "round $round: two ca init exit $ra and $rb: $(cat init-a.err init-b.err)"
	fi
	grep -q "already exist" "$loser" ||
		fail "round $round: the second init: $(cat "$loser")"
	n=$(psql -d "init$round" -c "SELECT count(*) FROM ca_authority")
	[ "$n" = 2 ] || fail "round $round: $n authorities"
done
pass "two processes on an empty database: both migrate, the schema once, one ca init wins"

# --- One CA, three responders ---------------------------------------------
psql -c "CREATE DATABASE jpki" || fail "CREATE DATABASE jpki"
store="$pg/jpki"
jpki() { "$JPKI" --data "$work/var" --store "$store" --log warn "$@"; }
ocsp_certs 3
pass "ca init and three certificates in PostgreSQL"

urls=()
for i in 1 2 3; do
	p=$(free_port)
	"$JPKI" --data "$work/var" --store "$store" --log warn serve \
		--roles ocsp --listen "127.0.0.1:$p" >"serve$i.out" 2>"serve$i.err" &
	pids+=($!)
	urls+=("http://127.0.0.1:$p/ocsp/sign")
done
for i in 0 1 2; do
	for _ in $(seq 1 100); do
		curl -sf -o /dev/null --data-binary @ocsp1.der \
			-H 'Content-Type: application/ocsp-request' "${urls[$i]}" && break
		sleep 0.05
	done
	curl -sf -o /dev/null --data-binary @ocsp1.der \
		-H 'Content-Type: application/ocsp-request' "${urls[$i]}" ||
		fail "responder $((i + 1)) did not start: $(cat "serve$((i + 1)).err")"
done
pass "three jpki serve --roles ocsp on one store"

# What of an answer must be the same at every responder: verification, the
# status and reason, the responder's id, the serial (thisUpdate is each
# responder's own signing time).
answer() { # URL N
	openssl ocsp -issuer sign-ca.pem -cert "cert$2.pem" -CAfile sign-ca.pem \
		-url "$1" -no_nonce -resp_text 2>&1 |
		grep -E "Response verify|Responder Id|Serial Number|Cert Status|Revocation Reason|cert$2.pem:|Reason:"
}
for n in 1 2 3; do
	first=$(answer "${urls[0]}" "$n")
	grep -q <<<"$first" "Response verify OK" || fail "verify: $first"
	grep -q <<<"$first" "cert$n.pem: good" || fail "not good: $first"
	for i in 1 2; do
		other=$(answer "${urls[$i]}" "$n")
		[ "$other" = "$first" ] ||
			fail "responder $((i + 1)) answers otherwise for cert$n: $other // $first"
	done
done
pass "the three answer good alike (status, responder id, serial) for three serials"

# --- The next request after a commit, with answers kept -------------------
for u in "${urls[@]}"; do
	for _ in $(seq 1 20); do
		[ "$(ocsp_status "$u" 3)" = good ] || fail "cert3 not good at $u"
	done
done
hold_release_seen 3 "${serials[2]}" "${urls[@]}"
pass "a request answered twenty times at each: a hold, then its release, by other processes, each seen at the next request"

# --- Waiting for the status counter holds no worker -----------------------
# While another session holds ca_status_stamp locked, 40 requests (more
# than a responder's workers, at most 32) wait for the counter's read with
# their connections suspended (src/http/ocsp_wait.c). The same responder
# still answers /healthz at once, none of the 40 is answered before the
# lock goes (no answer without a read that started after the request), and
# each is answered good after.
health=${urls[0]%/ocsp/sign}/healthz
psql -d jpki -c "BEGIN; LOCK TABLE ca_status_stamp IN ACCESS EXCLUSIVE MODE;
	SELECT pg_sleep(5); COMMIT;" >/dev/null &
locker=$!
for _ in $(seq 1 100); do
	[ "$(psql -d jpki -c "SELECT count(*) FROM pg_locks l
		JOIN pg_class c ON c.oid = l.relation
		WHERE c.relname = 'ca_status_stamp' AND l.granted
		AND l.mode = 'AccessExclusiveLock'")" = 1 ] && break
	sleep 0.05
done
waiting=()
for i in $(seq 1 40); do
	curl -s --max-time 30 --data-binary @ocsp3.der \
		-H 'Content-Type: application/ocsp-request' "${urls[0]}" \
		-o "wait$i.der" &
	waiting+=($!)
done
sleep 1
t0=$(date +%s%N)
curl -sf --max-time 2 "$health" >/dev/null ||
	fail "/healthz not answered while 40 OCSP requests wait for the status counter"
ms=$((($(date +%s%N) - t0) / 1000000))
early=0
for i in $(seq 1 40); do [ -s "wait$i.der" ] && early=$((early + 1)); done
kill -0 "$locker" 2>/dev/null || fail "the lock ended before the checks"
[ "$early" = 0 ] || fail "$early of 40 answered while the status counter was locked"
wait "$locker" || fail "the locking session failed"
for p in "${waiting[@]}"; do wait "$p" || fail "a waiting request failed"; done
for i in $(seq 1 40); do
	s=$(openssl ocsp -respin "wait$i.der" -issuer sign-ca.pem -CAfile sign-ca.pem \
		-cert cert3.pem 2>/dev/null | sed -n 's/^cert3.pem: //p')
	[ "$s" = good ] || fail "waiting request $i answered '$s'"
done
pass "40 requests waiting for the status counter: /healthz answered meanwhile in $ms ms, none before the lock went, all 40 good after"
# The same wait for a GET (RFC 6960 A.1), whose request the handler decodes
# again when the connection is resumed.
get=$(base64 -w0 ocsp3.der | python3 -c 'import sys, urllib.parse
print(urllib.parse.quote(sys.stdin.read(), safe=""))')
curl -sf "${urls[0]}/$get" -o get.der || fail "no answer to a GET"
s=$(openssl ocsp -respin get.der -issuer sign-ca.pem -CAfile sign-ca.pem \
	-cert cert3.pem 2>/dev/null | sed -n 's/^cert3.pem: //p')
[ "$s" = good ] || fail "a GET answered '$s'"
pass "a GET waits for the counter the same way and is answered good"

# --- Visibility: revoke through a separate process -----------------------
# One kept-alive client per responder asks for cert1 without pause; the
# delay is from `jpki ca revoke` returning to each one's first "revoked".
check_watch() { # WATCH-OUTPUT REASON
	sed 's/^/# /' "$1"
	python3 - "$(tail -1 "$1")" "$2" "$BOUND_MS" <<'EOF'
import json, sys
s = json.loads(sys.argv[1])
assert s["monotonic"], "a responder answered good after revoked"
assert s["reasons"] == [sys.argv[2]], s["reasons"]
assert s["delay_ms"] < float(sys.argv[3]), s["delay_ms"]
EOF
}
"$watch_py" "$here/ocsp_watch.py" ocsp1.der 0.2 1 "${urls[@]}" -- \
	"$JPKI" --data "$work/var" --store "$store" --log warn \
	ca revoke "${serials[0]}" --reason keyCompromise >watch1.out 2>&1 ||
	fail "visibility: $(cat watch1.out)"
check_watch watch1.out key_compromise || fail "visibility: $(tail -1 watch1.out)"
pass "a revocation by another process is visible at every responder within $BOUND_MS ms ($(tail -1 watch1.out))"
first=$(answer "${urls[0]}" 1)
grep -q <<<"$first" "cert1.pem: revoked" || fail "not revoked: $first"
grep -q <<<"$first" "Reason: keyCompromise" || fail "no reason: $first"
for i in 1 2; do
	other=$(answer "${urls[$i]}" 1)
	[ "$other" = "$first" ] ||
		fail "responder $((i + 1)) answers otherwise for cert1: $other // $first"
done
pass "openssl ocsp: revoked (keyCompromise) alike at the three"

# --- Under load: monotonic, and the delay --------------------------------
# Two kept-alive clients per responder ask for cert2 without pause; wrk
# adds GET load on cert3 at the first responder when installed.
if command -v wrk >/dev/null; then
	b64=$(base64 -w0 ocsp3.der | python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.stdin.read(), safe=""))')
	wrk -t1 -c4 -d30s "${urls[0]}/$b64" >wrk.out 2>&1 &
	wrk_pid=$!
	pids+=($wrk_pid)
fi
"$watch_py" "$here/ocsp_watch.py" ocsp2.der 0.5 2 "${urls[@]}" -- \
	"$JPKI" --data "$work/var" --store "$store" --log warn \
	ca revoke "${serials[1]}" --reason affiliationChanged >watch.out 2>&1 ||
	fail "under load: $(cat watch.out)"
if [ -n "${wrk_pid:-}" ]; then
	kill "$wrk_pid" 2>/dev/null || true
	wait "$wrk_pid" 2>/dev/null || true
fi
check_watch watch.out affiliation_changed ||
	fail "under load: $(tail -1 watch.out)"
pass "under load: revoked everywhere within $BOUND_MS ms, never good again after revoked ($(tail -1 watch.out))"

# cert3 stayed good everywhere
for i in 0 1 2; do
	answer "${urls[$i]}" 3 | grep -q "cert3.pem: good" ||
		fail "cert3 is not good at responder $((i + 1))"
done
pass "the other certificate is still good at every responder"
