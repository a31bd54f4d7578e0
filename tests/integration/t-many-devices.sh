#!/bin/bash
# t-many-devices.sh: 20 devices online (stock ssh -R each, forwarding to 4
# device sshds with distinct host keys) and 20 technicians at once, each on a
# different device; host key checking proves each login reached its device.
. "$(dirname "$0")/lib.sh"

N=20
fleet_add acme
for i in $(seq -w 1 $N); do
	user_add "tech$i" acme
	device_add "dev$i" acme
done
start_jump
for s in 0 1 2 3; do start_device_sshd "$s"; done
for i in $(seq -w 1 $N); do start_device --sshd $((10#$i % 4)) "dev$i" acme -o ExitOnForwardFailure=yes; done
for i in $(seq -w 1 $N); do wait_online "dev$i.acme" 30; done
if [ "$JUMP_MODE" = outpost ]; then
	[ "$(outpost ls | grep -Ec '^dev[0-9]+\.acme[[:space:]]+online')" = $N ] || fail "not all $N devices online in outpost ls"
fi

session() {
	local i=$1
	timeout 120 ssh -F "$(client_config "tech$i")" -J jump "root@dev$i.acme" \
		"cat > $T/dev/d$i && cat $T/dev/d$i" <"$T/data/d$i" >"$T/data/d$i.back" 2>"$LOGDIR/tech$i.err"
}
for i in $(seq -w 1 $N); do
	mkdata "d$i" $((131072 + 10#$i)) >/dev/null
	client_config "tech$i" >/dev/null
done
t0=$(now_ms)
for i in $(seq -w 1 $N); do job session "$i"; done
wait_jobs || fail "$JOBS_FAILED of $N sessions failed: $(cat "$LOGDIR"/tech*.err | sort | uniq -c | head -n 5)"
log "$N technicians on $N devices in $(($(now_ms) - t0)) ms"
for i in $(seq -w 1 $N); do
	same_file "$T/data/d$i" "$T/dev/d$i"
	same_file "$T/data/d$i" "$T/data/d$i.back"
done
for p in "${PIDS[@]}"; do
	case ${PID_NAME[$p]} in dev-*) alive "$p" || fail "${PID_NAME[$p]} exited" ;; esac
done
done_ok
