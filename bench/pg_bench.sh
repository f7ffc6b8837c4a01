#!/usr/bin/env bash
# The PostgreSQL backend beside SQLite, in the same run: batch issuance
# (issue_bench), OCSP (`jpki serve --roles ocsp` under wrk, as
# ocsp_bench.sh measures it) and the registry's changes turned into
# revocations (registry_bench), each once on a SQLite file and once on a
# private PostgreSQL cluster this script starts (initdb in its work
# directory, listening on 127.0.0.1 only, stopped by its PID at exit), and
# the ratio PostgreSQL / SQLite. Target (issue 17): 0.7 or more for OCSP and
# batch issuance.
#
# Both sides are durable at every commit: SQLite WAL with synchronous=FULL,
# PostgreSQL with its defaults (fsync, synchronous_commit on). The server
# is reached over TCP on loopback, as a database on another host would be;
# ROUNDS alternates the two sides so that the machine's other load falls
# on both alike.
#
# Prints "PostgreSQL: SKIP (reason)" and exits 0 without PostgreSQL's server
# binaries.
#
# usage: bench/pg_bench.sh PATH/TO/jpki [SECONDS] [ROUNDS] [CERTS]
#        (the C benches from the bench/ directory beside PATH/TO/jpki;
#        defaults 5 s of wrk, 2 rounds, 4000 certificates)
set -euo pipefail
JPKI=$(realpath "$1")
secs=${2:-5}
rounds=${3:-2}
certs=${4:-4000}
benches=$(dirname "$JPKI")/bench
here=$(dirname "$(realpath "$0")")
. "$here/bench_lib.sh"
. "$here/../tests/integration/pg_lib.sh"
if ! pg_find_bin >/dev/null; then
	echo "PostgreSQL: SKIP (no PostgreSQL server binaries: apt-get install postgresql)"
	exit 0
fi
bench_need wrk
bench_work jpki-pg-bench
work=$BENCH_WORK
trap 'pg_stop "$work/pg"; bench_cleanup' EXIT
if ! reason=$(pg_own "$work"); then
	echo "PostgreSQL: ${reason:-SKIP (cannot give the cluster to postgres)}"
	exit 0
fi
chmod 755 "$work"
fail() { echo "pg_bench: $*" >&2; exit 1; }
pg_start "$(free_port)"
pg="postgres://postgres@127.0.0.1:$pg_port"
ndb=0
# new_db: an empty database on the cluster, its URL in $db
new_db() {
	ndb=$((ndb + 1))
	pg_psql -c "CREATE DATABASE bench$ndb" || fail "CREATE DATABASE"
	db="$pg/bench$ndb"
}

