#!/bin/bash
# handshake.sh: registrations per second on one outpostd under a reconnect
# storm (docs/BENCHMARKS.md, "Registrations per second"). Not part of `make
# bench`: run it by hand, for any build, old or new:
#
#   OUTPOST_BUILD=build bash bench/handshake.sh
#   OUTPOST_BUILD=build BENCH_HS_RATES="500 5000" BENCH_HS_DEVICES=20000 bash bench/handshake.sh
#
# One outpostd on SQLite, BENCH_HS_DEVICES loadgen devices (default 10000,
# provisioned once). For each offered rate in BENCH_HS_RATES (the loadgen's
# first connections per second; reconnects follow the agent's backoff), one
# loadgen starts every device and runs until all are registered or
# BENCH_HS_S seconds (default 60) have passed, then stops (its devices
# leave). Per rate, RESULT lines:
#   hs_R_goodput       registrations per second from the loadgen's first
#                      status line to the end (all registered or the limit)
#   hs_R_all_s         seconds until all were registered (-1: not within the limit)
#   hs_R_server_ms     outpostd's CPU (user + system) per registration, ms
#   hs_R_client_ms     the loadgen's CPU per registration, ms
#   hs_R_failed        failed handshakes, and by kind (the loadgen's status line)
#   hs_R_server        outpostd's own counts over the run (its /metrics): connections
#                      accepted, refused, logins, and accepted connections that
#                      ended without a login (work spent for nothing)
# BENCH_HS_PERF=DIR: `perf record -g` of outpostd and of the loadgen for the
# first rate, into DIR/server.data and DIR/client.data (BENCH_HS_CALLGRAPH:
# perf's options instead of -g, e.g. "-F 499 --call-graph dwarf": libssh and
# libcrypto have no frame pointers).
. "$(dirname "$0")/../tests/integration/lib.sh"
. "$(dirname "$0")/lib-bench.sh"
require_outpost

N=${BENCH_HS_DEVICES:-10000}
RATES=${BENCH_HS_RATES:-200 500 1000 2000 5000}
LIMIT_S=${BENCH_HS_S:-60}
LG=$OUTPOST_BUILD/bench/outpost-loadgen
HZ=$(getconf CLK_TCK)
ulimit -n "$(ulimit -Hn)" || fail "cannot raise RLIMIT_NOFILE"
[ -x "$LG" ] || fail "no $LG (build it first)"

result() { echo "RESULT $1 $2"; log "$1 = $2"; }
field() { sed -n "s/.* $1=\([0-9]*\) .*/\1/p" "$T/hs.status" 2>/dev/null | tail -n 1; }
ms_per() { awk -v t="$1" -v n="$2" -v hz="$HZ" 'BEGIN { printf "%.3f", (n > 0 ? 1000 * t / hz / n : -1) }'; }
# metric NAME [SCALE]: the sum of NAME's samples in outpostd's /metrics, times SCALE, as an integer.
metric() {
	curl -s "http://127.0.0.1:$MPORT/metrics" |
		awk -v n="$1" -v k="${2:-1}" '$1 == n || index($1, n "{") == 1 { s += $NF } END { printf "%d", s * k }'
}
established() { ss -Htn state established "( sport = :$JUMP_PORT )" | wc -l; }

MPORT=$(pick_port)
OUTPOSTD_CONF_EXTRA="MetricsListen 127.0.0.1:$MPORT${OUTPOSTD_CONF_EXTRA:+
$OUTPOSTD_CONF_EXTRA}"
fleet_add acme
start_jump
"$LG" -k "$T/lgkeys" -d "$STATE" -f lg -p hs -n "$N" -x -q >>"$LOGDIR/loadgen-provision.log" 2>&1 ||
	fail "loadgen could not provision"
