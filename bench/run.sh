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
#      the same total delay;
#   5. the PostgreSQL store: outpostd and the CLI on a test PostgreSQL 15
#      over TCP on 127.0.0.1 (tests/pg/pg-start, a fresh cluster per script,
#      in this run's temp dir) beside the SQLite store: bench/scale.sh's
#      outpost side again (memory, idle CPU, the storm; its SQLite figures
#      are part 2's, or a run made here without the transfers if part 2 was
#      skipped) and connect latency (bench/throughput.sh without transfers,
#      SQLite then PostgreSQL, back to back); ratio = PostgreSQL / SQLite;
#   6. bench/nodes.sh: several nodes on one PostgreSQL: a route through a
#      peer node against the same route on one node (ratio peer / local),
#      and BENCH_NODES_DEVICES idle loadgen devices over BENCH_NODES_N
#      nodes with a restart of every node at once.
# BENCH_THROUGHPUT=0, BENCH_SCALE=0, BENCH_AGENT=0, BENCH_LONGLINK=0,
# BENCH_PG=0 or BENCH_NODES=0 skips a part (BENCH_NODES_ROUTE=0 or
# BENCH_NODES_IDLE=0 one half of part 6); see the scripts for sizes.
# Results also go to $BENCH_OUT (default bench/results), raw and as a table.
set -u
set -o pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d /tmp/outpost-bench.XXXXXX)
# pg-start runs PostgreSQL as nobody when we are root: it must reach $out/pg-*.
chmod 0711 "$out"
res=${BENCH_OUT:-$here/results}
mkdir -p "$res"
export OUTPOST_BUILD=$build
ulimit -n "$(ulimit -Hn)"

# side SCRIPT MODE [NAME]: runs one side, RESULT lines into $out/SCRIPT-NAME.txt
# (NAME defaults to MODE).
side() {
	local name=${3:-$2}
	echo "== $1 $2 jump${3:+ ($3)}" >&2
	OUTPOST_JUMP_MODE=$2 OUTPOST_TEST_LOGDIR=$out/logs-$1-$name BENCH_STORM_DAT=${BENCH_STORM_DAT:-$out/storm.dat} \
	    bash "$here/$1.sh" 2>"$out/$1-$name.err" | grep '^RESULT' >"$out/$1-$name.txt"
	local status=${PIPESTATUS[0]}
	if [ "$status" != 0 ]; then
		echo "bench: $1 $name failed (status $status); log: $out/$1-$name.err" >&2
		tail -20 "$out/$1-$name.err" >&2
		exit 1
	fi
}

# v FILE KEY: one result (the last, if a script printed KEY twice).
v() { awk -v k="$2" '$2 == k { x = $3 } END { if (x != "") print x }' "$out/$1.txt" 2>/dev/null; }
# pg_side SCRIPT: SCRIPT's outpost side on a fresh test PostgreSQL in
# $out/pg-SCRIPT, RESULT lines into $out/SCRIPT-pg.txt; 77 if PostgreSQL 15
# is not installed.
pg_side() {
	local dir=$out/pg-$1 uri rc
	uri=$("$here/../tests/pg/pg-start" "$dir" 2>"$out/pg-$1.err")
	rc=$?
	if [ "$rc" != 0 ]; then
		cat "$out/pg-$1.err" >&2
		[ "$rc" = 77 ] && return 77
		echo "bench: could not start PostgreSQL for $1" >&2
		exit 1
	fi
	BENCH_STORE=$uri BENCH_PG_DIR=$dir BENCH_STORM_DAT=$out/storm-pg.dat side "$1" outpost pg
	"$here/../tests/pg/pg-stop" "$dir" || echo "bench: PostgreSQL in $dir did not stop cleanly" >&2
	return 0
}

# pg_stop_all: on any exit, no PostgreSQL of this run is left running.
pg_stop_all() {
	local d
	for d in "$out"/pg-*/; do
		[ -d "$d/data" ] && "$here/../tests/pg/pg-stop" "$d"
	done
	rm -rf "$out"
}
trap pg_stop_all EXIT

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
row() { printf '%-44s %12s %12s %8s\n' "$1" "$2" "$3" "$4"; }
# pgrow FIGURE SQLITE PG TARGET: a row of the PostgreSQL table, ratio PG /
# SQLite, and "met"/"missed" against TARGET: "<=R" bounds the ratio (n/a
# when the SQLite figure is not above 0: too few devices), "<=Ns" and "=N"
# the PostgreSQL figure itself.
pgrow() {
	local r verdict=
	r=$(ratio "$3" "$2")
	case $4 in
	'<='*s) verdict=$(awk -v x="$3" -v t="${4#<=}" 'BEGIN { sub(/s$/, "", t); print (x != "" && x >= 0 && x + 0 <= t + 0) ? "met" : "missed" }') ;;
	'<='*) verdict=$(awk -v x="$r" -v b="$2" -v t="${4#<=}" 'BEGIN {
		print (x == "-" || b + 0 <= 0) ? "n/a (SQLite figure not above 0)" : (x + 0 <= t + 0) ? "met" : "missed" }') ;;
	'='*) verdict=$(awk -v x="$3" -v t="${4#=}" 'BEGIN { print (x != "" && x + 0 == t + 0) ? "met" : "missed" }') ;;
	esac
	printf '%-40s %9s %11s %7s %8s %s\n' "$1" "${2:--}" "${3:--}" "$r" "$4" "$verdict"
}

