#!/bin/bash
# run.sh: `make bench`. Runs bench/throughput.sh against outpostd and against
# stock OpenSSH sshd as the jump in the same run, and prints each figure with
# the ratio outpost / OpenSSH (higher is better for MiB/s, lower for ms).
set -u
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d /tmp/outpost-bench.XXXXXX)
export OUTPOST_BUILD=$build

for mode in outpost stock; do
	echo "== $mode jump" >&2
	OUTPOST_JUMP_MODE=$mode OUTPOST_TEST_LOGDIR=$out/logs-$mode \
	    bash "$here/throughput.sh" 2>"$out/$mode.err" | grep '^RESULT' >"$out/$mode.txt"
	status=${PIPESTATUS[0]}
	if [ "$status" != 0 ]; then
		echo "bench: $mode run failed (status $status); log: $out/$mode.err" >&2
		tail -20 "$out/$mode.err" >&2
		exit 1
	fi
done

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ { print $2 }') GiB, $(uname -r); ${BENCH_MB:-1024} MiB per transfer"
printf '%-34s %12s %12s %8s\n' figure outpost openssh ratio
join <(awk '{ print $2, $3 }' "$out/outpost.txt" | sort) \
     <(awk '{ print $2, $3 }' "$out/stock.txt" | sort) |
while read -r key a b; do
	case $key in direct_*) b=-; r=- ;; *) r=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }') ;; esac
	printf '%-34s %12s %12s %8s\n' "$key" "$a" "$b" "$r"
done
# Through the jump as a fraction of a direct ssh transfer (outpost run).
awk '{ v[$2] = $3 } END {
	for (k in v) if (k ~ /^jump_/) { d = k; sub(/^jump_/, "direct_", d)
		if (v[d] > 0) printf "%-34s %12.0f%%\n", k " / direct", 100 * v[k] / v[d] } }' "$out/outpost.txt" | sort
rm -rf "$out"
