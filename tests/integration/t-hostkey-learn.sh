#!/bin/bash
# t-hostkey-learn.sh: a plain `ssh -R` device (stock OpenSSH, no agent) whose
# sshd has ed25519, ECDSA and RSA host keys: outpostd learns them through
# the tunnel, for its port 22 and its port-table port, and `known-hosts`
# prints them as ssh looks them up, so a technician with
# `StrictHostKeyChecking yes` and only that file logs in on first try (by
# name, and by the port table); a device whose "sshd" sends garbage only
# fails its own probe. The device's sshd then comes back with a
# new ed25519 key: `ls` and the audit log flag it, `known-hosts` keeps the
# recorded key and the technician's ssh refuses the device, until an admin
# runs `device accept-hostkey`.
. "$(dirname "$0")/lib.sh"
require_outpost

fleet_add acme
user_add alice acme
user_add ops --admin
device_add pi acme
device_add junk acme
ssh-keygen -q -t ecdsa -N '' -f "$T/host-ecdsa" </dev/null >/dev/null
ssh-keygen -q -t rsa -b 2048 -N '' -f "$T/host-rsa" </dev/null >/dev/null
start_device_sshd_keys() {
	start_sshd dev0 "HostKey $T/host-ecdsa
HostKey $T/host-rsa"
}
SSHD_KEYS=device_authorized_keys start_device_sshd_keys
start_jump

# The device: stock ssh, its port 22 by name and seed 000's port-table form.
plain_device() {
	spawn dev-pi.acme ssh -F "$DEVCFG" -i "$T/keys/dev-pi.acme" -p "$JUMP_PORT" -N \
		-o ExitOnForwardFailure=yes -R "pi:22:127.0.0.1:$SSHD_PORT_dev0" \
		-R "22050:localhost:$SSHD_PORT_dev0" dev@127.0.0.1
	DEV_PID=$LAST_PID
}
learned() {	# EVENT N: at least N audit records EVENT for pi.acme
	[ "$(audit_count "$1" device=pi.acme)" -ge "$2" ]
}
plain_device
# A hostile device: its "sshd" answers with garbage. Its probe fails, only it.
GPORT=$(pick_port)
spawn garbage "$PY" -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
while True:
    c, _ = s.accept()
    c.sendall(b"SSH-2.0-junk\r\n" + bytes(range(256)) * 64); c.close()' "$GPORT"
wait_for "the garbage server" 10 port_listening "$GPORT"
spawn dev-junk.acme ssh -F "$DEVCFG" -i "$T/keys/dev-junk.acme" -p "$JUMP_PORT" -N \
	-o ExitOnForwardFailure=yes -R "junk:22:127.0.0.1:$GPORT" dev@127.0.0.1
junk_pid=$LAST_PID
wait_for "pi.acme's six host keys learned" 20 learned hostkey-learned 6
probes() {	# RESULT N: the metric counted at least N probes with RESULT
	timeout 20 ssh -F "$(client_config ops)" jump metrics 2>/dev/null |
		awk -v r="outpost_hostkey_probes_total{result=\"$1\"}" -v n="$2" '$1 == r && $2 >= n { ok = 1 } END { exit !ok }'
}
wait_for "junk.acme's probe failed" 20 probes failed 1
alive "$junk_pid" || fail "the hostile device's session died"
[ "$(audit_count hostkey-learned device=junk.acme)" = 0 ] || fail "keys learned from garbage"

# known-hosts, as the technician fetches it: the three keys under pi.acme,
# and under the names the port-table form looks up.
timeout 30 ssh -F "$CFG" jump known-hosts >"$T/outpost_known_hosts" 2>"$T/err" || fail "known-hosts: $(cat "$T/err")"
grep -q junk "$T/outpost_known_hosts" && fail "known-hosts has junk.acme"
for f in host-dev0 host-ecdsa host-rsa; do
	k=$(cut -d' ' -f1,2 "$T/$f.pub")
	grep -qxF "pi.acme $k" "$T/outpost_known_hosts" || fail "known-hosts lacks pi.acme $f: $(cat "$T/outpost_known_hosts")"
	grep -qxF "[pi.acme]:22050,pi.acme,[localhost]:22050 $k" "$T/outpost_known_hosts" ||
		fail "known-hosts lacks the port-table line for $f"
