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
