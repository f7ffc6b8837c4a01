#!/usr/bin/env bash
# What an idle `jpki serve --roles ROLES` of two builds does per second:
# CPU time and the syscalls of its periodic work (strace -c over SECONDS).
#
# usage: bench/serve_idle.sh OLD/jpki NEW/jpki [ROLES] [SECONDS]
set -euo pipefail
OLD=$(realpath "$1") NEW=$(realpath "$2") roles=${3:-ocsp} secs=${4:-10}
here=$(dirname "$(realpath "$0")")
. "$here/bench_lib.sh"
bench_work jpki-idle
JPKI=$NEW
jpki ca init --public-url http://127.0.0.1:1 >/dev/null
for which in old new; do
	bin=$OLD; [ $which = new ] && bin=$NEW
	p=$(free_port)
	bench_serve serve.log "$bin" --roles "$roles" --listen "127.0.0.1:$p"
	pid=$served
	sleep 1
	t0=$(awk '{print $14 + $15}' /proc/$pid/stat)
	timeout -s INT $secs strace -f -c -p $pid -o strace.txt 2>/dev/null || true
	t1=$(awk '{print $14 + $15}' /proc/$pid/stat)
	bench_stop $pid
	tk=$(getconf CLK_TCK)
	calls=$(awk '$NF == "total" {print $(NF-1)}' strace.txt)
	fs=$(awk '$NF ~ /^f(data)?sync$/ {s += $4} END {print s + 0}' strace.txt)
	pw=$(awk '$NF ~ /^pwrite64$|^write$/ {s += $4} END {print s + 0}' strace.txt)
	fl=$(awk '$NF ~ /^fcntl$/ {s += $4} END {print s + 0}' strace.txt)
	printf '%-4s roles=%s: cpu %s ms/s, syscalls %s/s (fcntl locks %s/s, writes %s/s, fsync %s/s) over %ss\n' \
		$which "$roles" "$(python3 -c "print(round(($t1 - $t0) * 1000 / $tk / $secs, 2))")" \
		"$(python3 -c "print(round(${calls:-0} / $secs))")" "$(python3 -c "print(round($fl / $secs))")" \
		"$(python3 -c "print(round($pw / $secs))")" "$(python3 -c "print(round($fs / $secs, 1))")" $secs
done
