#!/usr/bin/env bash
# `jpki ca issue-batch`: many requests from one JSON Lines file, signed on
# every core and committed in groups. Every certificate written verifies
# with `openssl verify`; each line that cannot be issued is refused on its
# own line (bad JSON, unknown key, missing file, a person twice) and the
# others are issued; the pairs get their linking records; a file too large
# issues nothing.
#
# usage: test_ca_batch.sh PATH/TO/jpki
set -euo pipefail

JPKI=$(realpath "$1")
work=$(mktemp -d /tmp/jpki-it-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
pass() { echo "ok - $*"; }
jpki() { "$JPKI" --data "$work/var" --log error "$@"; }

jpki ca init >/dev/null
jpki ca cert sign >sign-ca.pem
jpki ca cert auth >auth-ca.pem
openssl req -new -newkey rsa:2048 -nodes -subj /CN=x -keyout k.pem \
	-out r.pem 2>/dev/null

# 300 residents, a signing and an authentication certificate each: more
# than one commit group
n=300
: >batch.jsonl
for i in $(seq 1 $n); do
	printf '{"csr":"r.pem","type":"sign","person":"B%d","municipality_code":"131016","prefecture":"東京都","municipality":"千代田区","name":"山田 太郎","sex":"female","birth":"1990-01-0%d","address":"千代田%d番"}\n' \
		"$i" $((i % 9 + 1)) "$i" >>batch.jsonl
	printf '{"csr":"r.pem","type":"auth","person":"B%d","municipality_code":"131016","birth":"1990-01-0%d"}\n' \
		"$i" $((i % 9 + 1)) >>batch.jsonl
done
# the lines that must be refused, each for its own reason
cat >>batch.jsonl <<'BAD'
{"csr":"r.pem","type":"sign","person":"B1","municipality_code":"131016","prefecture":"東京都","municipality":"千代田区","name":"山田 太郎","sex":"female","birth":"1990-01-02","address":"千代田1番"}
this is not JSON
{"csr":"r.pem","type":"auth","person":"C1","municipality_code":"131016","birth":"1990-01-01","colour":"red"}
{"csr":"missing.pem","type":"auth","person":"C2","municipality_code":"131016","birth":"1990-01-01"}
{"csr":"r.pem","type":"sign","person":"C3","municipality_code":"1310","birth":"1990-01-01"}
BAD
mkdir out
set +e
jpki ca issue-batch batch.jsonl --out-dir out >report.txt 2>err.txt
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "a batch with refused lines exits 1, not $rc: $(cat err.txt)"
issued=$(grep -c ': issued ' report.txt)
[ "$issued" -eq $((n * 2)) ] || fail "$issued of $((n * 2)) issued"
[ "$(ls out | wc -l)" -eq $((n * 2)) ] || fail "not every certificate was written"
pass "$issued certificates issued from one file, each written to out/SERIAL.pem"
for line in 601 602 603 604 605; do
	grep -q "^line $line: refused: " report.txt || fail "line $line was not refused"
done
grep -q '^line 601: refused: B1 already holds a valid sign' report.txt ||
	fail "a person twice is refused for that"
grep -q '^line 602: refused: not JSON' report.txt || fail "bad JSON"
grep -q '^line 603: refused: unknown key "colour"' report.txt || fail "unknown key"
grep -q '^line 604: refused: missing.pem' report.txt || fail "missing CSR"
grep -q '^line 605: refused: .*six' report.txt || fail "bad municipality code"
pass "each bad line refused for its own reason, the others issued"

for t in sign auth; do
	mapfile -t files < <(sed -n "s/^line [0-9]*: issued $t certificate [0-9A-F]*, written to \(.*\)$/\1/p" report.txt)
	[ "${#files[@]}" -eq "$n" ] || fail "${#files[@]} $t certificates reported"
	ok=$(openssl verify -CAfile "$t-ca.pem" "${files[@]}" 2>&1 | grep -c ': OK$')
	[ "$ok" -eq "$n" ] || fail "only $ok of $n $t certificates verify"
done
pass "openssl verify accepts all $((n * 2))"

[ "$(jpki ca list --limit 0 --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" -eq $((n * 2)) ] ||
	fail "the store does not hold exactly the issued certificates"
serial=$(sed -n 's/^line 1: issued sign certificate \([0-9A-F]*\),.*/\1/p' report.txt)
jpki ca links "$serial" | grep -q pair || fail "the pair of line 1 and 2 is not linked"
pass "the store holds them all, pairs linked"

# JSON report, a second run (as after a crash): every line issued before
# is written again, nothing new is recorded, the person twice is refused
# again
rm -f out/*.pem
set +e
jpki ca issue-batch --json batch.jsonl --out-dir out >again.json 2>/dev/null
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "second run exits $rc"
python3 - again.json <<'PY' || fail "the JSON report of a second run"
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r) == 605, len(r)
assert all(x.get("again") is True for x in r[:600]), r[0]
assert all("error" in x for x in r[600:]), r[600]
assert "already holds" in r[600]["error"], r[600]
PY
[ "$(ls out | wc -l)" -eq $((n * 2)) ] || fail "a second run did not write every file again"
[ "$(jpki ca list --limit 0 --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" -eq $((n * 2)) ] ||
	fail "a second run recorded new certificates"
pass "a second run writes the files of the lines issued before, records nothing new"

# a person who holds a certificate for another key is still refused
openssl req -new -newkey rsa:2048 -nodes -subj /CN=y -keyout k2.pem \
	-out r2.pem 2>/dev/null
sed -n 2p batch.jsonl | sed 's/"r.pem"/"r2.pem"/' >other.jsonl
set +e
jpki ca issue-batch other.jsonl --out-dir out >other.txt 2>/dev/null
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "a line for another key exits $rc"
grep -q '^line 1: refused: B1 already holds a valid auth' other.txt ||
	fail "a line for another key was not refused: $(cat other.txt)"
pass "a person's line for another key is refused"

# standard input, and a line too long refuses the whole file
printf '{"csr":"r.pem","type":"auth","person":"D1","municipality_code":"131016","birth":"1990-01-01"}\n' |
	jpki ca issue-batch - --out-dir out | grep -q '^line 1: issued auth' ||
	fail "a batch from standard input"
python3 -c 'print("{\"person\":\"" + "x" * 9000 + "\"}")' >long.jsonl
before=$(ls out | wc -l)
if jpki ca issue-batch long.jsonl --out-dir out >/dev/null 2>err.txt; then
	fail "a line too long was accepted"
fi
grep -q 'longer than' err.txt || fail "no clear message for a long line: $(cat err.txt)"
[ "$(ls out | wc -l)" -eq "$before" ] || fail "a refused file issued something"
pass "standard input; a line too long refuses the file, issues nothing"
