#!/bin/bash
# timeout: 300
# flavours: build
# t-busy-balancer.sh: busy answers behind a load balancer (t-busy's storm,
# through HAProxy with send-proxy-v2). 1,500 loadgen devices dial HAProxy,
# which sends a PROXY v2 header and relays through outpost-delayrelay
# (20 ms each way) to outpostd, whose `ProxyProtocol` lists the relay's
# address; `MaxStartups 10:1:1000` keeps logins near 50 a second. A busy
# answer must skip the balancer's header (binary, with newlines) before it
# looks for the client's identification and KEXINIT: answered early,
# libssh's clients lose the answer's text (docs/LIBSSH.md) and the attempt
# counts as failed. Asserted: busy answers were given, the loadgen read
# every one as busy, none of its attempts failed or timed out (none met
# MaxStartups' early drop), and every device registered. It failed before
# a connection reading its PROXY header counted against the accept quota:
# the storm bypassed the waiting list, so no busy answer was ever given.
# Plain build only, as t-busy.
. "$(dirname "$0")/lib.sh"
require_outpost
command -v haproxy >/dev/null || skip "no haproxy (Debian package haproxy)"
load=$(cut -d' ' -f1 /proc/loadavg)
awk -v l="$load" -v c="$(nproc)" 'BEGIN { exit !(l > 4 * c) }' && skip "load average $load on $(nproc) cores"

N=1500
storm_tools

MPORT=$(pick_port)
OUTPOSTD_CONF_EXTRA="MetricsListen 127.0.0.1:$MPORT
MaxStartups 10:1:1000
ProxyProtocol 127.0.0.1"
start_jump
"$LG" -k "$T/lgkeys" -d "$STATE" -n $N -f storm -x -q >>"$LOGDIR/loadgen.log" 2>&1 || fail "loadgen could not provision"
busy_metric() { curl -s "http://127.0.0.1:$MPORT/metrics" | sed -n 's/^outpost_connections_refused_total{reason="busy"} //p'; }
field() { sed -n "s/.* $1=\([0-9]*\) .*/\1/p" "$LGST" 2>/dev/null; }

RPORT=$(pick_port) HA_PORT=$(pick_port)
spawn relay "$RELAY" -l "$RPORT" -t "$JUMP_PORT" -d 20
haproxy_start "$HA_PORT" "s1 127.0.0.1:$RPORT send-proxy-v2"
wait_for "the relay" 10 port_listening "$RPORT"
spawn loadgen "$LG" -k "$T/lgkeys" -n $N -f storm -s "127.0.0.1:$HA_PORT" \
	-H "$STATE/ssh_host_ed25519_key.pub" -o "$LGST" -r $N -q
LGPID=$LAST_PID
wait_for "$N devices registered" 200 eval '[ "$(field registered)" = '"$N"' ]'
sleep 1.5	# the loadgen's status file: once a second
told=$(busy_metric) read_busy=$(field busy)
log "storm: $(cat "$LGST"); busy answers: $told sent, $read_busy read by the loadgen"
[ "${told:-0}" -gt 0 ] || fail "no busy answer in a storm many times what the list holds"
[ "$read_busy" = "$told" ] || fail "busy answers: $told sent, $read_busy read as busy by the loadgen"
[ "$(field failed)" = 0 ] || fail "attempts failed: $(cat "$LGST")"
stop_pid "$LGPID" TERM 20
done_ok
