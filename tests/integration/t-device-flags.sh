#!/bin/bash
# t-device-flags.sh: devices as the seeds run them, stock ssh with each flag
# set (plain -N -R; -g -N -T -o ServerAliveInterval=10 -o ExitOnForwardFailure=yes;
# ServerAliveInterval=60 ServerAliveCountMax=3 ExitOnForwardFailure=yes),
# autossh -M 0 (and its restart after the ssh dies), and every bind-address
# form that means "myself".
. "$(dirname "$0")/lib.sh"

fleet_add acme
user_add alice acme
names="pi-plain pi-seed4 pi-seed0 pi-auto"
[ "$JUMP_MODE" = outpost ] && names="$names pi-lh pi-star pi-any pi-q pi-empty"
for n in $names; do device_add "$n" acme; done
start_jump
start_device_sshd

start_device pi-plain acme
start_device pi-seed4 acme -g -N -T -o "ServerAliveInterval 10" -o "ExitOnForwardFailure yes"
start_device pi-seed0 acme -o ServerAliveInterval=60 -o ServerAliveCountMax=3 -o ExitOnForwardFailure=yes
start_device --autossh pi-auto acme -o ServerAliveInterval=60 -o ServerAliveCountMax=3 -o ExitOnForwardFailure=yes
auto_pid=$DEV_PID
if [ "$JUMP_MODE" = outpost ]; then
	start_device --bind localhost pi-lh acme -o ExitOnForwardFailure=yes
	start_device --bind '*' pi-star acme -o ExitOnForwardFailure=yes
	start_device --bind 0.0.0.0 pi-any acme -o ExitOnForwardFailure=yes
	start_device --bind pi-q.acme pi-q acme -o ExitOnForwardFailure=yes
	start_device --bind '' pi-empty acme -o ExitOnForwardFailure=yes
fi
for n in $names; do wait_online "$n.acme"; done
for n in $names; do
	out=$(dev_ssh "root@$n.acme" "echo via-$n") || fail "$n.acme unreachable"
	[ "$out" = "via-$n" ] || fail "$n.acme said '$out'"
done

# Every device ssh is still running (ExitOnForwardFailure would have ended it).
for p in "${PIDS[@]}"; do
	case ${PID_NAME[$p]} in dev-*) alive "$p" || fail "${PID_NAME[$p]} exited: $(tail -n 3 "$LOGDIR/${PID_NAME[$p]}.log")" ;; esac
done

# autossh -M 0 brings the tunnel back when its ssh dies: against outpostd,
# by restarting the daemon (the ssh exits 255 as on a network failure); on
# a stock jump, with autossh's own SIGUSR1.
child=$(pgrep -P "$auto_pid" -x ssh)
[ -n "$child" ] || fail "autossh has no ssh child"
REG_BASE[pi-auto.acme]=$(audit_count register device=pi-auto.acme result=ok)
if [ "$JUMP_MODE" = outpost ]; then
	stop_outpostd
	start_outpostd
else
	kill -USR1 "$auto_pid"
fi
wait_for "autossh starting a new ssh" 30 eval "c=\$(pgrep -P $auto_pid -x ssh) && [ \"\$c\" != $child ]"
wait_online pi-auto.acme 60
[ "$(dev_ssh root@pi-auto.acme echo back)" = back ] || fail "pi-auto.acme after autossh restarted ssh"
alive "$auto_pid" || fail "autossh exited"
done_ok
