#!/bin/bash
# t-agent-servers.sh: an agent with several servers. It enrolls with a dead
# address (a closed loopback port) listed before the real outpostd, and a
# third server (not running yet; a name whose first address is dead) is
# added to agent.conf by hand. The device
# comes online through the second server without any backoff (the dead
# first one costs no wait) and is reachable by name with stock ssh. Then
# outpostd is stopped and another outpostd on the same state directory (the
# same host key, the same device binding) starts on the third server's port:
# the agent moves over and the device is reachable again.
. "$(dirname "$0")/lib.sh"
. "$IT_DIR/lib-agent.sh"
require_outpost

agent_setup
PORT_A=$JUMP_PORT
DEAD=$(pick_port)
PORT_B=$(pick_port)
[ "$PORT_B" != "$DEAD" ] || PORT_B=$(pick_port)
port_listening "$DEAD" && fail "port $DEAD is not closed"

# Enrolling moves past the dead server too; --server lists replace the token's.
agent_enroll 1 "$(token_create acme)" --name pi-multi \
	--server "127.0.0.1:$DEAD" --server "127.0.0.1:$PORT_A" >/dev/null
conf=$(agent_dir 1)/agent.conf
[ "$(grep -c '^server ' "$conf")" = 2 ] || fail "agent.conf lacks the two servers: $(cat "$conf")"
grep -q "^server 127.0.0.1:$DEAD\$" "$conf" || fail "agent.conf lost the first server"
# A third server, by hand: a name with two addresses, the first dead
# (::1, which the resolver sorts first; outpostd listens on 127.0.0.1
# only), resolved through the agent's own hosts file.
echo "server multi.outpost.test:$PORT_B" >>"$conf"
printf '127.0.0.1 multi.outpost.test\n::1 multi.outpost.test\n' >"$T/hosts"
[ "$(id -u)" = 0 ] || skip "needs root to give the agent its own /etc/hosts"
AGENT_HOSTS=$T/hosts

t0=$(now_ms)
start_agent 1
wait_online pi-multi.acme 20
t1=$(now_ms)
reach pi-multi.acme || fail "pi-multi.acme not reachable through the second server"
log "online through the second server $((t1 - t0)) ms after start (backoff cap 60000 ms)"
grep -q "connecting to 127.0.0.1:$DEAD" "$LOGDIR/agent-1.log" || fail "the agent did not try the dead server first"
grep -q "connected to 127.0.0.1:$PORT_A" "$LOGDIR/agent-1.log" || fail "the agent did not connect to the second server"
if grep -q "reconnecting in" "$LOGDIR/agent-1.log"; then
	fail "the dead first server cost a backoff: $(grep 'reconnecting in' "$LOGDIR/agent-1.log" | head -n 1)"
fi

# The first node goes away; the same node (state, host key) comes up on the third address.
stop_outpostd
JUMP_PORT=$PORT_B
start_outpostd
t2=$(now_ms)
ok=0
while [ $(($(now_ms) - t2)) -lt 20000 ]; do
	if reach pi-multi.acme moved; then ok=1; break; fi
	sleep 0.3
done
t3=$(now_ms)
[ $ok = 1 ] || fail "pi-multi.acme not reachable through the third server within 20 s"
grep -q "connected to multi.outpost.test:$PORT_B" "$LOGDIR/agent-1.log" || fail "the agent did not connect to the third server"
grep -q "cannot connect to ::1 port $PORT_B.*trying the next address" "$LOGDIR/agent-1.log" ||
	fail "the agent did not try the name's first (dead) address before its second"
log "reachable through the third server $((t3 - t2)) ms after it started"
grep -E "connecting to|connected to|reconnecting in" "$LOGDIR/agent-1.log" | tail -n 6 >&2
stop_agent 1
done_ok
