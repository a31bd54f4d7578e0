#!/bin/bash
# scale.sh: one side of the scale benchmarks, run by bench/run.sh once with
# outpostd (devices from bench/outpost-loadgen) and once with stock sshd as the
# jump (OUTPOST_JUMP_MODE=stock; real `ssh -N -R` devices, far fewer: every
# one is two sshd processes on the jump). Prints "RESULT key value" lines.
#
#   BENCH_DEVICES        loadgen devices (default 10000); memory is also taken at
#                        BENCH_DEVICES_SMALL (default 1000)
#   BENCH_STOCK_DEVICES  `ssh -R` devices on the stock jump (default 200)
#   BENCH_IDLE_S         idle CPU window (default 30)
#   BENCH_LOAD_MB        transfer size for throughput with/without idle devices (default 1024)
#   BENCH_STORM_S        give up on the reconnect storm after this long (default 120)
#   BENCH_SCALE_TPUT     0: no throughput with/without idle devices (run.sh's
#                        PostgreSQL column: memory, idle CPU and the storm only)
#   BENCH_STORE          outpostd, the CLI and the loadgens' provisioning on
#                        this store (see lib-bench.sh); BENCH_PG_DIR, the
#                        tests/pg/pg-start directory of that PostgreSQL, adds
#                        the database's own idle CPU
. "$(dirname "$0")/../tests/integration/lib.sh"
. "$(dirname "$0")/lib-bench.sh"

N=${BENCH_DEVICES:-10000}
N1=${BENCH_DEVICES_SMALL:-1000}
[ "$N1" -lt "$N" ] || N1=$((N / 2))
M=${BENCH_STOCK_DEVICES:-200}
IDLE_S=${BENCH_IDLE_S:-30}
LOAD_MB=${BENCH_LOAD_MB:-1024}
MB=$LOAD_MB
STORM_S=${BENCH_STORM_S:-120}
TPUT=${BENCH_SCALE_TPUT:-1}
LG=$OUTPOST_BUILD/bench/outpost-loadgen
HZ=$(getconf CLK_TCK)
ulimit -n "$(ulimit -Hn)" || fail "cannot raise RLIMIT_NOFILE"

result() { echo "RESULT $1 $2"; log "$1 = $2"; }

# idle_cpu PIDS_FUNC...: % of one core each group of processes used over
# the same IDLE_S seconds, one figure per group: "P1 P2 ...".
idle_cpu() {
	local f t0=() t1=() ms0 ms1 i
	for f in "$@"; do t0+=("$(ticks $($f))"); done
	ms0=$(now_ms)
	sleep "$IDLE_S"
	for f in "$@"; do t1+=("$(ticks $($f))"); done
	ms1=$(now_ms)
	for i in "${!t0[@]}"; do
		awk -v t=$((t1[i] - t0[i])) -v hz="$HZ" -v ms=$((ms1 - ms0)) 'BEGIN { printf "%.2f ", 100 * t / hz / (ms / 1000) }'
	done
}

# pg_pids: the test PostgreSQL's postmaster and its backends (BENCH_PG_DIR).
pg_pids() {
	tree "$(head -n 1 "$BENCH_PG_DIR/data/postmaster.pid")"
}

# ---- stock OpenSSH: M real ssh -R devices, memory and idle CPU of the jump's sshd processes ----
stock_side() {
	local i k base port pids n all ports=()
	start_stock_jump
	start_device_sshd
	sleep 1
	base=$(pss_kib $(tree "$JUMP_PID"))
	# Plain `ssh -N -R PORT:...` devices, as in the seeds (start_device would
	# rewrite every client config per device: minutes for 200).
	for i in $(seq 1 "$M"); do
		k=$(key "dev-d$i.acme")
		cat "$k.pub" >>"$T/jump_authorized_keys"
	done
	for i in $(seq 1 "$M"); do
		port=$(pick_port)
		ports+=("$port")
		spawn "dev-d$i" ssh -F "$DEVCFG" -i "$T/keys/dev-d$i.acme" -N -R "$port:127.0.0.1:$SSHD_PORT" \
			-o ServerAliveInterval=60 -o ExitOnForwardFailure=yes -p "$JUMP_PORT" root@127.0.0.1
	done
	for port in "${ports[@]}"; do wait_for "forward on $port" 60 port_listening "$port"; done
	sleep 2
	pids=$(tree "$JUMP_PID")
	n=$(echo "$pids" | wc -l)
	all=$(pss_kib $pids)
	log "stock jump: $n sshd processes for $M devices, PSS $all KiB (empty: $base KiB)"
	result stock_devices "$M"
	result stock_sshd_processes "$n"
	result mem_kib_per_device "$(( (all - base) / M ))"
	stock_pids() { tree "$JUMP_PID"; }
	result idle_cpu_pct "$(idle_cpu stock_pids)"
}

