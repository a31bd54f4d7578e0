#!/bin/bash
# t-agent-restart.sh: outpostd is killed with SIGKILL and started again on
# the same state directory and port: the agent's device is reachable by name
# again within 10 s of the kill (the issue's bound), measured and printed.
# The restarted daemon has no ghost of the old session.
. "$(dirname "$0")/lib.sh"
. "$IT_DIR/lib-agent.sh"
require_outpost

agent_setup
agent_enroll 1 "$(token_create acme)" --name pi-hq >/dev/null
start_agent 1
wait_online pi-hq.acme
reach pi-hq.acme || fail "pi-hq.acme not reachable"
old_pid=$OUTPOSTD_PID

t0=$(now_ms)
kill -KILL "$OUTPOSTD_PID"
wait "$OUTPOSTD_PID" 2>/dev/null
forget_pid "$OUTPOSTD_PID"
OUTPOSTD_PID=
start_outpostd
t_listen=$(now_ms)
[ "$OUTPOSTD_PID" != "$old_pid" ] || fail "outpostd was not restarted"
ok=0
while [ $(($(now_ms) - t0)) -lt 10000 ]; do
	if reach pi-hq.acme back; then ok=1; break; fi
	sleep 0.2
done
t1=$(now_ms)
log "SIGKILL -> listening again: $((t_listen - t0)) ms; SIGKILL -> reachable by name: $((t1 - t0)) ms (bound 10000 ms)"
[ $ok = 1 ] || fail "pi-hq.acme not reachable within 10 s of SIGKILL + restart"
grep -E "connecting to|reconnecting in" "$LOGDIR/agent-1.log" | tail -n 4 >&2
# One live session for the device in the restarted daemon.
n=$(outpost who 2>/dev/null | grep -c 'pi-hq\.acme')
[ "$n" = 1 ] || fail "outpost who shows $n sessions of pi-hq.acme: $(outpost who 2>&1)"
stop_agent 1
done_ok
