#!/usr/bin/env bash
# The registry's consumer across processes: two `jpki serve --roles
# window,ocsp` on one private PostgreSQL cluster and a burst of `jpki
# registry move` from the CLI (several at once). Every event is applied
# exactly once: each signing certificate revoked once (one ca.revoke audit
# entry), the cursor at the last event, and the two servers' "applied" log
# lines adding up to the number of events. The negative before it: an
# OCSP-only server applies nothing (the consumer is the window role's).
# And a card-issuer key made after start (`jpki card new`) is picked up by
# the running window without a restart.
#
# usage: test_serve_consumers.sh PATH/TO/jpki
# Skipped (77) without PostgreSQL's server binaries.
set -euo pipefail

N=12 # residents, each with a signing certificate; two moves each

. "$(dirname "$(realpath "$0")")/lib.sh"
. "$(dirname "$(realpath "$0")")/pg_lib.sh"
pg_find_bin || exit 77

lib_init consumers "$1"
pg_own "$work" || exit 77
cleanup_more() { pg_stop "$work/pg"; }
fail_more() { serve_errs; }

port=$(free_port)
pg_start "$port"
psql() { pg_psql "$@"; }
psql -c "CREATE DATABASE jpki" || fail "CREATE DATABASE"
store="postgres://postgres@127.0.0.1:$port/jpki"
q() { psql -d jpki -c "$1"; }
pass "a private PostgreSQL on 127.0.0.1:$port"
cd "$work"

export JPKI_ARGON2_TEST=1
jpki() { "$JPKI" --data "$work/var" --store "$store" --log warn "$@"; }
as() { # OPERATOR ARGS...
	local who=$1
	shift
	JPKI_OPERATOR=$who JPKI_OPERATOR_PASSWORD="pw-of-$who-0123" jpki "$@"
}
serve() { # NAME ROLES
	local p
	p=$(free_port)
	"$JPKI" --data "$work/var" --store "$store" --log info serve \
		--roles "$2" --listen "127.0.0.1:$p" >"serve-$1.out" \
		2>"serve-$1.err" &
	pids+=($!)
	last_url="http://127.0.0.1:$p"
	for _ in $(seq 1 200); do
		curl -sf -o /dev/null "http://127.0.0.1:$p/healthz" && return 0
		sleep 0.05
	done
	fail "serve $1 did not start: $(cat "serve-$1.err")"
}

jpki ca init --public-url "http://127.0.0.1:1" >/dev/null
# ca init makes the card-issuer key; take it away to show one made after
# the servers started (an installation upgraded from before, a key rotated)
# is picked up without a restart
rm -f var/keys/card-issuer.key
JPKI_NEW_OPERATOR_PASSWORD=pw-of-admin-0123 jpki operator add admin \
	--role ca-officer >/dev/null
JPKI_NEW_OPERATOR_PASSWORD=pw-of-reg-0123 as admin operator add reg \
	--role registry-clerk --municipality-code 131016 >/dev/null
JPKI_NEW_OPERATOR_PASSWORD=pw-of-win-0123 as admin operator add win \
	--role window-clerk --municipality-code 131016 >/dev/null
persons=()
for i in $(seq 1 $N); do
	person=$(as reg registry register --municipality-code 131016 \
		--prefecture 東京都 --municipality 千代田区 --name "山田 太郎$i" \
		--sex male --birth 1980-06-01 --address "千代田${i}番" --json |
		json 'd["person"]')
	openssl req -new -newkey rsa:2048 -nodes -subj "/CN=ignored" \
		-keyout "key$i.pem" -out "req$i.pem" 2>/dev/null
	jpki ca issue --csr "req$i.pem" --type sign --person "$person" \
		--municipality-code 131016 --prefecture 東京都 \
		--municipality 千代田区 --name "山田 太郎$i" --sex male \
		--birth 1980-06-01 --address "東京都千代田区千代田${i}番" \
		--json >/dev/null || fail "issue $i"
	persons+=("$person")
done
pass "$N residents, each with a signing certificate"

# --- the negative: an OCSP-only server consumes nothing --------------------
serve ocsp ocsp
as reg registry move "${persons[0]}" --address "千代田100番" >/dev/null
sleep 1.5
cur=$(q "SELECT COALESCE(MAX(seq), 0) FROM ca_registry_cursor")
[ "$cur" = 0 ] || fail "an OCSP-only server moved the cursor to $cur"
[ "$(q "SELECT count(*) FROM audit_log WHERE action = 'ca.revoke'")" = 0 ] ||
	fail "an OCSP-only server revoked"
