#!/bin/bash
# t-seed004.sh: seed 004's lines unchanged (only host, port, user and key
# substituted): root's `ssh-keygen`, the first manual `ssh HOST` that answers
# "yes" to the host key question, `ssh-copy-id HOST`, and the systemd unit's
# `ssh -vvv -g -N -T -o "ServerAliveInterval 10" -o "ExitOnForwardFailure
# yes" -R 22221:localhost:22 HOST` restarted 5 s after it exits
# (Restart=always, RestartSec=5s). The technician reaches the device on its
# "known target port" the way the jump host itself would, `ssh -J jump -p
# 22221 user@localhost` (the port-table form), and by name.
#
# Two of the seed's lines cannot do through outpostd what they did on an
# sshd, and fail saying why: the manual `ssh HOST` still records the host key
# (its purpose), but then prints "this jump server has no shell"; and
# `ssh-copy-id` cannot append to an authorized_keys outpostd does not have
# (the admin adds the key with `outpost device add` or `import sshd`): with
# the key not added it ends in "Permission denied", with it added it stops
# at outpostd's "unknown command 'exit'". `-g` is accepted and changes
# nothing (it is about local forwards); outpostd listens on no per-device
# port, so port 22221 is reached through the jump (-J), never dialled on it.
. "$(dirname "$0")/lib.sh"
require_outpost

fleet_add acme
user_add alice acme
start_jump
start_device_sshd 0
# The device's sshd (localhost:22 in the seed) trusts alice's key.
cat "$(key alice).pub" >>"$T/device_authorized_keys"

# root's ssh on the device: default client settings (StrictHostKeyChecking
# ask), its own known_hosts, its key from `ssh-keygen`.
ROOT=$T/root
mkdir -p "$ROOT/.ssh"
ssh-keygen -q -t ed25519 -N '' -f "$ROOT/.ssh/id_ed25519" </dev/null || fail "ssh-keygen"
cat >"$ROOT/ssh_config" <<EOF
Host *
  UserKnownHostsFile $ROOT/known_hosts
  GlobalKnownHostsFile /dev/null
  IdentityFile $ROOT/.ssh/id_ed25519
  IdentitiesOnly yes
  CheckHostIP no
  UpdateHostKeys no
  AddressFamily inet
  PasswordAuthentication no
  KbdInteractiveAuthentication no
EOF

# The unit's ExecStart line, verbatim but for host, port and key (the
# config's IdentityFile), and systemd's Restart=always, RestartSec=5s.
cat >"$T/unit.sh" <<EOF
#!/bin/bash
/usr/bin/ssh -F "$ROOT/ssh_config" -p "$JUMP_PORT" -vvv -g -N -T -o "ServerAliveInterval 10" -o "ExitOnForwardFailure yes" -R 22221:localhost:$SSHD_PORT 127.0.0.1
EOF
cat >"$T/service.sh" <<EOF
#!/bin/bash
while :; do
	"$T/unit.sh"
	echo "unit exited with status \$?; restarting in 5 s"
	sleep 5
done
EOF
chmod +x "$T/unit.sh" "$T/service.sh"

# The seed's warning: without the manual first login, the unit cannot
# confirm the host key under systemd (no terminal) and exits.
timeout 30 "$T/unit.sh" >"$T/nokey.out" 2>"$T/nokey.err" </dev/null && fail "the unit ran with an unknown host key"
expect_output "$T/nokey.err" 'Host key verification failed' "the unit before the manual login"

# `ssh HOST` on a terminal (ssh-login FILE): answers "yes" to the host key question.
cat >"$T/login.py" <<'EOF'
import os, pty, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
buf, answered, end = b"", False, time.time() + 30
while time.time() < end:
    if not select.select([fd], [], [], 1)[0]:
        continue
    try:
        d = os.read(fd, 4096)
    except OSError:
        break
    if not d:
        break
    buf += d
    if not answered and b"(yes/no" in buf:
        os.write(fd, b"yes\n")
        answered = True
