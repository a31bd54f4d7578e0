#!/bin/bash
# throughput.sh: one side of the throughput and connect-latency benchmark,
# run by bench/run.sh once with outpostd as the jump and once with stock
# sshd (OUTPOST_JUMP_MODE=stock), same topology: a device's own sshd behind
# `ssh -R`, a technician with ProxyJump, each cipher on every hop. Prints
# "RESULT key value" lines.
# BENCH_MB (default 1024) sets the transfer size, BENCH_REPS (default 3) how
# many times each transfer runs (interleaved, jump and direct; the median is
# the result, every run is logged), BENCH_CONNECTS (default 50) the number
# of `ssh -J jump dev true` runs. BENCH_LATENCY_ONLY=1 skips the transfers
# (bench/run.sh's PostgreSQL column: connect latency on each store).
. "$(dirname "$0")/../tests/integration/lib.sh"
. "$(dirname "$0")/lib-bench.sh"

MB=${BENCH_MB:-1024}
CONNECTS=${BENCH_CONNECTS:-50}
basic_setup
known_add "[127.0.0.1]:$SSHD_PORT" "$T/host-dev0.pub"

if [ "${BENCH_LATENCY_ONLY:-0}" != 1 ]; then
	src=$T/data/bench
	head -c $((MB * 1024 * 1024)) /dev/zero | openssl enc -aes-128-ctr -nosalt -pass pass:bench 2>/dev/null >"$src" \
		|| head -c $((MB * 1024 * 1024)) /dev/urandom >"$src"
	transfers "" "$src" jump direct
fi

lat=$T/latency
: >"$lat"
for i in $(seq 1 "$CONNECTS"); do
	t0=$(now_ms)
	dev_ssh pi-hq.acme true || fail "connect $i failed"
	echo $(($(now_ms) - t0)) >>"$lat"
done
sort -n "$lat" | awk '{ v[NR] = $1 } END {
	printf "RESULT connect_median_ms %d\n", v[int((NR + 1) / 2)]
	i = int(NR * 0.99 + 0.999); if (i > NR) i = NR
	printf "RESULT connect_p99_ms %d\n", v[i] }'
done_ok
