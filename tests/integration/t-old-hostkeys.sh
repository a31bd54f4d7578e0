#!/bin/bash
# t-old-hostkeys.sh: outpostd takes over an old sshd jump host's host keys.
# Three HostKey lines name its RSA, ECDSA and ed25519 keys (made by
# ssh-keygen here, as /etc/ssh/ssh_host_*_key are); a device whose
# known_hosts holds ONLY the old ECDSA entry, with StrictHostKeyChecking yes
# and HostKeyAlgorithms left default, dials with seed 000's unit line and
# registers without a prompt, and is reached by name. `outpostd -T` lists
# the three keys; the primary (what tokens pin) is the ed25519 one; two keys
# of one kind, a missing key among several and a DSA key are refused at start;
# after dropping root for User, keys only root may read are still served.
. "$(dirname "$0")/lib.sh"
require_outpost

OLD=$T/old-etc-ssh
mkdir -p "$OLD"
for t in rsa ecdsa ed25519; do
	ssh-keygen -q -t $t -N '' -C root@old-jump -f "$OLD/ssh_host_${t}_key" </dev/null || fail "ssh-keygen $t"
done

# Refused at start, each with its reason: nothing is served.
refused() {	# refused WHAT EXPECTED_TEXT HOSTKEY_PATH...
	local what=$1 want=$2 p
	shift 2
	{ echo "AllowRoot yes"; for p in "$@"; do echo "HostKey $p"; done; } >"$T/bad.conf"
	if timeout 20 "$OUTPOSTD_BIN" -f "$T/bad.conf" -d "$T/bad-state" -l "127.0.0.1:$(pick_port)" \
	    >"$T/bad.out" 2>&1; then
		fail "outpostd started with $what"
	fi
	grep -q -- "$want" "$T/bad.out" || fail "$what: no '$want' in: $(cat "$T/bad.out")"
}
ssh-keygen -q -t ecdsa -b 384 -N '' -f "$T/other_ecdsa_key" </dev/null
refused "two ECDSA keys" "same kind" "$OLD/ssh_host_ecdsa_key" "$T/other_ecdsa_key"
refused "a missing key among several" "cannot read host key $T/nope" "$OLD/ssh_host_rsa_key" "$T/nope"
if ssh-keygen -q -t dsa -N '' -f "$T/dsa_key" </dev/null 2>/dev/null; then
	refused "a DSA key" "not served" "$T/dsa_key" "$OLD/ssh_host_ed25519_key"
fi

fleet_add acme
user_add alice acme
device_add auvik-acme-hq acme
# In the order an old sshd_config lists them: RSA first.
OUTPOSTD_HOSTKEYS=1
OUTPOSTD_CONF_EXTRA="HostKey $OLD/ssh_host_rsa_key
HostKey $OLD/ssh_host_ecdsa_key
HostKey $OLD/ssh_host_ed25519_key"
start_jump
"$OUTPOSTD_BIN" -f "$T/outpostd.conf" -d "$STATE" -T >"$T/dump" || fail "outpostd -T"
[ "$(grep -c '^HostKey ' "$T/dump")" = 3 ] || fail "-T lists not three HostKey lines: $(grep HostKey "$T/dump")"
grep -q "^HostKey $OLD/ssh_host_rsa_key\$" "$T/dump" || fail "-T lacks the RSA key"
[ "$(cut -d' ' -f1,2 "$STATE/ssh_host_key.pub")" = "$(cut -d' ' -f1,2 "$OLD/ssh_host_ed25519_key.pub")" ] ||
	fail "the primary host key (ssh_host_key.pub) is not the ed25519 one"
[ -e "$STATE/ssh_host_ed25519_key" ] && fail "outpostd generated a key beside the configured ones"
fp=$(ssh-keygen -lf "$OLD/ssh_host_ed25519_key.pub" | awk '{print $2}')
grep -q "ready; host key $fp" "$DAEMON_LOG" || fail "the log does not name the primary key $fp"

