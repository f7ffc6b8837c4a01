#!/usr/bin/env bash
# `jpki ca issue-batch` killed (SIGKILL) in the middle of a large batch:
# every group it committed has its files (written and synced right after
# the group's commit), and a rerun of the same file writes the files of
# the lines already issued (same person, same key) instead of refusing
# them, and issues the rest. Every line then has its file, the store holds
# one certificate a line, and `openssl verify` accepts them all.
#
# usage: test_ca_batch_crash.sh PATH/TO/jpki
set -euo pipefail

JPKI=$(realpath "$1")
work=$(mktemp -d /tmp/jpki-it-XXXXXX)
pid=
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
pass() { echo "ok - $*"; }
jpki() { "$JPKI" --data "$work/var" --log error "$@"; }
count() { jpki ca list --limit 0 --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }

jpki ca init >/dev/null
jpki ca cert auth >auth-ca.pem
openssl req -new -newkey rsa:2048 -nodes -subj /CN=x -keyout k.pem \
	-out r.pem 2>/dev/null

n=2000
python3 - "$n" >batch.jsonl <<'PY'
import sys
for i in range(1, int(sys.argv[1]) + 1):
    print('{"csr":"r.pem","type":"auth","person":"K%d",'
          '"municipality_code":"131016","birth":"1990-01-01"}' % i)
PY
mkdir out

# one signing thread, so that the batch is still running when the first
# group's files are all there (the old code wrote every file at the end:
# none would appear before it finished)
"$JPKI" --data "$work/var" --log error ca issue-batch batch.jsonl \
	--out-dir out --threads 1 >first.txt 2>&1 &
pid=$!
for _ in $(seq 1 3000); do
	if [ "$(ls out | grep -c '\.pem$' || true)" -ge 256 ]; then
		break
	fi
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.01
done
kill -9 "$pid" 2>/dev/null || fail "the batch ended before it could be killed"
wait "$pid" 2>/dev/null || true
pid=
recorded=$(count)
files=$(ls out | grep -c '\.pem$' || true)
[ "$recorded" -gt 0 ] || fail "killed before the first commit"
[ "$recorded" -lt "$n" ] || fail "the batch ended before it was killed"
# a group may be committed and killed before its files: at most one group
[ "$files" -ge $((recorded - 256)) ] ||
	fail "$recorded certificates recorded but only $files files written"
pass "killed after $recorded of $n recorded, $files files written"

jpki ca issue-batch batch.jsonl --out-dir out --json >rerun.json 2>err.txt ||
	fail "the rerun: $(cat err.txt)"
python3 - rerun.json "$n" "$recorded" <<'PY' || fail "the rerun's report"
import json, os, sys
r = json.load(open(sys.argv[1]))
n, recorded = int(sys.argv[2]), int(sys.argv[3])
assert len(r) == n, len(r)
assert all("error" not in x for x in r), [x for x in r if "error" in x][:3]
again = sum(1 for x in r if x["again"])
assert again == recorded, (again, recorded)
assert all(os.path.exists(x["file"]) for x in r)
PY
[ "$(count)" -eq "$n" ] || fail "the store holds $(count), not $n"
[ "$(ls out | grep -c '\.pem$')" -eq "$n" ] || fail "not every line has its file"
pass "the rerun wrote the $recorded issued before again and issued the rest"

ok=$(openssl verify -CAfile auth-ca.pem out/*.pem 2>&1 | grep -c ': OK$')
[ "$ok" -eq "$n" ] || fail "only $ok of $n verify"
pass "openssl verify accepts all $n"
