#!/bin/bash
# nodes.sh: several outpostd nodes on one PostgreSQL (issue 17), run by
# bench/run.sh (part 6) once per part; prints "RESULT key value" lines.
# The nodes are tests/integration/lib-nodes.sh's: one test PostgreSQL 15
# started by tests/pg/pg-start for this script alone, outpostd nodes on
# 127.0.0.2, .3, ... sharing it and one host key.
#
# BENCH_NODES_PART=route  a route through a peer against the same route on
#     one node: a stock `ssh -R` device on node b; a technician through b
#     (local) and through a (a routes to b over its peer connection),
#     interleaved: transfers of BENCH_NODES_MB MiB (default 256) up and down,
#     BENCH_REPS runs each (median), cipher BENCH_NODES_CIPHER on the
#     technician's and the device's hops (default aes128-gcm@openssh.com);
#     connect latency `ssh -J node root@dev true`, BENCH_CONNECTS runs each
#     (median, p99; the first through a, which opens the peer connection,
#     is reported alone as the cold figure).
# BENCH_NODES_PART=idle   BENCH_NODES_DEVICES (default 100000) loadgen
#     devices over BENCH_NODES_N nodes (default 5), one loadgen process per
#     node to that node's address: all registered, PSS per device per node
#     (over the node's PSS before any device existed: the mirror of the whole
#     store is part of it), idle CPU of the nodes, the loadgens and
#     PostgreSQL over BENCH_IDLE_S (default 30) with the store's write rate
#     (WAL bytes/s, exact; rows written/s from pg_stat_database, which lags a
#     few seconds); then SIGTERM to every node at once and all started again:
#     seconds until every device is back (BENCH_NODES_STORM_S, default 300,
#     is when it gives up; the target is 120), PostgreSQL's CPU and the write
#     rate over that time. A process may hold `ulimit -Hn` descriptors: a
#     node needs one per device plus its own, so the devices per node are
#     capped at that limit less the node's own descriptors and a margin of 32
#     (RESULT nodes_devices_capped_by_fd says so).
#     BENCH_NODES_SOCKACT=1 (the default) runs each node socket-activated,
#     as dist/systemd/outpostd.socket does: tests/integration/sockact.py
#     holds the node's listening socket (backlog BENCH_NODES_BACKLOG, default
#     1024 as outpostd's own listen()) and
#     starts outpostd again as soon as it exits, so the restart refuses no
#     device; there the "listening" figure is when every new process serves
#     (its "ready" line). BENCH_NODES_SOCKACT=0: plain processes, each
#     closing its socket at SIGTERM and binding it again at its start.
#     The storm's CPU per registration by side is printed
#     (storm_cpu_ms_per_registration_nodes, _loadgens, _pg). To look
#     inside: BENCH_NODES_PERF=FILE records `perf record` through the storm
#     (BENCH_NODES_PERF_ARGS, default "-a -F 199"); BENCH_NODES_SYSCALLS=FILE
#     counts the new nodes' and the loadgens' system calls (`perf stat`,
#     FILE.node-NAME and FILE.loadgens; stopping it adds seconds to
#     storm_from_sigterm_s). BENCH_LOADGEN: another build's loadgen.
#     BENCH_NODES_STORM_DAT=FILE keeps the storm's samples: FILE (seconds
#     since the old nodes exited, registered, PostgreSQL's % of a core, the
#     nodes' ticks) and FILE.early (ms since SIGTERM, registered,
#     connecting, waiting: from the SIGTERM on, every 0.5 s).
# BENCH_RATE: each loadgen's first connections per second (default 1000).
unset OUTPOST_TEST_PG OUTPOST_TEST_STORE
. "$(dirname "$0")/../tests/integration/lib.sh"
. "$(dirname "$0")/lib-bench.sh"
. "$IT_DIR/lib-nodes.sh"

PART=${BENCH_NODES_PART:-route}
LG=${BENCH_LOADGEN:-$OUTPOST_BUILD/bench/outpost-loadgen}
HZ=$(getconf CLK_TCK)
ulimit -n "$(ulimit -Hn)" || fail "cannot raise RLIMIT_NOFILE"

