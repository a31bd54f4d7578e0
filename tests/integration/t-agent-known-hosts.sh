#!/bin/bash
# t-agent-known-hosts.sh: agents report their sshd's host keys; a technician
# saves `ssh -p PORT jump known-hosts` and `ssh -p PORT jump ssh-config`
# exactly as printed (to ~/.ssh/outpost_known_hosts and ~/.ssh/config, in a
# private mount namespace so that ~ is a scratch directory) and a stock ssh
# with StrictHostKeyChecking yes and BatchMode logs in to the device by name
# on the first try, with no prompt. A device whose sshd key differs from the
# reported one, or one that reported none, fails host key verification.
. "$(dirname "$0")/lib.sh"
. "$IT_DIR/lib-agent.sh"
require_outpost
[ "$(id -u)" = 0 ] || skip "needs root for a private mount namespace"

fleet_add acme lab
user_add alice acme lab
# The address ssh-config puts in ProxyJump (and tokens carry).
JUMP_PORT=$(pick_port)
OUTPOSTD_CONF_EXTRA="PublicAddress 127.0.0.1:$JUMP_PORT"
start_jump
start_device_sshd 0
start_device_sshd 1
start_device_sshd 2

# enroll_at ID NAME FLEET REPORTED_KEY: an agent that reports REPORTED_KEY
# as its sshd host key (empty: a pattern matching nothing).
enroll_at() {
	agent_enroll "$1" "$(token_create "$3")" --name "$2" >/dev/null
	echo "sshd-host-keys ${4:-$T/no-such-key-*.pub}" >>"$(agent_dir "$1")/agent.conf"
}
enroll_at 1 pi-hq acme "$T/host-dev0.pub"		# honest
enroll_at 2 pi-lab lab "$T/host-dev1.pub"		# honest, another fleet
enroll_at 3 pi-liar acme "$T/host-dev0.pub"		# reports dev0's key, serves dev2
enroll_at 4 pi-mute acme ""				# reports no key
start_agent --sshd 0 1
start_agent --sshd 1 2
start_agent --sshd 2 3
start_agent --sshd 2 4
for d in pi-hq.acme pi-lab.lab pi-liar.acme pi-mute.acme; do wait_online "$d"; done
wait_for "the reports" 20 eval '[ "$(audit_count command user=pi-hq)" -ge 1 ] && [ "$(audit_count command user=pi-lab)" -ge 1 ]'

# The technician's scratch ~/.ssh: her key, the jump's host key, then the two outputs as printed.
H=$T/tech-ssh
mkdir -p "$H"
cp "$(key alice)" "$H/id_ed25519"
cp "$(key alice).pub" "$H/id_ed25519.pub"
echo "[127.0.0.1]:$JUMP_PORT $(cut -d' ' -f1,2 "$STATE/ssh_host_ed25519_key.pub")" >"$H/known_hosts"
timeout 20 ssh -F "$CFG" jump known-hosts >"$H/outpost_known_hosts" 2>"$T/kh.err" || fail "known-hosts: $(cat "$T/kh.err")"
timeout 20 ssh -F "$CFG" jump ssh-config >"$T/ssh-config.out" 2>"$T/sc.err" || fail "ssh-config: $(cat "$T/sc.err")"
log "known-hosts: $(wc -l <"$H/outpost_known_hosts") lines; ssh-config:"
cat "$T/ssh-config.out" >&2
grep -q "ProxyJump alice@127.0.0.1:$JUMP_PORT\$" "$T/ssh-config.out" || fail "ssh-config does not name PublicAddress"
grep -q "^pi-hq\.acme ssh-ed25519 $(cut -d' ' -f2 "$T/host-dev0.pub")\$" "$H/outpost_known_hosts" ||
	fail "known-hosts lacks pi-hq.acme's sshd key: $(cat "$H/outpost_known_hosts")"
grep -q '^pi-mute' "$H/outpost_known_hosts" && fail "known-hosts has a line for pi-mute, which reported no key"
# ~/.ssh/config: the ssh-config block as printed, then the technician's own
# defaults (first match wins in ssh_config, so the block's settings rule).
{
	cat "$T/ssh-config.out"
	cat <<-EOF2
	Host *
	  User root
	  BatchMode yes
	  IdentitiesOnly yes
	  IdentityFile ~/.ssh/id_ed25519
	  StrictHostKeyChecking yes
	  CheckHostIP no
	  ConnectTimeout 10
	  LogLevel ERROR
	EOF2
} >"$H/config"
cp "$H/outpost_known_hosts" "$T/outpost_known_hosts.orig"

# tech CMD...: runs CMD with ~/.ssh replaced by $H (a private mount namespace;
# a home without .ssh gets an empty tmpfs first, so nothing is created in it).
tech() {
	local home
	home=$(getent passwd "$(id -un)" | cut -d: -f6)
	timeout 40 unshare --mount sh -c '
		if [ ! -d "$2/.ssh" ]; then
			mount -t tmpfs -o size=1m,mode=700 outpost-home "$2" && mkdir -m 700 "$2/.ssh" || exit 1
		fi
		mount --bind "$1" "$2/.ssh" && shift 2 && exec "$@"' sh "$H" "$home" "$@"
}
out=$(tech ssh pi-hq.acme echo first-login 2>"$T/first.err") || fail "first login to pi-hq.acme failed: $(cat "$T/first.err")"
[ "$out" = first-login ] || fail "first login printed '$out'"
out=$(tech ssh pi-lab.lab echo lab 2>"$T/lab.err") || fail "first login to pi-lab.lab failed: $(cat "$T/lab.err")"
[ "$out" = lab ] || fail "pi-lab.lab printed '$out'"
out=$(tech scp -q pi-hq.acme:/etc/hostname "$T/hostname.copy" 2>&1) || fail "scp via the config: $out"

# A wrong key and a missing key fail host key verification, without a prompt.
tech ssh pi-liar.acme echo should-not-run >"$T/liar.out" 2>"$T/liar.err" && fail "pi-liar.acme accepted with a key other than the reported one"
grep -Eq "IDENTIFICATION HAS CHANGED|Host key verification failed" "$T/liar.err" || fail "pi-liar.acme: $(cat "$T/liar.err")"
grep -q should-not-run "$T/liar.out" && fail "the command ran on pi-liar"
tech ssh pi-mute.acme echo should-not-run >"$T/mute.out" 2>"$T/mute.err" && fail "pi-mute.acme accepted without a known key"
grep -q "Host key verification failed" "$T/mute.err" || fail "pi-mute.acme: $(cat "$T/mute.err")"
log "wrong key: $(grep -m1 -E 'CHANGED|failed' "$T/liar.err"); no key: $(grep -m1 failed "$T/mute.err")"
# The technician's real ~/.ssh was not touched, and known_hosts was used as written.
cmp -s "$H/outpost_known_hosts" "$T/outpost_known_hosts.orig" || fail "ssh rewrote outpost_known_hosts"
for i in 1 2 3 4; do stop_agent $i; done
done_ok
