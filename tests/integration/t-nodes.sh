#!/bin/bash
# t-nodes.sh: three outpostd nodes a, b, c on one PostgreSQL store
# (lib-nodes.sh). All three register and beat (`outpost nodes`, and
# `ssh jump nodes` for an admin, list three up); a stock `ssh -R` device on b
# and an outpost-agent device on c show online with their node in
# `outpost ls --json`, and a technician reaches each through its node. Then
# b is killed with SIGKILL: within ~25 s the store says b is down and b's
# device offline (its row still says online: b never wrote it back), while
# a and c keep serving (a technician reaches the agent on c; a new login on
# a works), and `outpost nodes` shows b's device as stranded, not held. A
# node cannot start under a live node's name with another key. b starts
# again: neither its death nor its return costs a or c a full copy of the
# store (outpost_store_reloads_total stays; they take b's row alone). c
# stops cleanly: `outpost nodes` shows it down ("stopped") at once.
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

# outpost nodes: name first, peer address, up, devices held, last heartbeat
outpost nodes >"$T/nodes.out" || fail "outpost nodes"
for n in a b c; do
	d=0
	[ $n = a ] || d=1
	grep -Eq "^$n  $(node_addr $n)  up  $d devices?  heartbeat 20[0-9-]+T[0-9:]+Z\$" "$T/nodes.out" ||
		fail "outpost nodes, node $n: $(cat "$T/nodes.out")"
done
[ "$(wc -l <"$T/nodes.out")" = 3 ] || fail "outpost nodes: $(cat "$T/nodes.out")"
outpost nodes --json | "$PY" -c '
import json, sys
n = json.load(sys.stdin)
assert [x["name"] for x in n] == ["a", "b", "c"], n
assert all(x["up"] and x["node_key"].startswith("ssh-ed25519 ") for x in n), n
assert [x["devices"] for x in n] == [0, 1, 1], n
' || fail "outpost nodes --json"
user_add root --admin
CLIENT=root node_jump a nodes >"$T/nodes-ssh.out" 2>&1 || fail "ssh jump nodes: $(cat "$T/nodes-ssh.out")"
[ "$(awk '{print $1, $3}' "$T/nodes-ssh.out" | tr '\n' ' ')" = "a up b up c up " ] ||
	fail "ssh jump nodes: $(cat "$T/nodes-ssh.out")"
node_jump a nodes >"$T/nodes-alice.out" 2>&1 && fail "alice (not an admin) ran nodes"
# metric NODE NAME: counter NAME of node NODE (`ssh jump metrics` as the admin)
metric() { CLIENT=root node_jump "$1" metrics 2>/dev/null | awk -v m="$2" '$1 == m { print $2 }'; }
ra0=$(metric a outpost_store_reloads_total)
rc0=$(metric c outpost_store_reloads_total)
[ -n "$ra0" ] && [ -n "$rc0" ] || fail "no outpost_store_reloads_total in a's or c's metrics"

# b crashes: its device goes offline for everyone once b's heartbeat is old
t0=$(now_ms)
node_kill b
[ "$(store_sql "SELECT online FROM devices WHERE name = 'pi-b'")" = 1 ] ||
	fail "b's row was written back by a dead node?"
wait_for "node b down" 30 eval 'outpost nodes | grep -q "^b .* down "'
node_up b && fail "the store and outpost nodes disagree about b"
wait_for "pi-b.acme offline" 10 eval '[ -z "$(node_of pi-b.acme)" ]'
log "b down and pi-b.acme offline $(($(now_ms) - t0)) ms after SIGKILL"
outpost ls | grep -Eq '^pi-b\.acme +offline' || fail "outpost ls: $(outpost ls)"
# a down node holds nothing: its device still online in its row is stranded
outpost nodes | grep -Eq "^b  $(node_addr b)  down  0 devices, 1 stranded  heartbeat 20[0-9-]+T[0-9:]+Z\$" ||
	fail "outpost nodes after b's crash: $(outpost nodes)"
outpost nodes --json | "$PY" -c '
import json, sys
b = [x for x in json.load(sys.stdin) if x["name"] == "b"][0]
assert not b["up"] and b["devices"] == 0 and b["stranded"] == 1 and not b["stopped"], b
' || fail "outpost nodes --json after b's crash: $(outpost nodes --json)"
# a technician on a asking for it is told where it is
asks_a() { node_ssh a root@pi-b.acme true >"$T/ask.out" 2>&1; grep -q "device pi-b.acme is on node b, which is down" "$T/ask.out"; }
wait_for "a's refusal naming b" 10 asks_a
REFUSE_TRIES=2 expect_refusal "pi-b.acme through a" "device pi-b.acme is on node b, which is down" \
    ssh -F "$(node_client_config a)" -J jump root@pi-b.acme true
[ "$(node_of pi-c.acme)" = c ] || fail "pi-c.acme is not on c any more"
node_up a && node_up c || fail "a or c stopped beating"
node_reach c pi-c.acme again || fail "c stopped serving after b's crash"
# a new login on a (a technician with no device there is still served: ls over SSH)
node_jump a ls >"$T/ls-a.out" 2>&1 || fail "ssh jump ls on a: $(cat "$T/ls-a.out")"
grep -Eq '^pi-c\.acme +online' "$T/ls-a.out" || fail "ls on a: $(cat "$T/ls-a.out")"
grep -Eq '^pi-b\.acme +offline' "$T/ls-a.out" || fail "ls on a shows b's device: $(cat "$T/ls-a.out")"


# b starts again. Neither its death nor its return made a or c copy the
# whole store again: they took b's row alone (outpost_store_node_updates_total)
ua1=$(metric a outpost_store_node_updates_total)
node_start b
wait_for "b's return in a's copy" 15 eval '[ "$(metric a outpost_store_node_updates_total)" -gt "$ua1" ]'
wait_for "node b up in the store" 10 node_up b
node_reach a pi-c.acme after-b || fail "a does not reach pi-c.acme through c after b's return"
ra1=$(metric a outpost_store_reloads_total)
rc1=$(metric c outpost_store_reloads_total)
[ "$ra1" = "$ra0" ] && [ "$rc1" = "$rc0" ] ||
	fail "b's crash and restart made a or c copy the whole store: a $ra0 -> $ra1, c $rc0 -> $rc1"
log "b's crash and return: no full copy on a ($ra1) or c ($rc1); a's node-row updates: $(metric a outpost_store_node_updates_total)"

# c stops cleanly (SIGTERM): down at once for the store, the CLI and a; its device offline
ua2=$(metric a outpost_store_node_updates_total)
t0=$(now_ms)
node_stop c
outpost nodes | grep -Eq "^c  $(node_addr c)  down  0 devices  stopped\$" ||
	fail "outpost nodes right after c's clean stop: $(outpost nodes)"
[ -z "$(node_of pi-c.acme)" ] || fail "pi-c.acme online after c's clean stop"
wait_for "c's stop in a's copy" 5 eval '[ "$(metric a outpost_store_node_updates_total)" -gt "$ua2" ]'
log "c down in a's copy $(($(now_ms) - t0)) ms after SIGTERM (was up to 20 s)"
[ "$(metric a outpost_store_reloads_total)" = "$ra0" ] || fail "c's clean stop made a copy the whole store"
# and starts again under its name at once (its key is its own anyway)
node_start c
wait_for "node c up in the store" 10 node_up c

stop_agent 1
nodes_stop_all
done_ok