# One side's CA, certificate and OCSP request in its own directory, and
# its responder: side NAME [STORE]
serve_side() {
	local name=$1 store=${2:-} port
	mkdir -p "$work/$name"
	cd "$work/$name"
	port=$(free_port)
	jpki() { "$JPKI" --data "$work/$name/var" ${store:+--store "$store"} \
		--log error "$@"; }
	bench_ca "http://127.0.0.1:$port"
	bench_post_lua
	"$JPKI" --data "$work/$name/var" ${store:+--store "$store"} --log error \
		serve --roles ocsp --listen "127.0.0.1:$port" >serve.log 2>&1 &
	bench_track $!
	served=$!
	url="http://127.0.0.1:$port/ocsp/sign"
	bench_wait_ocsp "$url" || fail "jpki serve ($name) did not start: $(cat serve.log)"
	bench_check_good "$url"
	cd "$work"
}
# CPU time (clock ticks) of the PIDs given: the responder, the cluster's
# processes (its postmaster's children: the sessions, the writers).
ticks() {
	local p s=0
	for p in "$@"; do
		[ -r "/proc/$p/stat" ] &&
			s=$((s + $(awk '{print $14 + $15}' "/proc/$p/stat")))
	done
	echo "$s"
}
pg_children() { pgrep -P "$(head -1 "$work/pg/postmaster.pid")" | tr '\n' ' '; }
# The transactions PostgreSQL counted in the OCSP side's database (each
# statement outside a transaction is one); its statistics reach
# pg_stat_database within a second of the transaction.
xacts() {
	sleep 1
	pg_psql -c "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '$pg_ocsp_db'"
}
# ocsp NAME URL PID [CONNECTIONS]: "rps p99_ms errors us_responder
# us_postgres statements_per_response" of wrk (8 connections unless
# given) in NAME's directory: the rate, and the
# CPU time a response cost the responder (PID) and PostgreSQL's sessions,
# which on a shared machine says more than the rate; on PostgreSQL, the
# statements a response cost (the status counter's reads, shared by the
# requests that wait together: src/ca/stamp.c).
ocsp() {
	local j0 p0 j1 p1 rps p50 p99 errs pids x0 x1
	pids=$(pg_children)
	x0=$(xacts)
	j0=$(ticks "$3")
	p0=$(ticks $pids)
	(cd "$work/$1" &&
		wrk -t2 -c"${4:-8}" -d"${secs}s" --latency -s post.lua "$2" >wrk.txt)
	j1=$(ticks "$3")
	p1=$(ticks $pids)
	x1=$(xacts)
	read -r rps p50 p99 errs <<<"$(bench_wrk_parse "$work/$1/wrk.txt")"
	python3 -c "
n = max($rps * $secs, 1) / 1e6 * $(getconf CLK_TCK)
print($rps, $p99, $errs, '%.1f' % (($j1 - $j0) / n), '%.1f' % (($p1 - $p0) / n),
      '%.2f' % (($x1 - $x0) / max($rps * $secs, 1)))"
}
# issue [STORE]: "single batch1 batchN threads" of issue_bench
issue() {
	JPKI_BENCH_STORE=${1:-} JPKI_BENCH_PEERS=/dev/null \
		"$benches/issue_bench" "$certs" 0 >issue.txt 2>&1 ||
		fail "issue_bench: $(tail -5 issue.txt)"
	python3 - issue.txt <<'EOF'
import re, sys
t = open(sys.argv[1]).read()
single = re.search(r"one at a time[^:]*:\s+([\d.]+)", t).group(1)
b = re.findall(r"batches of \d+, (\d+) threads?:\s+([\d.]+)", t)
one = [r for n, r in b if n == "1"][0]
n, many = max(b, key=lambda x: int(x[0]))
print(single, one, many, n)
EOF
}
# registry [STORE]: "moves revocations" of registry_bench (none revoked before)
registry() {
	JPKI_BENCH_STORE=${1:-} "$benches/registry_bench" 1000 0 >registry.txt 2>&1 ||
		fail "registry_bench: $(tail -5 registry.txt)"
	python3 - registry.txt <<'EOF'
import re, sys
t = open(sys.argv[1]).read()
print(re.search(r"moves recorded[^:]*:\s+([\d.]+)", t).group(1),
      re.search(r"revocations applied[^:]*:\s+([\d.]+)", t).group(1))
EOF
}
ratio() { python3 -c "print('%.2f' % ($1 / max(float('$2'), 0.001)))"; }

load=$(cut -d' ' -f1-3 /proc/loadavg)
printf 'PostgreSQL %s beside SQLite (%s cores, load average before: %s)\n' \
	"$("$pgbin/postgres" --version | awk '{print $3}')" "$(nproc)" "$load"
serve_side sqlite
u_sqlite=$url
pid_sqlite=$served
new_db
pg_ocsp_db=bench$ndb
serve_side pg "$db"
u_pg=$url
pid_pg=$served

