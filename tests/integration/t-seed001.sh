#!/bin/bash
# t-seed001.sh: seed 001's lines unchanged (only host, port, user and key
# substituted). The device's `ssh -N -R /home/host/HOSTNAME.sock:localhost:22
# -o ExitOnForwardFailure=true -o ServerAliveInterval=10 host@SERVER` cannot
# be served on libssh 0.10 (docs/LIBSSH.md): it is refused with a logged and
# audited reason saying what to do instead. The technicians' `ProxyCommand
# ssh SERVER nc -U /home/host/%h` with `Hostname %h`, and `ssh SERVER nc HOST
# PORT`, route to the device's port 22 as direct-tcpip would; `nc` with other
# options and other programs are refused, logged and audited.
. "$(dirname "$0")/lib.sh"
require_outpost

fleet_add acme
user_add alice acme
device_add host-1 acme
device_add host-2 acme
start_jump
start_device_sshd 0
start_device_sshd 1

# The seed's device unit, ExecStart verbatim: the UNIX-socket forward.
seed001_unit() {	# KEYNAME SOCKETNAME
	timeout 30 ssh -F "$DEVCFG" -i "$T/keys/dev-$1" -p "$JUMP_PORT" \
		-N -R "/home/host/$2.sock:localhost:$SSHD_PORT" -o ExitOnForwardFailure=true -o ServerAliveInterval=10 dev@127.0.0.1 \
		>"$T/unit.out" 2>"$T/unit.err"
}
seed001_unit host-1.acme host-1
rc=$?
[ $rc != 0 ] && [ $rc != 124 ] || fail "seed 001 unit: status $rc"
expect_output "$T/unit.err" 'remote port forwarding failed for listen path /home/host/host-1.sock' "seed 001 unit"
expect_output "$DAEMON_LOG" 'device host-1\.acme\).*global-request streamlocal-forward@openssh\.com refused: UNIX-socket forwards cannot be served.*-R NAME:22:localhost:22' \
	"the streamlocal refusal in outpostd's log"
[ "$(audit_count refused device=host-1.acme what=global-request request=streamlocal-forward@openssh.com)" -ge 1 ] ||
	fail "streamlocal-forward refusal not audited"
# Another device's name: refused, logged and audited too.
seed001_unit host-1.acme host-2
[ "$(audit_count refused device=host-1.acme what=global-request request=streamlocal-forward@openssh.com)" -ge 2 ] ||
	fail "a streamlocal-forward of another device's name not audited"

# The devices as they can be served: the same unit with a port forward.
start_device --sshd 0 host-1 acme -o ExitOnForwardFailure=true -o ServerAliveInterval=10
start_device --sshd 1 host-2 acme -o ExitOnForwardFailure=true -o ServerAliveInterval=10
wait_online host-1.acme
wait_online host-2.acme

# The technicians' config, verbatim but for SERVER.
cat - "$CFG" >"$T/ssh_config.seed" <<EOF
Host host-1 host-2
    ProxyCommand ssh -F $CFG jump nc -U /home/host/%h
    ServerAliveInterval 10
    Hostname %h

Host host-1
    User root

Host host-2
    User root
EOF
for h in host-1 host-2; do
	out=$(timeout 30 ssh -F "$T/ssh_config.seed" $h echo "at-$h" 2>"$T/err") || fail "ssh $h through nc -U: $(cat "$T/err")"
	[ "$out" = "at-$h" ] || fail "ssh $h: got '$out'"
done
[ "$(audit_count connect user=alice device=host-2.acme port=22 result=ok)" -ge 1 ] || fail "nc -U route not audited"
# A path ending in .sock names the same device.
out=$(timeout 30 ssh -F "$CFG" -o "ProxyCommand=ssh -F $CFG jump nc -U /any/dir/%h.sock" root@host-1 echo sock 2>"$T/err") ||
	fail "nc -U /any/dir/host-1.sock: $(cat "$T/err")"
[ "$out" = sock ] || fail "nc -U ....sock: got '$out'"

# ssh SERVER nc HOST PORT: a ProxyCommand, and the raw stream.
out=$(timeout 30 ssh -F "$CFG" -o "ProxyCommand=ssh -F $CFG jump nc %h %p" root@host-2.acme echo ncport 2>"$T/err") ||
	fail "ProxyCommand nc %h %p: $(cat "$T/err")"
[ "$out" = ncport ] || fail "nc HOST PORT: got '$out'"
timeout 20 ssh -F "$CFG" jump nc host-1 22 </dev/null 2>"$T/w.err" | head -c 8 >"$T/w.out"
expect_output "$T/w.out" '^SSH-2\.0-' "ssh jump nc host-1 22: the device sshd's identification"

# Refused: nc's other options and forms, other programs, unknown devices.
nc_refused() {	# REGEX WORDS...
	local re=$1
	shift
	timeout 30 ssh -F "$CFG" jump "$@" </dev/null >"$T/out" 2>"$T/err"
	local rc=$?
	[ $rc != 0 ] && [ $rc != 124 ] || fail "'$*' not refused (status $rc)"
	expect_output "$T/err" "$re" "'$*'"
	[ ! -s "$T/out" ] || fail "'$*' printed $(head -c 200 "$T/out")"
}
nc_refused "only 'nc -U PATH' and 'nc HOST PORT' route through outpost" nc -e /bin/sh host-1 22
nc_refused "only 'nc -U PATH' and 'nc HOST PORT'" nc -l 22
nc_refused "only 'nc -U PATH' and 'nc HOST PORT'" nc -U /home/host/host-1 -e /bin/sh
nc_refused "PORT must be a number" nc host-1 ssh
nc_refused "no device named nosuch" nc -U /home/host/nosuch
nc_refused "no device holds port 2222" nc localhost 2222
nc_refused "unknown command 'sh'" sh -c id
nc_refused "unknown command 'ncat'" ncat host-1 22
nc_refused "shell syntax" 'nc host-1 22; id'
[ "$(audit_count connect user=alice result=refused)" -ge 5 ] || fail "nc refusals not audited"
expect_output "$DAEMON_LOG" "nc refused: only 'nc -U PATH'" "nc refusal in outpostd's log"
[ "$(audit_count refused user=alice what=command)" -ge 1 ] || fail "a refused command line not audited"

# direct-streamlocal@openssh.com (ssh -L SOCKET:PATH): libssh 0.10 hides its
# path, so it is refused, and that is logged and audited.
ssh -F "$CFG" -N -L "$T/l.sock:/home/host/host-1" jump 2>"$T/l.err" &
lpid=$!
PIDS+=("$lpid")
wait_for "ssh -L socket" 10 test -S "$T/l.sock"
"$PY" -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(10); s.recv(64)' "$T/l.sock" 2>/dev/null
wait_for "direct-streamlocal refusal audited" 10 eval '[ "$(audit_count refused user=alice what=channel)" -ge 1 ]'
expect_output "$DAEMON_LOG" 'channel unknown.*refused: channel type not served' "the unknown channel in outpostd's log"
# Refusals are audited at most 16 times per session (LIM_REFUSAL_AUDITS);
# the rest are counted in the session's disconnect record.
for i in $(seq 1 20); do
	"$PY" -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(5); s.recv(64)' "$T/l.sock" 2>/dev/null
done
stop_pid "$lpid"
wait_for "the -L session's disconnect record" 10 eval \
	'[ "$(audit_count disconnect what=session user=alice refusals_not_audited=5)" -ge 1 ]'
[ "$(audit_count refused user=alice what=channel)" = 16 ] || fail "refusals of one session not capped at 16"
done_ok
