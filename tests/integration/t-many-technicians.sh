#!/bin/bash
# t-many-technicians.sh: 20 technicians, each with an own key and account, on
# one device at once, each sending and receiving 1 MiB byte-exact.
. "$(dirname "$0")/lib.sh"

N=20
fleet_add acme
for i in $(seq -w 1 $N); do user_add "tech$i" acme; done
device_add pi-hq acme
start_jump
start_device_sshd
start_device pi-hq acme
wait_online pi-hq.acme

session() {	# session I: upload, then download in the same login
	local i=$1
	timeout 120 ssh -F "$(client_config "tech$i")" -J jump root@pi-hq.acme \
		"cat > $T/dev/tech$i && cat $T/dev/tech$i" <"$T/data/tech$i" >"$T/data/tech$i.back" 2>"$LOGDIR/tech$i.err"
}
for i in $(seq -w 1 $N); do
	mkdata "tech$i" $((1048576 + 10#$i)) >/dev/null
	client_config "tech$i" >/dev/null
done
t0=$(now_ms)
for i in $(seq -w 1 $N); do job session "$i"; done
wait_jobs || fail "$JOBS_FAILED of $N technician sessions failed"
log "$N concurrent sessions on one device in $(($(now_ms) - t0)) ms"
for i in $(seq -w 1 $N); do
	same_file "$T/data/tech$i" "$T/dev/tech$i"
	same_file "$T/data/tech$i" "$T/data/tech$i.back"
done
if [ "$JUMP_MODE" = outpost ]; then
	for i in $(seq -w 1 $N); do
		[ "$(audit_count connect user="tech$i" device=pi-hq.acme result=ok)" = 1 ] || fail "tech$i's connect not audited"
	done
fi
done_ok