# Every key is served: what ssh-keyscan gets is exactly the old keys.
ssh-keyscan -p "$JUMP_PORT" -t rsa,ecdsa,ed25519 127.0.0.1 2>/dev/null | cut -d' ' -f2,3 | sort >"$T/scanned"
cat "$OLD"/ssh_host_*_key.pub | cut -d' ' -f1,2 | sort >"$T/old"
cmp -s "$T/scanned" "$T/old" || fail "served keys differ from the old ones: $(cat "$T/scanned")"

# As a service: started as root, outpostd drops to User before serving and
# still serves keys only root may read (as /etc/ssh's are): libssh holds them.
if id nobody >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
	chmod 700 "$OLD"
	P2=$(pick_port)
	printf 'User nobody\nHostKey %s\nHostKey %s\nHostKey %s\n' "$OLD/ssh_host_rsa_key" \
		"$OLD/ssh_host_ecdsa_key" "$OLD/ssh_host_ed25519_key" >"$T/dropped.conf"
	mkdir -p "$T/dropped-state"
	spawn outpostd-dropped "$OUTPOSTD_BIN" -f "$T/dropped.conf" -d "$T/dropped-state" -l "127.0.0.1:$P2"
	DROPPED=$LAST_PID
	wait_for "the second outpostd" 20 eval 'port_listening $P2 || ! alive $DROPPED'
	[ "$(ps -o user= -p "$DROPPED")" = nobody ] || fail "the second outpostd did not drop to nobody"
	ssh-keyscan -p "$P2" -t rsa,ecdsa,ed25519 127.0.0.1 2>/dev/null | cut -d' ' -f2,3 | sort >"$T/scanned2"
	cmp -s "$T/scanned2" "$T/old" || fail "after dropping root, served keys differ: $(cat "$T/scanned2")"
	stop_pid "$DROPPED" TERM 10 || fail "the second outpostd did not stop"
	grep -qE -- "$SANITIZER_RE" "$LOGDIR/outpostd-dropped.log" && fail "sanitizer report in outpostd-dropped.log"
fi

# The device: the old jump's ECDSA line and nothing else in its known_hosts.
start_device_sshd
DEVKNOWN=$T/device_known_hosts
echo "[127.0.0.1]:$JUMP_PORT $(cut -d' ' -f1,2 "$OLD/ssh_host_ecdsa_key.pub")" >"$DEVKNOWN"
cp "$DEVKNOWN" "$T/device_known_hosts.before"
RP=22050
spawn dev-auvik-acme-hq ssh -v -F /dev/null -i "$(key dev-auvik-acme-hq.acme)" -o IdentitiesOnly=yes \
	-o UserKnownHostsFile="$DEVKNOWN" -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes \
	-o BatchMode=yes -o UpdateHostKeys=no \
	-N -o ServerAliveInterval=60 -o ServerAliveCountMax=3 -o ExitOnForwardFailure=yes \
	-R "$RP:localhost:$SSHD_PORT" -p "$JUMP_PORT" jumpuser@127.0.0.1
DEV=$LAST_PID
wait_for "auvik-acme-hq online" 20 eval 'device_online auvik-acme-hq.acme || ! alive $DEV'
alive "$DEV" || fail "the device's ssh exited: $(tail -n 5 "$LOGDIR/dev-auvik-acme-hq.log")"
grep -q "Server host key: ecdsa-sha2-nistp256 $(ssh-keygen -lf "$OLD/ssh_host_ecdsa_key.pub" | awk '{print $2}')" \
	"$LOGDIR/dev-auvik-acme-hq.log" || fail "the device was not shown the old ECDSA key"
cmp -s "$DEVKNOWN" "$T/device_known_hosts.before" || fail "the device's known_hosts changed"

# Reached by name through the port it registered, with stock ssh -J.
known_add "auvik-acme-hq.acme" "$T/host-dev0.pub"
out=$(timeout 30 ssh -F "$CFG" -J jump -p "$RP" root@auvik-acme-hq.acme echo reached 2>"$T/reach.err") ||
	fail "ssh -J jump -p $RP root@auvik-acme-hq.acme: $(cat "$T/reach.err")"
[ "$out" = reached ] || fail "unexpected output '$out'"
done_ok