pass "an OCSP-only server leaves the event alone (cursor 0 after 1.5 s)"

# --- two window servers, a burst of moves from the CLI --------------------
serve a window,ocsp
url_a=$last_url
serve b window,ocsp
moves=0
for round in 1 2; do
	for start in $(seq 0 4 $((N - 1))); do
		# four CLI processes at a time
		batch=()
		for i in $(seq $start $((start + 3))); do
			[ $i -lt $N ] || break
			as reg registry move "${persons[$i]}" \
				--address "千代田$((round * 1000 + i))番" \
				>/dev/null 2>"move-$round-$i.err" &
			batch+=($!)
		done
		for m in "${batch[@]}"; do
			wait "$m" || fail "move: $(cat move-*.err)"
		done
	done
	moves=$((moves + N))
done
events=$(q "SELECT count(*) FROM registry_event")
[ "$events" = $((moves + 1)) ] || fail "$events events for $((moves + 1)) moves"
last=$(q "SELECT MAX(seq) FROM registry_event")
for _ in $(seq 1 100); do
	[ "$(q "SELECT COALESCE(MAX(seq), 0) FROM ca_registry_cursor")" = "$last" ] && break
	sleep 0.1
done
[ "$(q "SELECT COALESCE(MAX(seq), 0) FROM ca_registry_cursor")" = "$last" ] ||
	fail "the cursor did not reach $last"
sleep 0.5 # a late second application would show now
revokes=$(q "SELECT count(*) FROM audit_log WHERE action = 'ca.revoke'")
twice=$(q "SELECT count(*) FROM (SELECT subject FROM audit_log WHERE action = 'ca.revoke' GROUP BY subject HAVING count(*) > 1) t")
[ "$revokes" = $N ] || fail "$revokes revocations for $N certificates"
[ "$twice" = 0 ] || fail "$twice certificates revoked more than once"
[ "$(q "SELECT count(*) FROM ca_cert WHERE status = 1")" = $N ] ||
	fail "not every certificate is revoked"
applied() { sed -n 's/.* \([0-9]*\) registry changes\{0,1\} applied.*/\1/p' "$1" | awk '{s += $1} END {print s + 0}'; }
na=$(applied serve-a.err)
nb=$(applied serve-b.err)
[ $((na + nb)) = "$last" ] ||
	fail "the servers applied $na + $nb events of $last"
[ "$(applied serve-ocsp.err)" = 0 ] || fail "the OCSP-only server applied events"
pass "$last events from $moves concurrent CLI moves (+1) applied exactly once by two window servers ($na + $nb); $N revocations, none twice; cursor $last"
if ! jpki audit verify >/dev/null 2>&1; then
	fail "the audit chain does not verify: $(jpki audit verify 2>&1 | tail -2)"
fi
pass "the audit chain verifies"

# --- a card-issuer key made after start ------------------------------------
[ ! -e var/keys/card-issuer.key ] || fail "a card-issuer key before card new"
grep -q "no card-issuer key" serve-a.err ||
	fail "no warning about the missing card-issuer key"
# the window's API, as a clerk: renewal onto a card (at a reader that is
# not there) first needs the card-issuer key
token=$(curl -s -X POST -d '{"operator":"win","password":"pw-of-win-0123"}' \
	"$url_a/api/login" | json 'd["token"]')
renew() {
	curl -s -X POST -H "Authorization: Bearer $token" \
		-d "{\"person\":\"${persons[1]}\",\"type\":\"sign\",\"reader\":\"no such reader (jpki test)\"}" \
		"$url_a/api/window/renew"
}
before=$(renew)
echo "$before" | grep -q "no card-issuer key" ||
	fail "renew before the key: $before"
jpki card new --kind mynumber card.bin >/dev/null
for _ in $(seq 1 50); do
	grep -q "card-issuer key .* loaded" serve-a.err && break
	sleep 0.1
done
grep -q "card-issuer key .* loaded" serve-a.err ||
	fail "the running window did not pick up the card-issuer key"
grep -q "card-issuer key .* loaded" serve-ocsp.err &&
	fail "the OCSP-only server looked for a card-issuer key"
after=$(renew)
echo "$after" | grep -q "card-issuer key" &&
	fail "renew after the key: $after"
echo "$after" | grep -q '"error"' || fail "renew at no reader: $after"
pass "a card-issuer key made by jpki card new reaches the running window within a second: its API renews (up to the reader) where it said \"no card-issuer key\""
