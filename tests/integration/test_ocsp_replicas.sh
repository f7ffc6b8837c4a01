#!/usr/bin/env bash
# OCSP and the repository on PostgreSQL hot standbys (docs/PERFORMANCE.md,
# "Replicas"): one primary and two streaming-replication standbys
# (pg_basebackup -R), all started here on 127.0.0.1 and stopped by PID; a
# `jpki serve --roles ocsp,repository --store PRIMARY --read-store STANDBY`
# on each standby. Shown: the two answer alike; a revocation made on the
# primary (`jpki ca revoke`) is answered "revoked" by both within the bound
# (the delay printed), also under load and never "good" again after; each
# names both servers and libpq's target_session_attrs picks; with
# one standby's replay paused (pg_wal_replay_pause), its responder answers
# tryLater once past the bound (the time printed), /healthz, CRLs and the
# linking look-up (/link/) 503,
# a revocation (final) is still answered but a hold (which may be released)
# is not, and a revocation made meanwhile is never answered "good" there;
# after replay resumes, "revoked" within the bound.
#
# usage: test_ocsp_replicas.sh PATH/TO/jpki
# Skipped (77) without PostgreSQL's server binaries or Python's
# cryptography package.
set -euo pipefail

here=$(dirname "$(realpath "$0")")
BOUND_MS=2000

. "$here/lib.sh"
. "$here/pg_lib.sh"
pg_find_bin || exit 77
if ! python3 -c 'from cryptography.x509 import ocsp' 2>/dev/null; then
	echo "SKIP: no python3 cryptography (apt-get install python3-cryptography)"
	exit 77
fi

lib_init replicas "$1"
pg_own "$work" || exit 77
cleanup_more() {
	[ -n "${log_pid:-}" ] && touch "$work/stop" && wait "$log_pid" 2>/dev/null
	pg_stop "$work/s2"
	pg_stop "$work/s1"
	pg_stop "$work/pg"
}
fail_more() { serve_errs; }

port=$(free_port)
pg_start "$port"
pg="postgres://postgres@127.0.0.1:$port"
psql() { pg_psql "$@"; }
psql -c "CREATE DATABASE jpki" || fail "CREATE DATABASE jpki"
store="$pg/jpki"
pass "a primary on 127.0.0.1:$port"

# --- Two standbys: a base backup each, streaming from the primary ----------
sports=()
for s in s1 s2; do
	sp=$(free_port)
	as_pg "$pgbin/pg_basebackup" -h 127.0.0.1 -p "$port" -U postgres \
		-D "$work/$s" -R -X stream -c fast >"$work/$s-backup.log" 2>&1 ||
		fail "pg_basebackup $s: $(cat "$work/$s-backup.log")"
	as_pg "$pgbin/pg_ctl" -D "$work/$s" -l "$work/$s.log" -w -t 60 \
		-o "-p $sp -k $work -c listen_addresses=127.0.0.1" start >/dev/null ||
		fail "standby $s: $(cat "$work/$s.log")"
	sports+=("$sp")
done
spsql() { # PORT ARGS...
	local p=$1
	shift
	as_pg "$pgbin/psql" -h 127.0.0.1 -p "$p" -U postgres -qAt "$@"
}
for sp in "${sports[@]}"; do
	[ "$(spsql "$sp" -c 'SELECT pg_is_in_recovery()')" = t ] ||
		fail "127.0.0.1:$sp is not a standby"
done
n=$(psql -c "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")
[ "$n" = 2 ] || fail "$n standbys streaming"
pass "two hot standbys streaming from it (127.0.0.1:${sports[0]}, :${sports[1]})"

# --- A CA and four certificates, on the primary ---------------------------
jpki() { "$JPKI" --data "$work/var" --store "$store" --log warn "$@"; }
ocsp_certs 4
pass "ca init and four certificates on the primary"

# A read store takes no writes, whatever is sent to it; and --max-lag-ms
# goes with --read-store.
"$JPKI" --data "$work/var" --store "$store" serve --max-lag-ms 1000 \
	>/dev/null 2>bad.err && fail "--max-lag-ms without --read-store was taken"
grep -q "read-store" bad.err || fail "--max-lag-ms alone: $(cat bad.err)"