done
outpost ls --json | grep -q '"host_keys_learned":6,"host_key_changed":false' || fail "ls --json: $(outpost ls --json)"
outpost ls | grep -E '^pi\.acme +online +[^ ]+ +[^ ]+  port 22050$' >/dev/null || fail "ls: $(outpost ls)"

# A technician whose only known_hosts for devices is that file, strict.
cat - "$CFG" >"$T/ssh_config.strict" <<EOF
Host pi.acme localhost
    ProxyJump jump
    UserKnownHostsFile $T/outpost_known_hosts
    StrictHostKeyChecking yes
EOF
strict_login() {
	timeout 30 ssh -F "$T/ssh_config.strict" "$@" echo in 2>"$T/err"
}
out=$(strict_login root@pi.acme) || fail "strict first login: $(cat "$T/err")"
[ "$out" = in ] || fail "strict first login: got '$out'"
out=$(strict_login -p 22050 root@localhost) || fail "strict port-table login: $(cat "$T/err")"
[ "$out" = in ] || fail "strict port-table login: got '$out'"

# The device's sshd comes back with a new ed25519 key; the device reconnects
# (outpostd restarted: it probes a known port again after an hour otherwise).
cp "$T/outpost_known_hosts" "$T/known.before"
stop_pid "$SSHD_PID_dev0"
rm -f "$T/host-dev0" "$T/host-dev0.pub"
SSHD_KEYS=device_authorized_keys start_device_sshd_keys
stop_outpostd
wait_for "the device's ssh to exit" 20 exited "$DEV_PID"
start_jump
plain_device
wait_for "pi.acme's changed key flagged" 20 learned hostkey-changed 2
[ "$(audit_count hostkey-changed device=pi.acme type=ssh-ed25519)" -eq 2 ] || fail "hostkey-changed records"
[ "$(audit_count hostkey-learned device=pi.acme)" -eq 6 ] || fail "a changed key was learned as new"
outpost ls | grep -E '^pi\.acme .*HOST KEY CHANGED' >/dev/null || fail "ls does not flag it: $(outpost ls)"
outpost ls --json | grep -q '"host_key_changed":true' || fail "ls --json does not flag it"
timeout 30 ssh -F "$CFG" jump known-hosts >"$T/outpost_known_hosts" 2>"$T/err" || fail "known-hosts: $(cat "$T/err")"
cmp -s "$T/known.before" "$T/outpost_known_hosts" || fail "known-hosts changed: $(diff "$T/known.before" "$T/outpost_known_hosts")"
strict_login root@pi.acme >/dev/null && fail "ssh accepted the changed host key"
grep -q 'HOST IDENTIFICATION HAS CHANGED\|Host key verification failed' "$T/err" || fail "not a host key refusal: $(cat "$T/err")"

# Only admins accept; then known-hosts has the new key and the login works.
timeout 30 ssh -F "$CFG" jump device accept-hostkey pi.acme >"$T/out" 2>&1 && fail "alice accepted a host key"
out=$(timeout 30 ssh -F "$(client_config ops)" jump device accept-hostkey pi.acme 2>"$T/err") ||
	fail "remote accept-hostkey: $(cat "$T/err")"
[ "$out" = "device pi.acme: 2 host keys accepted" ] || fail "accept-hostkey said '$out'"
[ "$(audit_count admin command='device accept-hostkey pi.acme' result=ok)" -eq 1 ] || fail "accept-hostkey not audited"
outpost device accept-hostkey pi.acme | grep -qx 'device pi.acme: no changed host key to accept' || fail "second accept"
outpost ls | grep -E 'HOST KEY CHANGED' >/dev/null && fail "still flagged after accept-hostkey"
timeout 30 ssh -F "$CFG" jump known-hosts >"$T/outpost_known_hosts" 2>"$T/err" || fail "known-hosts: $(cat "$T/err")"
grep -qxF "pi.acme $(cut -d' ' -f1,2 "$T/host-dev0.pub")" "$T/outpost_known_hosts" || fail "known-hosts lacks the accepted key"
out=$(strict_login root@pi.acme) || fail "login after accept-hostkey: $(cat "$T/err")"
[ "$out" = in ] || fail "login after accept-hostkey: got '$out'"
alive "$DEV_PID" || fail "the device's tunnel died"
done_ok
