#!/bin/bash
# t-nodes.sh: three outpostd nodes a, b, c on one PostgreSQL store
# (lib-nodes.sh). All three register and beat; a stock `ssh -R` device on b
# and an outpost-agent device on c show online with their node in
# `outpost ls --json`, and a technician reaches each through its node. Then
# b is killed with SIGKILL: within ~25 s the store says b is down and b's
# device offline (its row still says online: b never wrote it back), while
# a and c keep serving (a technician reaches the agent on c; a new login on
# a works). A node cannot start under a live node's name with another key.
# needs: postgresql
# timeout: 120
. "$(dirname "$0")/lib.sh"
. "$IT_DIR/lib-agent.sh"
. "$IT_DIR/lib-nodes.sh"

nodes_init a b c
fleet_add acme
user_add alice acme
device_add pi-b acme
for n in a b c; do node_start "$n"; done
for n in a b c; do wait_for "node $n up in the store" 10 node_up "$n"; done
[ "$(store_sql "SELECT string_agg(name || '=' || peer_addr, ' ' ORDER BY name) FROM nodes")" = \
    "a=$(node_addr a) b=$(node_addr b) c=$(node_addr c)" ] ||
	fail "the nodes' rows: $(store_sql 'SELECT name, peer_addr FROM nodes')"
keys=$(store_sql "SELECT count(DISTINCT node_key) FROM nodes WHERE node_key LIKE 'ssh-ed25519 %'")
[ "$keys" = 3 ] || fail "expected three distinct node keys, got $keys"
for n in a b c; do
	[ "$(stat -c %a "$(node_state "$n")/node_key")" = 600 ] || fail "node $n's node_key is not mode 0600"
done

# a stock ssh -R device on b, the agent on c
start_device_sshd
on_node b start_device pi-b acme
node_wait_on pi-b.acme b
tok=$(node_token c acme)
name=$(agent_enroll 1 "$tok" --name pi-c)
[ "$name" = pi-c.acme ] || fail "enrolled $name"
start_agent 1
node_wait_on pi-c.acme c
node_reach b pi-b.acme hello-b || fail "a technician on b does not reach pi-b.acme"
node_reach c pi-c.acme hello-c || fail "a technician on c does not reach pi-c.acme"
# sessions are numbered per node: b's ids carry b's node id
bid=$(store_sql "SELECT id FROM nodes WHERE name = 'b'")
[ "$(store_sql "SELECT count(*) FROM sessions WHERE principal = 'pi-b.acme' AND id >> 40 = $bid")" = 1 ] ||
	fail "pi-b.acme's session id is not in node b's range: $(store_sql 'SELECT id, principal FROM sessions')"

# a second process under b's name (another state dir, so another node key) is refused
conf=$T/dup.conf
printf 'AllowRoot yes\nStore %s\nHostKey %s\nNodeName b\n' "$STORE_SPEC" "$NODE_HOSTKEY" >"$conf"
port=$(pick_port)
if timeout 20 "$OUTPOSTD_BIN" -f "$conf" -d "$T/dup-state" -l "127.0.0.9:$port" >"$T/dup.out" 2>&1; then
	fail "a second node b started"
fi
grep -q "node b is already running at $(node_addr b)" "$T/dup.out" ||
	fail "the duplicate was not told why: $(tail -n 2 "$T/dup.out")"

# b crashes: its device goes offline for everyone once b's heartbeat is old
t0=$(now_ms)
node_kill b
[ "$(store_sql "SELECT online FROM devices WHERE name = 'pi-b'")" = 1 ] ||
	fail "b's row was written back by a dead node?"
wait_for "node b down" 30 eval '! node_up b'
wait_for "pi-b.acme offline" 10 eval '[ -z "$(node_of pi-b.acme)" ]'
log "b down and pi-b.acme offline $(($(now_ms) - t0)) ms after SIGKILL"
outpost ls | grep -Eq '^pi-b\.acme +offline' || fail "outpost ls: $(outpost ls)"
[ "$(node_of pi-c.acme)" = c ] || fail "pi-c.acme is not on c any more"
node_up a && node_up c || fail "a or c stopped beating"
node_reach c pi-c.acme again || fail "c stopped serving after b's crash"
# a new login on a (a technician with no device there is still served: ls over SSH)
node_jump a ls >"$T/ls-a.out" 2>&1 || fail "ssh jump ls on a: $(cat "$T/ls-a.out")"
grep -Eq '^pi-c\.acme +online' "$T/ls-a.out" || fail "ls on a: $(cat "$T/ls-a.out")"
grep -Eq '^pi-b\.acme +offline' "$T/ls-a.out" || fail "ls on a shows b's device: $(cat "$T/ls-a.out")"

stop_agent 1
nodes_stop_all
done_ok