# --- A responder on each standby ------------------------------------------
# Each names both servers and lets libpq's target_session_attrs choose: the
# writable one for --store, the standby for --read-store.
urls=() bases=()
for i in 0 1; do
	p=$(free_port)
	hosts="127.0.0.1:${sports[$i]},127.0.0.1:$port"
	"$JPKI" --data "$work/var" --log info \
		--store "postgres://postgres@$hosts/jpki?target_session_attrs=read-write" \
		serve --roles ocsp,repository --listen "127.0.0.1:$p" \
		--read-store "postgres://postgres@$hosts/jpki?target_session_attrs=standby" \
		--max-lag-ms "$BOUND_MS" >"serve$i.out" 2>"serve$i.err" &
	pids+=($!)
	bases+=("http://127.0.0.1:$p")
	urls+=("http://127.0.0.1:$p/ocsp/sign")
done
for i in 0 1; do
	for _ in $(seq 1 200); do
		curl -sf -o /dev/null "${bases[$i]}/healthz" && break
		sleep 0.05
	done
	curl -sf -o /dev/null "${bases[$i]}/healthz" ||
		fail "responder $((i + 1)) is not up: $(cat "serve$i.err")"
done
grep -q "replica: .* ms behind" serve0.err ||
	fail "no replica line: $(cat serve0.err)"
pass "a responder on each standby (target_session_attrs read-write and standby among two hosts); $(grep -o 'replica: [0-9]* ms behind' serve0.err)"

answer() { # URL N
	openssl ocsp -issuer sign-ca.pem -cert "cert$2.pem" -CAfile sign-ca.pem \
		-url "$1" -no_nonce -resp_text 2>&1 |
		grep -E "Response verify|Responder Id|Serial Number|Cert Status|Revocation Reason|cert$2.pem:|Reason:|Responder Error"
}
for n in 1 2 3 4; do
	first=$(answer "${urls[0]}" "$n")
	grep -q <<<"$first" "Response verify OK" || fail "verify: $first"
	grep -q <<<"$first" "cert$n.pem: good" || fail "not good: $first"
	other=$(answer "${urls[1]}" "$n")
	[ "$other" = "$first" ] ||
		fail "the responders answer otherwise for cert$n: $other // $first"
done
curl -sf "${bases[1]}/crl/sign.crl" -o sign.crl || fail "no CRL from responder 2"
openssl crl -inform DER -in sign.crl -noout -CAfile sign-ca.pem 2>&1 |
	grep -q "verify OK" || fail "the replica's CRL does not verify"
keyid=$(openssl x509 -in sign-ca.pem -noout -ext subjectKeyIdentifier |
	tail -1 | tr -d ' :')
for i in 0 1; do
	code=$(curl -s -o "link$i.p7m" -w '%{http_code}' \
		"${bases[$i]}/link/$keyid/${serials[0]}")
	[ "$code" = 200 ] || fail "/link/ from responder $((i + 1)): $code"
	openssl cms -verify -inform DER -in "link$i.p7m" -binary -noverify \
		2>/dev/null | grep -q "\"result\":\"current\"" ||
		fail "/link/ from responder $((i + 1)) is no signed answer"
done
pass "both answer good alike for four serials; the CRL and the linking look-up (/link/) from a standby"

# --- A revocation on the primary, watched on both standbys ----------------
# ocsp_watch.py: one kept-alive client per responder; the delay from the
# command's return to each one's first "revoked".
watch() { # WATCH-OUTPUT REASON
	sed 's/^/# /' "$1"
	python3 - "$(tail -1 "$1")" "$2" "$BOUND_MS" <<'EOF'
import json, sys
s = json.loads(sys.argv[1])
assert s["monotonic"], "a responder answered good after revoked"
assert s["reasons"] == [sys.argv[2]], s["reasons"]
assert s["delay_ms"] < float(sys.argv[3]), s["delay_ms"]
EOF
}
python3 "$here/ocsp_watch.py" ocsp1.der 0.2 1 "${urls[@]}" -- \
	"$JPKI" --data "$work/var" --store "$store" --log warn \
	ca revoke "${serials[0]}" --reason keyCompromise >watch1.out 2>&1 ||
	fail "visibility: $(cat watch1.out)"
watch watch1.out key_compromise || fail "visibility: $(tail -1 watch1.out)"
pass "revoked on the primary, answered revoked on both standbys within $BOUND_MS ms ($(tail -1 watch1.out))"
for n in 1 2; do
	a=$(answer "${urls[0]}" 1)
	b=$(answer "${urls[1]}" 1)
	[ "$a" = "$b" ] || fail "after the revocation: $a // $b"