result() { echo "RESULT $1 $2"; log "$1 = $2"; }
secs_since() { awk -v ms=$(($(now_ms) - $1)) 'BEGIN { printf "%.1f", ms / 1000 }'; }

# cpu_pct TICKS MS: % of one core.
cpu_pct() { awk -v t="$1" -v hz="$HZ" -v ms="$2" 'BEGIN { printf "%.2f", 100 * t / hz / (ms > 0 ? ms / 1000 : 1) }'; }

# ---------------------------------------------------------------- route
# mirror_keeper: every BENCH_NODES_REFRESH_S seconds (default 0: never) a
# statement that changes no row but fires the store's change trigger, so
# every node refills its mirror. Written while a node's mirror learnt other
# nodes' heartbeats only when refilled; the store thread now looks at the
# nodes' up/down state every second and refills on a change (storeq.c), so
# this is off. Never use it at scale: each refill copies every device.
mirror_keeper() {
	local every=${BENCH_NODES_REFRESH_S:-0}
	[ "$every" != 0 ] || return 0
	spawn mirror-keeper bash -c 'while :; do psql -XAtq "$1" -c "UPDATE fleets SET name = name WHERE false" >/dev/null 2>&1; sleep "$2"; done' \
		keeper "$STORE_SPEC" "$every"
}

route_part() {
	local MB=${BENCH_NODES_MB:-256} CONNECTS=${BENCH_CONNECTS:-50} cipher=${BENCH_NODES_CIPHER:-aes128-gcm@openssh.com}
	local src w cfg rep i t0 c
	nodes_init a b
	mirror_keeper
	fleet_add acme
	user_add alice acme
	device_add pi-hq acme
	node_start a
	node_start b
	start_device_sshd
	on_node b start_device pi-hq acme -c "$cipher"
	node_wait_on pi-hq.acme b 30
	# each technician's config with the cipher first (ProxyJump's second ssh reads it too)
	declare -gA CCFG_OF=()
	for w in a b; do
		cfg=$(node_client_config "$w")
		{ echo "Ciphers $cipher"; cat "$cfg"; } >"$cfg.cipher"
		CCFG_OF[$w]=$cfg.cipher
	done
	wait_for "pi-hq.acme reachable through b" 30 node_reach b pi-hq.acme
	# a's first route to b opens the peer connection: timed alone
	t0=$(now_ms)
	wait_for "pi-hq.acme reachable through a (peered)" 30 node_reach a pi-hq.acme
	result route_peer_cold_connect_ms $(($(now_ms) - t0))
	: >"$T/lat.local"
	: >"$T/lat.peer"
	for i in $(seq 1 "$CONNECTS"); do
		for w in b a; do
			t0=$(now_ms)
			ssh -F "${CCFG_OF[$w]}" -J jump root@pi-hq.acme true || fail "connect $i through $w failed"
			c=local
			[ "$w" = a ] && c=peer
			echo $(($(now_ms) - t0)) >>"$T/lat.$c"
		done
	done
	for c in local peer; do
		sort -n "$T/lat.$c" | awk -v c="$c" '{ v[NR] = $1 } END {
			printf "RESULT route_%s_connect_median_ms %d\n", c, v[int((NR + 1) / 2)]
			i = int(NR * 0.99 + 0.999); if (i > NR) i = NR
			printf "RESULT route_%s_connect_p99_ms %d\n", c, v[i] }'
	done
	src=$T/data/route
	head -c $((MB * 1048576)) /dev/zero | openssl enc -aes-128-ctr -nosalt -pass pass:bench 2>/dev/null >"$src" ||
		head -c $((MB * 1048576)) /dev/urandom >"$src"
	for rep in $(seq 1 "$REPS"); do
		for w in b a; do
			c=local
			[ "$w" = a ] && c=peer
			rate "route_${c}_up" ssh -F "${CCFG_OF[$w]}" -J jump root@pi-hq.acme "cat > /dev/null" <"$src"
			rate "route_${c}_down" ssh -F "${CCFG_OF[$w]}" -J jump root@pi-hq.acme "head -c $((MB * 1048576)) /dev/zero" >/dev/null
		done
	done
	for c in local peer; do
		for w in up down; do median "route_${c}_$w"; done
	done
	result route_mb "$MB"
	result route_cipher "${cipher%%@*}"
	grep -c "peer node b: logged in as node:a" "$(node_log a)" | sed 's/^/RESULT route_peer_logins /'
	nodes_stop_all
}