# ---- outpostd: loadgen devices ----

LG_PIDS=()

# registered_total: devices registered across both loadgens.
registered_total() {
	cat "$T"/lg-*.status 2>/dev/null | sed -n 's/.* registered=\([0-9]*\) .*/\1/p' | awk '{ s += $1 } END { print s + 0 }'
}
disconnects_total() {
	cat "$T"/lg-*.status 2>/dev/null | sed -n 's/.* disconnects=\([0-9]*\) .*/\1/p' | awk '{ s += $1 } END { print s + 0 }'
}
# online_in_ls: loadgen devices `outpost ls` shows online.
online_in_ls() {
	outpost ls | grep -Ec '^l[gh]-[0-9]+\.lg[[:space:]]+online'
}
failed_total() {
	cat "$T"/lg-*.status 2>/dev/null | sed -n 's/.* failed=\([0-9]*\) .*/\1/p' | awk '{ s += $1 } END { print s + 0 }'
}

# loadgen NAME PREFIX COUNT: provisions and starts one loadgen.
loadgen() {
	local t0=$(now_ms) where=(-d "$STATE")
	[ -z "${BENCH_STORE:-}" ] || where=(-D "$BENCH_STORE")
	"$LG" -k "$T/keys-$1" "${where[@]}" -f lg -p "$2" -n "$3" -x -q >>"$LOGDIR/loadgen-$1.log" 2>&1 ||
		fail "loadgen $1 could not provision"
	result "provision_ms_$1" $(($(now_ms) - t0))	# keys generated, devices added
	spawn "loadgen-$1" "$LG" -k "$T/keys-$1" -f lg -p "$2" -n "$3" -s "127.0.0.1:$JUMP_PORT" \
		-H "$STATE/ssh_host_ed25519_key.pub" -o "$T/lg-$1.status" -r "${BENCH_RATE:-1000}" -q
	LG_PIDS+=("$LAST_PID")
}

# ramp TARGET SECS: waits until TARGET devices are registered; prints the seconds it took.
ramp() {
	local t0
	t0=$(now_ms)
	wait_for "$1 devices registered (now $(registered_total))" "$2" eval '[ "$(registered_total)" -ge '"$1"' ]'
	awk -v ms=$(($(now_ms) - t0)) 'BEGIN { printf "%.1f", ms / 1000 }'
}