done
grep -q "Reason: keyCompromise" <<<"$a" || fail "no reason: $a"

# Under load: two kept-alive clients per responder, another revocation.
python3 "$here/ocsp_watch.py" ocsp2.der 0.5 2 "${urls[@]}" -- \
	"$JPKI" --data "$work/var" --store "$store" --log warn \
	ca revoke "${serials[1]}" --reason affiliationChanged >watch2.out 2>&1 ||
	fail "under load: $(cat watch2.out)"
watch watch2.out affiliation_changed || fail "under load: $(tail -1 watch2.out)"
pass "under load: revoked on both within $BOUND_MS ms, never good after revoked ($(tail -1 watch2.out))"

jpki ca hold "${serials[3]}" >/dev/null
for _ in $(seq 1 100); do
	answer "${urls[1]}" 4 | grep -q "cert4.pem: revoked" && break
	sleep 0.05
done
answer "${urls[1]}" 4 | grep -q "Reason: certificateHold" ||
	fail "cert4 not on hold at responder 2: $(answer "${urls[1]}" 4)"

# --- One standby stops replaying --------------------------------------------
# Both responders asked for cert3 without pause from here on, every answer
# logged with its wall time (ocsp_log.py).
python3 "$here/ocsp_log.py" ocsp3.der "$work/stop" 1 "${urls[@]}" >log3.jsonl &
log_pid=$!
sleep 0.5
now() { date +%s.%N; }
spsql "${sports[1]}" -c "SELECT pg_wal_replay_pause()" >/dev/null 2>pause.err ||
	fail "pg_wal_replay_pause: $(cat pause.err)"
# The pause takes effect at the next WAL record, after the call returns:
# the time it is seen paused is the latest it can have happened, so no
# heartbeat replayed after it (the bound is measured from there).
for _ in $(seq 1 200); do
	[ "$(spsql "${sports[1]}" -Atc "SELECT pg_get_wal_replay_pause_state()")" = paused ] && break
	sleep 0.01
done
[ "$(spsql "${sports[1]}" -Atc "SELECT pg_get_wal_replay_pause_state()")" = paused ] ||
	fail "standby 2 never paused its replay"
t_pause=$(now)
for _ in $(seq 1 100); do
	grep -q '"url": 1.*tryLater' log3.jsonl && break
	sleep 0.05
done
grep -q '"url": 1.*tryLater' log3.jsonl ||
	fail "responder 2 never answered tryLater with its standby paused"
code=$(curl -s -o health.txt -w '%{http_code}' "${bases[1]}/healthz")
[ "$code" = 503 ] || fail "/healthz of the stale responder: $code"
grep -q "ms behind, past the bound of $BOUND_MS ms" health.txt ||
	fail "/healthz of the stale responder says: $(cat health.txt)"
code=$(curl -s -o /dev/null -w '%{http_code}' "${bases[1]}/crl/sign.crl")
[ "$code" = 503 ] || fail "a CRL from the stale responder: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "${bases[0]}/healthz")
[ "$code" = 200 ] || fail "/healthz of the fresh responder: $code"
# the linking look-up reads the standby as OCSP does (not the primary)
code=$(curl -s -o link.txt -w '%{http_code}' "${bases[1]}/link/$keyid/${serials[0]}")
[ "$code" = 503 ] || fail "/link/ from the stale responder: $code $(cat link.txt)"
code=$(curl -s -o /dev/null -w '%{http_code}' "${bases[0]}/link/$keyid/${serials[0]}")
[ "$code" = 200 ] || fail "/link/ from the fresh responder: $code"
a=$(answer "${urls[1]}" 1)
grep -q "cert1.pem: revoked" <<<"$a" || fail "stale: revoked not answered: $a"
a=$(answer "${urls[1]}" 4 || true) # openssl ocsp fails on tryLater
grep -q "Responder Error: trylater" <<<"$a" ||
	fail "stale: a hold answered as if final: $a"
pass "replay paused on standby 2: its responder answers tryLater (/healthz: $(cat health.txt)), /healthz, CRLs and /link/ 503; a revocation (final) is still answered, a hold is not"

t_rev0=$(now)
jpki ca revoke "${serials[2]}" --reason cessationOfOperation >/dev/null
t_rev=$(now)
for _ in $(seq 1 100); do
	grep -q '"url": 0.*revoked' log3.jsonl && break
	sleep 0.05
