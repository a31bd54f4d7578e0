#!/bin/bash
# t-no-shell.sh: the jump gives nobody a shell, a pty, a subsystem (sftp), X11
# or agent forwarding, and runs no program but outpost commands: every such
# request fails fast and nothing runs.
. "$(dirname "$0")/lib.sh"
require_outpost

basic_setup
mark='echo MARK$((6*7)); id'
# A shell with a tty: no shell runs, the session ends by itself.
printf '%s\nexit\n' "$mark" | timeout 20 ssh -F "$CFG" -tt jump >"$T/tty.out" 2>"$T/tty.err"
rc=$?
log "ssh -tt jump: status $rc: $(tr '\r\n' '  ' <"$T/tty.out" | cut -c1-200) / $(tr '\n' ' ' <"$T/tty.err")"
[ $rc != 124 ] || fail "ssh -tt jump hung"
! grep -q 'MARK42\|uid=' "$T/tty.out" || fail "a shell ran on the jump"
grep -qi 'PTY allocation request failed' "$T/tty.err" || fail "the pty request was not refused"
# A shell without a tty.
printf '%s\n' "$mark" | timeout 20 ssh -F "$CFG" -T jump >"$T/sh.out" 2>"$T/sh.err"
rc=$?
[ $rc != 124 ] || fail "ssh -T jump hung"
! grep -q 'MARK42\|uid=' "$T/sh.out" || fail "a shell ran on the jump"
[ $rc != 0 ] || log "note: shell request ended with status 0"
# Arbitrary commands and shell syntax.
for cmd in id "ls; id" 'ls && id' 'ls | id' '$(id)' '`id`' "/usr/bin/id" "sh -c id" "ls > /tmp/x"; do
	timeout 20 ssh -F "$CFG" jump "$cmd" >"$T/cmd.out" 2>"$T/cmd.err"
	rc=$?
	[ $rc != 0 ] && [ $rc != 124 ] || fail "command '$cmd': status $rc"
	! grep -q 'uid=' "$T/cmd.out" || fail "command '$cmd' ran a program"
done
# Subsystems: sftp to the jump itself, and ssh -s.
timeout 20 sftp -F "$CFG" -b /dev/null jump >"$T/sftp.out" 2>&1
rc=$?
[ $rc != 0 ] && [ $rc != 124 ] || fail "sftp to the jump: status $rc"
timeout 20 ssh -F "$CFG" -s jump sftp </dev/null >"$T/s.out" 2>"$T/s.err"
rc=$?
[ $rc != 0 ] && [ $rc != 124 ] || fail "ssh -s jump sftp: status $rc"
grep -qi 'subsystem request failed' "$T/s.err" || fail "the subsystem request was not refused: $(cat "$T/s.err")"
# X11 and agent forwarding requests are refused (ssh reports X11 refusal).
eval "$(ssh-agent -s)" >/dev/null
spawn_agent=$SSH_AGENT_PID
PIDS+=("$spawn_agent"); PID_NAME[$spawn_agent]=ssh-agent
DISPLAY=:99 timeout 20 ssh -F "$CFG" -o ForwardX11=yes -o ForwardAgent=yes -o LogLevel=INFO jump ls >"$T/x.out" 2>"$T/x.err"
log "ls with X11 and agent forwarding: status $?: $(tr '\n' ' ' <"$T/x.err")"
grep -qi 'X11 forwarding request failed' "$T/x.err" || fail "the X11 request was not refused"
kill "$spawn_agent" 2>/dev/null
# A session channel with a port forward request beyond the tunnel: -L to a
# non-device host is refused (never an open proxy): 127.0.0.1 is the port
# table, where no device holds the jump's own port.
expect_refusal "direct-tcpip to the jump's own sshd-like port" "no device holds port $JUMP_PORT" \
	ssh -F "$CFG" -o HostKeyAlias=pi-hq.acme -o "ProxyCommand=ssh -F $CFG -W 127.0.0.1:$JUMP_PORT jump" root@x true
alive "$OUTPOSTD_PID" || fail "outpostd died"
done_ok