sys.stdout.buffer.write(buf)
_, st = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(st))
EOF
ssh_login() {	# OUTFILE: the seed's `ssh HOST` on a terminal
	timeout 40 "$PY" "$T/login.py" ssh -F "$ROOT/ssh_config" -p "$JUMP_PORT" 127.0.0.1 >"$1" 2>&1
	log "ssh 127.0.0.1 on a terminal: status $?: $(tr '\r\n' '  ' <"$1" | cut -c1-300)"
}
copy_id() {	# OUTFILE: the seed's `ssh-copy-id $target_host`
	HOME=$ROOT timeout 30 ssh-copy-id -F "$ROOT/ssh_config" -p "$JUMP_PORT" 127.0.0.1 >"$1" 2>&1 </dev/null
	local rc=$?
	log "ssh-copy-id 127.0.0.1: status $rc: $(tr '\n' ' ' <"$1" | cut -c1-400)"
	return $rc
}

# The manual first connection, answering "yes": the host key is recorded.
# The key is not outpostd's yet, so, as the seed says may happen, the login
# itself fails.
ssh_login "$T/first.out"
expect_output "$T/first.out" "Are you sure you want to continue connecting" "the first login's host key question"
expect_output "$T/first.out" "Permission denied \(publickey\)" "the first login with an unknown key"
grep -q "^\[127.0.0.1\]:$JUMP_PORT ssh-ed25519 " "$ROOT/known_hosts" || fail "the first login recorded no host key: $(cat "$ROOT/known_hosts")"

# `ssh-copy-id HOST` cannot install the key: outpostd has no password logins
# and no authorized_keys to append to.
copy_id "$T/copy.out" && fail "ssh-copy-id of an unknown key succeeded"
expect_output "$T/copy.out" 'Permission denied \(publickey\)' "ssh-copy-id of an unknown key"
# What replaces it: the admin binds the key to a name on the jump.
outpost device add box-1 --fleet acme --key "$ROOT/.ssh/id_ed25519.pub" >/dev/null || fail "device add box-1"
# With the key added, ssh-copy-id's check that the key is installed (`ssh
# HOST exit`) meets outpostd's refusal to run a program, which it prints.
copy_id "$T/copy2.out" && fail "ssh-copy-id succeeded: $(cat "$T/copy2.out")"
expect_output "$T/copy2.out" "ERROR: .*unknown command 'exit'" "ssh-copy-id of an added key"
# The manual login with the key added: no shell, and outpostd says so.
ssh_login "$T/second.out"
expect_output "$T/second.out" "outpost: this jump server has no shell" "the manual login on outpostd"

# The service, started.
spawn unit-box-1 "$T/service.sh"
registered() { [ "$(audit_count register device=box-1.acme port=22221 result=ok)" -ge "$1" ]; }
wait_for "box-1 registered 22221" 20 registered 1

# The technician: port 22221 on the jump's localhost, and the device's name.
known_add "[localhost]:22221" "$T/host-dev0.pub"
known_add "box-1.acme" "$T/host-dev0.pub"
out=$(timeout 30 ssh -F "$CFG" -J jump -p 22221 root@localhost echo port 2>"$T/err") || fail "ssh -J jump -p 22221 root@localhost: $(cat "$T/err")"
[ "$out" = port ] || fail "port 22221: got '$out'"
out=$(timeout 30 ssh -F "$CFG" -J jump -o HostKeyAlias=box-1.acme -p 22221 root@box-1.acme echo name 2>"$T/err") ||
	fail "ssh -J jump -p 22221 root@box-1.acme: $(cat "$T/err")"
[ "$out" = name ] || fail "by name: got '$out'"
ls_line box-1.acme | grep -q '^box-1\.acme  online  .*  port 22221$' || fail "outpost ls: $(outpost ls)"

# Self healing: the session ends (kicked), the unit exits and is back 5 s later.
outpost kick box-1.acme >/dev/null || fail "kick box-1.acme"
wait_for "box-1 registered 22221 again" 30 registered 2
grep -q "unit exited with status" "$LOGDIR/unit-box-1.log" || fail "the unit did not restart"
out=$(timeout 30 ssh -F "$CFG" -J jump -p 22221 root@localhost echo again 2>"$T/err") || fail "after the restart: $(cat "$T/err")"
[ "$out" = again ] || fail "after the restart: got '$out'"
done_ok
