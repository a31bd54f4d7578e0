#!/bin/bash
# mem-breakdown.sh: where an idle device's memory goes on one outpostd
# (docs/BENCHMARKS.md, "Several nodes", "Where the memory goes").
# BENCH_DEVICES (default 10000) loadgen devices provisioned in a SQLite
# store, outpostd on it with the store thread's in-memory mirror
# (OUTPOST_STORE_MIRROR=1: the same mirror as a node's over PostgreSQL),
# BENCH_CONNECTED of them (default 2000) connected. Prints RESULT lines:
#   mirror_pages_*     the mirror's tables and indexes (sqlite3's dbstat on a
#                      copy made as the mirror is made, store_copy), bytes per
#                      device in the store
#   direct_empty_pss   outpostd without the mirror, no device connected
#   mirror_kib_per_device  (PSS with the mirror − without) / devices in the store
#   session_kib_per_device (PSS with BENCH_CONNECTED connected − before) / BENCH_CONNECTED
#   *_after_trim       the same after malloc_trim(0) in outpostd (gdb):
#                      what glibc held free on its heaps
# and outpostd's malloc_stats() (per arena: system and in-use bytes) in its
# log. BENCH_HEAPTRACK=1 runs the connected outpostd under heaptrack
# instead (no PSS figures); heaptrack_print's peak consumers go to
# $LOGDIR/heaptrack.txt.
. "$(dirname "$0")/../tests/integration/lib.sh"
. "$(dirname "$0")/lib-bench.sh"

N=${BENCH_DEVICES:-10000}
C=${BENCH_CONNECTED:-2000}
LG=$OUTPOST_BUILD/bench/outpost-loadgen
ulimit -n "$(ulimit -Hn)" || fail "cannot raise RLIMIT_NOFILE"
[ -x "$LG" ] || fail "no $LG (build it first)"

result() { echo "RESULT $1 $2"; log "$1 = $2"; }
registered() { sed -n 's/.* registered=\([0-9]*\) .*/\1/p' "$T/lg.status" 2>/dev/null | tail -n 1; }
pss() { pss_kib "$OUTPOSTD_PID"; }
per() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { printf "%.2f", (a - b) / n }'; }
# trim: malloc_stats() into outpostd's log, then malloc_trim(0).
trim() {
	echo "==== malloc_stats ($1)" >>"$DAEMON_LOG"
	gdb -p "$OUTPOSTD_PID" -batch -ex 'call (void)malloc_stats()' -ex 'call (int)malloc_trim(0)' >/dev/null 2>&1 ||
		log "gdb could not attach to outpostd"
}

basic_setup
user_add boss --admin
"$LG" -k "$T/lgkeys" -d "$STATE" -f lg -p lg -n "$N" -x -q >>"$LOGDIR/loadgen.log" 2>&1 || fail "loadgen could not provision"
stop_outpostd

# the mirror's pages: a copy made as storeq.c makes the mirror
mkdir -p "$T/copy"
"$OUTPOST_BIN" store copy --from "sqlite:$STATE" --to "sqlite:$T/copy" >/dev/null || fail "store copy failed"
sqlite3 "$T/copy/outpost.db" "SELECT name, count(*), sum(pgsize), sum(pgsize - unused) FROM dbstat GROUP BY name ORDER BY 3 DESC" |
	while IFS='|' read -r name pages size used; do
		result "mirror_pages_$name" "$pages pages, $(per "$size" 0 "$N") B/device, $(per "$used" 0 "$N") B/device used"
	done
result mirror_file_b_per_device "$(per "$(stat -c %s "$T/copy/outpost.db")" 0 "$N")"

export OUTPOST_STORE_MIRROR=0	# SQLite's direct path: no mirror
start_outpostd
sleep 2
direct=$(pss)
result direct_empty_pss_kib "$direct"
stop_outpostd

export OUTPOST_STORE_MIRROR=1
if [ "${BENCH_HEAPTRACK:-0}" = 1 ]; then
	DAEMON_WRAP=(heaptrack -o "$T/ht")
fi
start_outpostd
sleep 2
empty=$(pss)
result mirror_empty_pss_kib "$empty"
result mirror_kib_per_device "$(per "$empty" "$direct" "$N")"
spawn loadgen "$LG" -k "$T/lgkeys" -f lg -p lg -n "$C" -s "127.0.0.1:$JUMP_PORT" \
	-H "$STATE/ssh_host_ed25519_key.pub" -o "$T/lg.status" -r "${BENCH_RATE:-1000}" -q
lg=$LAST_PID
wait_for "$C devices registered (now $(registered))" 600 eval '[ "$(registered)" -ge '"$C"' ]'
sleep 5
if [ "${BENCH_HEAPTRACK:-0}" != 1 ]; then
	full=$(pss)
	result connected_pss_kib "$full"
	result session_kib_per_device "$(per "$full" "$empty" "$C")"
	trim connected
	sleep 1
	t=$(pss)
	result connected_pss_kib_after_trim "$t"
	result session_kib_per_device_after_trim "$(per "$t" "$empty" "$C")"
	grep -A 3 '^Arena\|^Total\|^system\|^in use' "$DAEMON_LOG" | tail -n 40 >&2
fi
stop_pid "$lg" TERM
if [ "${BENCH_HEAPTRACK:-0}" = 1 ]; then
	# OUTPOSTD_PID is heaptrack's script: outpostd is its child
	real=$(ps -o pid=,comm= --ppid "$OUTPOSTD_PID" | awk '$2 == "outpostd" { print $1 }')
	[ -n "$real" ] && kill -TERM "$real"
	wait_for "heaptrack done" 120 eval '! alive '"$OUTPOSTD_PID"
	OUTPOSTD_PID=
	f=$(ls "$T"/ht.* | head -n 1)
	heaptrack_print -f "$f" --print-peaks 1 --print-allocators 0 --print-temporary 0 --print-leaks 0 \
		--peak-limit 40 --sub-peak-limit 6 >"$LOGDIR/heaptrack.txt" 2>&1
	log "heaptrack: $LOGDIR/heaptrack.txt"
	cp "$f" "$LOGDIR/" 2>/dev/null || true
else
	stop_outpostd
fi
done_ok
