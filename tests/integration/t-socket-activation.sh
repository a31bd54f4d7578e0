#!/bin/bash
# t-socket-activation.sh: outpostd started with a listening socket passed
# the way systemd's outpostd.socket passes it (sd_listen_fds: LISTEN_FDS,
# LISTEN_PID, descriptor 3; tests/integration/sockact.py holds the socket
# as systemd would) serves on it instead of its Listen line, and a restart
# refuses nobody: for the 2 s between the old process's exit and the new
# one's start the socket stays open, the agent's reconnects and a
# technician's `ssh -J` wait in its queue and are served by the new process
# (without socket activation each of them would get "connection refused"
# and the agent would back off).
. "$(dirname "$0")/lib.sh"
. "$IT_DIR/lib-agent.sh"
require_outpost

fleet_add acme
user_add alice acme
JUMP_PORT=$(pick_port)
# Listen names the socket's own address: outpostd binding it itself would fail (in use).
printf 'AllowRoot yes\nListen 127.0.0.1:%s\n' "$JUMP_PORT" >"$T/outpostd.conf"
[ -z "$STORE_SPEC" ] || echo "Store $STORE_SPEC" >>"$T/outpostd.conf"
spawn sockact env SOCKACT_GAP=2 "$PY" "$IT_DIR/sockact.py" "$JUMP_PORT" \
	"$OUTPOSTD_BIN" -f "$T/outpostd.conf" -d "$STATE"
SUP_PID=$LAST_PID
wait_for "outpostd on the passed socket" 15 grep -q "a socket from systemd" "$LOGDIR/sockact.log"
grep -q "listening on 127.0.0.1:$JUMP_PORT (a socket from systemd" "$LOGDIR/sockact.log" ||
	fail "outpostd did not say it serves the passed socket: $(grep listening "$LOGDIR/sockact.log")"
wait_for "outpostd host key" 5 test -s "$STATE/ssh_host_ed25519_key.pub"
known_add "[127.0.0.1]:$JUMP_PORT" "$STATE/ssh_host_ed25519_key.pub"
write_configs
start_device_sshd
agent_enroll 1 "$(token_create acme)" --name pi-hq >/dev/null
start_agent 1
wait_online pi-hq.acme
[ "$(dev_ssh root@pi-hq.acme echo hi)" = hi ] || fail "no route through the passed socket"

# restart: the technician dials while nothing accepts
kill -USR1 "$SUP_PID"
wait_for "the old outpostd stopped" 20 grep -q "socket held" "$LOGDIR/sockact.log"
# (a command on the jump itself: her connection may be served before the
# agent's, when the device is not back yet)
t0=$(now_ms)
out=$(timeout 30 ssh -F "$CFG" -o ConnectTimeout=20 jump whoami 2>&1) ||
	fail "a technician dialling during the restart failed: $out"
echo "$out" | grep -qw alice || fail "technician during the restart: $out"
log "technician served $(($(now_ms) - t0)) ms after dialling into the restart"
wait_online pi-hq.acme
[ "$(dev_ssh root@pi-hq.acme echo again)" = again ] || fail "no route after the restart"
grep -Eiq 'refused' "$LOGDIR/agent-1.log" &&
	fail "the agent was refused during the restart: $(grep -i refused "$LOGDIR/agent-1.log" | head -3)"
[ "$(grep -c "(a socket from systemd" "$LOGDIR/sockact.log")" = 2 ] || fail "outpostd did not start twice on the socket"
kill -TERM "$SUP_PID"
wait_for "the supervisor exits" 20 eval "! alive $SUP_PID"
done_ok
