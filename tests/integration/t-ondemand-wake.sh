#!/bin/bash
# stores: sqlite postgresql
# timeout: 150
# t-ondemand-wake: outpostd follows the broker (--mqtt), so `ls` shows an
# on-demand device as standby while it holds no tunnel; a technician's plain
# `ssh -J jump root@pi-hq.acme cmd` makes outpostd publish `connect`, holds
# the channel until the device registers, and returns the command's output;
# every wake is audited and its latency measured (metrics); the tunnel goes
# away after the agent's --idle.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-ondemand.sh"
require_outpost

ondemand_setup
start_agent pi-hq acme --idle 3s

wait_for "standby in ls" 15 eval '[ "$(device_state pi-hq.acme)" = standby ]'
ssh -F "$CFG" jump ls >"$T/ls.out" 2>&1 || fail "ls over ssh"
expect_output "$T/ls.out" '^pi-hq\.acme +standby ' "remote ls"
ssh -F "$CFG" jump ls --json >"$T/ls.json" 2>&1 || fail "ls --json over ssh"
expect_output "$T/ls.json" '"state":"standby","ondemand":"standby"' "remote ls --json"
[ "$(registrations pi-hq.acme)" = 0 ] || fail "a standby device holds a tunnel"
user_add boss --admin
wait_for "boss's key known to the jump" 20 eval 'ssh -F "$(client_config boss)" jump whoami >/dev/null 2>&1'
ssh -F "$(client_config boss)" jump metrics >"$T/m-standby" 2>&1 || fail "metrics over ssh"
expect_output "$T/m-standby" '^outpost_devices\{fleet="acme",state="standby"\} 1$' "standby in metrics"
expect_output "$T/m-standby" '^outpost_mqtt_broker_up 1$' "broker up in metrics"

# Wake on connect: the first ssh just works, with its output.
t0=$(now_ms)
out=$(od_ssh root@pi-hq.acme echo woken-by-ssh) || fail "ssh to the standby device failed"
[ "$out" = woken-by-ssh ] || fail "unexpected output '$out'"
log "wake + login took $(($(now_ms) - t0)) ms"
[ "$(audit_count wake device=pi-hq.acme user=alice result=sent)" = 1 ] || fail "no wake audit record"
[ "$(audit_count connect device=pi-hq.acme user=alice result=ok)" = 1 ] || fail "no connect audit record"
ssh -F "$(client_config boss)" jump metrics >"$T/m-woken" 2>&1 || fail "metrics over ssh"
expect_output "$T/m-woken" '^outpost_wake_duration_seconds_count 1$' "wake latency in metrics"

# The agent's --idle 3s takes the tunnel down; ls says standby again.
wait_offline_or_standby() { [ "$(device_state pi-hq.acme)" = standby ]; }
wait_for "standby again after --idle" 20 wait_offline_or_standby
wait_for "idle state" 5 state_is pi-hq.acme '^disconnected\|reason=idle$'

# A second wake, while a second client waits too: both get through, the
# data a client sent first (scp's upload) arrives intact.
f=$(mkdata up 300000)
upload() { od_ssh root@pi-hq.acme "cat > $T/data/up.copy" <"$f"; }
job upload
job od_ssh root@pi-hq.acme echo second
wait_jobs || fail "$JOBS_FAILED of 2 clients failed during the second wake"
same_file "$f" "$T/data/up.copy"
n=$(audit_count wake device=pi-hq.acme)
[ "$n" -ge 2 ] && [ "$n" -le 3 ] || fail "expected 2-3 wake records, got $n"

# A device that is not on demand is still refused at once, without a wake.
device_add plain acme
expect_refusal "plain offline device" 'device plain\.acme is offline' dev_ssh root@plain.acme true
[ "$(audit_count wake device=plain.acme)" = 0 ] || fail "woke a device that is not on demand"
od_done
