#!/bin/bash
# t-exec-admin.sh: commands over SSH (`ssh -p PORT jump <command>`): an admin
# enrolls a device with its key on standard input (--key -) and that device
# then connects; a plain user may not run administrative commands and the
# store stays unchanged; the local CLI's --key - works the same.
. "$(dirname "$0")/lib.sh"
require_outpost

fleet_add acme
user_add alice acme
user_add root-admin --admin
start_jump
start_device_sshd
acfg=$(client_config root-admin)

# Local CLI: --key - reads standard input.
k=$(key dev-pi-local.acme)
outpost device add pi-local --fleet acme --key - <"$k.pub" >/dev/null || fail "outpost device add --key - (local)"
outpost device ls | grep -q '^pi-local\.acme' || fail "pi-local.acme not listed by device ls"

# Remote admin: the same command through the jump, key on stdin.
k=$(key dev-pi-remote.acme)
ssh -F "$acfg" jump device add pi-remote --fleet acme --key - <"$k.pub" >"$T/out" 2>"$T/err" ||
	fail "remote device add by an admin: $(cat "$T/err")"
ssh -F "$acfg" jump device ls >"$T/devls" || fail "remote device ls by an admin"
grep -q '^pi-remote\.acme' "$T/devls" || fail "pi-remote.acme missing from device ls: $(cat "$T/devls")"
ssh -F "$acfg" jump user ls >"$T/userls" || fail "remote user ls by an admin"
grep -q alice "$T/userls" || fail "alice missing from remote user ls"
for d in pi-local pi-remote; do
	start_device "$d" acme -o ExitOnForwardFailure=yes
	wait_online "$d.acme"
	[ "$(dev_ssh "root@$d.acme" echo "$d")" = "$d" ] || fail "$d.acme unreachable after enrollment"
done

# A plain user: administrative commands refused, store unchanged.
db_snapshot "$T/db.before"
k=$(key dev-pi-evil.acme)
for cmd in "device add pi-evil --fleet acme --key -" "user add mallory --key - --admin" "fleet add evil" \
	"user rm root-admin" "device rm pi-remote.acme" "fleet rm acme" "user ls"; do
	ssh -F "$CFG" jump "$cmd" <"$k.pub" >"$T/out" 2>"$T/err"
	rc=$?
	[ $rc != 0 ] || fail "alice ran '$cmd'"
	grep -q 'not permitted' "$T/err" "$T/out" || fail "alice's '$cmd': no 'not permitted' ($(cat "$T/err" "$T/out"))"
done
db_snapshot "$T/db.after"
diff "$T/db.before" "$T/db.after" >&2 || fail "a refused command changed the store"
# help works for everyone.
ssh -F "$CFG" jump help >"$T/help" 2>&1 || fail "help for a user"
grep -q 'ls' "$T/help" || fail "help does not mention ls"
[ "$(audit_count command user=alice)" -ge 7 ] || fail "commands not audited"
done_ok
