# What the tests that run a private PostgreSQL cluster share: finding the
# server binaries, running them as `postgres` when the test runs as root
# (initdb refuses root), and stopping the cluster by its PID whatever
# happens. Sourced, not run:
#
#   pg_find_bin || exit 77      # sets $pgbin, or says why it cannot
#   pg_own "$work" || exit 77   # the cluster's directory, for root
#   pg_stop "$work/pg"          # from the cleanup trap
#   as_pg CMD ...               # a command as the cluster's owner

pg_find_bin() {
	pgbin=""
	for d in /usr/lib/postgresql/*/bin; do
		[ -x "$d/initdb" ] && pgbin=$d
	done
	if [ -z "$pgbin" ]; then
		echo "SKIP: no PostgreSQL server binaries (apt-get install postgresql)"
		return 1
	fi
}

as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# Gives DIR to `postgres` when running as root; fails (after saying why)
# when there is no such user.
pg_own() {
	if [ "$(id -u)" -eq 0 ]; then
		if ! id postgres >/dev/null 2>&1; then
			echo "SKIP: running as root without a postgres user"
			return 1
		fi
		chown postgres "$1"
	fi
}

# Stops the cluster in DIR if it runs: pg_ctl, then the postmaster's PID
# (the first line of postmaster.pid) if pg_ctl gave up.
pg_stop() {
	local pid
	if [ -f "$1/postmaster.pid" ]; then
		as_pg "$pgbin/pg_ctl" -D "$1" -m immediate -w -t 30 \
			stop >/dev/null 2>&1 || true
		if [ -f "$1/postmaster.pid" ]; then
			pid=$(head -1 "$1/postmaster.pid")
			[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
		fi
	fi
}

# pg_start PORT: a fresh cluster in $work/pg, listening on 127.0.0.1:PORT
# (its socket in $work), started; then pg_psql ARGS... is psql as postgres
# on it. Needs $work and the caller's fail.
pg_start() {
	pg_port=$1
	as_pg "$pgbin/initdb" -D "$work/pg" -A trust -U postgres -E UTF8 \
		--locale=C >"$work/initdb.log" 2>&1 ||
		fail "initdb: $(cat "$work/initdb.log")"
	as_pg "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w -t 60 \
		-o "-p $pg_port -k $work -c listen_addresses=127.0.0.1" start >/dev/null ||
		fail "pg_ctl start: $(cat "$work/pg.log")"
}
pg_psql() { as_pg "$pgbin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -qAt "$@"; }
