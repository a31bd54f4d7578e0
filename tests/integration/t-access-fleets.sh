#!/bin/bash
# stores: sqlite postgresql
# timeout: 120
# t-access-fleets.sh: two fleets with a device of the same bare name,
# pi-hq.acme (behind device sshd 0) and pi-hq.globex (sshd 1, another host
# key, so the host key check proves which device answered). bob (acme only)
# reaches pi-hq.acme, bare pi-hq resolves to acme, pi-hq.globex is refused
# exactly like a device that does not exist, and his `ls` shows acme's only;
# dave (globex only) the other way round; carol (both) gets the ambiguity
# message for bare pi-hq and reaches both qualified names.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-access.sh"
require_outpost

fleet_add acme globex
user_add bob acme
user_add carol acme globex
user_add dave globex
device_add pi-hq acme
device_add pi-hq globex
device_add pi-lab globex	# a second globex device: never visible to bob
start_jump
client_configs bob carol dave
start_device_sshd 0
start_device_sshd 1
start_device --sshd 0 pi-hq acme
start_device --sshd 1 pi-hq globex
start_device --sshd 1 pi-lab globex
wait_online pi-hq.acme
wait_online pi-hq.globex
wait_online pi-lab.globex

# reach USER TARGET ALIAS: USER logs in to TARGET; ALIAS picks the host key
# that must answer (pi-hq.acme = sshd 0, pi-hq.globex = sshd 1).
reach() {
	local out
	out=$(CLIENT=$1 dev_ssh -o HostKeyAlias="$3" "root@$2" echo "reached-$2" 2>"$T/reach.err") ||
		fail "$1 -> $2 (as $3): $(cat "$T/reach.err")"
	[ "$out" = "reached-$2" ] || fail "$1 -> $2 answered '$out'"
	log "$1 -> $2: reached the device with $3's host key"
}

# refuse USER TARGET REGEX: refused with REGEX on every try.
refuse() {
	local cfg
	cfg=$(client_config "$1")
	expect_refusal "$1 -> $2" "$3" ssh -F "$cfg" -J jump "root@$2" true
	cp "$T/refusal.err" "$T/refusal.$1.$2"
}

# same_refusal A B NAME_A NAME_B: the two refusals are the same text once the
# requested names are swapped: a device outside the grants looks like none.
same_refusal() {
	local a b
	a=$(sed "s/$3/NAME/g" "$T/refusal.$1") b=$(sed "s/$4/NAME/g" "$T/refusal.$2")
	[ "$a" = "$b" ] || fail "refusals differ (enumeration): '$a' vs '$b'"
}

# ls_names USER: the NAME.FLEET column of USER's remote `ls`.
ls_names() {
	jump_cmd "$1" ls >"$T/ls.$1" 2>"$T/ls.$1.err" || fail "$1: ls over SSH: $(cat "$T/ls.$1.err")"
	awk '{print $1}' "$T/ls.$1" | sort | tr '\n' ' '
}

# --- bob: acme only ---
reach bob pi-hq.acme pi-hq.acme
reach bob pi-hq pi-hq.acme
refuse bob pi-hq.globex '^[^ ].*no device named pi-hq\.globex'
refuse bob nosuch.globex 'no device named nosuch\.globex'
refuse bob pi-lab.globex 'no device named pi-lab\.globex'
refuse bob pi-lab 'no device named pi-lab$|no device named pi-lab[^.]'
same_refusal bob.pi-hq.globex bob.nosuch.globex pi-hq.globex nosuch.globex
same_refusal bob.pi-lab.globex bob.nosuch.globex pi-lab.globex nosuch.globex
# -W (ProxyCommand) as well as -J.
out=$(timeout 30 ssh -F "$(client_config bob)" -o HostKeyAlias=pi-hq.globex \
	-o "ProxyCommand=ssh -F $(client_config bob) -W pi-hq.globex:22 jump" root@x echo bad 2>"$T/w.err") &&
	fail "bob reached pi-hq.globex with -W: $out"
grep -q 'no device named pi-hq\.globex' "$T/w.err" || fail "bob -W pi-hq.globex: $(cat "$T/w.err")"
[ "$(ls_names bob)" = "pi-hq.acme " ] || fail "bob's ls: $(cat "$T/ls.bob")"
jump_cmd bob ls --json >"$T/ls.bob.json" || fail "bob: ls --json"
json_ok "$T/ls.bob.json" "bob's ls --json"
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert [x["device"] for x in d] == ["pi-hq.acme"], d' "$T/ls.bob.json" ||
	fail "bob's ls --json lists other than pi-hq.acme: $(cat "$T/ls.bob.json")"
! grep -q globex "$T/ls.bob.json" || fail "bob's ls --json mentions globex"
jump_cmd bob whoami >"$T/whoami.bob" || fail "bob: whoami"
expect_output "$T/whoami.bob" '^bob +user +acme +SHA256:' "bob's whoami"

# --- dave: globex only ---
reach dave pi-hq.globex pi-hq.globex
reach dave pi-hq pi-hq.globex
refuse dave pi-hq.acme 'no device named pi-hq\.acme'
refuse dave nosuch.acme 'no device named nosuch\.acme'
same_refusal dave.pi-hq.acme dave.nosuch.acme pi-hq.acme nosuch.acme
[ "$(ls_names dave)" = "pi-hq.globex pi-lab.globex " ] || fail "dave's ls: $(cat "$T/ls.dave")"

# --- carol: both ---
refuse carol pi-hq 'ambiguous'
reach carol pi-hq.acme pi-hq.acme
reach carol pi-hq.globex pi-hq.globex
reach carol pi-lab pi-hq.globex		# unique bare name across her fleets
[ "$(ls_names carol)" = "pi-hq.acme pi-hq.globex pi-lab.globex " ] || fail "carol's ls: $(cat "$T/ls.carol")"

# The refusals are audited with the name as requested, and nothing routed
# bob or dave outside their fleets.
[ "$(audit_count connect user=bob device=pi-hq.globex result=refused)" -ge 5 ] || fail "bob's refusals not audited"
[ "$(audit_count connect user=bob device=pi-hq.globex result=ok)" = 0 ] || fail "bob connected to pi-hq.globex"
[ "$(audit_count connect user=dave device=pi-hq.acme result=ok)" = 0 ] || fail "dave connected to pi-hq.acme"
[ "$(audit_count connect user=bob device=pi-hq.acme result=ok)" -ge 2 ] || fail "bob's connects to pi-hq.acme not audited"
alive "$OUTPOSTD_PID" || fail "outpostd died"
done_ok