# left FILE: devices the storm left behind (scale.sh prints it only when some were).
left() { local x; [ -z "$(v "$1" storm_s)" ] || { x=$(v "$1" storm_left_behind); echo "${x:-0}"; }; }

# at99 STORM_DAT N: seconds until 99 % of N devices were registered again
# (the tail after that is devices sleeping in their backoff, cap 60 s).
# The loadgens' status lags a second: count only once it showed the loss.
at99() { awk -v n="$2" '$2 < 0.99 * n { gone = 1 } gone && $2 >= 0.99 * n { print $1; exit }' "$1" 2>/dev/null; }

# pg_part: part 5, the PostgreSQL column.
pg_part() {
	local o=scale-outpost p=scale-pg lo=throughput-sqlite lp=throughput-pg n k
	echo "== the PostgreSQL store" >&2
	# The 1-minute load average every 10 s: the machine may be shared (the
	# loop ends by itself once $out is gone, if a side fails).
	(while [ -d "$out" ]; do cut -d' ' -f1 /proc/loadavg; sleep 10; done) >"$out/load.log" &
	local sampler=$!
	if [ ! -s "$out/$o.txt" ]; then
		BENCH_SCALE_TPUT=0 side scale outpost
	fi
	if ! BENCH_SCALE_TPUT=0 pg_side scale; then
		kill "$sampler"
		echo "PostgreSQL 15 is not installed: no PostgreSQL column"
		return 0
	fi
	BENCH_LATENCY_ONLY=1 side throughput outpost sqlite
	BENCH_LATENCY_ONLY=1 pg_side throughput
	kill "$sampler"
	wait "$sampler" 2>/dev/null
	n=$(v "$p" devices)
	echo
	echo "PostgreSQL store: outpostd and the CLI on a test PostgreSQL 15 over TCP on 127.0.0.1, $n loadgen devices; ratio = PostgreSQL / SQLite"
	sort -n "$out/load.log" | awk '{ v[NR] = $1 } END { if (NR) printf "load average (1 min) during this part, every 10 s: min %s, median %s, max %s (%d samples)\n", v[1], v[int((NR + 1) / 2)], v[NR], NR }'
	printf '%-40s %9s %11s %7s %8s %s\n' figure sqlite postgresql ratio target ""
	pgrow "memory KiB per idle device (PSS)" "$(v "$o" mem_kib_per_device)" "$(v "$p" mem_kib_per_device)" "<=1.5"
	pgrow "outpostd idle CPU % of a core" "$(v "$o" idle_cpu_pct)" "$(v "$p" idle_cpu_pct)" "<=1.5"
	pgrow "PostgreSQL's own idle CPU %" - "$(v "$p" pg_idle_cpu_pct)" ""
	pgrow "storm: all back (s from listening)" "$(v "$o" storm_s)" "$(v "$p" storm_s)" "<=30s"
	pgrow "storm: 99 % back (s from listening)" "$(at99 "$out/storm.dat" "$n")" "$(at99 "$out/storm-pg.dat" "$n")" ""
	pgrow "storm: left behind" "$(left "$o")" "$(left "$p")" "=0"
	pgrow "storm: failed handshakes" "$(v "$o" storm_failed_handshakes)" "$(v "$p" storm_failed_handshakes)" ""
	pgrow "storm: outpostd peak CPU %" "$(v "$o" storm_peak_cpu_pct)" "$(v "$p" storm_peak_cpu_pct)" "<=1.5"
	pgrow "storm: outpostd peak PSS MiB" "$(v "$o" storm_peak_pss_mib)" "$(v "$p" storm_peak_pss_mib)" ""
	pgrow "connect median ms (${BENCH_CONNECTS:-50} runs)" "$(v "$lo" connect_median_ms)" "$(v "$lp" connect_median_ms)" "<=1.2"
	pgrow "connect p99 ms" "$(v "$lo" connect_p99_ms)" "$(v "$lp" connect_p99_ms)" "<=1.2"
	pgrow "set-up ms, first $(v "$p" devices_small) devices" "$(v "$o" provision_ms_a)" "$(v "$p" provision_ms_a)" ""
	pgrow "set-up ms, other $((n - $(v "$p" devices_small))) devices" "$(v "$o" provision_ms_b)" "$(v "$p" provision_ms_b)" ""
	echo "(set-up: outpost-loadgen -x, keys generated and the devices added in one transaction, as \`outpost import sshd\` does)"
	[ ! -s "$out/storm.dat" ] || cp "$out/storm.dat" "$res/storm.dat"
	[ ! -s "$out/storm-pg.dat" ] || cp "$out/storm-pg.dat" "$res/storm-pg.dat"
}

