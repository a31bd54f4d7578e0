#!/bin/bash
# mirror-mem.sh: outpostd's memory with BENCH_DEVICES (default 10000) idle
# loadgen devices, on the direct SQLite path (OUTPOST_STORE_MIRROR=0, kept
# for this comparison) and with the store thread's in-memory mirror (the
# default since it keeps the loop off the database file): the mirror's cost per device
# (docs/ARCHITECTURE.md, "The store thread and the mirror"). Then a
# reconnect storm in mirror mode: how many transactions wrote it.
# Prints "RESULT key value" lines.
. "$(dirname "$0")/../tests/integration/lib.sh"
. "$(dirname "$0")/lib-bench.sh"

N=${BENCH_DEVICES:-10000}
LG=$OUTPOST_BUILD/bench/outpost-loadgen
ulimit -n "$(ulimit -Hn)" || fail "cannot raise RLIMIT_NOFILE"
[ -x "$LG" ] || fail "no $LG (build it first)"

result() { echo "RESULT $1 $2"; log "$1 = $2"; }
kib() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$OUTPOSTD_PID/status"; }
pss() { awk '/^Pss:/ { print $2 }' "/proc/$OUTPOSTD_PID/smaps_rollup"; }
registered() { sed -n 's/.* registered=\([0-9]*\) .*/\1/p' "$T/lg.status" 2>/dev/null | tail -n 1; }

basic_setup
user_add boss --admin
"$LG" -k "$T/lgkeys" -d "$STATE" -f lg -p lg -n "$N" -x -q >>"$LOGDIR/loadgen.log" 2>&1 || fail "loadgen could not provision"
stop_outpostd
for mode in direct mirror; do
	if [ $mode = mirror ]; then export OUTPOST_STORE_MIRROR=1; else export OUTPOST_STORE_MIRROR=0; fi
	start_outpostd
	sleep 1
	result "${mode}_empty_rss_kib" "$(kib VmRSS)"
	spawn loadgen "$LG" -k "$T/lgkeys" -f lg -p lg -n "$N" -s "127.0.0.1:$JUMP_PORT" \
		-H "$STATE/ssh_host_ed25519_key.pub" -o "$T/lg.status" -r "${BENCH_RATE:-1000}" -q
	lg=$LAST_PID
	wait_for "$N devices registered (now $(registered))" 600 eval '[ "$(registered)" -ge '"$N"' ]'
	sleep 3
	result "${mode}_rss_kib" "$(kib VmRSS)"
	result "${mode}_pss_kib" "$(pss)"
	if [ $mode = mirror ]; then
		ssh -F "$(client_config boss)" jump metrics >"$T/m0" 2>&1 || true
		stop_pid "$lg" TERM
		wait_for "devices offline" 60 eval '! grep -Eq "^lg-[0-9]+\.lg +online" <(outpost ls)'
		sleep 1
		ssh -F "$(client_config boss)" jump metrics >"$T/m1" 2>&1 || true
		result mirror_storm_records "$(awk '/^outpost_store_queue_written_total/ { print $2 }' "$T/m1")"
		result mirror_storm_batches "$(awk '/^outpost_store_queue_batches_total/ { print $2 }' "$T/m1")"
	else
		stop_pid "$lg" TERM
	fi
	stop_outpostd
	rm -f "$T/lg.status"
done
done_ok
