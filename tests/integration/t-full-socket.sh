#!/bin/bash
# timeout: 180
# t-full-socket.sh: a technician's TCP connection that stops taking bytes
# while its channels' windows are still open. Bob reaches the jump through a
# ProxyCommand relay (itpeer.py send) whose socket has a 4 KiB receive
# buffer, and reads 64 MiB from pi-hq.acme four times at once through one
# `ssh -L` (four channels on one connection); once all four have begun,
# the relay is stopped (SIGSTOP). The four 2 MiB windows hold more than
# outpostd's socket buffer can (4 MiB at most here), so outpostd's sends
# find the socket full (EAGAIN) while the windows say there is room: that
# must wait in outpostd, not end bob's session. The test checks the socket
# did fill, that bob's session and the device survive, and that after
# SIGCONT all four streams arrive byte-exact.
. "$(dirname "$0")/lib.sh"
require_outpost

small=$(mkdata small $((64 << 20)))
p_small=$(pick_port)
start_peer "$p_small:file=$small"
fleet_add acme
user_add bob acme
device_add pi-hq acme
start_jump
start_device_sshd
start_device --service "8080:$p_small" pi-hq acme
wait_online pi-hq.acme
bcfg=$(client_config bob)

lp=$(pick_port)
spawn bob ssh -F "$bcfg" -o "ProxyCommand=$PY $IT_DIR/itpeer.py send $JUMP_PORT 4096" -N \
	-o ExitOnForwardFailure=yes -L "$lp:$(svc_addr pi-hq.acme 8080)" jump
bob=$LAST_PID
wait_for "bob's ssh -L listening" 20 eval "port_listening $lp || ! alive $bob"
alive "$bob" || fail "bob's ssh -L exited: $(cat "$LOGDIR/bob.log" 2>/dev/null)"
readers=()
for i in 1 2 3 4; do
	"$PY" "$IT_DIR/itpeer.py" send "$lp" </dev/null >"$T/data/bob.$i" &
	readers+=("$!")
	PIDS+=("$!")
done
begun() { local i; for i in 1 2 3 4; do [ "$(stat -c %s "$T/data/bob.$i")" -gt 0 ] || return 1; done; }
wait_for "all four streams' first bytes" 20 begun
relay=$(pgrep -P "$bob" -f itpeer.py) || fail "no relay process under bob's ssh"
kill -STOP "$relay" || fail "cannot stop the relay"

# outpostd's end of bob's connection: Send-Q of the socket whose peer is the relay.
rport=$(ss -tnpH state established | awk -v p="pid=$relay," 'index($0, p) { n = split($3, a, ":"); print a[n]; exit }')
[ -n "$rport" ] || fail "cannot find the relay's socket"
sendq() { ss -tnH state established "( sport = :$JUMP_PORT and dport = :$rport )" | awk '{ print $2; exit }'; }
q=0
full() { q=$(sendq); [ "${q:-0}" -ge 65536 ]; }
wait_for "outpostd's socket to the relay to fill (Send-Q now ${q:-?})" 30 full
sleep 2	# more writes meet the full socket
got() { cat "$T"/data/bob.[1-4] | wc -c; }
log "outpostd's Send-Q towards the stopped relay: $(sendq) bytes; bob has $(got) of 4 x 64 MiB"
alive "$bob" || fail "bob's ssh ended while the relay was stopped: $(cat "$LOGDIR/bob.log" 2>/dev/null)"
alive "$DEV_PID" || fail "the device session was dropped"
[ "$(got)" -lt $((4 * (64 << 20))) ] || fail "bob got everything: the relay was not stopped in time"

kill -CONT "$relay"
for r in "${readers[@]}"; do
	wait_for "bob's streams to end after SIGCONT" 60 exited "$r"
	[ "$EXIT_STATUS" = 0 ] || fail "a stream through bob's ssh -L failed after SIGCONT (status $EXIT_STATUS)"
done
for i in 1 2 3 4; do same_file "$small" "$T/data/bob.$i"; done
log "bob's four 64 MiB streams byte-exact after SIGCONT"
done_ok
