#!/bin/bash
# t-agent-technicians.sh: several technicians at once through one
# outpost-agent (one SSH session to the jump, one event loop), each with a
# different size from 0 bytes to 8 MiB, uploaded and downloaded in the same
# login: byte-exact by sha256. Also scp and a second service port (an echo
# server registered with -s) at the same time.
. "$(dirname "$0")/lib.sh"
. "$IT_DIR/lib-agent.sh"
require_outpost

SIZES=(0 1 4095 65536 1000003 3145728 5242880 8388608)
N=${#SIZES[@]}
fleet_add acme
for i in $(seq 1 $N); do user_add "tech$i" acme; done
user_add alice acme
start_jump
start_device_sshd
ECHO_PORT=$(pick_port)
start_peer "$ECHO_PORT:echo"
agent_enroll 1 "$(token_create acme)" --name pi-hq >/dev/null
start_agent 1 -s "7=127.0.0.1:$ECHO_PORT"
wait_online pi-hq.acme

session() {	# session I: upload, then download in the same login
	local i=$1
	timeout 180 ssh -F "$(client_config "tech$i")" -J jump root@pi-hq.acme \
		"cat > $T/dev/tech$i && cat $T/dev/tech$i" <"$T/data/tech$i" >"$T/data/tech$i.back" 2>"$LOGDIR/tech$i.err"
}
echo_svc() {	# a direct-tcpip to the device's port 7 (ssh -W), 2 MiB through the echo server
	timeout 120 ssh -F "$CFG" -W pi-hq.acme:7 jump <"$T/data/echo" >"$T/data/echo.back" 2>"$LOGDIR/echo.err"
}
for i in $(seq 1 $N); do
	mkdata "tech$i" "${SIZES[$((i - 1))]}" >/dev/null
	client_config "tech$i" >/dev/null
done
mkdata scp 4194304 >/dev/null
mkdata echo 2097152 >/dev/null
t0=$(now_ms)
for i in $(seq 1 $N); do job session "$i"; done
job timeout 180 scp -q -F "$CFG" -J jump "$T/data/scp" "root@pi-hq.acme:$T/dev/scp"
job echo_svc
wait_jobs || fail "$JOBS_FAILED of $((N + 2)) concurrent transfers failed"
log "$N technicians + scp + an echo channel through one agent in $(($(now_ms) - t0)) ms"
for i in $(seq 1 $N); do
	same_file "$T/data/tech$i" "$T/dev/tech$i"
	same_file "$T/data/tech$i" "$T/data/tech$i.back"
done
same_file "$T/data/scp" "$T/dev/scp"
same_file "$T/data/echo" "$T/data/echo.back"
for i in $(seq 1 $N); do
	[ "$(audit_count connect user="tech$i" device=pi-hq.acme result=ok)" = 1 ] || fail "tech$i's connect not audited"
done
# They were concurrent: the agent had more than one channel open at once.
opened=$(grep -c "channel from .* opened" "$LOGDIR/agent-1.log")
[ "$opened" -ge $((N + 2)) ] || fail "the agent logged $opened channels, expected $((N + 2))"
alive "$AGENT_PID" || fail "the agent died"
reach pi-hq.acme after || fail "pi-hq.acme not reachable after the transfers"
stop_agent 1
done_ok
