#!/bin/bash
# timeout: 150
# t-ondemand-jump-restart: outpostd restarts (1) while the device is on
# standby: it reads the retained state again, ls says standby, a wake works;
# (2) while the tunnel is up: the agent, still asked to be connected,
# reconnects with backoff and the device is reachable again without a wake.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-ondemand.sh"
require_outpost

ondemand_setup
start_agent pi-hq acme
wait_for "standby in ls" 15 eval '[ "$(device_state pi-hq.acme)" = standby ]'

# 1. restart on standby
stop_outpostd
start_jump --mqtt "$(broker_url)"
wait_for "standby in ls after the restart" 15 eval '[ "$(device_state pi-hq.acme)" = standby ]'
out=$(od_ssh root@pi-hq.acme echo first) || fail "wake after the restart"
[ "$out" = first ] || fail "unexpected output '$out'"
wait_online pi-hq.acme 5

# 2. restart with the tunnel up (default idle 10 min keeps it)
regs=$(registrations pi-hq.acme)
stop_outpostd
start_jump --mqtt "$(broker_url)"
wait_for "device back online by itself" 40 eval \
    '[ "$(device_state pi-hq.acme)" = online ] && [ "$(registrations pi-hq.acme)" -gt "$regs" ]'
wakes=$(audit_count wake device=pi-hq.acme)
out=$(od_ssh root@pi-hq.acme echo second) || fail "ssh after the second restart"
[ "$out" = second ] || fail "unexpected output '$out'"
[ "$(audit_count wake device=pi-hq.acme)" = "$wakes" ] || fail "woke a device that was online"
grep -q "tunnel lost" "$LOGDIR/agent-pi-hq.acme.log" || fail "agent did not notice the lost tunnel"
od_done
