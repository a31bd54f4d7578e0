#!/bin/bash
# t-nodes-cutoff.sh: one node loses its path to the store (lib-nodes.sh,
# one PostgreSQL store). Node b reaches PostgreSQL through a small TCP
# relay (tcprelay.py) the scenario kills; node a reaches it directly.
# - With the relay gone, b refuses new logins with the reason ("the state
#   store is unreachable") while a keeps serving; b logs the loss once.
# - Past LIM_NODE_DOWN_S (20 s) without an answer from the store, b drops
#   its device sessions (it can no longer vouch for them; the others take b
#   for down by then), says so in its log once; the device's stock ssh -R
#   exits and connects again through a, where a technician reaches it.
# - The relay back on the same port: b accepts logins again and logs it.
# needs: postgresql
# timeout: 120
# flavours: build
. "$(dirname "$0")/lib.sh"
. "$IT_DIR/lib-nodes.sh"
require_outpost

nodes_init a b
fleet_add acme
user_add alice --admin acme
device_add pi-b acme

# b's store: the same database through the relay
pg_port=$(echo "$STORE_SPEC" | sed -E 's|^[a-z]+://[^@/]*@?[^:/]*:([0-9]+)/.*|\1|')
[ -n "$pg_port" ] && [ "$pg_port" != "$STORE_SPEC" ] || fail "no port in $STORE_SPEC"
relay_port=$(pick_port)
relay_spec=$(echo "$STORE_SPEC" | sed -E "s|:$pg_port/|:$relay_port/|")
start_relay() {
	spawn relay "$PY" "$IT_DIR/tcprelay.py" "$relay_port" 127.0.0.1 "$pg_port"
	RELAY_PID=$LAST_PID
	wait_for "the relay listens" 10 eval "port_listening $relay_port || ! alive $RELAY_PID"
	alive "$RELAY_PID" || fail "tcprelay.py did not start: $(tail -n 3 "$LOGDIR/relay.log")"
}
start_relay
node_start a
STORE_SPEC=$relay_spec node_start b
grep -q "changes by LISTEN/NOTIFY" "$(node_log b)" || fail "node b does not listen for notifications"

start_device_sshd
on_node b start_device pi-b acme
dev_pid=$DEV_PID
node_wait_on pi-b.acme b
node_reach b pi-b.acme via-b || fail "a technician on b does not reach pi-b.acme"

# ---- the path from b to PostgreSQL is cut ----
stop_pid "$RELAY_PID" KILL
t_cut=$(now_ms)
log "relay killed"
wait_for "b notices" 15 grep -q "store: the state store is unreachable" "$(node_log b)"
log "b noticed after $(($(now_ms) - t_cut)) ms"
cfg=$(node_client_config b)
REFUSE_TRIES=2 expect_refusal "a new login on b" "state store is unreachable" \
    ssh -F "$cfg" -J jump root@pi-b.acme true
node_jump a ls >"$T/ls-a.out" 2>&1 || fail "a stopped serving: $(cat "$T/ls-a.out")"
# past the bound, b lets its device go
wait_for "b drops its device session" 40 eval '! alive '"$dev_pid"
log "b dropped pi-b.acme's session $(($(now_ms) - t_cut)) ms after the cut"
[ "$(grep -c "dropped the 1 device sessions this node can no longer vouch for" "$(node_log b)")" = 1 ] ||
	fail "b's log does not say once that it dropped its device: $(grep 'store:' "$(node_log b)" | tail -n 5)"
wait_for "b down for the store" 15 eval '! node_up b'
on_node a start_device pi-b acme
dev_pid=$DEV_PID
node_wait_on pi-b.acme a
node_reach a pi-b.acme via-a || fail "a technician on a does not reach pi-b.acme"

# ---- the path comes back ----
start_relay
t_back=$(now_ms)
wait_for "b accepts logins again" 45 eval 'node_jump b ls >"$T/ls-b.out" 2>&1'
log "b accepts logins $(($(now_ms) - t_back)) ms after the relay came back"
grep -q "store: the state store is reachable again" "$(node_log b)" || fail "b does not log the store coming back"
[ "$(grep -c "store: the state store is unreachable" "$(node_log b)")" = 1 ] || fail "b logged the loss more than once"
wait_for "b up again" 15 node_up b
grep -Eq '^pi-b\.acme +online' "$T/ls-b.out" || fail "ls on b: $(cat "$T/ls-b.out")"
[ "$(node_of pi-b.acme)" = a ] || fail "pi-b.acme moved off a: $(outpost ls --json)"

stop_pid "$dev_pid" TERM
nodes_stop_all
stop_pid "$RELAY_PID" TERM
done_ok