log "machine: $(uptime)"
first=1
for r in $RATES; do
	rm -f "$T/hs.status"
	spawn "loadgen-$r" "$LG" -k "$T/lgkeys" -f lg -p hs -n "$N" -s "127.0.0.1:$JUMP_PORT" \
		-H "$STATE/ssh_host_ed25519_key.pub" -o "$T/hs.status" -r "$r" -q
	lg=$LAST_PID
	# the first status line comes a second into the run, after the keys are
	# read: CPU from there on is the handshakes'
	wait_for "the loadgen's first status line" 120 test -s "$T/hs.status"
	t0=$(now_ms) s0=$(ticks "$OUTPOSTD_PID") c0=$(ticks "$lg") reg0=$(field registered)
	a0=$(metric outpost_connections_accepted_total) f0=$(metric outpost_connections_refused_total)
	l0=$(metric outpost_authentications_total)
	hs0=$(metric outpost_handshake_duration_seconds_sum 1000) hc0=$(metric outpost_handshake_duration_seconds_count)
	if [ "$first" = 1 ] && [ -n "${BENCH_HS_PERF:-}" ]; then
		mkdir -p "$BENCH_HS_PERF"
		perf record ${BENCH_HS_CALLGRAPH:--g} -o "$BENCH_HS_PERF/server.data" -p "$OUTPOSTD_PID" >/dev/null 2>&1 & ps_=$!
		perf record ${BENCH_HS_CALLGRAPH:--g} -o "$BENCH_HS_PERF/client.data" -p "$lg" >/dev/null 2>&1 & pc_=$!
	fi
	all=-1
	while [ $(($(now_ms) - t0)) -lt $((LIMIT_S * 1000)) ]; do
		sleep 0.5
		if [ "$(field registered)" -ge "$N" ]; then
			all=$(awk -v ms=$(($(now_ms) - t0)) 'BEGIN { printf "%.1f", ms / 1000 + 1 }')
			break
		fi
	done
	t1=$(now_ms) s1=$(ticks "$OUTPOSTD_PID") c1=$(ticks "$lg") reg1=$(field registered)
	if [ "$first" = 1 ] && [ -n "${BENCH_HS_PERF:-}" ]; then
		kill -INT "$ps_" "$pc_" 2>/dev/null
		wait "$ps_" "$pc_" 2>/dev/null
	fi
	first=0
	n=$((reg1 - reg0))
	result "hs_${r}_goodput" "$(awk -v n="$n" -v ms=$((t1 - t0)) 'BEGIN { printf "%.0f", 1000 * n / ms }')"
	result "hs_${r}_all_s" "$all"
	result "hs_${r}_registered" "$reg1"
	result "hs_${r}_server_ms" "$(ms_per $((s1 - s0)) "$n")"
	result "hs_${r}_client_ms" "$(ms_per $((c1 - c0)) "$n")"
	result "hs_${r}_failed" "$(field failed) (tcp $(field fail_tcp), ssh $(field fail_ssh), auth $(field fail_auth), fwd $(field fail_fwd), timeout $(field fail_timeout))"
	log "loadgen at $r/s: $(cat "$T/hs.status")"
	stop_pid "$lg" TERM 60
	forget_pid "$lg"
	sleep 2		# the last handshakes end (and the metrics snapshot, once a second)
	a1=$(metric outpost_connections_accepted_total) f1=$(metric outpost_connections_refused_total)
	l1=$(metric outpost_authentications_total)
	hs1=$(metric outpost_handshake_duration_seconds_sum 1000) hc1=$(metric outpost_handshake_duration_seconds_count)
	result "hs_${r}_server_handshake_mean_s" "$(awk -v s=$((hs1 - hs0)) -v n=$((hc1 - hc0)) 'BEGIN { printf "%.2f", (n > 0 ? s / n / 1000 : -1) }')"
	result "hs_${r}_server" "accepted $((a1 - a0)), refused $((f1 - f0)), logins $((l1 - l0)), without a login $((a1 - a0 - (l1 - l0)))"
	wait_for "every device gone" 120 eval '[ "$(established)" -eq 0 ]'
	sleep 2
done
log "machine: $(uptime)"
done_ok
