#!/bin/bash
# t-nodes-revoke.sh: live changes made on one node reach the sessions of
# another (lib-nodes.sh, one PostgreSQL store; the store's NOTIFY wakes
# every node's store thread). A device on node c; technicians hold routes
# to it through c. On node a, over SSH (alice, an admin):
# - `revoke bob acme`: bob's route through c ends within 2 s, measured
#   from the command's return; bob is then refused on c;
# - `kick ID` of carol's session on c (its id from the shared sessions
#   table, in c's range): it ends within 2 s;
# - `user rm dave` from the CLI (no node): dave's route through c ends
#   within 2 s;
# alice's own route through c survives all three.
# needs: postgresql
# timeout: 90
. "$(dirname "$0")/lib.sh"
. "$IT_DIR/lib-access.sh"
. "$IT_DIR/lib-nodes.sh"
require_outpost

NODES_CONF_EXTRA="LogLevel debug"
nodes_init a c
fleet_add acme
user_add alice --admin acme
user_add bob acme
user_add carol acme
user_add dave acme
device_add pi-hq acme
node_start a
node_start c
start_device_sshd
on_node c start_device pi-hq acme
node_wait_on pi-hq.acme c

# hold USER: USER's route to pi-hq.acme through c, open until ended; PID in HELD.
hold() {
	: >"$LOGDIR/sess-$1.log"
	spawn "sess-$1" ssh -F "$(CLIENT=$1 node_client_config c)" -J jump root@pi-hq.acme "echo READY; exec sleep 60"
	HELD=$LAST_PID
	wait_for "$1's session through c" 20 grep -q READY "$LOGDIR/sess-$1.log"
}
hold alice
alice_pid=$HELD
hold bob
bob_pid=$HELD
hold carol
carol_pid=$HELD
hold dave
dave_pid=$HELD

# revoke on a
node_jump a revoke bob acme >"$T/revoke.out" 2>&1 || fail "revoke on a: $(cat "$T/revoke.out")"
t0=$(now_ms)
measure_exit "$bob_pid" 2000 "revoke on a: bob's route through c" "$t0"
cfg=$(CLIENT=bob node_client_config c)
REFUSE_TRIES=2 expect_refusal "bob on c after the revoke" 'no device named pi-hq\.acme' \
    ssh -F "$cfg" -J jump root@pi-hq.acme true

# kick on a of carol's session held by c
cid=$(store_sql "SELECT s.id FROM sessions s WHERE s.kind = 'user' AND s.principal = 'carol'")
[ -n "$cid" ] || fail "carol's session is not in the store: $(store_sql 'SELECT id, kind, principal FROM sessions')"
[ "$((cid >> 40))" = "$(store_sql "SELECT id FROM nodes WHERE name = 'c'")" ] || fail "session $cid is not in c's range"
node_jump a kick "$cid" >"$T/kick.out" 2>&1 || fail "kick on a: $(cat "$T/kick.out")"
t0=$(now_ms)
grep -q '^kicked 1 session$' "$T/kick.out" || fail "kick on a: $(cat "$T/kick.out")"
measure_exit "$carol_pid" 2000 "kick on a: carol's session on c" "$t0"

# user rm from the CLI
outpost user rm dave >/dev/null || fail "user rm dave"
t0=$(now_ms)
measure_exit "$dave_pid" 2000 "user rm: dave's route through c" "$t0"

alive "$alice_pid" || fail "alice's route through c ended"
n=$(node_jump c metrics | awk '$1 == "outpost_store_notifications_total" {print $2}')
[ "${n:-0}" -ge 3 ] || fail "c acted on ${n:-no} notifications"
log "node c acted on $n notifications"
stop_pid "$alice_pid" TERM
nodes_stop_all
done_ok
