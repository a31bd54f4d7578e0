#!/bin/bash
# longlink.sh: one side of the long-link benchmark, run by bench/run.sh once
# with outpostd as the jump and once with stock sshd (OUTPOST_JUMP_MODE=stock).
# bench/outpost-delayrelay (a fixed delay each way, no bandwidth cap) sits in
# front of the jump on the technician's side, on the device's side, or both,
# at BENCH_LL_RTTS (default "50 200") ms round trip per side; a technician
# moves data with ssh -J to the device's own sshd, up and down. Devices: a
# stock `ssh -R` per device-side delay and, with outpostd, an outpost-agent
# per delay. The same transfers go over a direct ssh to the device's sshd
# through one relay with the same total delay. Rates are timed at the
# receiver from its first byte to EOF (bench/rxrate.py), so the ssh logins'
# round trips are not counted. Prints "RESULT key MiB/s" lines (the median
# of the runs, and as key_best the best run):
#   ll_<tech|dev|both><RTT>_<ssh|agent>_<up|down>    through the jump
#   ll_direct<TOTAL_RTT>_<up|down>                    direct, same total delay
# BENCH_LL_MB (default 48) is the size at up to 100 ms of total round trip,
# halved at 200 and again at 400; BENCH_LL_REPS (default 5) runs each
# transfer of 200 ms or more in total that many times (median), and
# BENCH_LL_REPS_FAST (default 9) each shorter one: a 50 ms transfer settles
# at one of two rates (below), and a median of five moved by 10-20 % between
# quiet runs; these transfers take 2-3 s each. BENCH_LL_ONLY: a regular expression;
# only the transfers whose key matches run (a diagnosis of one figure).
. "$(dirname "$0")/../tests/integration/lib.sh"
. "$IT_DIR/lib-agent.sh"
. "$(dirname "$0")/lib-bench.sh"

BENCH=$(cd "$(dirname "$0")" && pwd)
RELAY=${BENCH_RELAY:-$OUTPOST_BUILD/bench/outpost-delayrelay}
[ -x "$RELAY" ] || fail "no $RELAY (build first)"
RTTS=${BENCH_LL_RTTS:-50 200}
BASE_MB=${BENCH_LL_MB:-48}
REPS=${BENCH_LL_REPS:-5}
REPS_FAST=${BENCH_LL_REPS_FAST:-9}
CIPHER=aes128-gcm@openssh.com

# relay NAME TARGET_PORT ONE_WAY_MS: starts a relay; sets RELAY_<NAME> to its port.
relay() {
	local p
	p=$(pick_port)
	spawn "relay-$1" "$RELAY" -l "$p" -t "$2" -d "$3"
	wait_for "relay $1" 10 port_listening "$p"
	eval "RELAY_$1=$p"
}

fleet_add acme
user_add alice acme
start_jump
start_device_sshd
known_add "[127.0.0.1]:$SSHD_PORT" "$T/host-dev0.pub"

# Device-side delays: 0 and each RTT; devices pi-d<RTT> (and pi-a<RTT>).
real_jump=$JUMP_PORT
for rtt in 0 $RTTS; do
	if [ "$rtt" = 0 ]; then port=$real_jump; else relay "dev$rtt" "$real_jump" $((rtt / 2)); v=RELAY_dev$rtt; port=${!v}; fi
	device_add "pi-d$rtt" acme
	JUMP_PORT=$port start_device "pi-d$rtt" acme -c "$CIPHER" -o "HostKeyAlias=[127.0.0.1]:$real_jump"
	if [ "$JUMP_MODE" != stock ]; then
		agent_enroll "$rtt" "$(token_create acme)" --name "pi-a$rtt" >/dev/null
		sed -i "s/^server .*/server 127.0.0.1:$port/" "$(agent_dir "$rtt")/agent.conf"
		start_agent "$rtt"
	fi
done
JUMP_PORT=$real_jump
write_configs
for rtt in 0 $RTTS; do
	wait_online "pi-d$rtt.acme" 30
	[ "$JUMP_MODE" != stock ] && wait_online "pi-a$rtt.acme" 30
