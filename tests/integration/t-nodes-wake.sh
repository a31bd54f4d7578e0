#!/bin/bash
# t-nodes-wake.sh: wake-on-connect of an on-demand device from a node it is
# not on (issue 17 item 3, PROTOCOL.md "Peering"). Nodes a and b follow one
# mosquitto broker; the on-demand agent's server is b. A technician on a
# asks for the standby device: a publishes the wake, holds the channel, the
# device registers on b, and a routes the waiting channel through b. a then
# starts again while b is up: it leaves the on-demand states b keeps alone.
# needs: postgresql
# flavours: build
# timeout: 150
. "$(dirname "$0")/lib.sh"
. "$IT_DIR/lib-ondemand.sh"
. "$IT_DIR/lib-nodes.sh"

nodes_init a b
fleet_add acme
user_add alice acme
device_add pi-hq acme
start_broker
for n in a b; do node_start "$n" --mqtt "$(broker_url)"; done
start_device_sshd

# the on-demand agent, whose server is node b
dir=$T/agent-od
mkdir -p "$dir"
cp "$T/keys/dev-pi-hq.acme" "$dir/id_ed25519" && cp "$T/keys/dev-pi-hq.acme.pub" "$dir/id_ed25519.pub" ||
	fail "no device key"
cat >"$dir/agent.conf" <<CONF
server $(node_addr b)
hostkey $(ssh-keygen -lf "$NODE_HOSTKEY.pub" | awk '{print $2}')
name pi-hq
fleet acme
service 22=127.0.0.1:$SSHD_PORT
CONF
known_add "pi-hq.acme,pi-hq,[pi-hq.acme]:*,[pi-hq]:*" "$T/host-dev0.pub"
spawn agent-od "$AGENT_BIN" -v -d "$dir" run --on-demand --mqtt "$(broker_url)" --idle 30s
AGENT_PIDS[pi-hq.acme]=$LAST_PID
wait_for "pi-hq.acme standby" 20 eval '[ "$(device_state pi-hq.acme)" = standby ]'

# The technician asks node a; the device wakes onto node b.
t0=$(now_ms)
woken() { node_ssh a root@pi-hq.acme echo woken-through-b >"$T/woken.out" 2>"$T/woken.err"; }
job woken
wpid=${JOBS[-1]}
for i in $(seq 1 80); do	# a's mirror learns b's registration by the presence catch-up
	alive "$wpid" || break
	sleep 0.25
done
wait_jobs || fail "the technician on a did not reach the woken device: $(cat "$T/woken.err")"
[ "$(cat "$T/woken.out")" = woken-through-b ] || fail "output: $(cat "$T/woken.out")"
log "wake from node a, device on node b, command run: $(($(now_ms) - t0)) ms"
[ "$(node_of pi-hq.acme)" = b ] || fail "the device is not on b"
[ "$(AUDIT=$(node_state a)/audit.log audit_count wake device=pi-hq.acme user=alice result=sent)" = 1 ] ||
	fail "node a: no wake record"
[ "$(AUDIT=$(node_state a)/audit.log audit_count connect device=pi-hq.acme user=alice result=ok)" = 1 ] ||
	fail "node a: no connect record"
[ "$(AUDIT=$(node_state b)/audit.log audit_count route via=a for=alice device=pi-hq.acme result=ok)" = 1 ] ||
	fail "node b: no route record via a"
grep -q 'pi-hq.acme:22: device woke on node b' "$(node_log a)" || fail "node a did not log the wake through b"

# a starts again while b is up, on a broker address nobody answers: it keeps
# the on-demand states b keeps current (before, it blanked every device's)
state=$(store_sql "SELECT ondemand FROM devices WHERE name = 'pi-hq'")
[ -n "$state" ] || fail "pi-hq has no on-demand state in the store"
node_stop a
node_start a --mqtt "mqtt://127.0.0.1:$(pick_port)"
sleep 2	# a clear would be queued at start and written within a drain (~20 ms)
[ "$(store_sql "SELECT ondemand FROM devices WHERE name = 'pi-hq'")" = "$state" ] ||
	fail "node a's start blanked pi-hq's on-demand state ($state -> '$(store_sql "SELECT ondemand FROM devices WHERE name = 'pi-hq'")')"

for fq in "${!AGENT_PIDS[@]}"; do stop_pid "${AGENT_PIDS[$fq]}" TERM 10; done
AGENT_PIDS=()
nodes_stop_all
od_done
