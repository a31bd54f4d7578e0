#!/bin/bash
# t-local-forward.sh: a device registers a second service port (8080, an echo
# server; 8081, a server that says its name); technicians reach them with
# ssh -L and ssh -W; an unregistered port gets nothing.
. "$(dirname "$0")/lib.sh"

fleet_add acme
user_add alice acme
device_add pi-hq acme
start_jump
start_device_sshd
echo_port=$(pick_port) name_port=$(pick_port)
start_peer "$echo_port:echo" "$name_port:name=pi-hq-web"
start_device --service "8080:$echo_port" --service "8081:$name_port" pi-hq acme
wait_online pi-hq.acme

lp1=$(pick_port) lp2=$(pick_port) lp3=$(pick_port)
spawn forward ssh -F "$CFG" -N -o ExitOnForwardFailure=yes \
	-L "$lp1:$(svc_addr pi-hq.acme 8080)" -L "$lp2:$(svc_addr pi-hq.acme 8081)" -L "$lp3:pi-hq.acme:8082" jump
fwd=$LAST_PID
wait_for "ssh -L listening" 20 eval "port_listening $lp1 && port_listening $lp2 || ! alive $fwd"
alive "$fwd" || fail "ssh -L exited"

src=$(mkdata echo 1048573)
timeout 60 "$PY" "$IT_DIR/itpeer.py" send "$lp1" <"$src" >"$T/data/echo.back" || fail "echo through ssh -L"
same_file "$src" "$T/data/echo.back"
[ "$(timeout 30 "$PY" "$IT_DIR/itpeer.py" send "$lp2" </dev/null)" = pi-hq-web ] || fail "second service through ssh -L"
# Several at once over the same forward.
for i in 1 2 3 4 5; do
	job eval 'timeout 60 "$PY" "$IT_DIR/itpeer.py" send "$lp1" <"$src" >"$T/data/echo.'$i'"'
done
wait_jobs || fail "$JOBS_FAILED parallel echo clients failed"
for i in 1 2 3 4 5; do same_file "$src" "$T/data/echo.$i"; done
# ssh -W to a service port is a stdio stream.
timeout 60 ssh -F "$CFG" -W "$(svc_addr pi-hq.acme 8080)" jump <"$src" >"$T/data/w.back" || fail "ssh -W to port 8080"
same_file "$src" "$T/data/w.back"
if [ "$JUMP_MODE" = outpost ]; then
	# Port 8082 is not registered: a raw client gets no service bytes, and soon a close.
	t0=$(now_ms)
	printf 'hello\n' | timeout 30 "$PY" "$IT_DIR/itpeer.py" send "$lp3" >"$T/data/none" 2>/dev/null
	[ $(($(now_ms) - t0)) -lt 25000 ] || fail "unregistered port 8082 was not closed"
	! grep -q hello "$T/data/none" || fail "port 8082 echoed data although not registered"
	[ "$(audit_count connect device=pi-hq.acme port=8082 result=refused)" -ge 1 ] || fail "no refused connect to 8082 in the audit log"
fi
done_ok