done
sleep 0.5
t_resume=$(now)
spsql "${sports[1]}" -c "SELECT pg_wal_replay_resume()" >/dev/null 2>resume.err ||
	fail "pg_wal_replay_resume: $(cat resume.err)"
for _ in $(seq 1 100); do
	grep -q '"url": 1.*revoked' log3.jsonl && break
	sleep 0.05
done
sleep 0.3
touch "$work/stop"
wait "$log_pid"
log_pid=""
python3 - log3.jsonl "$t_pause" "$t_rev0" "$t_rev" "$t_resume" "$BOUND_MS" <<'EOF' || fail "the paused standby: see above"
import json, sys
log = [json.loads(l) for l in open(sys.argv[1])]
t_pause, t_rev0, t_rev, t_resume = map(float, sys.argv[2:6])
bound = float(sys.argv[6]) / 1000
ok = True
def say(msg):
    print("# " + msg)
for u in (0, 1):
    mine = [e for e in log if e["url"] == u]
    bad = [e for e in mine if e["answer"].startswith(("http", "error"))]
    if bad:
        say("responder %d: %d failed requests, first %s" % (u + 1, len(bad), bad[0]))
        ok = False
    # never good after revoked, and never good from a request sent a
    # bound after the revocation's commit: a standby replays
    # asynchronously, so within the bound good is still its honest
    # answer (the stated bound, not zero)
    revs = [e["recv"] for e in mine if e["answer"].startswith("revoked")]
    late = [e for e in mine if e["answer"] == "good" and
            (e["sent"] > t_rev + bound or (revs and e["sent"] > min(revs)))]
    if late:
        say("responder %d: good after the revocation: %s" % (u + 1, late[0]))
        ok = False
r1 = [e for e in log if e["url"] == 0]
r2 = [e for e in log if e["url"] == 1]
# Its standby replays: it stays within the bound unless the machine is
# too loaded to deliver a heartbeat in time (then tryLater is honest);
# more tryLater than answers would be the fresh one behaving as stale.
later1 = len([e for e in r1 if e["answer"] == "tryLater"])
if later1:
    say("responder 1 (its standby replaying): %d of %d answers tryLater "
        "(a heartbeat late on a loaded machine)" % (later1, len(r1)))
if later1 * 2 > len(r1):
    ok = False
first_later = min(e["recv"] for e in r2 if e["answer"] == "tryLater")
# a good answer was decided after its request was sent
last_good = max(e["sent"] for e in r2 if e["answer"] == "good")
# past the bound no good: the last good is within it of the pause
if last_good - t_pause > bound:
    say("responder 2: good %.0f ms after its replay paused" % ((last_good - t_pause) * 1000))
    ok = False
if any(e["answer"] == "good" and e["sent"] > first_later for e in r2):
    say("responder 2: good again after tryLater")
    ok = False
r1_rev = min(e["recv"] for e in r1 if e["answer"].startswith("revoked"))
r2_rev = min(e["recv"] for e in r2 if e["answer"].startswith("revoked"))
if r2_rev < t_resume:
    say("responder 2 answered revoked from a paused standby")
    ok = False
if r1_rev - t_rev > bound or r2_rev - t_resume > bound:
    ok = False
n2 = len(r2)
say("responder 2: %d answers; tryLater from %.0f ms after the pause (bound %.0f ms), last good %.0f ms after it"
    % (n2, (first_later - t_pause) * 1000, bound * 1000, (last_good - t_pause) * 1000))
say("revocation: revoked at responder 1 %.0f ms after the command returned; at responder 2 %.0f ms after replay resumed"
    % ((r1_rev - t_rev) * 1000, (r2_rev - t_resume) * 1000))
sys.exit(0 if ok else 1)
EOF
pass "standby 2 paused: tryLater from past the bound on, never good after a revocation; revoked there within $BOUND_MS ms of replay resuming"
a=$(answer "${urls[0]}" 3)
b=$(answer "${urls[1]}" 3)
[ "$a" = "$b" ] || fail "after the resume: $a // $b"
grep -q "cert3.pem: revoked" <<<"$a" || fail "cert3: $a"
[ "$(curl -s -o /dev/null -w '%{http_code}' "${bases[1]}/healthz")" = 200 ] ||
	fail "/healthz of responder 2 after the resume"
pass "both answer alike again after the resume"