# ---------------------------------------------------------------- idle
NN=${BENCH_NODES_N:-5}
NAMES=()
LGP=()			# loadgen pids, by node index
declare -A BASE_PSS=() PER=() HOLDER=() READY0=()
SOCKACT=${BENCH_NODES_SOCKACT:-1}

registered_total() {
	cat "$T"/lg-*.status 2>/dev/null | sed -n 's/.* registered=\([0-9]*\) .*/\1/p' | awk '{ s += $1 } END { print s + 0 }'
}
disconnects_total() {
	cat "$T"/lg-*.status 2>/dev/null | sed -n 's/.* disconnects=\([0-9]*\) .*/\1/p' | awk '{ s += $1 } END { print s + 0 }'
}
failed_total() {
	cat "$T"/lg-*.status 2>/dev/null | sed -n 's/.* failed=\([0-9]*\) .*/\1/p' | awk '{ s += $1 } END { print s + 0 }'
}
# Fork-free samplers for the loops that run every second through the ramp
# and the storm: a fork and exec cost ~3 ms of CPU on this machine, and the
# storm loop's cat, sed, awk and ps were ~9 % of both cores in a
# 10,000-device storm, taken from the handshakes it measures.
# lg_sum FIELD: sets SUM to the loadgens' FIELD, summed from their status files.
lg_sum() {
	local f line v
	SUM=0
	for f in "$T"/lg-*.status; do
		line=
		{ read -r line <"$f" || [ -n "$line" ]; } 2>/dev/null || continue
		[[ $line == *" $1="* ]] || continue
		v=${line#* $1=}
		v=${v%% *}
		[[ $v =~ ^[0-9]+$ ]] && SUM=$((SUM + v))
	done
	return 0
}
# proc_ticks PID...: sets TICKS to their user + system clock ticks.
proc_ticks() {
	local p line
	local -a a
	TICKS=0
	for p in "$@"; do
		{ read -r line <"/proc/$p/stat"; } 2>/dev/null || continue
		read -ra a <<<"${line##*) }"
		TICKS=$((TICKS + a[11] + a[12]))
	done
}
# pg_tree: sets PGP to PostgreSQL's postmaster and its descendants (/proc's
# children lists).
pg_tree() {
	local p c kids i=0
	PGP=()
	{ read -r p <"$PG_OWN/data/postmaster.pid"; } 2>/dev/null || return 0
	PGP=("$p")
	while [ "$i" -lt "${#PGP[@]}" ]; do
		p=${PGP[$i]} kids=
		{ read -r kids <"/proc/$p/task/$p/children"; } 2>/dev/null
		for c in $kids; do PGP+=("$c"); done
		i=$((i + 1))
	done
}
# clock_ms: sets MS to now_ms's value without a subshell.
clock_ms() { MS=${EPOCHREALTIME//[.,]/}; MS=$((MS / 1000)); }

# online_by_node: "NODE COUNT" lines, the store's online devices.
online_by_node() {
	store_sql "SELECT node || ' ' || count(*) FROM devices WHERE online = 1 GROUP BY node ORDER BY node"
}
online_total() { store_sql "SELECT count(*) FROM devices WHERE online = 1"; }
node_pids() { local n; for n in "${NAMES[@]}"; do echo "${NODE_PID[$n]}"; done; }
pg_pids() { tree "$(head -n 1 "$PG_OWN/data/postmaster.pid")"; }
# wal_bytes: PostgreSQL's WAL position, in bytes.
wal_bytes() { psql -XAtq "$STORE_SPEC" -c "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint"; }
# rows_written: the database's inserted + updated + deleted rows (cumulative statistics).
rows_written() {
	psql -XAtq "$STORE_SPEC" -c "SELECT tup_inserted + tup_updated + tup_deleted FROM pg_stat_database WHERE datname = current_database()"
}

# window LABEL SECS: CPU of nodes, loadgens and PostgreSQL, and the write
# rate, over SECS seconds of rest.
window() {
	local l=$1 s=$2 tn tl tp w r ms0 ms1 tn1 tl1 tp1 w1 r1 ms
	tn=$(ticks $(node_pids)) tl=$(ticks "${LGP[@]}") tp=$(ticks $(pg_pids)) w=$(wal_bytes) r=$(rows_written)
	ms0=$(now_ms)
	sleep "$s"
	tn1=$(ticks $(node_pids)) tl1=$(ticks "${LGP[@]}") tp1=$(ticks $(pg_pids)) w1=$(wal_bytes) r1=$(rows_written)
	ms1=$(now_ms)
	ms=$((ms1 - ms0))
	result "${l}_nodes_cpu_pct" "$(cpu_pct $((tn1 - tn)) $ms)"
	result "${l}_loadgens_cpu_pct" "$(cpu_pct $((tl1 - tl)) $ms)"
	result "${l}_pg_cpu_pct" "$(cpu_pct $((tp1 - tp)) $ms)"
	result "${l}_wal_kib_s" "$(awk -v b=$((w1 - w)) -v ms=$ms 'BEGIN { printf "%.1f", b / 1024 / (ms / 1000) }')"
	result "${l}_rows_s" "$(awk -v b=$((r1 - r)) -v ms=$ms 'BEGIN { printf "%.1f", b / (ms / 1000) }')"
}

# mem LABEL: PSS per device per node over each node's empty PSS: max and mean.
mem() {
	local n p per vals=()
	for n in "${NAMES[@]}"; do
		p=$(pss_kib "${NODE_PID[$n]}")
		per=$(awk -v p="$p" -v b="${BASE_PSS[$n]}" -v d="${PER[$n]}" 'BEGIN { printf "%.1f", (p - b) / d }')
		log "node $n: PSS $p KiB (empty $((BASE_PSS[$n])) KiB), ${PER[$n]} devices: $per KiB each"
		vals+=("$per")
		result "${1}_pss_kib_node_$n" "$p"
	done
	result "${1}_kib_per_device_max" "$(printf '%s\n' "${vals[@]}" | sort -n | tail -n 1)"
	result "${1}_kib_per_device_mean" "$(printf '%s\n' "${vals[@]}" | awk '{ s += $1 } END { printf "%.1f", s / NR }')"
}

# probe: BENCH_NODES_PROBE=1, a diagnosis (docs/BENCHMARKS.md, "Where a
# node's memory goes"): each node's SQLite memory (its mirror, read with
# gdb: sqlite3_memory_used()), then malloc_trim(0) in each and the PSS per
# device again: what glibc held free on its heaps.
probe() {
	local n b
	for n in "${NAMES[@]}"; do
		b=$(gdb -p "${NODE_PID[$n]}" -batch -ex 'call (long long)sqlite3_memory_used()' \
			-ex 'call (int)malloc_trim(0)' 2>/dev/null | sed -n 's/^\$1 = //p')
		result "probe_sqlite_kib_node_$n" "$(( ${b:-0} / 1024 ))"
		result "probe_sqlite_b_per_store_device_node_$n" "$(( ${b:-0} / BENCH_NODES_DEVICES_TOTAL ))"
	done
	sleep 1
	mem trimmed
}

# poll SECS CMD...: CMD every second until it succeeds (0) or SECS pass (1);
# lib.sh's try_for runs it 20 times a second, load on a shared machine.
poll() {
	local deadline
	clock_ms
	deadline=$((MS + $1 * 1000))
	shift
	until "$@"; do
		clock_ms
		[ "$MS" -lt "$deadline" ] || return 1
		sleep 1
	done
}


# nodes_start_together: every node started at once (node_start one after
# the other took 3-4 s each on a loaded machine: the last node's devices
# waited in their backoff meanwhile); waits until all listen.
nodes_start_together() {
	local n pid
	for n in "${NAMES[@]}"; do
		echo "==== $(date +%T.%3N) outpostd (restart)" >>"$(node_log "$n")"
		"${DAEMON_WRAP[@]}" "$OUTPOSTD_BIN" -f "$T/node-$n.conf" -d "$(node_state "$n")" -l "$(node_addr "$n")" \
		    </dev/null >>"$(node_log "$n")" 2>&1 &
		pid=$!
		PIDS+=("$pid")
		PID_NAME[$pid]=outpostd-$n
		NODE_PID[$n]=$pid
	done
	for n in "${NAMES[@]}"; do
		wait_for "node $n listening" 60 eval 'node_listening '"$n"' || ! alive '"${NODE_PID[$n]}"
		alive "${NODE_PID[$n]}" || fail "node $n exited at its restart: $(tail -n 3 "$(node_log "$n")")"
	done
}

# node_start_held NAME: node_start under sockact.py, which holds the node's
# socket and starts outpostd again whenever it exits; NODE_PID is outpostd's
# (from the holder's pid file), HOLDER the holder's.
node_start_held() {
	local n=$1 pidf=$T/node-$1.pid saved=("${DAEMON_WRAP[@]}")
	DAEMON_WRAP=(env SOCKACT_RESPAWN=1 SOCKACT_BACKLOG="${BENCH_NODES_BACKLOG:-1024}" SOCKACT_PIDFILE="$pidf"
		"$PY" "$IT_DIR/sockact.py" "$(node_addr "$n")" "${saved[@]}")
	node_start "$n"
	DAEMON_WRAP=("${saved[@]}")
	HOLDER[$n]=${NODE_PID[$n]}
	wait_for "node $n's outpostd under its socket" 30 test -s "$pidf"
	NODE_PID[$n]=$(cat "$pidf")
	wait_for "node $n serving" 60 eval '[ "$(ready_lines '"$n"')" -ge 1 ]'
}
ready_lines() { grep -ac " ready; host key" "$(node_log "$1")"; }

# nodes_restart_held: SIGTERM to every socket-activated node at once; each
# holder starts its node again as soon as it exits. STORM_SHUTDOWN_MS: until
# the last old process exited; then until every new one serves.
nodes_restart_held() {
	local n old=() t0=$(now_ms)
	for n in "${NAMES[@]}"; do
		READY0[$n]=$(ready_lines "$n")
		old+=("${NODE_PID[$n]}")
		kill -TERM "${NODE_PID[$n]}"
	done
	for n in "${old[@]}"; do
		try_for 60 eval '! alive '"$n" || fail "node pid $n did not exit within 60 s of SIGTERM"
	done
	STORM_SHUTDOWN_MS=$(($(now_ms) - t0))
	for n in "${old[@]}"; do
		# the holder writes its line just after the exit
		try_for 5 grep -aq "exited $n (status 0)" "$LOGDIR"/outpostd-*.log || fail "node pid $n did not exit 0: $(grep -ah "exited $n " "$LOGDIR"/outpostd-*.log)"
	done
	for n in "${NAMES[@]}"; do
		wait_for "node $n serving again" 60 eval '[ "$(ready_lines '"$n"')" -gt '"${READY0[$n]}"' ] || ! alive '"${HOLDER[$n]}"
		alive "${HOLDER[$n]}" || fail "node $n's socket holder gave up: $(tail -n 3 "$(node_log "$n")")"
		NODE_PID[$n]=$(cat "$T/node-$n.pid")
	done
}

idle_part() {
	local want=${BENCH_NODES_DEVICES:-100000} storm_max=${BENCH_NODES_STORM_S:-300} idle=${BENCH_IDLE_S:-30}
	local i n per cap fds maxfds total t0 d0 f0 ts tq tp0 w0 r0 tp ms last_tp last_ms c peak=0 s left reg pgt
	[ -x "$LG" ] || fail "no $LG (build it first)"
	for i in $(seq 1 "$NN"); do NAMES+=("n$i"); done
	nodes_init "${NAMES[@]}"
	for n in "${NAMES[@]}"; do
		if [ "$SOCKACT" = 1 ]; then node_start_held "$n"; else node_start "$n"; fi
	done
	result nodes_socket_activated "$SOCKACT"
	sleep 2
	maxfds=$(ulimit -Hn) fds=0
	for n in "${NAMES[@]}"; do
		BASE_PSS[$n]=$(pss_kib "${NODE_PID[$n]}")
		i=$(ls "/proc/${NODE_PID[$n]}/fd" | wc -l)
		[ "$i" -gt "$fds" ] && fds=$i
	done
	result nodes_n "$NN"
	result nodes_empty_pss_kib_max "$(for n in "${NAMES[@]}"; do echo "${BASE_PSS[$n]}"; done | sort -n | tail -n 1)"
	result nodes_own_fds "$fds"
	result nodes_devices_requested "$want"
	per=$(((want + NN - 1) / NN))
	cap=$((maxfds - fds - 32))
	if [ "$per" -gt "$cap" ]; then
		log "$per devices per node do not fit $maxfds descriptors (a node holds $fds of its own): $cap per node"
		result nodes_devices_capped_by_fd "$cap"
		per=$cap
	fi
	# provisioning: one loadgen -x per node, its devices in one transaction,
	# all at once (one after the other: 10,000 devices took 41 s on a loaded
	# machine; its cost is key generation), the first alone (it adds the fleet)
	total=0
	t0=$(now_ms)
	local jobs=()
	for n in "${NAMES[@]}"; do
		PER[$n]=$per
		[ $((total + per)) -le "$want" ] || PER[$n]=$((want - total))
		[ "${PER[$n]}" -le "$per" ] || PER[$n]=$per
		total=$((total + PER[$n]))
		"$LG" -k "$T/keys-$n" -D "$STORE_SPEC" -f lg -p "d$n" -n "${PER[$n]}" -x -q >>"$LOGDIR/loadgen-$n.log" 2>&1 &
		jobs+=("$!")
		# the first makes the fleet: the others after it, together
		[ "$n" != "${NAMES[0]}" ] || { wait "$!" || fail "loadgen $n could not provision"; jobs=(); }
	done
	for i in "${jobs[@]}"; do wait "$i" || fail "a loadgen could not provision (logs: $LOGDIR/loadgen-*.log)"; done
	result nodes_devices "$total"
	BENCH_NODES_DEVICES_TOTAL=$total
	result nodes_provision_s "$(secs_since "$t0")"
	sleep 5		# every mirror refilled (outpost_change)
	mem provisioned
	t0=$(now_ms)
	for n in "${NAMES[@]}"; do
		spawn "loadgen-$n" "$LG" -k "$T/keys-$n" -f lg -p "d$n" -n "${PER[$n]}" -s "$(node_addr "$n")" \
			-H "$NODE_HOSTKEY.pub" -o "$T/lg-$n.status" -r "${BENCH_RATE:-1000}" ${BENCH_LOADGEN_ARGS:--q}
		LGP+=("$LAST_PID")
	done
	if poll "${BENCH_NODES_RAMP_S:-1200}" eval 'lg_sum registered; [ "$SUM" -ge '"$total"' ]'; then
		result nodes_ramp_s "$(secs_since "$t0")"
	else
		# a loaded machine: measure what registered
		log "only $(registered_total) of $total devices registered within ${BENCH_NODES_RAMP_S:-1200} s"
		result nodes_ramp_s -1
		result nodes_ramp_registered "$(registered_total)"
		total=$(registered_total)
	fi
	for n in "${NAMES[@]}"; do log "loadgen $n: $(cat "$T/lg-$n.status")"; done
	poll 60 eval '[ "$(online_total)" -ge '"$total"' ]' || log "not every device is online in the store"
	online_by_node | sed 's/^/online on node /' >&2
	# per device per node: the devices each node holds by the store
	while read -r n i; do [ -z "$n" ] || PER[$n]=$i; done < <(online_by_node)
	result nodes_online_in_store "$(online_total)"
	sleep 2
	mem connected
	[ "${BENCH_NODES_PROBE:-0}" = 0 ] || probe
	window idle "$idle"

	# every node restarted at once
	f0=$(failed_total) d0=$(disconnects_total)
	lg_sum busy
	b0=$SUM
	tp0=$(ticks $(pg_pids)) w0=$(wal_bytes) r0=$(rows_written)
	ts=$(now_ms)
	perf_pid=
	if [ -n "${BENCH_NODES_PERF:-}" ]; then
		# the whole machine through the storm: where the two cores go
		# shellcheck disable=SC2086 # BENCH_NODES_PERF_ARGS: words
		perf record ${BENCH_NODES_PERF_ARGS:--a -F 199} -o "$BENCH_NODES_PERF" >"$T/perf.log" 2>&1 &
		perf_pid=$!
	fi
	early_pid=
	if [ -n "${BENCH_NODES_STORM_DAT:-}" ]; then
		# from SIGTERM through the storm (the sampling below starts when
		# every node serves): ms since SIGTERM, and the loadgens'
		# registered, connecting and waiting devices (their status files
		# change once a second); in BENCH_NODES_STORM_DAT.early
		(
			while :; do
				lg_sum registered; r=$SUM
				lg_sum connecting; c=$SUM
				lg_sum waiting
				echo "$(($(now_ms) - ts)) $r $c $SUM"
				sleep 0.5
			done
		) >"$T/storm-early.dat" &
		early_pid=$!
	fi
	if [ "$SOCKACT" = 1 ]; then
		nodes_restart_held
		tq=$((ts + STORM_SHUTDOWN_MS))
		result storm_shutdown_s "$(awk -v ms="$STORM_SHUTDOWN_MS" 'BEGIN { printf "%.1f", ms / 1000 }')"
		result storm_all_listening_s "$(secs_since "$tq")"
	else
		for n in "${NAMES[@]}"; do kill -TERM "${NODE_PID[$n]}"; done
		for n in "${NAMES[@]}"; do
			stop_pid "${NODE_PID[$n]}" TERM 60 || fail "node $n did not exit within 60 s of SIGTERM"
			[ "$STOP_STATUS" = 0 ] || fail "node $n exited with status $STOP_STATUS"
			unset "NODE_PID[$n]"
		done
		result storm_shutdown_s "$(secs_since "$ts")"
		tq=$(now_ms)
		nodes_start_together
		result storm_all_listening_s "$(secs_since "$tq")"
	fi
	sc_pids=()
	if [ -n "${BENCH_NODES_SYSCALLS:-}" ]; then
		# system calls of the new nodes and of the loadgens through the storm
		for n in "${NAMES[@]}"; do
			perf stat -e 'syscalls:sys_enter_*' -p "${NODE_PID[$n]}" -o "$BENCH_NODES_SYSCALLS.node-$n" >/dev/null 2>&1 &
			sc_pids+=($!)
		done
		perf stat -e 'syscalls:sys_enter_*' -p "$(IFS=,; echo "${LGP[*]}")" -o "$BENCH_NODES_SYSCALLS.loadgens" >/dev/null 2>&1 &
		sc_pids+=($!)
	fi
	pg_tree
	proc_ticks "${PGP[@]}"
	clock_ms
	last_tp=$TICKS last_ms=$MS pgt=0
	proc_ticks "${LGP[@]}"
	tl0=$TICKS
	: >"$T/storm-nodes.dat"
	reg=0
	while :; do
		lg_sum registered
		reg=$SUM
		lg_sum disconnects
		[ "$SUM" -ge $((d0 + total)) ] && [ "$reg" -ge "$total" ] && break
		clock_ms
		[ $((MS - tq)) -lt $((storm_max * 1000)) ] || break
		sleep 1
		pg_tree
		proc_ticks "${PGP[@]}"
		tp=$TICKS
		clock_ms
		ms=$MS
		# backends of the stopped nodes leave the tree: a negative step is 0
		[ "$tp" -ge "$last_tp" ] || last_tp=$tp
		pgt=$((pgt + tp - last_tp))
		c=$((100 * (tp - last_tp) * 1000 / HZ / (ms > last_ms ? ms - last_ms : 1)))
		[ "$c" -gt "$peak" ] && peak=$c
		last_tp=$tp last_ms=$ms
		lg_sum registered
		proc_ticks "${NODE_PID[@]}"
		printf '%d.%d %d %d %d\n' $(((ms - tq) / 1000)) $(((ms - tq) % 1000 / 100)) "$SUM" "$c" "$TICKS" >>"$T/storm-nodes.dat"
	done
	s=$(secs_since "$tq")
	ms=$(($(now_ms) - ts))
	if [ -n "$early_pid" ]; then
		kill "$early_pid"
		wait "$early_pid" 2>/dev/null
		cp "$T/storm-early.dat" "$BENCH_NODES_STORM_DAT.early"
	fi
	# CPU per registration through the storm, by side (the new nodes from
	# their start, the loadgens and PostgreSQL from the SIGTERM's end)
	proc_ticks "${LGP[@]}"
	tl=$((TICKS - tl0))
	proc_ticks "${NODE_PID[@]}"
	for i in nodes:$TICKS loadgens:$tl pg:$pgt; do
		result "storm_cpu_ms_per_registration_${i%%:*}" "$(awk -v t="${i#*:}" -v hz="$HZ" -v n="$reg" 'BEGIN { printf "%.3f", (n > 0 ? 1000 * t / hz / n : -1) }')"
	done
	[ -z "$perf_pid" ] || stop_pid "$perf_pid" INT 30
	for i in "${sc_pids[@]}"; do kill -INT "$i"; done
	for i in "${sc_pids[@]}"; do wait "$i"; done
	result storm_pg_cpu_pct "$(cpu_pct "$pgt" $((ms - (tq - ts))))"
	result storm_pg_peak_cpu_pct "$peak"
	result storm_wal_kib_s "$(awk -v b=$(($(wal_bytes) - w0)) -v ms=$ms 'BEGIN { printf "%.1f", b / 1024 / (ms / 1000) }')"
	result storm_rows_s "$(awk -v b=$(($(rows_written) - r0)) -v ms=$ms 'BEGIN { printf "%.1f", b / (ms / 1000) }')"
	left=$((total - reg))
	[ "$left" -gt 0 ] || left=0
	[ "$left" = 0 ] || s=-1
	result storm_s "$s"
	result storm_from_sigterm_s "$(secs_since "$ts")"
	result storm_left_behind "$left"
	sleep 2		# the status files lag a second
	result storm_failed_handshakes $(($(failed_total) - f0))
	# devices the old nodes told when to come back (PROTOCOL.md, "Come back
	# in N s at a shutdown"), and busy answers read in the restart
	lg_sum told
	result storm_told "$SUM"
	lg_sum busy
	result storm_busy_read $((SUM - b0))
	# the store's writes are behind the sessions (write-behind queue)
	poll 60 eval '[ "$(online_total)" -ge '"$total"' ]' ||
		log "not every device is online in the store"
	result storm_online_in_store "$(online_total)"
	result storm_store_s "$(secs_since "$tq")"
	for n in "${NAMES[@]}"; do log "loadgen $n: $(cat "$T/lg-$n.status")"; done
	online_by_node | sed 's/^/after the restart: online on node /' >&2
	[ -z "${BENCH_NODES_STORM_DAT:-}" ] || cp "$T/storm-nodes.dat" "$BENCH_NODES_STORM_DAT"
	for i in "${LGP[@]}"; do stop_pid "$i" TERM 30; done
	if [ "$SOCKACT" = 1 ]; then
		for n in "${NAMES[@]}"; do kill -TERM "${HOLDER[$n]}"; done
		for n in "${NAMES[@]}"; do stop_pid "${HOLDER[$n]}" TERM 60; unset "NODE_PID[$n]"; done
	else
		for n in "${NAMES[@]}"; do kill -TERM "${NODE_PID[$n]}"; done
		for n in "${NAMES[@]}"; do stop_pid "${NODE_PID[$n]}" TERM 60; unset "NODE_PID[$n]"; done
	fi
}

case $PART in
route) route_part ;;
idle) idle_part ;;
*) fail "BENCH_NODES_PART: route or idle, not '$PART'" ;;
esac
done_ok
