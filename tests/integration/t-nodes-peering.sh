#!/bin/bash
# t-nodes-peering.sh: peering over SSH (issue 17 item 3, PROTOCOL.md
# "Peering"). Three nodes on one PostgreSQL store (lib-nodes.sh). A
# technician logged in to node a reaches by name, with `ssh -J`, a stock
# `ssh -R` device held by node b and an agent device held by node c: 64 MiB
# byte-exact both ways through a's peer connections, one per peer node. A
# refusal on b reaches the technician through a with b's reason; the device
# gone, a tells why. A node key cannot get a shell or run a command, cannot
# route onward (b does not reach c's device for a), and a user key cannot
# log in as a node, nor a node key as another node.
# needs: postgresql
# flavours: build
# timeout: 180
. "$(dirname "$0")/lib.sh"
. "$IT_DIR/lib-agent.sh"
. "$IT_DIR/lib-nodes.sh"

nodes_init a b c
fleet_add acme
user_add alice acme
device_add pi acme
for n in a b c; do node_start "$n"; done
start_device_sshd

# pi.acme: a stock ssh -R device on node b; ag.acme: an agent on node c
on_node b start_device pi acme
B_DEV_PID=$DEV_PID
node_wait_on pi.acme b
tok=$(node_token c acme)
fq=$(agent_enroll ag "$tok" --name ag)
[ "$fq" = ag.acme ] || fail "the agent enrolled as $fq"
start_agent ag
node_wait_on ag.acme c

# 64 MiB each way, through a, to b's device and c's device
A_CFG=$(node_client_config a)
src=$(mkdata big 67108864)
for d in pi.acme ag.acme; do
	t0=$(now_ms)
	node_ssh a "root@$d" "cat > $T/dev/up.$d" <"$src" || fail "upload to $d through node a"
	same_file "$src" "$T/dev/up.$d"
	node_ssh a "root@$d" "cat $T/dev/up.$d" >"$T/data/down.$d" || fail "download from $d through node a"
	same_file "$src" "$T/data/down.$d"
	log "$d ($(node_of "$d")): 64 MiB up and down through node a, byte-exact, in $(($(now_ms) - t0)) ms"
	rm -f "$T/dev/up.$d" "$T/data/down.$d"
done

