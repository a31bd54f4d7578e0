#!/bin/bash
# t-seed000.sh: seed 000's lines unchanged (only host, port, user and key
# substituted): the systemd unit's `ssh -N ... -R 22050:localhost:22
# jumpuser@jump` and its autossh variant, the technician's `ssh -J jumpuser@jump -p 22050
# viyuadmin@localhost` and its ssh_config block (HostName localhost, Port
# 22050, ProxyJump) reach the device that registered the port; two devices
# holding one port are refused as ambiguous, naming both.
. "$(dirname "$0")/lib.sh"
require_outpost

fleet_add acme globex
user_add alice acme globex
user_add bob acme
device_add auvik-acme-hq acme
device_add auvik-globex-main globex
device_add auvik-other globex
device_add auvik-acme-b acme
start_jump
start_device_sshd 0
start_device_sshd 1

# seed000_unit NAME.FLEET JUMPPORT SSHD: the unit's ExecStart line.
seed000_unit() {
	local k=$T/keys/dev-$1
	spawn "dev-$1" ssh -F "$DEVCFG" -i "$k" -p "$JUMP_PORT" \
		-N -o ServerAliveInterval=60 -o ServerAliveCountMax=3 -o ExitOnForwardFailure=yes -R "$2:localhost:$3" dev@127.0.0.1
	DEV_PID=$LAST_PID
}
registered() {	# NAME.FLEET PORT
	[ "$(audit_count register device="$1" port="$2" result=ok)" -ge 1 ]
}

seed000_unit auvik-acme-hq.acme 22050 "$SSHD_PORT_dev0"
acme_pid=$DEV_PID
# The seed's autossh variant of the unit, for the second device.
spawn dev-auvik-globex-main.globex env AUTOSSH_GATETIME=0 AUTOSSH_POLL=10 \
	AUTOSSH_LOGFILE="$LOGDIR/autossh-globex.log" autossh -F "$DEVCFG" -i "$T/keys/dev-auvik-globex-main.globex" -p "$JUMP_PORT" \
	-M 0 -N -o ServerAliveInterval=60 -o ServerAliveCountMax=3 -R "22051:localhost:$SSHD_PORT_dev1" dev@127.0.0.1
wait_for "auvik-acme-hq registered 22050" 20 registered auvik-acme-hq.acme 22050
wait_for "auvik-globex-main registered 22051" 20 registered auvik-globex-main.globex 22051

# The port table's host keys: each device's sshd, as the technicians' known_hosts had them.
known_add "[localhost]:22050" "$T/host-dev0.pub"
known_add "[localhost]:22051" "$T/host-dev1.pub"

# The technician's line: -J jumpuser@jump -p 22050 viyuadmin@localhost.
out=$(timeout 30 ssh -F "$CFG" -J jump -p 22050 root@localhost echo hq 2>"$T/err") || fail "ssh -J jump -p 22050 root@localhost: $(cat "$T/err")"
[ "$out" = hq ] || fail "port 22050: got '$out'"
out=$(timeout 30 ssh -F "$CFG" -J jump -p 22051 root@localhost echo globex 2>"$T/err") || fail "-p 22051: $(cat "$T/err")"
[ "$out" = globex ] || fail "port 22051: got '$out'"
[ "$(audit_count connect user=alice device=auvik-acme-hq.acme port=22050 result=ok)" -ge 1 ] ||
	fail "port-table route not audited under the device's name"

# The ssh_config block, as the seed prints it.
cat - "$CFG" >"$T/ssh_config.seed" <<EOF
Host auvik-acme-hq
    HostName localhost
    Port 22050
    User root
    ProxyJump jump

Host auvik-globex-main
    HostName localhost
    Port 22051
    User root
    ProxyJump jump
EOF
out=$(timeout 30 ssh -F "$T/ssh_config.seed" auvik-acme-hq echo block 2>"$T/err") || fail "ssh auvik-acme-hq: $(cat "$T/err")"
[ "$out" = block ] || fail "config block: got '$out'"
out=$(timeout 30 ssh -F "$T/ssh_config.seed" auvik-globex-main echo block2 2>"$T/err") || fail "ssh auvik-globex-main: $(cat "$T/err")"
[ "$out" = block2 ] || fail "config block 2: got '$out'"

