#!/usr/bin/env bash
# `jpki ca issue-batch`: many requests from one JSON Lines file, signed on
# every core and committed in groups. Every certificate written verifies
# with `openssl verify`; each line that cannot be issued is refused on its
# own line (bad JSON, unknown key, missing file, a person twice) and the
# others are issued; the pairs get their linking records; a file too large
# issues nothing; a rerun writes the files of lines issued before; a batch
# killed in the middle and rerun gives every line its file.
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

# Killed with SIGKILL in the middle of a large batch: every group it
# committed has its files (written and synced right after the group's
# commit), and a rerun of the same file writes the files of the lines
# already issued (same person, same key) instead of refusing them, and
# issues the rest. Every line then has its file, the store holds one
# certificate a line, and `openssl verify` accepts them all.
pid=
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$work"' EXIT
cj() { "$JPKI" --data "$work/crash" --log error "$@"; }
count() { cj ca list --limit 0 --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
cj ca init >/dev/null
cj ca cert auth >crash-ca.pem
m=2000
python3 - "$m" >crash.jsonl <<'PY'
import sys
for i in range(1, int(sys.argv[1]) + 1):
    print('{"csr":"r.pem","type":"auth","person":"K%d",'
          '"municipality_code":"131016","birth":"1990-01-01"}' % i)
PY
mkdir crash-out

# one signing thread, so that the batch is still running when the first
# group's files are all there (the old code wrote every file at the end:
# none would appear before it finished)
"$JPKI" --data "$work/crash" --log error ca issue-batch crash.jsonl \
	--out-dir crash-out --threads 1 >first.txt 2>&1 &
pid=$!
for _ in $(seq 1 3000); do
	if [ "$(ls crash-out | grep -c '\.pem$' || true)" -ge 256 ]; then
		break
	fi
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.01
done
kill -9 "$pid" 2>/dev/null || fail "the batch ended before it could be killed"
wait "$pid" 2>/dev/null || true
pid=
recorded=$(count)
files=$(ls crash-out | grep -c '\.pem$' || true)
[ "$recorded" -gt 0 ] || fail "killed before the first commit"
[ "$recorded" -lt "$m" ] || fail "the batch ended before it was killed"
# a group may be committed and killed before its files: at most one group
[ "$files" -ge $((recorded - 256)) ] ||
	fail "$recorded certificates recorded but only $files files written"
pass "killed after $recorded of $m recorded, $files files written"

cj ca issue-batch crash.jsonl --out-dir crash-out --json >rerun.json 2>err.txt ||
	fail "the rerun: $(cat err.txt)"
python3 - rerun.json "$m" "$recorded" <<'PY' || fail "the rerun's report"
import json, os, sys
r = json.load(open(sys.argv[1]))
n, recorded = int(sys.argv[2]), int(sys.argv[3])
assert len(r) == n, len(r)
assert all("error" not in x for x in r), [x for x in r if "error" in x][:3]
again = sum(1 for x in r if x["again"])
assert again == recorded, (again, recorded)
assert all(os.path.exists(x["file"]) for x in r)
PY
[ "$(count)" -eq "$m" ] || fail "the store holds $(count), not $m"
[ "$(ls crash-out | grep -c '\.pem$')" -eq "$m" ] || fail "not every line has its file"
pass "the rerun wrote the $recorded issued before again and issued the rest"

ok=$(openssl verify -CAfile crash-ca.pem crash-out/*.pem 2>&1 | grep -c ': OK$')
[ "$ok" -eq "$m" ] || fail "only $ok of $m verify"
pass "openssl verify accepts all $m"