# nodes_part: part 6, several nodes (bench/nodes.sh, one run per half).
nodes_part() {
	echo "== several nodes" >&2
	(while [ -d "$out" ]; do cut -d' ' -f1 /proc/loadavg; sleep 10; done) >"$out/load-nodes.log" &
	local sampler=$!
	[ "${BENCH_NODES_ROUTE:-1}" = 0 ] || BENCH_NODES_PART=route side nodes outpost route
	[ "${BENCH_NODES_IDLE:-1}" = 0 ] || BENCH_NODES_PART=idle BENCH_NODES_STORM_DAT=$out/storm-nodes.dat side nodes outpost idle
	kill "$sampler"
	wait "$sampler" 2>/dev/null
	echo
	echo "several nodes on one PostgreSQL 15 (tests/pg/pg-start), nodes on 127.0.0.2, .3, ..."
	sort -n "$out/load-nodes.log" | awk '{ v[NR] = $1 } END { if (NR) printf "load average (1 min) during this part, every 10 s: min %s, median %s, max %s (%d samples)\n", v[1], v[int((NR + 1) / 2)], v[NR], NR }'
	[ "${BENCH_NODES_ROUTE:-1}" = 0 ] || nodes_route_table
	[ "${BENCH_NODES_IDLE:-1}" = 0 ] || nodes_idle_table
}

nodes_route_table() {
	local r=nodes-route n verdict a b d k
	echo "route: a stock ssh -R device on node b; technician through b (local) or through a (peered to b); $(v "$r" route_mb) MiB, $(v "$r" route_cipher), median of ${BENCH_REPS:-3}; ${BENCH_CONNECTS:-50} connects each, interleaved"
	printf '%-40s %9s %9s %7s %8s %s\n' figure local peer ratio target ""
	for d in up down; do
		a=$(v "$r" "route_peer_$d") b=$(v "$r" "route_local_$d")
		verdict=$(awk -v x="$(ratio "$a" "$b")" 'BEGIN { print (x != "-" && x + 0 >= 0.7) ? "met" : "missed" }')
		printf '%-40s %9s %9s %7s %8s %s\n' "throughput $d MiB/s" "$b" "$a" "$(ratio "$a" "$b")" ">=0.7" "$verdict"
	done
	for k in median p99; do
		a=$(v "$r" "route_peer_connect_${k}_ms") b=$(v "$r" "route_local_connect_${k}_ms")
		n=$(awk -v a="$a" -v b="$b" 'BEGIN { if (a == "" || b == "") print "-"; else printf "%+d", a - b }')
		verdict=
		[ "$k" = median ] && verdict=$(awk -v x="$n" 'BEGIN { print (x != "-" && x + 0 <= 20) ? "met" : "missed" }')
		printf '%-40s %9s %9s %7s %8s %s\n' "connect $k ms (delta)" "$b" "$a" "$n" "$([ "$k" = median ] && echo '<=+20')" "$verdict"
	done
	printf '%-40s %9s %9s\n' "first connect through a (opens the peer) ms" - "$(v "$r" route_peer_cold_connect_ms)"
}

