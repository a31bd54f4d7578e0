#!/bin/bash
# timeout: 240
# t-ondemand-broker-restart: the broker restarts (forgetting every retained
# message). (1) A technician who asks while the broker is down is held and
# gets through once it is back: outpostd sends the wake on reconnection.
# (2) After another restart the agent and outpostd reconnect with their
# jittered backoff (bounded by its 60 s cap), the agent states standby
# again, and a wake works.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-ondemand.sh"
require_outpost

# Both sides back off with jitter after each loss (up to 60 s once several
# attempts failed): allow the held client that long.
OUTPOSTD_CONF_EXTRA="WakeTimeout 90"
ondemand_setup
start_agent pi-hq acme --idle 3s
wait_for "standby in ls" 15 eval '[ "$(device_state pi-hq.acme)" = standby ]'

# 1. ask while the broker is down: held, then through once it is back.
stop_broker
late() {
	timeout 120 ssh -F "$CFG" -o ConnectTimeout=100 -J jump root@pi-hq.acme echo held-through-outage \
	    >"$T/late.out" 2>"$T/late.err"
}
job late
wait_for "the wake queued" 20 eval '[ "$(audit_count wake device=pi-hq.acme result=queued)" -ge 1 ]'
sleep 1
start_broker
wait_jobs || { cat "$T/late.err" >&2; fail "the held client failed"; }
expect_output "$T/late.out" '^held-through-outage$' "held client's output"
grep -q "reconnecting to the broker" "$LOGDIR/agent-pi-hq.acme.log" || fail "agent did not log its reconnection"
grep -q "mqtt: .*reconnecting in" "$DAEMON_LOG" || fail "outpostd did not log its reconnection"
wait_for "standby after --idle" 20 eval '[ "$(device_state pi-hq.acme)" = standby ]'

# 2. restart again: the retained states are gone, the agent publishes its
# state again after its backoff, a wake works.
stop_broker
sleep 1
start_broker
wait_for "agent states standby again" 70 state_is pi-hq.acme '^(standby|disconnected)'
wait_for "outpostd follows again" 70 eval 'grep -c "mqtt: connected to" "$DAEMON_LOG" | grep -q "^3$"'
out=$(od_ssh root@pi-hq.acme echo after-restart) || fail "ssh after the broker restart"
[ "$out" = after-restart ] || fail "unexpected output '$out'"
od_done
