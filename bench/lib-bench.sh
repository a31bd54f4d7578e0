# lib-bench.sh: transfer and process-measuring helpers shared by bench/throughput.sh,
# bench/scale.sh and bench/nodes.sh, sourced after tests/integration/lib.sh and basic_setup's
# variables. MB is the transfer size in MiB; BENCH_REPS (default 3) is how
# many times each transfer runs (the median is the result).
#
# BENCH_STORE=SPEC puts outpostd (its Store) and the CLI (OUTPOST_STORE) on
# that store instead of outpost.db in the state dir: bench/run.sh's
# PostgreSQL column passes the URI tests/pg/pg-start printed.
if [ -n "${BENCH_STORE:-}" ]; then
	export OUTPOST_STORE=$BENCH_STORE
	OUTPOSTD_CONF_EXTRA="${OUTPOSTD_CONF_EXTRA:-}${OUTPOSTD_CONF_EXTRA:+$'\n'}Store $BENCH_STORE"
fi

REPS=${BENCH_REPS:-3}
CIPHERS="aes128-gcm@openssh.com chacha20-poly1305@openssh.com"

# rate LABEL CMD...: runs CMD and records its MiB/s (MB MiB moved).
rate() {
	local label=$1 t0 t1 r
	shift
	t0=$(now_ms)
	"$@" || fail "$label failed"
	t1=$(now_ms)
	r=$(awk -v mb="$MB" -v ms=$((t1 - t0)) 'BEGIN { printf "%.1f", mb * 1000 / (ms > 0 ? ms : 1) }')
	log "$label: $r MiB/s"
	echo "$r" >>"$T/rate.$label"
}

# median LABEL: prints the RESULT line with the median of LABEL's runs.
median() {
	echo "RESULT $1 $(sort -n "$T/rate.$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')"
}

# use_cipher CIPHER: every hop of the next transfers uses CIPHER: the
# technician's config (read by ProxyJump's second ssh too, which -c is not
# passed to) and the device's `ssh -R`, restarted with -c. OpenSSH's default
# (chacha20-poly1305 first) would otherwise pick the outer hops' cipher.
use_cipher() {
	CCFG=$T/ssh_config.cipher
	{ echo "Ciphers $1"; cat "$CFG"; } >"$CCFG"
	stop_pid "$DEV_PID"
	forget_pid "$DEV_PID"
	if [ "$JUMP_MODE" != stock ]; then wait_offline pi-hq.acme; fi
	start_device pi-hq acme -c "$1"
	wait_online pi-hq.acme
}


# transfers PREFIX SRC WHERE...: for each cipher (on every hop), BENCH_REPS
# rounds of an upload of SRC and a download of MB MiB to each WHERE, jump
# and direct interleaved: "jump" is pi-hq.acme through the jump, "direct"
# the device's own sshd. Prints RESULT PREFIX<WHERE>_<up|down>_<cipher>,
# the medians.
transfers() {
	local prefix=$1 src=$2 cipher c rep w d
	shift 2
	for cipher in $CIPHERS; do
		c=${cipher%%@*}
		use_cipher "$cipher"
		for rep in $(seq 1 "$REPS"); do
			for w in "$@"; do
				rate "${prefix}${w}_up_$c" to "$w" "cat > /dev/null" <"$src"
			done
			for w in "$@"; do
				rate "${prefix}${w}_down_$c" to "$w" "head -c $((MB * 1048576)) /dev/zero" >/dev/null
			done
		done
		for w in "$@"; do
			for d in up down; do median "${prefix}${w}_${d}_$c"; done
		done
	done
}

# to WHERE CMD: runs CMD on the device, through the jump or directly.
to() {
	if [ "$1" = jump ]; then
		ssh -F "$CCFG" -J jump pi-hq.acme "$2"
	else
		ssh -F "$CCFG" -p "$SSHD_PORT" root@127.0.0.1 "$2"
	fi
}

# pss_kib PID...: summed proportional set size (one awk for all).
pss_kib() {
	local p f=()
	for p in "$@"; do f+=("/proc/$p/smaps_rollup"); done
	awk '/^Pss:/ { s += $2 } END { print s + 0 }' "${f[@]}" 2>/dev/null || echo 0
}

# ticks PID...: summed user+system CPU ticks (the fields after the command name).
ticks() {
	local p f=()
	for p in "$@"; do f+=("/proc/$p/stat"); done
	cat "${f[@]}" 2>/dev/null | sed 's/.*) //' | awk '{ s += $12 + $13 } END { print s + 0 }'
}

# tree PID: PID and all its descendants (one ps).
tree() {
	ps -eo pid=,ppid= | awk -v r="$1" '{ p[$1] = $2 }
		END { for (x in p) { y = x; while ((y in p) && y != r && y > 1) y = p[y]; if (y == r) print x } }'
}
