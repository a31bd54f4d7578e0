#!/bin/bash
# t-nodes-takeover.sh: a device moves from node b to node c (lib-nodes.sh,
# one PostgreSQL store). A stock `ssh -R` device registered on b connects
# again, with the same key, to c while its session on b is still open (a
# device whose old TCP connection is not dead yet, as after a NAT change):
# - b learns it from the store (outpost_presence NOTIFY, not polling) and
#   drops its stale session within 2 s of the new one's start (the old
#   ssh -R exits), audited `takeover` in b's log naming node c;
# - the store says online on c (b's fenced offline write left c's row
#   alone), `ls --json` says node c, a technician through c reaches it,
#   b lists it online, and b counts outpost_device_node_takeovers_total.
# needs: postgresql
# timeout: 90
. "$(dirname "$0")/lib.sh"
. "$IT_DIR/lib-access.sh"
. "$IT_DIR/lib-nodes.sh"
require_outpost

nodes_init b c
fleet_add acme
user_add alice --admin acme
device_add pi-hq acme
node_start b
node_start c
grep -q "changes by LISTEN/NOTIFY" "$(node_log b)" || fail "node b does not listen for notifications"

start_device_sshd
on_node b start_device pi-hq acme
old=$DEV_PID
node_wait_on pi-hq.acme b
node_reach b pi-hq.acme on-b || fail "a technician on b does not reach pi-hq.acme"

# the same device, the same key, now on c; its session on b is still open
t0=$(now_ms)
on_node c start_device pi-hq acme
new=$DEV_PID
measure_exit "$old" 2000 "node b drops pi-hq.acme's stale session" "$t0"
alive "$new" || fail "the device's new session on c ended"
node_wait_on pi-hq.acme c 10
[ "$(AUDIT=$(node_state b)/audit.log audit_count takeover device=pi-hq.acme node=c)" = 1 ] ||
	fail "no takeover naming node c in b's audit log: $(grep takeover "$(node_state b)/audit.log")"
grep -q "pi-hq.acme: registered on node c" "$(node_log b)" || fail "b's log does not say c took the device"
[ "$(AUDIT=$(node_state c)/audit.log audit_count takeover)" = 0 ] || fail "c audited a takeover of its own"
# b's offline write is fenced: c's registration stands
sleep 1
[ "$(store_sql "SELECT online || ' ' || node FROM devices WHERE name = 'pi-hq'")" = "1 c" ] ||
	fail "the store's row: $(store_sql "SELECT online, node, gen FROM devices WHERE name = 'pi-hq'")"
[ "$(node_of pi-hq.acme)" = c ] || fail "ls --json: $(outpost ls --json)"
node_reach c pi-hq.acme on-c || fail "a technician on c does not reach pi-hq.acme"
node_jump b ls >"$T/ls-b.out" 2>&1 || fail "ls on b: $(cat "$T/ls-b.out")"
grep -Eq '^pi-hq\.acme +online' "$T/ls-b.out" || fail "b does not list pi-hq.acme online (on c): $(cat "$T/ls-b.out")"
n=$(node_jump b metrics | awk '$1 == "outpost_device_node_takeovers_total" {print $2}')
[ "$n" = 1 ] || fail "b counted $n takeovers by another node"

stop_pid "$new" TERM
nodes_stop_all
done_ok
