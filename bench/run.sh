#!/bin/bash
# run.sh: `make bench`. Each figure is measured against outpostd and against
# stock OpenSSH sshd as the jump in the same run, with ratios:
#   1. bench/throughput.sh: throughput through the jump (and direct) with two
#      ciphers, connect latency `ssh -J jump dev true` (median, p99);
#   2. bench/scale.sh: memory per idle device and idle CPU (outpostd with
#      outpost-loadgen devices at BENCH_DEVICES_SMALL and BENCH_DEVICES;
#      sshd with BENCH_STOCK_DEVICES real `ssh -R` devices, since thousands of
#      ssh processes do not fit), throughput with all devices idle vs none,
#      and the reconnect storm after an outpostd restart;
#   3. bench/agent.sh: outpost-agent next to a stock `ssh -R` device (binary
#      size, idle memory, keepalive bytes per hour over BENCH_AGENT_S);
#   4. bench/longlink.sh: transfers with a delay relay in front of the jump on
#      the technician's side, the device's side or both (stock `ssh -R`
#      device and the agent), against sshd as the jump and a direct ssh over
#      the same total delay.
# BENCH_THROUGHPUT=0, BENCH_SCALE=0, BENCH_AGENT=0 or BENCH_LONGLINK=0 skips a
# part; see the scripts for sizes.
# Results also go to $BENCH_OUT (default bench/results), raw and as a table.
set -u
set -o pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d /tmp/outpost-bench.XXXXXX)
res=${BENCH_OUT:-$here/results}
mkdir -p "$res"
export OUTPOST_BUILD=$build
ulimit -n "$(ulimit -Hn)"

# side SCRIPT MODE: runs one side, RESULT lines into $out/SCRIPT-MODE.txt.
side() {
	echo "== $1 $2 jump" >&2
	OUTPOST_JUMP_MODE=$2 OUTPOST_TEST_LOGDIR=$out/logs-$1-$2 BENCH_STORM_DAT=$out/storm.dat \
	    bash "$here/$1.sh" 2>"$out/$1-$2.err" | grep '^RESULT' >"$out/$1-$2.txt"
	local status=${PIPESTATUS[0]}
	if [ "$status" != 0 ]; then
		echo "bench: $1 $2 failed (status $status); log: $out/$1-$2.err" >&2
		tail -20 "$out/$1-$2.err" >&2
		exit 1
	fi
}

# v FILE KEY: one result (the last, if a script printed KEY twice).
v() { awk -v k="$2" '$2 == k { x = $3 } END { if (x != "") print x }' "$out/$1.txt" 2>/dev/null; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
row() { printf '%-44s %12s %12s %8s\n' "$1" "$2" "$3" "$4"; }

{
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ { print $2 }') GiB, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%FT%TZ)"
if [ "${BENCH_THROUGHPUT:-1}" != 0 ]; then
	side throughput outpost
	side throughput stock
	echo
	echo "throughput (MiB/s, ${BENCH_MB:-1024} MiB, each cipher on every hop, median of ${BENCH_REPS:-3}) and connect latency (ms, ${BENCH_CONNECTS:-50} runs); ratio = outpost / OpenSSH"
	row figure outpost openssh ratio
	# "KEY outpost openssh", one line per figure both sides measured.
	both=$(join <(awk '{ print $2, $3 }' "$out/throughput-outpost.txt" | sort) \
	            <(awk '{ print $2, $3 }' "$out/throughput-stock.txt" | sort))
	while read -r key a b; do
		case $key in direct_*) row "$key" "$a" - - ;; *) row "$key" "$a" "$b" "$(ratio "$a" "$b")" ;; esac
	done <<<"$both"
	# Through the jump as a fraction of a direct ssh transfer (same run).
	for side in outpost stock; do
		awk -v s="$side" '{ v[$2] = $3 } END {
			for (k in v) if (k ~ /^jump_/) { d = k; sub(/^jump_/, "direct_", d)
				if (v[d] > 0) printf "%-44s %12.0f%%\n", k " / direct (" s ")", 100 * v[k] / v[d] } }' \
			"$out/throughput-$side.txt" | sort
	done
	# The two sides run minutes apart and this VM drifts by more than the
	# effect in that time (direct transfers: 263-443 MiB/s within an hour),
	# so the ratio is also given with each side divided by its own direct
	# transfers, which ran interleaved with its jump transfers.
	echo "ratio corrected for drift = (outpost jump / its direct) / (OpenSSH jump / its direct)"
	awk '{ v[$1] = $2; w[$1] = $3 } END {
		for (k in v) if (k ~ /^jump_/) { d = k; sub(/^jump_/, "direct_", d)
			if (v[d] > 0 && w[d] > 0 && w[k] > 0)
				printf "%-52s %6.2f\n", k " (drift-corrected ratio)", (v[k] / v[d]) / (w[k] / w[d]) } }' <<<"$both" | sort