done
# Technician-side relays, and the direct ones for each total round trip.
totals=""
for rtt in $RTTS; do
	relay "tech$rtt" "$real_jump" $((rtt / 2))
	totals="$totals $rtt $((2 * rtt))"
done
totals=$(printf '%s\n' $totals | sort -nu)
for tot in $totals; do relay "direct$tot" "$SSHD_PORT" $((tot / 2)); done

# The technician's config: jump<RTT> is the jump behind that relay, every hop
# uses one cipher (as throughput.sh does).
CCFG=$T/ssh_config.longlink
{
	echo "Ciphers $CIPHER"
	for rtt in $RTTS; do
		v=RELAY_tech$rtt
		printf 'Host jump%s\n  HostName 127.0.0.1\n  Port %s\n  User %s\n  HostKeyAlias [127.0.0.1]:%s\n' \
		    "$rtt" "${!v}" "$(jump_user alice)" "$real_jump"
	done
	cat "$CFG"
} >"$CCFG"

# size_mb TOTAL_RTT
size_mb() {
	if [ "$1" -ge 400 ]; then echo $((BASE_MB / 4)); elif [ "$1" -ge 200 ]; then echo $((BASE_MB / 2)); else echo "$BASE_MB"; fi
}

# xfer KEY MB up|down SSH_ARGS...: one timed transfer; records its MiB/s.
xfer() {
	local key=$1 mb=$2 dir=$3 r
	shift 3
	[[ $key =~ ${BENCH_LL_ONLY:-.} ]] || return 0
	if [ "$mb" = "$BASE_MB" ]; then [ "$rep" -le "$REPS_FAST" ] || return 0; else [ "$rep" -le "$REPS" ] || return 0; fi
	if [ "$dir" = up ]; then
		r=$(head -c $((mb * 1048576)) /dev/zero | ssh -F "$CCFG" "$@" "$PY $BENCH/rxrate.py") || fail "$key failed"
	else
		r=$(ssh -F "$CCFG" "$@" "head -c $((mb * 1048576)) /dev/zero" | "$PY" "$BENCH/rxrate.py") || fail "$key failed"
	fi
	set -- $r
	[ "$1" = $((mb * 1048576)) ] || fail "$key: received $1 bytes, expected $((mb * 1048576))"
	log "$key: $mb MiB: $2 MiB/s"
	echo "$2" >>"$T/rate.$key"
}

for rep in $(seq 1 $((REPS > REPS_FAST ? REPS : REPS_FAST))); do
	for dir in up down; do
		for rtt in $RTTS; do
			devs="d"
			[ "$JUMP_MODE" != stock ] && devs="d a"
			for d in $devs; do
				name=ssh; [ $d = a ] && name=agent
				xfer "ll_tech${rtt}_${name}_$dir" "$(size_mb "$rtt")" $dir -J "jump$rtt" "pi-${d}0.acme"
				xfer "ll_dev${rtt}_${name}_$dir" "$(size_mb "$rtt")" $dir -J jump "pi-$d$rtt.acme"
				xfer "ll_both${rtt}_${name}_$dir" "$(size_mb $((2 * rtt)))" $dir -J "jump$rtt" "pi-$d$rtt.acme"
			done
		done
		for tot in $totals; do
			v=RELAY_direct$tot
			xfer "ll_direct${tot}_$dir" "$(size_mb "$tot")" $dir -p "${!v}" -o "HostKeyAlias=[127.0.0.1]:$SSHD_PORT" root@127.0.0.1
		done
	done
done
# the median, and the best run as KEY_best: a transfer at 50 ms settles into
# one of two rates (about 20 or 30 MiB/s, direct ssh and jumps alike: the
# cycle of OpenSSH's window re-opened at half), so a median of five swings
# with how many runs fell in each; the best says what the path can carry.
for f in "$T"/rate.ll_*; do
	[ -e "$f" ] || continue
	k=${f#"$T"/rate.}
	median "$k"
	echo "RESULT ${k}_best $(sort -n "$f" | tail -n 1)"
done
done_ok
