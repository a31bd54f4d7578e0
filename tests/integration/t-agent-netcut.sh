#!/bin/bash
# timeout: 300
# t-agent-netcut.sh: the agent runs in its own network namespace, joined to
# the jump by a veth pair this scenario creates. The link is cut for 60 s
# (the device's end goes down: its packets go nowhere, the jump's are lost
# on the dead link), then healed. The device must be reachable by name again
# within the backoff cap (60 s) after the heal, and the stale session must be
# gone: one live session for the device, a new one, the old one ended
# (timed out or replaced: `takeover` in the audit log).
. "$(dirname "$0")/lib.sh"
. "$IT_DIR/lib-agent.sh"
require_outpost
[ "$(id -u)" = 0 ] || skip "needs root for a network namespace"

CUT_S=${OUTPOST_NETCUT_S:-60}
NS=outpost-cut-$$
VJ=opj$$ VD=opd$$		# the jump's and the device's ends
o2=$((RANDOM % 256)) o3=$(((RANDOM % 60) * 4))
HOSTIP=10.213.$o2.$((o3 + 1)) DEVIP=10.213.$o2.$((o3 + 2))

# live_session NAME.FLEET: the ids of the device's live sessions (outpost who).
live_session() {
	outpost who | awk -v d="$1" '$2 == "device" && $3 == d { print $1 }'
}

net_cleanup() {
	[ "$BASHPID" = "$MAIN_PID" ] || return 0
	ip link del "$VJ" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	return 0
}
trap 'rc=$?; net_cleanup; (exit $rc); cleanup' EXIT

ip -4 addr | grep -q "inet 10\.213\.$o2\." && skip "10.213.$o2.0/24 is in use here"
ip netns add "$NS" || skip "cannot create a network namespace"
ip link add "$VJ" type veth peer name "$VD" netns "$NS" || fail "veth"
ip addr add "$HOSTIP/30" dev "$VJ" && ip link set "$VJ" up || fail "veth $VJ"
ip -n "$NS" addr add "$DEVIP/30" dev "$VD" && ip -n "$NS" link set "$VD" up &&
	ip -n "$NS" link set lo up || fail "veth $VD"
wait_for "the veth link" 10 eval "ip -n $NS link show $VD | grep -q LOWER_UP"

fleet_add acme
user_add alice acme
JUMP_PORT=$(pick_port)
start_outpostd -l "$HOSTIP:$JUMP_PORT"
# The device's own sshd, reachable from the namespace over the veth.
SSHD_KEYS=device_authorized_keys start_sshd dev0 "ListenAddress $HOSTIP:@PORT@"
tok=$(token_create acme)
AGENT_NETNS=$NS
AGENT_SVC_HOST=$HOSTIP
out=$(ip netns exec "$NS" "$AGENT_BIN" -d "$(agent_dir 1)" enroll "$tok" --name pi-hq \
	--server "$HOSTIP:$JUMP_PORT" 2>>"$LOGDIR/agent-1.log") || fail "enroll over the veth"
[ "$out" = "enrolled pi-hq.acme" ] || fail "enroll printed '$out'"
start_agent 1
wait_online pi-hq.acme
reach pi-hq.acme || fail "pi-hq.acme not reachable over the veth"
old_sess=$(live_session pi-hq.acme)
[ -n "$old_sess" ] || fail "no live session of pi-hq.acme in who: $(outpost who)"
takeovers=$(audit_count takeover device=pi-hq.acme)
REG_BASE[pi-hq.acme]=$(audit_count register device=pi-hq.acme result=ok)

log "cutting the link for ${CUT_S}s (session $old_sess)"
ip -n "$NS" link set "$VD" down || fail "cut"
sleep "$CUT_S"
ip -n "$NS" link set "$VD" up || fail "heal"
t_heal=$(now_ms)
log "link healed"
ok=0
while [ $(($(now_ms) - t_heal)) -lt 62000 ]; do
	if reach pi-hq.acme back; then ok=1; break; fi
	sleep 0.5
done
t1=$(now_ms)
grep -E "session lost|reconnecting in|connecting to|cannot connect|connected to" "$LOGDIR/agent-1.log" | tail -n 12 >&2
log "heal -> reachable by name: $((t1 - t_heal)) ms (bound: the 60 s backoff cap + a handshake)"
[ $ok = 1 ] || fail "pi-hq.acme not reachable within 62 s of the heal"

# The stale session is gone: one live session, not the old one.
wait_for "one session of pi-hq.acme" 20 eval '[ "$(outpost who | grep -c "pi-hq\.acme")" = 1 ]'
new_sess=$(live_session pi-hq.acme)
[ -n "$new_sess" ] && [ "$new_sess" != "$old_sess" ] || fail "live session $new_sess (old $old_sess): the stale one was not replaced"
n_to=$(audit_count takeover device=pi-hq.acme)
n_disc=$(audit_count disconnect what=session session="$old_sess")
log "old session $old_sess: takeover records +$((n_to - takeovers)), disconnect records $n_disc; new session $new_sess"
[ "$n_disc" -ge 1 ] || fail "no disconnect record for the stale session $old_sess"
stop_agent 1
done_ok