line() { # LABEL SQLITE PG UNIT
	printf '  %-34s SQLite %8.0f  PostgreSQL %8.0f %-14s ratio %s\n' \
		"$1" "$2" "$3" "$4" "$(ratio "$3" "$2")"
}
# One round trip to PostgreSQL alone: pgbench, one client, the status
# counter's prepared SELECT, in microseconds. "The next request after its
# commit" makes every kept answer wait for a read that starts after the
# request came, so with C connections the responder cannot pass
# C / (the SQLite cycle + this) responses per second.
round_trip() {
	echo 'SELECT n FROM ca_status_stamp WHERE id = 1;' >"$work/rt.sql"
	chmod 644 "$work/rt.sql"
	as_pg "$pgbin/pgbench" -n -h 127.0.0.1 -p "$pg_port" -U postgres \
		-M prepared -f "$work/rt.sql" -c 1 -T 3 "$pg_ocsp_db" 2>&1 |
		sed -n 's/^latency average = \([0-9.]*\) ms$/\1/p' |
		awk '{printf "%.0f", $1 * 1000}'
}
# ocsp_pair CONNECTIONS: both sides under wrk with that many connections
ocsp_pair() {
	local c=$1 p0 bound
	p0=$(bench_psi)
	read -r s_rps s_p99 s_err s_cpu _ <<<"$(ocsp sqlite "$u_sqlite" "$pid_sqlite" "$c")"
	read -r p_rps p_p99 p_err p_cpu p_pgcpu p_stmts <<<"$(ocsp pg "$u_pg" "$pid_pg" "$c")"
	line "OCSP, $c connections" "$s_rps" "$p_rps" "responses/s"
	printf '  %-34s SQLite %8.2f  PostgreSQL %8.2f ms (errors %s, %s; cpu pressure %s)\n' \
		"  p99" "$s_p99" "$p_p99" "$s_err" "$p_err" \
		"$(bench_pressure "$p0" "$(bench_psi)" $((secs * 2)))"
	printf '  %-34s SQLite %8s  PostgreSQL %8s us (+ %s us in PostgreSQL)\n' \
		"  CPU per response, responder" "$s_cpu" "$p_cpu" "$p_pgcpu"
	printf '  %-34s %s (the status counter read once for the requests waiting together)\n' \
		"  PostgreSQL statements per response" "$p_stmts"
	bound=$(python3 -c "
c, s, rt = $c, max($s_rps, 1), $rt_us / 1e6
print('%.2f' % (c / (c / s + rt) / s))")
	printf '  %-34s %s of SQLite (%s connections / (SQLite'"'"'s cycle + one round trip of %s us))\n' \
		"  bound, one read per request" "$bound" "$c" "$rt_us"
}
rt_us=$(round_trip)
[ -n "$rt_us" ] || fail "pgbench gave no latency"
printf '  %-34s %s us (pgbench, 1 client, the status counter'"'"'s SELECT, prepared)\n' \
	"PostgreSQL round trip alone" "$rt_us"
for r in $(seq "$rounds"); do
	echo " round $r"
	ocsp_pair 8
	ocsp_pair 64
	read -r s_one s_b1 s_bn threads <<<"$(issue)"
	new_db
	read -r p_one p_b1 p_bn _ <<<"$(issue "$db")"
	line "issuance, batches, $threads threads" "$s_bn" "$p_bn" "certificates/s"
	line "issuance, batches, 1 thread" "$s_b1" "$p_b1" "certificates/s"
	line "issuance, one at a time" "$s_one" "$p_one" "certificates/s"
	read -r s_moves s_rev <<<"$(registry)"
	new_db
	read -r p_moves p_rev <<<"$(registry "$db")"
	line "registry changes -> revocations" "$s_rev" "$p_rev" "revocations/s"
	line "registry moves recorded" "$s_moves" "$p_moves" "changes/s"
done
echo "  targets: PostgreSQL / SQLite >= 0.7 for OCSP and batch issuance"
echo "  (PostgreSQL on 127.0.0.1 TCP, fsync and synchronous_commit on; SQLite WAL synchronous=FULL)"