fi
if [ "${BENCH_SCALE:-1}" != 0 ]; then
	side scale outpost
	side scale stock
	o=scale-outpost s=scale-stock
	n=$(v "$o" devices) n1=$(v "$o" devices_small) m=$(v "$s" stock_devices)
	echo
	echo "idle devices: outpostd with $n1 and $n outpost-loadgen devices; OpenSSH sshd with $m \`ssh -R\` devices ($(v "$s" stock_sshd_processes) sshd processes)"
	row figure outpost openssh "openssh/outpost"
	row "memory KiB per idle device (PSS), $n1" "$(v "$o" mem_kib_per_device_small)" "$(v "$s" mem_kib_per_device)" "$(ratio "$(v "$s" mem_kib_per_device)" "$(v "$o" mem_kib_per_device_small)")"
	row "memory KiB per idle device (PSS), $n" "$(v "$o" mem_kib_per_device)" "$(v "$s" mem_kib_per_device)" "$(ratio "$(v "$s" mem_kib_per_device)" "$(v "$o" mem_kib_per_device)")"
	row "idle CPU % of a core ($n vs $m devices)" "$(v "$o" idle_cpu_pct)" "$(v "$s" idle_cpu_pct)" -
	pk_o=$(awk -v c="$(v "$o" idle_cpu_pct)" -v n="$n" 'BEGIN { printf "%.3f", c * 1000 / n }')
	pk_s=$(awk -v c="$(v "$s" idle_cpu_pct)" -v n="$m" 'BEGIN { printf "%.3f", c * 1000 / n }')
	row "idle CPU % of a core per 1000 devices" "$pk_o" "$pk_s" "$(ratio "$pk_s" "$pk_o")"
	row "load generator's own CPU % of a core, idle" "$(v "$o" loadgen_idle_cpu_pct)" - -
	echo
	echo "outpostd throughput (MiB/s, ${BENCH_LOAD_MB:-1024} MiB, median of ${BENCH_REPS:-3}) with $n idle devices vs none (none: the median of the runs before the devices came and after they left)"
	row figure "$n idle" "none" "ratio"
	for c in aes128-gcm chacha20-poly1305; do
		for d in up down; do
			a=$(v "$o" "tput_idleN_jump_${d}_$c") b=$(v "$o" "tput_idle0_jump_${d}_$c")
			row "jump_${d}_$c" "$a" "$b" "$(ratio "$a" "$b")"
		done
	done
	echo
	echo "reconnect storm: outpostd restarted under $n devices (timed from the new process listening)"
	for k in storm_shutdown_s storm_s storm_from_sigterm_s storm_failed_handshakes storm_peak_cpu_pct storm_peak_pss_mib storm_online_in_ls storm_left_behind ramp_s; do
		x=$(v "$o" "$k")
		[ -n "$x" ] && printf '%-44s %12s\n' "$k" "$x"
	done
	if [ -s "$out/storm.dat" ]; then
		echo
		echo "devices registered after the restart (each # = 2% of $n)"
		awk -v n="${n:-1}" '{ b = int($1); if (!(b in seen)) { seen[b] = 1; order[++k] = b } r[b] = $2 }
			END { for (i = 1; i <= k; i++) { b = order[i]; if (i % 2 && i != k) continue
				bar = ""; for (j = 0; j < int(50 * r[b] / n); j++) bar = bar "#"
				printf "%5ss %6d %s\n", b, r[b], bar } }' "$out/storm.dat"
		cp "$out/storm.dat" "$res/storm.dat"
	fi
fi
if [ "${BENCH_AGENT:-1}" != 0 ]; then
	echo "== agent" >&2
	echo
	echo "outpost-agent next to ssh -R -o ServerAliveInterval=60, both idle on the same outpostd; ratio = agent / ssh"
	OUTPOST_TEST_LOGDIR=$out/logs-agent bash "$here/agent.sh" "$build" 2>"$out/agent.err" ||
		{ echo "bench: agent failed; log: $out/agent.err" >&2; tail -20 "$out/agent.err" >&2; exit 1; }
fi
if [ "${BENCH_LONGLINK:-1}" != 0 ]; then
	side longlink outpost
	side longlink stock
	echo
	echo "long links (MiB/s at the receiver, first byte to EOF; outpost-delayrelay, RTT of each delayed side; aes128-gcm): outpost vs OpenSSH sshd as the jump, and vs a direct ssh over the same total delay (same outpost run)"
	printf '%-28s %9s %9s %7s %9s %9s\n' figure outpost openssh ratio direct "/direct"
	awk '{ print $2, $3 }' "$out/longlink-outpost.txt" | sort | while read -r key a; do
		case $key in ll_direct*) continue ;; esac
		rest=${key#ll_} where=${rest%%_*} dir=${key##*_}
		rtt=${where//[a-z]/} tot=$rtt
		case $where in both*) tot=$((2 * rtt)) ;; esac
		b=$(v longlink-stock "ll_${where}_ssh_$dir") d=$(v longlink-outpost "ll_direct${tot}_$dir")
		printf '%-28s %9s %9s %7s %9s %9s\n' "${key#ll_}" "$a" "${b:--}" "$(ratio "$a" "$b")" "${d:--}" "$(ratio "$a" "$d")"
	done
fi
} | tee "$res/table.txt"
cat "$out"/*.txt >"$res/raw.txt" 2>/dev/null
rm -rf "$out"