# storm: restarts outpostd with every device connected; samples its CPU and PSS
# until all are back.
storm() {
	local f0 d0 t_stop t0 last_t last_ms peak_cpu=0 peak_pss=0 t ms p c s
	f0=$(failed_total) d0=$(disconnects_total)
	t_stop=$(now_ms)
	stop_outpostd
	result storm_shutdown_s "$(awk -v ms=$(($(now_ms) - t_stop)) 'BEGIN { printf "%.1f", ms / 1000 }')"
	start_outpostd
	t0=$(now_ms) last_ms=$t0 last_t=$(ticks "$OUTPOSTD_PID")
	: >"$T/storm.dat"
	# The loadgens' status files lag about a second: "all back" counts only
	# once they show every device's loss, or a small fleet would look back
	# before it left.
	while [ "$(disconnects_total)" -lt $((d0 + N)) ] || [ "$(registered_total)" -lt "$N" ]; do
		[ $(($(now_ms) - t0)) -lt $((STORM_S * 1000)) ] || break
		sleep 0.5
		t=$(ticks "$OUTPOSTD_PID") ms=$(now_ms)
		c=$(awk -v t=$((t - last_t)) -v hz="$HZ" -v ms=$((ms - last_ms)) 'BEGIN { printf "%d", 100 * t / hz / (ms / 1000) }')
		[ "$c" -gt "$peak_cpu" ] && peak_cpu=$c
		p=$(pss_kib "$OUTPOSTD_PID")
		[ "$p" -gt "$peak_pss" ] && peak_pss=$p
		last_t=$t last_ms=$ms
		echo "$(awk -v ms=$((ms - t0)) 'BEGIN { printf "%.1f", ms / 1000 }') $(registered_total) $c $((p / 1024))" >>"$T/storm.dat"
	done
	s=$(awk -v ms=$(($(now_ms) - t0)) 'BEGIN { printf "%.1f", ms / 1000 }')
	[ "$(registered_total)" -ge "$N" ] || { result storm_left_behind $((N - $(registered_total))); s=-1; }
	result storm_s "$s"
	result storm_from_sigterm_s "$(awk -v ms=$(($(now_ms) - t_stop)) 'BEGIN { printf "%.1f", ms / 1000 }')"
	sleep 1.5	# the status files lag a second
	result storm_failed_handshakes $(($(failed_total) - f0))
	# The loadgens' own split of their failures (since they started).
	cat "$T"/lg-*.status >&2
	result storm_peak_cpu_pct "$peak_cpu"
	result storm_peak_pss_mib $((peak_pss / 1024))
	result storm_online_in_ls "$(online_in_ls)"
	[ -z "${BENCH_STORM_DAT:-}" ] || cp "$T/storm.dat" "$BENCH_STORM_DAT"
}

outpost_side() {
	local base
	[ -x "$LG" ] || fail "no $LG (build it first)"
	basic_setup
	SRC=$T/data/load
	if [ "$TPUT" != 0 ]; then
		head -c $((LOAD_MB * 1048576)) /dev/urandom >"$SRC"
		transfers tput_idle0_ "$SRC" jump
	fi
	base=$(pss_kib "$OUTPOSTD_PID")
	result outpostd_empty_pss_kib "$base"
	loadgen a lg "$N1"
	result ramp_s_small "$(ramp "$N1" 300)"
	sleep 2
	result mem_kib_per_device_small "$(( ($(pss_kib "$OUTPOSTD_PID") - base) / N1 ))"
	loadgen b lh $((N - N1))
	result ramp_s "$(ramp "$N" 600)"
	result devices "$N"
	result devices_small "$N1"
	sleep 2
	result mem_kib_per_device "$(( ($(pss_kib "$OUTPOSTD_PID") - base) / N ))"
	outpostd_pid() { echo "$OUTPOSTD_PID"; }
	loadgen_pids() { echo "${LG_PIDS[@]}"; }
	local groups=(outpostd_pid loadgen_pids)
	[ -z "${BENCH_PG_DIR:-}" ] || groups+=(pg_pids)
	read -r cpu lgcpu pgcpu <<<"$(idle_cpu "${groups[@]}")"
	result idle_cpu_pct "$cpu"
	# The loadgen shares the 2 cores: its own keepalive work is load that the
	# "with N idle devices" transfers below also compete with.
	result loadgen_idle_cpu_pct "$lgcpu"
	[ -z "${pgcpu:-}" ] || result pg_idle_cpu_pct "$pgcpu"
	[ "$TPUT" = 0 ] || transfers tput_idleN_ "$SRC" jump
	storm
	[ "$TPUT" != 0 ] || return 0
	# "None" again, with the devices gone: the machine drifts by more than
	# the effect over the minutes between, so the baseline is the median of
	# the runs before and after (transfers appends to the same samples).
	local p
	for p in "${LG_PIDS[@]}"; do stop_pid "$p" TERM 30; forget_pid "$p"; done
	wait_for "devices gone" 60 eval '[ "$(online_in_ls)" = 0 ]'
	transfers tput_idle0_ "$SRC" jump
}

if [ "$JUMP_MODE" = stock ]; then
	fleet_add acme
	user_add alice acme
	stock_side
else
	outpost_side
fi
done_ok
