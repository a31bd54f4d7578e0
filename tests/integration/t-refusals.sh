#!/bin/bash
# t-refusals.sh: every refusal a technician can meet, with the reason the
# OpenSSH client prints (outpostd answers -J/-W as a minimal SSH server and
# disconnects with the reason): no device named, offline (last seen), no
# service on port N, ambiguous bare name, a fleet the user was not granted,
# hostile target names; plus bare names and case-insensitivity that work.
. "$(dirname "$0")/lib.sh"
require_outpost

fleet_add acme globex
user_add alice acme globex
user_add bob acme
device_add pi-hq acme
device_add pi-hq globex
device_add pi-old acme
device_add pi-new acme
start_jump
start_device_sshd 0
start_device_sshd 1
start_device --sshd 0 pi-hq acme
start_device --sshd 1 pi-hq globex
wait_online pi-hq.acme
wait_online pi-hq.globex
start_device --sshd 0 pi-old acme
wait_online pi-old.acme
stop_pid "$DEV_PID"
wait_offline pi-old.acme

# refuse USER TARGET REGEX [SSH_OPTS...]: ssh -J to TARGET is refused with REGEX.
refuse() {
	local user=$1 target=$2 re=$3 cfg
	shift 3
	cfg=$(client_config "$user")
	expect_refusal "$user -> $target" "$re" ssh -F "$cfg" -J jump "$@" "root@$target" true
}

refuse alice nosuch.acme 'no device named nosuch\.acme'
refuse alice nosuch 'no device named nosuch'
refuse alice pi-hq.nofleet 'no device named pi-hq\.nofleet'
refuse alice pi-old.acme 'device pi-old\.acme is offline \(last seen [^)]+\)'
refuse alice pi-new.acme 'device pi-new\.acme is offline'
refuse alice pi-hq.acme 'device pi-hq\.acme has no service on port 2222' -p 2222
refuse alice pi-hq 'ambiguous'
# bob was granted acme only: globex is reported exactly like a missing device.
refuse bob pi-hq.globex 'no device named pi-hq\.globex'

# What works: qualified names, a bare name that is unique for this user,
# upper case. The host key check proves which device answered.
[ "$(dev_ssh -o HostKeyAlias=pi-hq.acme root@pi-hq.acme echo ok)" = ok ] || fail "alice -> pi-hq.acme"
[ "$(dev_ssh -o HostKeyAlias=pi-hq.globex root@pi-hq.globex echo ok)" = ok ] || fail "alice -> pi-hq.globex"
[ "$(CLIENT=bob dev_ssh -o HostKeyAlias=pi-hq.acme root@pi-hq echo ok)" = ok ] || fail "bob -> bare pi-hq (only acme is his)"
out=$(ssh -F "$CFG" -o HostKeyAlias=pi-hq.acme -o "ProxyCommand=ssh -F $CFG -W PI-HQ.ACME:%p jump" root@x echo ok) ||
	fail "upper-case PI-HQ.ACME"
[ "$out" = ok ] || fail "upper-case name answered '$out'"

# Hostile or malformed targets: refused with a reason, the daemon unharmed.
long=$(printf 'a%.0s' $(seq 1 300))
for bad in "$long.acme" "pi_hq.acme" "-pi.acme" "pi-hq.acme." ".acme" "pi-hq..acme" "pi-hq.acme.extra" "127.0.0.1" "localhost"; do
	timeout 30 ssh -F "$CFG" -o HostKeyAlias=pi-hq.acme -o "ProxyCommand=ssh -F $CFG -W '$bad:22' jump" root@x true >"$T/out" 2>"$T/err"
	rc=$?
	[ $rc != 0 ] && [ $rc != 124 ] || fail "target '${bad:0:40}': status $rc"
done
alive "$OUTPOSTD_PID" || fail "outpostd died"
[ "$(dev_ssh root@pi-hq.acme echo ok)" = ok ] || fail "pi-hq.acme after hostile names"
# Each refusal is audited.
[ "$(audit_count connect result=refused)" -ge 8 ] || fail "refused connects missing from the audit log"
done_ok
