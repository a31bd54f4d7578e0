#!/bin/bash
# timeout: 120
# t-ondemand-agent: an agent in on-demand mode holds only its MQTT session and
# reports `standby`; a controller's `connect` (mosquitto_pub, as seed 003's
# tunnel.sh sends it) brings the tunnel up and a technician gets through;
# --idle drops it; `disconnect` drops it at once; SIGTERM leaves `offline`.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-ondemand.sh"
require_outpost

fleet_add acme
user_add alice acme
device_add pi-hq acme
start_jump
start_device_sshd
start_broker
start_agent pi-hq acme --idle 3s

wait_for "standby state" 15 state_is pi-hq.acme '^standby$'
sleep 1
[ "$(registrations pi-hq.acme)" = 0 ] || fail "a standby device registered a tunnel"
[ "$(device_state pi-hq.acme)" = offline ] || fail "standby device is $(device_state pi-hq.acme) in ls"

tunnel_cmd pi-hq.acme connect
wait_online pi-hq.acme 15
wait_for "connected state" 10 state_is pi-hq.acme '^connected\|server=127\.0\.0\.1:'
out=$(od_ssh root@pi-hq.acme echo through-the-tunnel) || fail "ssh through the woken tunnel failed"
[ "$out" = through-the-tunnel ] || fail "unexpected output '$out'"

# --idle 3s: no channel open, so the tunnel goes away by itself.
wait_offline pi-hq.acme 15
wait_for "idle state" 5 state_is pi-hq.acme '^disconnected\|reason=idle$'

# connect, then disconnect: down at once, although nothing is idle yet.
tunnel_cmd pi-hq.acme connect
wait_online pi-hq.acme 15
tunnel_cmd pi-hq.acme disconnect
t0=$(now_ms)
wait_offline pi-hq.acme 5
log "disconnect took $(($(now_ms) - t0)) ms"
wait_for "disconnected state" 5 state_is pi-hq.acme '^disconnected$'

# Junk on the control topic is ignored, the agent keeps serving.
tunnel_cmd pi-hq.acme "rm -rf /"
tunnel_cmd pi-hq.acme "$(head -c 3000 /dev/zero | tr '\0' x)"
tunnel_cmd pi-hq.acme connect
wait_online pi-hq.acme 15

stop_pid "${AGENT_PIDS[pi-hq.acme]}" TERM 10
[ "$STOP_STATUS" = 0 ] || fail "agent exited $STOP_STATUS on SIGTERM"
wait_for "offline state after SIGTERM" 5 state_is pi-hq.acme '^offline$'
wait_offline pi-hq.acme 15
od_done
