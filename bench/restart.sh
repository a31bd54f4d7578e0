#!/bin/bash
# restart.sh: what one node's restart costs (issue 17's "restart of every
# node at once"), measured on one outpostd on PostgreSQL; prints
# "RESULT key value" lines.
#
# BENCH_RESTART_DEVICES (default 15000) loadgen devices connect to one node
# whose store holds BENCH_RESTART_STORE devices in all (default 100000: the
# rest are provisioned and never connect, as other nodes' devices are);
# BENCH_RATE (default 500) the loadgen's first connections per second.
# Then, BENCH_RESTART_REPS times (default 1):
#   shutdown: SIGTERM to exit, wall time and the process's CPU (its own
#     "stopped" log line says both, from getrusage; the script's figure
#     from /proc polled every 10 ms is the check), with the devices
#     connected;
#   start: exec to listening (ss) and exec to serving (the "ready" log
#     line: the loop runs), and the CPU until serving; then until every
#     device is registered again (at most BENCH_RESTART_BACK_S, default 120).
# BENCH_RESTART_PERF=FILE: `perf record` of the first shutdown into FILE
# (BENCH_RESTART_PERF_ARGS, default "-F 999 -g"; `perf report -i FILE
# --no-children` reads it).
# BENCH_RESTART_PERF_START=FILE: the same of the second start, from
# listening (perf attaches then) to serving: the copy of the store.
# BENCH_RESTART_KEYS=DIR keeps the loadgen's generated keys there across
# runs (key generation is most of the provisioning).
#
# OUTPOST_BUILD=build BENCH_RESTART_DEVICES=15000 BENCH_RESTART_STORE=100000 bench/restart.sh
unset OUTPOST_TEST_PG OUTPOST_TEST_STORE
. "$(dirname "$0")/../tests/integration/lib.sh"
. "$(dirname "$0")/lib-bench.sh"
. "$IT_DIR/lib-nodes.sh"

LG=$OUTPOST_BUILD/bench/outpost-loadgen
HZ=$(getconf CLK_TCK)
DEV=${BENCH_RESTART_DEVICES:-15000}
ALL=${BENCH_RESTART_STORE:-100000}
REPS_R=${BENCH_RESTART_REPS:-1}
KEYS=${BENCH_RESTART_KEYS:-$T/keys}
ulimit -n "$(ulimit -Hn)" || fail "cannot raise RLIMIT_NOFILE"
[ -x "$LG" ] || fail "no $LG (build it first)"
[ "$ALL" -ge "$DEV" ] || fail "BENCH_RESTART_STORE ($ALL) < BENCH_RESTART_DEVICES ($DEV)"
mkdir -p "$KEYS"

result() { echo "RESULT $1 $2"; log "$1 = $2"; }
ms_s() { awk -v ms="$1" 'BEGIN { printf "%.2f", ms / 1000 }'; }
ticks_s() { awk -v t="$1" -v hz="$HZ" 'BEGIN { printf "%.2f", t / hz }'; }
registered() {
	local n
	n=$(sed -n 's/.* registered=\([0-9]*\) .*/\1/p' "$T/lg.status" 2>/dev/null | tail -n 1)
	echo "${n:-0}"
}
# a log line's time in ms since the epoch: "2026-12-06T09:50:01.123Z ..."
line_ms() {
	local l
	l=$(grep -a "$1" "$(node_log n1)" | tail -n 1)
	[ -n "$l" ] || { echo 0; return; }
	echo $(($(date -u -d "${l:0:23}" +%s%3N)))
}

nodes_init n1
# the store: DEV devices that connect, ALL - DEV that never do
t0=$(now_ms)
"$LG" -k "$KEYS/c-$DEV" -D "$STORE_SPEC" -f lg -p c -n "$DEV" -x -q >>"$LOGDIR/loadgen-x.log" 2>&1 ||
	fail "loadgen could not provision (logs: $LOGDIR/loadgen-x.log)"
# the rest by loadgens of at most 50,000 devices each (its limit is 65,536), in parallel
rest=$((ALL - DEV)) i=0 jobs=()
while [ "$rest" -gt 0 ]; do
	n=$((rest > 50000 ? 50000 : rest))
	"$LG" -k "$KEYS/x$i-$n" -D "$STORE_SPEC" -f lg -p "x$i" -n "$n" -x -q >>"$LOGDIR/loadgen-x.log" 2>&1 &
	jobs+=("$!")
	rest=$((rest - n)) i=$((i + 1))