# Audit: b and c each wrote `route` records via a for alice; a's channel records name the peer.
for p in b:pi.acme c:ag.acme; do
	n=${p%%:*} d=${p#*:}
	[ "$(AUDIT=$(node_state "$n")/audit.log audit_count route via=a for=alice device="$d" result=ok)" -ge 2 ] ||
		fail "node $n: no route record via a for alice to $d"
	[ "$(AUDIT=$(node_state a)/audit.log audit_count disconnect what=channel via="$n" device="$d")" -ge 2 ] ||
		fail "node a: no channel record via $n to $d"
done
# one peer connection per peer node, however many routes
for n in b c; do
	[ "$(grep -c "peer node $n: logged in as node:a" "$(node_log a)")" = 1 ] ||
		fail "node a logged in to $n other than once"
done

# A refusal on b reaches the technician through a with b's reason: a port
# pi.acme did not register (a routes it to b, which holds pi.acme).
REFUSE_TRIES=3 expect_refusal "a refusal on b, through a" \
    "Received disconnect.*device pi\.acme has no service on port 2222" \
    ssh -F "$A_CFG" -J jump -p 2222 root@pi.acme true

# Another node's login, with a's node key, straight to b.
NODE_CFG=$T/ssh_config.node-key
{
	printf 'Host nodeb\n  HostName %s\n  Port %s\n  User node:a\n  IdentityFile %s\n' \
	    "$(node_ip b)" "$(node_port b)" "$(node_state a)/node_key"
	grep -v '^ *IdentityFile' "$CFG"
} >"$NODE_CFG"
# what a asks of b works for it...
[ "$(timeout 20 ssh -F "$NODE_CFG" -o "ProxyCommand ssh -F $NODE_CFG -W %h:%p nodeb" \
    -i "$T/keys/alice" root@pi.acme echo direct 2>>"$LOGDIR/reach.log")" = direct ] ||
	fail "a's node key does not reach pi.acme on b"
# ... never onward: b does not reach c's device for a node
REFUSE_TRIES=2 expect_refusal "onward route b -> c" \
    "Received disconnect.*device ag\.acme is offline \(not on node b\)" \
    ssh -F "$NODE_CFG" -o "ProxyCommand ssh -F $NODE_CFG -W %h:%p nodeb" root@ag.acme true
# ... nor by port table
REFUSE_TRIES=1 expect_refusal "the port table through a node login" \
    "a node routes only to NAME.FLEET" \
    ssh -F "$NODE_CFG" -o "ProxyCommand ssh -F $NODE_CFG -W localhost:22 nodeb" root@x true
# ... no command, no shell
timeout 20 ssh -F "$NODE_CFG" -T nodeb whoami >"$T/node.out" 2>"$T/node.err" &&
	fail "a node key ran a command on b"
[ ! -s "$T/node.out" ] || fail "a node key got output from b: $(cat "$T/node.out")"
timeout 20 ssh -F "$NODE_CFG" -tt nodeb </dev/null >"$T/node.out" 2>&1 && fail "a node key got a shell on b"
[ "$(AUDIT=$(node_state b)/audit.log audit_count refused kind=node user=a what=channel \
    reason="not permitted: a node login only opens routes to this node's devices")" -ge 2 ] ||
	fail "node b: the node's session channels were not refused with the reason"

# A user key cannot pose as a node, nor a node key as another node (or as b itself).
for u in node:a node:c node:b; do
	k=$T/keys/alice
	[ "$u" = node:a ] || k=$(node_state a)/node_key
	timeout 20 ssh -F "$CFG" -o IdentitiesOnly=yes -i "$k" -l "$u" -p "$(node_port b)" \
	    "$(node_ip b)" true 2>"$T/pose.err" && fail "$(basename "$k") logged in to b as $u"
	grep -q 'Permission denied' "$T/pose.err" || fail "$(basename "$k") as $u: $(cat "$T/pose.err")"
done
[ "$(AUDIT=$(node_state b)/audit.log audit_count auth result=failure ssh_user=node:a reason="unknown key")" -ge 1 ] ||
	fail "node b: alice's key as node:a not audited as an unknown key"

# The device gone from b: a says why.
stop_pid "$B_DEV_PID" TERM 10
wait_for "pi.acme offline" 20 eval '[ -z "$(node_of pi.acme)" ]'
REFUSE_TRIES=2 expect_refusal "device gone from b (asked on a)" "device pi\.acme is offline" \
    ssh -F "$A_CFG" -J jump root@pi.acme true

# A peer that cannot be reached, then one that shows another host key (a
# plain sshd): the route is refused with why, and a waits before trying again.
now_s() { date +%s; }
store_sql "INSERT INTO nodes (name, peer_addr, node_key, started, heartbeat, version)
    VALUES ('z', '127.0.0.1:$(pick_port)', '', $(now_s), $(now_s), 'fake')" >/dev/null || fail "fake node z"
# as a node's presence write does: a new pseq, which the other nodes read once (SCHEMA.md)
store_sql "UPDATE devices SET online = 1, node = 'z', pseq = nextval('presence_seq') WHERE name = 'pi'" >/dev/null ||
	fail "pi.acme on z"
REFUSE_TRIES=1 expect_refusal "a peer that refuses the connection" \
    "device pi\.acme is on node z, unreachable: connect 127\.0\.0\.1:[0-9]+: Connection refused|node z is unreachable: connect 127\.0\.0\.1:[0-9]+: Connection refused" \
    ssh -F "$A_CFG" -J jump root@pi.acme true
REFUSE_TRIES=1 expect_refusal "the same peer within its backoff" \
    "device pi\.acme is on node z, unreachable: connect .*Connection refused \(next try in [0-9]+ s\)" \
    ssh -F "$A_CFG" -J jump root@pi.acme true
store_sql "UPDATE nodes SET peer_addr = '127.0.0.1:$SSHD_PORT', heartbeat = $(now_s) WHERE name = 'z'" >/dev/null
sleep 2		# the backoff after one failure: 1 s
REFUSE_TRIES=1 expect_refusal "a peer with another host key" \
    "node z is unreachable: its host key SHA256:[^ ]+ is not this node's \(SHA256:[^ ]+\): every node must serve the same HostKey" \
    ssh -F "$A_CFG" -J jump root@pi.acme true
store_sql "UPDATE devices SET online = 0, pseq = nextval('presence_seq') WHERE name = 'pi'" >/dev/null

# c's device is still reachable through a after all that.
node_reach a ag.acme still || fail "ag.acme through node a after the refusals"
stop_agent ag
nodes_stop_all
done_ok