# `ssh-config --port-table` prints that form for the migrated fleets, with
# the ports bound in the store; its blocks work as printed (known_hosts path
# aside).
timeout 30 ssh -F "$CFG" jump ssh-config --port-table --server "127.0.0.1:$JUMP_PORT" >"$T/pt.conf" 2>"$T/err" || fail "ssh-config --port-table: $(cat "$T/err")"
expect_output "$T/pt.conf" '^Host auvik-acme-hq\.acme auvik-acme-hq$' "port-table block"
expect_output "$T/pt.conf" '^    Port 22051$' "port-table port"
known_add "auvik-acme-hq.acme" "$T/host-dev0.pub"
known_add "auvik-globex-main.globex" "$T/host-dev1.pub"
sed "s|~/.ssh/outpost_known_hosts|$KNOWN|" "$T/pt.conf" | cat - "$CFG" >"$T/ssh_config.pt"
out=$(timeout 30 ssh -F "$T/ssh_config.pt" auvik-globex-main echo pt 2>"$T/err") || fail "ssh auvik-globex-main from --port-table: $(cat "$T/err")"
[ "$out" = pt ] || fail "--port-table block: got '$out'"
outpost ssh-config --port-table --server 127.0.0.1:$JUMP_PORT | grep -q '^    HostName localhost$' || fail "local ssh-config --port-table"

# 127.0.0.1 is the same table.
out=$(timeout 30 ssh -F "$CFG" -o HostKeyAlias="[localhost]:22050" -J jump -p 22050 root@127.0.0.1 echo ip 2>"$T/err") || fail "-p 22050 root@127.0.0.1: $(cat "$T/err")"
[ "$out" = ip ] || fail "127.0.0.1:22050: got '$out'"

# Fleets bound the table: bob (acme only) does not see globex's 22051.
CLIENT=bob expect_refusal "bob to globex's port" 'no device holds port 22051' \
	ssh -F "$(client_config bob)" -J jump -p 22051 root@localhost true
# A port nobody holds.
expect_refusal "unheld port" 'no device holds port 22099' ssh -F "$CFG" -J jump -p 22099 root@localhost true

# A second device registering 22050 in another fleet alice reaches: its
# registration is flagged, and the port is ambiguous for alice, naming both.
seed000_unit auvik-other.globex 22050 "$SSHD_PORT_dev1"
wait_for "auvik-other registered 22050" 20 registered auvik-other.globex 22050
expect_refusal "two devices on 22050" \
	'port 22050 is ambiguous: devices auvik-(acme-hq\.acme|other\.globex) and auvik-(acme-hq\.acme|other\.globex) both hold it' \
	ssh -F "$CFG" -J jump -p 22050 root@localhost true
[ "$(audit_count connect user=alice port=22050 result=refused)" -ge 1 ] || fail "ambiguous port not audited"
# bob reaches acme only: for him 22050 is still auvik-acme-hq's.
out=$(timeout 30 ssh -F "$(client_config bob)" -J jump -p 22050 root@localhost echo bob 2>"$T/err") || fail "bob -p 22050: $(cat "$T/err")"
[ "$out" = bob ] || fail "bob 22050: got '$out'"
# Names still work: the ambiguity is only in the port table.
out=$(timeout 30 ssh -F "$CFG" -o HostKeyAlias="[localhost]:22050" -J jump -p 22050 root@auvik-acme-hq.acme echo byname 2>"$T/err") || fail "by name: $(cat "$T/err")"
[ "$out" = byname ] || fail "by name: got '$out'"
alive "$acme_pid" || fail "auvik-acme-hq's unit died"

# A port is bound to its device in the store: another acme device asking for
# 22050 is refused (its unit exits, ExitOnForwardFailure), even once the
# owner is offline, and the table still reaches the owner when it is back.
seed000_unit auvik-acme-b.acme 22050 "$SSHD_PORT_dev1"
wait_for "auvik-acme-b's unit to exit" 20 exited "$DEV_PID"
grep -q 'remote port forwarding failed for listen port 22050' "$LOGDIR/dev-auvik-acme-b.acme.log" ||
	fail "auvik-acme-b: no forwarding failure"
[ "$(audit_count register device=auvik-acme-b.acme port=22050 result=refused \
	reason='port 22050 is bound to device auvik-acme-hq.acme')" -ge 1 ] || fail "bound port refusal not audited"
stop_pid "$acme_pid"
wait_offline auvik-acme-hq.acme
# The port's owner offline: the table still names it.
CLIENT=bob expect_refusal "bound port, owner offline" 'device auvik-acme-hq\.acme is offline \(last seen ' \
	ssh -F "$(client_config bob)" -J jump -p 22050 root@localhost true
seed000_unit auvik-acme-b.acme 22050 "$SSHD_PORT_dev1"
wait_for "auvik-acme-b's unit to exit (owner offline)" 20 exited "$DEV_PID"
seed000_unit auvik-acme-hq.acme 22050 "$SSHD_PORT_dev0"
wait_for "auvik-acme-hq registered 22050 again" 20 eval \
	'[ "$(audit_count register device=auvik-acme-hq.acme port=22050 result=ok)" -ge 2 ]'
out=$(timeout 30 ssh -F "$(client_config bob)" -J jump -p 22050 root@localhost echo back 2>"$T/err") || fail "owner back: $(cat "$T/err")"
[ "$out" = back ] || fail "owner back: got '$out'"
done_ok
