#!/usr/bin/env bash
# A/B of two builds' OCSP responder: wrk -t2 -c8 POST (as
# bench/ocsp_bench.sh) against `OLD serve` and `NEW serve`, alternating
# rounds in one run on one store, so both see the same machine. Used for
# docs/PERFORMANCE.md (the serve loop); OLD is e.g. a build of an earlier
# commit (git archive COMMIT | tar -x -C DIR; cmake; build the jpki target).
#
# usage: bench/ocsp_ab.sh OLD/jpki NEW/jpki [ROUNDS] [SECONDS] [ROLES]
set -euo pipefail
OLD=$(realpath "$1") NEW=$(realpath "$2") rounds=${3:-5} secs=${4:-5} roles=${5:-ocsp}
here=$(dirname "$(realpath "$0")")
. "$here/bench_lib.sh"
bench_work jpki-ab
JPKI=$NEW
bench_ca "http://127.0.0.1:1"
bench_post_lua
one() { # LABEL BINARY
	local p p0 p1 rps p50 p99 errs
	p=$(free_port)
	bench_serve serve.log "$2" --roles "$roles" --listen "127.0.0.1:$p"
	bench_wait_ocsp "http://127.0.0.1:$p/ocsp/sign" || true
	sleep 0.5
	p0=$(bench_psi)
	wrk -t2 -c8 -d"${secs}s" --latency -s post.lua "http://127.0.0.1:$p/ocsp/sign" >wrk.txt
	p1=$(bench_psi)
	bench_stop "$served"
	read -r rps p50 p99 errs <<<"$(bench_wrk_parse wrk.txt)"
	printf '%-4s %9s rps  p50 %6s ms  p99 %7s ms  cpu-pressure %s  load %s\n' "$1" "$rps" "$p50" "$p99" \
		"$(bench_pressure "$p0" "$p1" "$secs")" "$(cut -d' ' -f1 /proc/loadavg)"
}
for r in $(seq 1 $rounds); do
	one old "$OLD"
	one new "$NEW"
done
