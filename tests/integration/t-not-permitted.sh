#!/bin/bash
# t-not-permitted.sh: identity comes from the key, never from what the peer
# asks for: a device key may not open direct-tcpip or run commands, a user key
# may not register a forward, a device may register only its own name; all
# without disturbing the device that owns the name.
. "$(dirname "$0")/lib.sh"
require_outpost

fleet_add acme globex
user_add alice acme
device_add pi-hq acme
device_add pi-b acme
device_add pi-b globex
start_jump
start_device_sshd
start_device pi-hq acme -o ExitOnForwardFailure=yes
wait_online pi-hq.acme
hq_pid=$DEV_PID
# Another enrolled device's key (pi-hq's own key would take over its tunnel).
devkey=$T/keys/dev-pi-b.globex

# A device key trying direct-tcpip (ProxyCommand authenticating as the device).
expect_refusal "device key direct-tcpip" 'not permitted' ssh -F "$CFG" \
	-o "ProxyCommand=ssh -F $DEVCFG -i $devkey -p $JUMP_PORT -W %h:%p dev@127.0.0.1" root@pi-hq.acme true
fp=$(ssh-keygen -lf "$devkey.pub" | awk '{print $2}')
[ "$(audit_count connect key_fp="$fp" device=pi-hq.acme result=refused)" -ge 1 ] || fail "device direct-tcpip not audited as refused"

# A device key asking for a command session.
timeout 30 ssh -F "$DEVCFG" -i "$devkey" -p "$JUMP_PORT" dev@127.0.0.1 ls >"$T/out" 2>"$T/err"
rc=$?
[ $rc != 0 ] && [ $rc != 124 ] || fail "device key ran a command (status $rc): $(cat "$T/out")"

# A user key trying tcpip-forward: a forwarding failure on the client.
timeout 30 ssh -F "$CFG" -N -o ExitOnForwardFailure=yes -R "pi-hq:22:127.0.0.1:$SSHD_PORT" jump >"$T/out" 2>"$T/err"
rc=$?
[ $rc != 0 ] && [ $rc != 124 ] || fail "user key tcpip-forward: status $rc"
expect_output "$T/err" 'remote port forwarding failed' "user key tcpip-forward"
[ "$(audit_count register user=alice result=refused)" -ge 1 ] || fail "user tcpip-forward not audited as refused"

# Devices asking for names that are not theirs: another device's bare and
# qualified name, their own name in another fleet, an IP address.
for bind in pi-hq pi-hq.acme pi-b.globex 10.0.0.1 pi-b.acme.evil; do
	start_device --bind "$bind" pi-b acme -o ExitOnForwardFailure=yes
	wait_for "pi-b.acme asking for '$bind' to exit" 20 exited "$DEV_PID"
	[ "$EXIT_STATUS" != 0 ] || fail "pi-b.acme asking for '$bind' exited 0"
	grep -q 'remote port forwarding failed' "$LOGDIR/dev-pi-b.acme.log" || fail "pi-b.acme: no forwarding failure for '$bind'"
done
[ "$(audit_count register device=pi-b.acme result=refused)" -ge 5 ] || fail "refused registrations not audited"
# The owner is unharmed and still serves.
alive "$hq_pid" || fail "pi-hq.acme's ssh died"
[ "$(dev_ssh -o HostKeyAlias=pi-hq.acme root@pi-hq.acme echo ok)" = ok ] || fail "pi-hq.acme after the impostors"
# pi-b.acme with its own name works.
start_device --bind pi-b.acme pi-b acme -o ExitOnForwardFailure=yes
wait_online pi-b.acme
[ "$(dev_ssh root@pi-b.acme echo ok)" = ok ] || fail "pi-b.acme with its own qualified name"
done_ok
