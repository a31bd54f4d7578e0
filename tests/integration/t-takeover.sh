#!/bin/bash
# stores: sqlite postgresql
# t-takeover.sh: a device's ssh freezes (SIGSTOP: a dead link the server has
# not noticed yet); a new ssh with the same key, with ExitOnForwardFailure,
# must serve within 2 s, with no "remote port forwarding failed". Measured
# from the new ssh's start to the first technician login that succeeds.
. "$(dirname "$0")/lib.sh"
require_outpost

flags=(-o ExitOnForwardFailure=yes -o ServerAliveInterval=10)
fleet_add acme
user_add alice acme
device_add pi-hq acme
start_jump
start_device_sshd 0
start_device_sshd 1
start_device --sshd 0 pi-hq acme "${flags[@]}"
wait_online pi-hq.acme
old=$DEV_PID
[ "$(dev_ssh -o HostKeyAlias=pi-hq.acme root@pi-hq.acme echo old)" = old ] || fail "first device"

for round in 1 2 3; do
	kill -STOP "$old"
	# The replacement forwards to the other sshd instance, so its host key
	# proves which ssh carried the login.
	new_sshd=$((round % 2))
	printf '%s\n' "x-new $(cut -d' ' -f1,2 "$T/host-dev$new_sshd.pub")" >"$T/known_new"
	t0=$(now_ms)
	start_device --sshd "$new_sshd" pi-hq acme "${flags[@]}"
	new=$DEV_PID
	served=0
	for i in $(seq 1 60); do
		if out=$(timeout 5 ssh -F "$CFG" -J jump -o UserKnownHostsFile="$T/known_new" -o HostKeyAlias=x-new \
			-o StrictHostKeyChecking=yes root@pi-hq.acme echo new 2>/dev/null) && [ "$out" = new ]; then
			served=1
			break
		fi
		[ $(($(now_ms) - t0)) -gt 10000 ] && break
		sleep 0.05
	done
	ms=$(($(now_ms) - t0))
	log "round $round: new session served after $ms ms"
	[ $served = 1 ] || fail "round $round: the new device ssh did not serve within 10 s"
	[ $ms -le 2000 ] || fail "round $round: the new device ssh served after $ms ms (limit 2000)"
	alive "$new" || fail "round $round: the new device ssh exited: $(tail -n 3 "$LOGDIR/dev-pi-hq.acme.log")"
	! grep -q 'remote port forwarding failed' "$LOGDIR/dev-pi-hq.acme.log" || fail "round $round: forwarding failed for the new ssh"
	# The frozen one, once thawed, finds its session gone and exits.
	kill -CONT "$old"
	wait_for "the replaced ssh to exit" 20 exited "$old"
	old=$new
done
[ "$(audit_count takeover device=pi-hq.acme)" -ge 3 ] || fail "takeovers not in the audit log"
done_ok