done
for j in "${jobs[@]}"; do wait "$j" || fail "loadgen could not provision (logs: $LOGDIR/loadgen-x.log)"; done
result restart_store_devices "$(store_sql "SELECT count(*) FROM devices")"
result restart_provision_s "$(ms_s $(($(now_ms) - t0)))"

# start N: exec to listening and to serving, CPU until serving
start_node() {
	local t0 tl pid
	local perfpid=
	t0=$(now_ms)
	node_start n1
	tl=$(now_ms)
	pid=${NODE_PID[n1]}
	if [ "$1" = 2 ] && [ -n "${BENCH_RESTART_PERF_START:-}" ]; then
		# shellcheck disable=SC2086
		perf record ${BENCH_RESTART_PERF_ARGS:--F 999 -g} -o "$BENCH_RESTART_PERF_START" -p "$pid" \
		    >>"$LOGDIR/perf.log" 2>&1 &
		perfpid=$!
	fi
	try_for 60 eval '[ "$(grep -ac " ready; host key" "$(node_log n1)")" -ge '"$1"' ]' || fail "node never ready"
	[ -z "$perfpid" ] || { kill -INT "$perfpid"; wait "$perfpid"; }
	result "restart_start_listen_ms_$1" $((tl - t0))
	result "restart_start_ready_ms_$1" $(($(line_ms " ready; host key") - t0))
	result "restart_start_cpu_s_$1" "$(ticks_s "$(ticks "$pid")")"
	grep -a "ready; host key" "$(node_log n1)" | tail -n 1 >&2
}

start_node 1
spawn loadgen "$LG" -k "$KEYS/c-$DEV" -f lg -p c -n "$DEV" -s "$(node_addr n1)" -H "$NODE_HOSTKEY.pub" \
	-o "$T/lg.status" -r "${BENCH_RATE:-500}" -q
LGPID=$LAST_PID
t0=$(now_ms)
# all, or what registered within BENCH_RESTART_RAMP_S (a loaded machine: a
# few sources the penalty blocked after handshake time-outs)
if ! try_for "${BENCH_RESTART_RAMP_S:-300}" eval '[ "$(registered)" -ge '"$DEV"' ]'; then
	log "only $(registered) of $DEV registered"
	[ "$(registered)" -ge $((DEV * 99 / 100)) ] || fail "only $(registered) of $DEV registered"
	DEV=$(registered)
fi
result restart_ramp_s "$(ms_s $(($(now_ms) - t0)))"
result restart_connected "$DEV"
sleep 3

for rep in $(seq 1 "$REPS_R"); do
	pid=${NODE_PID[n1]}
	c0=$(ticks "$pid")
	perfpid=
	if [ "$rep" = 1 ] && [ -n "${BENCH_RESTART_PERF:-}" ]; then
		# shellcheck disable=SC2086
		perf record ${BENCH_RESTART_PERF_ARGS:--F 999 -g} -o "$BENCH_RESTART_PERF" -p "$pid" >>"$LOGDIR/perf.log" 2>&1 &
		perfpid=$!
		sleep 1
	fi
	c1=$c0
	t0=$(now_ms)
	kill -TERM "$pid"
	while alive "$pid"; do
		c=$(ticks "$pid")
		[ "$c" -gt 0 ] && c1=$c
		sleep 0.01
	done
	t1=$(now_ms)
	wait "$pid"
	st=$?
	forget_pid "$pid"
	unset "NODE_PID[n1]"
	[ "$st" = 0 ] || fail "node exited with status $st"
	[ -z "$perfpid" ] || wait "$perfpid"
	result "restart_shutdown_ms_$rep" $((t1 - t0))
	result "restart_shutdown_cpu_s_$rep" "$(ticks_s $((c1 - c0)))"
	grep -a "stopped" "$(node_log n1)" | tail -n 1 >&2
	result "restart_offline_in_store_$rep" "$(store_sql "SELECT count(*) FROM devices WHERE online = 1")"
	start_node $((rep + 1))
	# back: registered again (the loadgen's count); the devices come back
	# from their backoff, so this is mostly the loadgen's jitter
	t0=$(now_ms)
	if try_for "${BENCH_RESTART_BACK_S:-120}" eval '[ "$(registered)" -ge '"$DEV"' ]'; then
		result "restart_all_back_s_$rep" "$(ms_s $(($(now_ms) - t0)))"
	else
		result "restart_all_back_s_$rep" -1
		result "restart_back_$rep" "$(registered)"
	fi
	sleep 3
done
result restart_uptime "\"$(uptime | sed 's/.*load average: //')\""
stop_pid "$LGPID" TERM 30
node_stop n1
done_ok
