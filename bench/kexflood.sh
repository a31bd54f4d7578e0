#!/bin/bash
# kexflood.sh: an established session's keepalive round trip while key
# exchanges flood in (docs/HARDENING.md, "Key-exchange floods"). Not part of
# `make bench`: run it by hand, for any build, old or new:
#
#   OUTPOST_BUILD=build bash bench/kexflood.sh
#   OUTPOST_BUILD=build BENCH_KEX=curve25519-sha256,diffie-hellman-group18-sha512 bash bench/kexflood.sh
#
# alice's paramiko session sends keepalive@openssh.com with want-reply every
# 20 ms (tests/integration/kexpeer.py rtt) while, for BENCH_FLOOD_S seconds
# (default 8) each: nothing, (a) 20 connections from 127.0.3.1, (b) one from
# each of 127.0.4.1-50. Each flooding connection asks for the most expensive
# key exchange offered and sends a random public value (no work on its
# side), then starts again. The flooding addresses are exempt from the
# penalty so that the flood lasts. BENCH_NICE=1 runs outpostd and the probe
# at nice -10 and the flood at nice 19, to show outpostd's own share of the
# delay on a machine shared with other work. Prints one RESULT line per
# case: median, p99 and max in ms, probes, handshakes the server computed.
. "$(dirname "$0")/../tests/integration/lib.sh"
require_outpost

SECS=${BENCH_FLOOD_S:-8}
OUTPOSTD_CONF_EXTRA="PerSourcePenaltyExempt 127.0.0.1/32,127.0.3.0/24,127.0.4.0/24${BENCH_KEX:+
KexAlgorithms $BENCH_KEX}"
fleet_add acme
user_add alice acme
start_jump
hi=() lo=()
if [ "${BENCH_NICE:-0}" = 1 ]; then
	renice -n -10 -p "$OUTPOSTD_PID" >/dev/null
	hi=(nice -n -10) lo=(nice -n 19)
fi

case_() {	# case_ NAME FLOOD_ARGS...
	local name=$1 rtt fl
	shift
	rm -f "$T/go" "$T/stop"
	spawn "rtt-$name" "${hi[@]}" "$PY" "$IT_DIR/kexpeer.py" rtt "$JUMP_PORT" alice "$(key alice)" 100000 20 "$T/go" "$T/stop"
	rtt=$LAST_PID
	wait_for "the probe session" 30 grep -q ready "$LOGDIR/rtt-$name.log"
	touch "$T/go"
	if [ $# -gt 0 ]; then
		fl=$("${lo[@]}" "$PY" "$IT_DIR/kexpeer.py" flood "$JUMP_PORT" "$SECS" "$@")
	else
		sleep "$SECS"
		fl='{"handshakes": 0}'
	fi
	touch "$T/stop"
	wait_for "the probe to finish" 120 exited "$rtt"
	read -r med p99 max n < <(grep -E '^[0-9.]+ ' "$LOGDIR/rtt-$name.log")
	hs=$(echo "$fl" | sed -n 's/.*"handshakes": \([0-9]*\).*/\1/p')
	alg=$(echo "$fl" | sed -n 's/.*"alg": "\([^"]*\)".*/\1/p')
	echo "RESULT $name median_ms=$med p99_ms=$p99 max_ms=$max probes=$n handshakes=$hs kex=${alg:--}"
}

echo "# $(basename "$OUTPOSTD_BIN") $("$OUTPOSTD_BIN" -f "$T/outpostd.conf" -T 2>/dev/null | grep -i '^KexAlgorithms'); load $(cut -d' ' -f1-3 /proc/loadavg)"
case_ idle
case_ 20-from-1-address 127.0.3.1 1 20
case_ 1-from-each-of-50-addresses 127.0.4.1 50 1
done_ok
