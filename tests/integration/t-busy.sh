#!/bin/bash
# timeout: 300
# flavours: build
# t-busy.sh: busy answers (PROTOCOL.md, "Busy: try again in N s"). The
# loadgen's 1,500 devices reach outpostd through outpost-delayrelay (20 ms
# each way) and `MaxStartups 10:1:1000` lets ten handshakes be in flight,
# so outpostd completes about 50 logins a second while the devices dial at
# 1,500 a second: many times what the waiting list (5 s of logins, at
# least 256) holds. Once logins are being completed, every connection the
# full list cannot take is answered, before key exchange, with a
# disconnect "... try again in N s" instead of being left to the kernel
# (whose dropped SYNs are retried on doubling timers until the client's
# own time-out). Asserted:
#  - outpost_connections_refused_total{reason="busy"} rose, and the
#    loadgen read all but a handful of those answers as busy (the rest
#    went to stock ssh and the agent): none lost to libssh's error text;
#  - every device registered, no attempt timed out and none failed;
#  - stock `ssh`, dialling straight to outpostd again and again from the
#    storm's start, is answered busy at least once and prints the reason;
#  - an outpost-agent started in the storm registers (its log says
#    whether it was told to wait: not asserted, it may find a place).
# Then outpostd is stopped and started again (PROTOCOL.md, "Come back in
# N s at a shutdown"): having measured its pace with a queue, it tells each
# device when to come back, spread at that pace, and says so in its log;
# the loadgen reads every one of those words (told=), the agent waits what
# it was told ("when the server asked"), and every device registers again.
# Without it, each device redials within a second of the shutdown.
# Without the busy answers (busy_mode false) the metric stays 0 and stock
# ssh never prints the reason.
# Plain build only: under ASan the loadgen cannot dial faster than the
# node serves, and the list never fills. Skips above load 4 a core.
. "$(dirname "$0")/lib.sh"
. "$IT_DIR/lib-agent.sh"
require_outpost
load=$(cut -d' ' -f1 /proc/loadavg)
awk -v l="$load" -v c="$(nproc)" 'BEGIN { exit !(l > 4 * c) }' && skip "load average $load on $(nproc) cores"

N=1500
RATE=1500
storm_tools

MPORT=$(pick_port)
OUTPOSTD_CONF_EXTRA="MetricsListen 127.0.0.1:$MPORT
MaxStartups 10:1:1000
PerSourceMaxStartups 10000"
agent_setup
tok=$(token_create acme)
agent_enroll a1 "$tok" --name busy-agent >/dev/null
"$LG" -k "$T/lgkeys" -d "$STATE" -n $N -f storm -x -q >>"$LOGDIR/loadgen.log" 2>&1 || fail "loadgen could not provision"

metric() { curl -s "http://127.0.0.1:$MPORT/metrics" | sed -n "s/^$1 //p"; }
busy_metric() { metric 'outpost_connections_refused_total{reason="busy"}'; }
field() {	# field NAME: the loadgen's last count of NAME
	sed -n "s/.* $1=\([0-9]*\) .*/\1/p" "$LGST" 2>/dev/null
}
[ "$(busy_metric)" = 0 ] || fail "busy answers before any storm: $(busy_metric)"

RPORT=$(pick_port)
spawn relay "$RELAY" -l "$RPORT" -t "$JUMP_PORT" -d 20
wait_for "the relay" 10 port_listening "$RPORT"
spawn loadgen "$LG" -k "$T/lgkeys" -n $N -f storm -s "127.0.0.1:$RPORT" \
	-H "$STATE/ssh_host_ed25519_key.pub" -o "$LGST" -r $RATE ${T_BUSY_LG_ARGS:--q}
LGPID=$LAST_PID
# a technician's stock ssh, over and over from the storm's start: while
# the list is full it is answered busy, and shows the reason
spawn ssh-tries bash -c 'for i in $(seq 1 300); do timeout 20 ssh -F "$1" jump whoami >"$2.$i" 2>&1; grep -q "try again in" "$2.$i" && exit 0; sleep 0.05; done; exit 1' \
	ssh-tries "$(client_config alice)" "$T/ssh-try"
TRIES=$LAST_PID
start_agent a1
wait_for "the first busy answer" 60 eval '[ "$(busy_metric)" -gt 0 ]'
wait_for "stock ssh answered busy" 120 eval '! alive $TRIES'
stop_pid "$TRIES" TERM 5
seen=$(grep -l "try again in" "$T"/ssh-try.* 2>/dev/null | head -n 1)
[ -n "$seen" ] || fail "stock ssh never showed a busy answer while the list was full ($(ls "$T"/ssh-try.* | wc -l) tries)"
log "stock ssh during the storm ($(ls "$T"/ssh-try.* | wc -l) tries): $(tr '\n' ' ' <"$seen")"
wait_for "$N devices registered" 200 eval '[ "$(field registered)" = '"$N"' ]'
wait_for "the agent registered" 120 eval '[ "$(audit_count register device=busy-agent.acme result=ok)" -gt "${REG_BASE[busy-agent.acme]}" ]'
if grep -q 'when the server asked' "$LOGDIR/agent-a1.log"; then
	log "the agent was told to wait: $(grep -m1 'when the server asked' "$LOGDIR/agent-a1.log")"
else
	log "the agent found a place without a busy answer"
fi
sleep 1.5	# the loadgen's status file: once a second
told=$(busy_metric) read_busy=$(field busy)
log "storm: $(cat "$LGST"); busy answers: $told sent, $read_busy read by the loadgen"
[ "$(field fail_timeout)" = 0 ] || fail "devices timed out: $(cat "$LGST")"
[ "$(field failed)" = 0 ] || fail "attempts failed: $(cat "$LGST")"
# the loadgen's count is of its own; stock ssh and the agent had a few
[ "$read_busy" -gt 0 ] && [ "$read_busy" -le "$told" ] && [ "$read_busy" -ge $((told - 10)) ] ||
	fail "busy answers: $told sent, $read_busy read as busy by the loadgen"

# the restart: every device is told when to come back
told0=$(field told)
[ "$told0" = 0 ] || fail "devices told to come back before any shutdown: $(cat "$LGST")"
old=$OUTPOSTD_PID
stop_outpostd
grep -q 'devices told to come back within' "$DAEMON_LOG" ||
	fail "outpostd did not tell its devices when to come back: $(grep 'shutdown' "$DAEMON_LOG" | tail -n 3)"
log "$(grep -o 'shutdown: [0-9]* devices told.*' "$DAEMON_LOG" | tail -n 1)"
start_outpostd
[ "$OUTPOSTD_PID" != "$old" ] || fail "outpostd was not started again"
wait_for "the loadgen read the shutdown's words" 20 eval '[ "$(field told)" -ge $((N - 5)) ]'
wait_for "$N devices registered again" 200 eval '[ "$(field registered)" = '"$N"' ]'
wait_for "the agent waited as told" 60 grep -q 'when the server asked' "$LOGDIR/agent-a1.log"
log "the agent: $(grep 'try again in\|when the server asked' "$LOGDIR/agent-a1.log" | tail -n 2 | tr '\n' ' ')"
wait_for "the agent registered again" 120 eval '[ "$(audit_count register device=busy-agent.acme result=ok)" -gt $((${REG_BASE[busy-agent.acme]} + 1)) ]'
log "after the restart: $(cat "$LGST"); busy answers since: $(busy_metric)"
stop_pid "$LGPID" TERM 20
stop_agent a1
done_ok