nodes_idle_table() {
	local i=nodes-idle n verdict x
	n=$(v "$i" nodes_devices)
	echo
	echo "idle devices: $n outpost-loadgen devices (asked: $(v "$i" nodes_devices_requested)) over $(v "$i" nodes_n) nodes, one loadgen per node to its address"
	[ -z "$(v "$i" nodes_devices_capped_by_fd)" ] || echo "devices per node capped at $(v "$i" nodes_devices_capped_by_fd) by the descriptor limit ($(ulimit -Hn); a node holds $(v "$i" nodes_own_fds) of its own)"
	printf '%-48s %12s %8s %s\n' figure value target ""
	t() { printf '%-48s %12s %8s %s\n' "$1" "${2:--}" "$3" "$4"; }
	verdict=$(awk -v x="$(v "$i" nodes_online_in_store)" -v n="$n" 'BEGIN { print (x != "" && x + 0 == n + 0) ? "met" : "missed" }')
	t "registered (online in the store)" "$(v "$i" nodes_online_in_store)" "=$n" "$verdict"
	t "ramp s (all registered)" "$(v "$i" nodes_ramp_s)" "" ""
	x=$(v "$i" connected_kib_per_device_max)
	t "KiB per device per node (PSS), worst node" "$x" "<=24" "$(awk -v x="$x" 'BEGIN { print (x != "" && x + 0 <= 24) ? "met" : "missed" }')"
	t "KiB per device per node (PSS), mean" "$(v "$i" connected_kib_per_device_mean)" "" ""
	t "  of which the mirror, before any connected" "$(v "$i" provisioned_kib_per_device_mean)" "" ""
	t "at rest: PostgreSQL CPU %" "$(v "$i" idle_pg_cpu_pct)" "" ""
	t "at rest: store writes, WAL KiB/s" "$(v "$i" idle_wal_kib_s)" "" ""
	t "at rest: store writes, rows/s" "$(v "$i" idle_rows_s)" "" ""
	t "at rest: all nodes' CPU %" "$(v "$i" idle_nodes_cpu_pct)" "" ""
	t "at rest: loadgens' CPU %" "$(v "$i" idle_loadgens_cpu_pct)" "" ""
	t "restart of every node: shutdown s" "$(v "$i" storm_shutdown_s)" "" ""
	x=$(v "$i" storm_s)
	t "restart: all back, s from the first start" "$x" "<=120" "$(awk -v x="$x" 'BEGIN { print (x != "" && x >= 0 && x + 0 <= 120) ? "met" : "missed" }')"
	t "restart: left behind" "$(v "$i" storm_left_behind)" "=0" "$([ "$(v "$i" storm_left_behind)" = 0 ] && echo met || echo missed)"
	t "restart: online in the store after" "$(v "$i" storm_online_in_store)" "" ""
	t "restart: failed handshakes" "$(v "$i" storm_failed_handshakes)" "" ""
	t "restart: PostgreSQL CPU % (mean, peak)" "$(v "$i" storm_pg_cpu_pct), $(v "$i" storm_pg_peak_cpu_pct)" "" ""
	t "restart: store writes, WAL KiB/s" "$(v "$i" storm_wal_kib_s)" "" ""
	t "restart: store writes, rows/s" "$(v "$i" storm_rows_s)" "" ""
	[ ! -s "$out/storm-nodes.dat" ] || cp "$out/storm-nodes.dat" "$res/storm-nodes.dat"
}

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
	echo "median of the runs, then the best run (a 50 ms transfer settles at one of two rates, direct ssh and jumps alike: docs/BENCHMARKS.md)"
	printf '%-22s %8s %8s %6s %8s %7s | %8s %8s %6s %8s %7s\n' figure outpost openssh ratio direct "/direct" outpost openssh ratio direct "/direct"
	awk '{ print $2, $3 }' "$out/longlink-outpost.txt" | sort | while read -r key a; do
		case $key in ll_direct* | *_best) continue ;; esac
		rest=${key#ll_} where=${rest%%_*} dir=${key##*_}
		rtt=${where//[a-z]/} tot=$rtt
		case $where in both*) tot=$((2 * rtt)) ;; esac
		b=$(v longlink-stock "ll_${where}_ssh_$dir") d=$(v longlink-outpost "ll_direct${tot}_$dir")
		A=$(v longlink-outpost "${key}_best") B=$(v longlink-stock "ll_${where}_ssh_${dir}_best") D=$(v longlink-outpost "ll_direct${tot}_${dir}_best")
		printf '%-22s %8s %8s %6s %8s %7s | %8s %8s %6s %8s %7s\n' "${key#ll_}" "$a" "${b:--}" "$(ratio "$a" "$b")" "${d:--}" "$(ratio "$a" "$d")" \
		    "${A:--}" "${B:--}" "$(ratio "$A" "$B")" "${D:--}" "$(ratio "$A" "$D")"
	done
fi
if [ "${BENCH_PG:-1}" != 0 ]; then
	pg_part
fi
if [ "${BENCH_NODES:-1}" != 0 ]; then
	nodes_part
fi
} | tee "$res/table.txt"
for f in "$out"/*.txt; do
	if [ -f "$f" ]; then echo "# $(basename "$f" .txt)"; cat "$f"; fi
done >"$res/raw.txt"
