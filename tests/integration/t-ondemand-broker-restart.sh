#!/bin/bash
# timeout: 150
# t-ondemand-broker-restart: the broker restarts (forgetting every retained
# message): the agent and outpostd reconnect with backoff, the agent states
# standby again, and a wake still works; a technician who asks while the
# broker is down is held and gets through once it is back (the wake is sent
# again on reconnection).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-ondemand.sh"
require_outpost

fleet_add acme
user_add alice acme
device_add pi-hq acme
start_broker
start_jump --mqtt "$(broker_url)"
start_device_sshd
start_agent pi-hq acme --idle 3s
wait_for "standby in ls" 15 eval '[ "$(device_state pi-hq.acme)" = standby ]'

# 1. restart: states come back, a wake works.
stop_broker
sleep 1
start_broker
wait_for "agent states standby again" 20 state_is pi-hq.acme '^standby$'
out=$(od_ssh root@pi-hq.acme echo after-restart) || fail "ssh after the broker restart"
[ "$out" = after-restart ] || fail "unexpected output '$out'"
grep -q "reconnecting to the broker" "$LOGDIR/agent-pi-hq.acme.log" || fail "agent did not log its reconnection"
grep -q "mqtt: .*reconnecting in" "$DAEMON_LOG" || fail "outpostd did not log its reconnection"
wait_for "standby after --idle" 20 eval '[ "$(device_state pi-hq.acme)" = standby ]'

# 2. ask while the broker is down: held, then through once it is back.
stop_broker
late() { od_ssh root@pi-hq.acme echo held-through-outage >"$T/late.out" 2>"$T/late.err"; }
job late
sleep 2
start_broker
wait_jobs || { cat "$T/late.err" >&2; fail "the held client failed"; }
expect_output "$T/late.out" '^held-through-outage$' "held client's output"
[ "$(audit_count wake device=pi-hq.acme result=queued)" -ge 1 ] || fail "no queued wake record"
od_done
