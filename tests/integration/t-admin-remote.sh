#!/bin/bash
# timeout: 180
# t-admin-remote.sh: one command layer, two transports.
# - The same sequence of administrative commands (successes, failures and
#   usage errors, keys on stdin with --key -) is run by an admin over SSH on
#   outpostd's state dir and by the local CLI on a second state dir set up
#   the same way: every step prints the same stdout and stderr and exits with
#   the same status, and the listings (text and --json) end up identical.
# - Over SSH: who, kick, audit, audit verify work; every --json output parses;
#   --key FILE is refused; remote changes are audited with the admin as actor.
# - A non-admin is refused every administrative command with `not permitted`
#   and status 1 (store unchanged), while ls, whoami and help work.
# - Hostile exec strings (unbalanced quotes, ; $() backticks | && > control
#   characters, too long, too many words, 1 MiB) are refused cleanly (status
#   2 and a reason, or the session dropped for 1 MiB), nothing changes, and the
#   daemon keeps serving. NUL bytes cannot be sent by stock ssh (argv strings
#   end at NUL): not tested here (tests/unit covers the splitter).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-access.sh"
require_outpost

STATE2=$T/state2
local2() { "$OUTPOST_BIN" -d "$STATE2" "$@"; }
setup_state() {	# setup_state CLI: the same starting point on either state dir
	"$@" fleet add acme >/dev/null &&
	"$@" user add alice --key "$(key alice).pub" --fleet acme >/dev/null &&
	"$@" user add admin --key "$(key admin).pub" --admin >/dev/null &&
	"$@" device add pi-hq --fleet acme --key "$(key dev-pi-hq.acme).pub" >/dev/null
}
setup_state outpost || fail "set-up of the daemon's state"
setup_state local2 || fail "set-up of the second state"
cat "$(key alice).pub" >>"$T/device_authorized_keys"
start_jump
client_configs admin
acfg=$(client_config admin)

# normalize: times vary between the two runs.
normalize() {
	sed -E 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z/TS/g' "$1"
}

# same_both STDIN CMD: CMD (one string of words) remotely by the admin on
# $STATE and locally on $STATE2, stdin from the file STDIN (or /dev/null):
# identical stdout, stderr and status.
n=0
same_both() {
	local in=$1 cmd=$2 rr rl
	n=$((n + 1))
	# shellcheck disable=SC2086
	timeout 30 ssh -F "$acfg" jump "$cmd" <"$in" >"$T/r.out" 2>"$T/r.err"
	rr=$?
	# shellcheck disable=SC2086
	local2 $cmd <"$in" >"$T/l.out" 2>"$T/l.err"
	rl=$?
	log "step $n: '$cmd': remote $rr, local $rl: $(cat "$T/r.out" "$T/r.err" | head -c 150 | tr '\n' ' ')"
	[ "$rr" = "$rl" ] || fail "'$cmd': status $rr over SSH, $rl locally (remote: $(cat "$T/r.err"); local: $(cat "$T/l.err"))"
	diff <(normalize "$T/r.out") <(normalize "$T/l.out") >&2 || fail "'$cmd': stdout differs over SSH and locally"
	diff <(normalize "$T/r.err") <(normalize "$T/l.err") >&2 || fail "'$cmd': stderr differs over SSH and locally"
	LAST_RC=$rr
}
expect_rc() {
	[ "$LAST_RC" = "$1" ] || fail "step $n: status $LAST_RC, expected $1"
}

N=/dev/null
same_both $N "fleet add globex"; expect_rc 0
same_both $N "fleet add globex"; expect_rc 1
same_both $N "fleet add Bad_Name"; expect_rc 2
same_both $N "fleet add"; expect_rc 2
same_both "$(key bob).pub" "user add bob --key - --fleet acme"; expect_rc 0
same_both "$(key bob).pub" "user add bob2 --key -"; expect_rc 1	# a key belongs to one principal
same_both "$(key carol).pub" "user add carol --key - --fleet nosuch"; expect_rc 1
same_both "$(key dev-pi-x.globex).pub" "device add pi-x --fleet globex --key -"; expect_rc 0
same_both "$(key dev-pi-y.acme).pub" "device add pi-y.acme --key -"; expect_rc 0
same_both "$(key dev-pi-z.acme).pub" "device add pi-y.acme --key -"; expect_rc 1
same_both $N "grant bob globex --for 1h"; expect_rc 0
same_both $N "grant bob globex --for 1x"; expect_rc 2
same_both $N "grant nosuch acme"; expect_rc 1
same_both $N "revoke bob acme"; expect_rc 0
same_both $N "device rm pi-y.acme"; expect_rc 0
same_both $N "device rm pi-y.acme"; expect_rc 1
same_both $N "fleet rm globex"; expect_rc 1	# still has pi-x
same_both $N "user rm nosuch"; expect_rc 1
same_both $N "frobnicate"; expect_rc 2
same_both $N "fleet ls"; expect_rc 0
same_both $N "user ls"; expect_rc 0
same_both $N "device ls"; expect_rc 0
same_both $N "ls"; expect_rc 0
for what in "fleet ls" "user ls" "device ls" "ls"; do
	same_both $N "$what --json"; expect_rc 0
	json_ok "$T/r.out" "$what --json over SSH"
done
ssh -F "$acfg" jump user ls --json >"$T/users.json" || fail "user ls --json"
"$PY" - "$T/users.json" <<'EOF' || fail "user ls --json after the sequence: $(cat "$T/users.json")"
import json, sys
u = {x["name"]: x for x in json.load(open(sys.argv[1]))}
assert sorted(u) == ["admin", "alice", "bob"], sorted(u)
assert u["bob"]["fleets"] == ["globex"], u["bob"]
assert u["admin"]["admin"] is True and u["bob"]["admin"] is False
EOF
# Actor: the admin over SSH, the local user locally.
[ "$(audit_count admin actor=admin command='fleet add globex' result=ok)" = 1 ] || fail "remote fleet add not audited with actor admin"
[ "$(audit_count admin actor=admin command='fleet add globex' result=failed)" = 1 ] || fail "remote failed fleet add not audited"
[ "$("$PY" "$IT_DIR/itpeer.py" audit "$STATE2/audit.log" admin command='fleet add globex' result=ok)" = 1 ] ||
	fail "local fleet add not audited"

# Quoting per outpost(1): quoted words are one word, quotes removed.
jump_cmd admin "fleet add 'gamma'" >"$T/out" 2>&1 || fail "fleet add 'gamma' over SSH: $(cat "$T/out")"
expect_output "$T/out" '^fleet gamma added$' "quoted fleet add over SSH"
jump_cmd admin 'fleet rm "gam"ma' >"$T/out" 2>&1 || fail "fleet rm \"gam\"ma over SSH: $(cat "$T/out")"
jump_cmd admin "fleet add ''" >"$T/out" 2>&1
[ $? = 2 ] || fail "fleet add '' (an empty word): not a usage error: $(cat "$T/out")"

# --key FILE is refused over SSH, and changes nothing.
store_snapshot "$T/snap.0"
jump_cmd admin user add dan --key "$(key dan).pub" >"$T/out" 2>"$T/err" && fail "--key FILE accepted over SSH"
grep -q -- '--key -' "$T/err" || fail "--key FILE over SSH: $(cat "$T/err")"

# Live view and audit over SSH.
start_device_sshd
start_device pi-hq acme
wait_online pi-hq.acme
start_session alice alice pi-hq.acme 40
wait_ready alice
jump_cmd admin who >"$T/who" || fail "who over SSH"
expect_output "$T/who" "^[0-9]+ +user +alice +SHA256:" "who over SSH lists alice"
expect_output "$T/who" "^[0-9]+ +device +pi-hq\.acme +SHA256:" "who over SSH lists pi-hq.acme"
# The same sessions but the admin's own (the one running `who`).
diff <(awk '$3 != "admin" {print $1, $2, $3, $4, $5}' "$T/who") <(outpost who | awk '{print $1, $2, $3, $4, $5}') >&2 ||
	fail "who differs over SSH and locally"
for c in "who --json" "audit --json" "audit --json --user alice --since 1h" "whoami --json"; do
	jump_cmd admin $c >"$T/j" || fail "$c over SSH"
	json_ok "$T/j" "$c over SSH"
done
jump_cmd admin audit --user alice >"$T/audit.alice" || fail "audit --user alice over SSH"
expect_output "$T/audit.alice" ' connect .*device=pi-hq\.acme' "audit --user alice over SSH"
jump_cmd admin audit verify >"$T/verify" || fail "audit verify over SSH: $(cat "$T/verify")"
expect_output "$T/verify" '^audit log OK: [0-9]+ records$' "audit verify over SSH"
expect_output "$T/verify" '^anchored: the store holds record [0-9]+ as the head' "audit verify over SSH checks this node's anchor"
jump_cmd admin kick alice >"$T/kick" || fail "kick alice over SSH"
t0=$(now_ms)
expect_output "$T/kick" '^kicked 1 session$' "kick over SSH"
measure_exit "$SESS_PID" 2000 "remote kick: alice's session" "$t0"
jump_cmd admin kick alice >"$T/kick" 2>"$T/kick.err"
[ $? = 1 ] || fail "kick of nobody over SSH: not status 1"
expect_output "$T/kick.err" 'no live session of alice' "kick of nobody over SSH"

# --- a non-admin ---
store_snapshot "$T/snap.1"
for cmd in "fleet add evil" "fleet ls" "fleet ls --json" "fleet rm acme" "user add mallory --key - --admin" "user ls" \
	"user ls --json" "user rm admin" "grant alice globex" "revoke alice acme" "device add evil --fleet acme --key -" \
	"device ls" "device ls --json" "device rm pi-hq.acme" "who" "who --json" "kick admin" "kick 1" "audit" \
	"audit --json" "audit --user alice" "audit verify"; do
	jump_cmd alice "$cmd" <"$(key mallory).pub" >"$T/out" 2>"$T/err"
	rc=$?
	[ $rc = 1 ] || fail "alice's '$cmd': status $rc, expected 1 ($(cat "$T/err"))"
	grep -q 'not permitted' "$T/err" || fail "alice's '$cmd': no 'not permitted' on stderr ($(cat "$T/err"))"
	[ ! -s "$T/out" ] || fail "alice's '$cmd' printed: $(head -c 200 "$T/out")"
done
store_snapshot "$T/snap.2"
diff "$T/snap.1" "$T/snap.2" >&2 || fail "a refused command changed the store"
for cmd in "ls" "ls --json" "whoami" "whoami --json" "help"; do
	jump_cmd alice $cmd >"$T/out" 2>"$T/err" || fail "alice's '$cmd' failed: $(cat "$T/err")"
	case $cmd in *--json) json_ok "$T/out" "alice's $cmd" ;; esac
done
jump_cmd alice ls >"$T/out"
expect_output "$T/out" '^pi-hq\.acme +online' "alice's ls"
jump_cmd alice help >"$T/out"
! grep -Eq 'fleet add|user rm|kick' "$T/out" || fail "alice's help offers admin commands: $(cat "$T/out")"

# --- hostile exec strings ---
# hostile USER CMD DESC: refused with status 2 and an outpost: reason.
hostile() {
	local rc
	timeout 30 ssh -F "$(client_config "$1")" jump "$2" </dev/null >"$T/out" 2>"$T/err"
	rc=$?
	log "hostile ($1) $3: status $rc: $(head -c 200 "$T/err" | tr '\n' ' ')"
	[ $rc = 2 ] || fail "hostile ($1) $3: status $rc, expected 2"
	grep -q '^outpost: ' "$T/err" || fail "hostile ($1) $3: no reason on stderr"
	[ ! -s "$T/out" ] || fail "hostile ($1) $3: printed $(head -c 200 "$T/out")"
}
touch "$T/canary"
for u in admin alice; do
	hostile $u "fleet add 'evil" "unbalanced single quote"
	hostile $u 'fleet add "evil' "unbalanced double quote"
	hostile $u 'fleet add "evil\' "backslash at the end of a double quote"
	hostile $u "fleet add evil; fleet rm acme" "semicolon"
	hostile $u "fleet add evil;rm -f $T/canary" "semicolon, no space"
	hostile $u 'fleet add $(id -u)' '$()'
	hostile $u 'fleet add ${HOME}' '${}'
	hostile $u 'fleet add `rm -f '"$T"'/canary`' "backticks"
	hostile $u "fleet ls | rm -f $T/canary" "pipe"
	hostile $u "fleet ls && fleet add evil" "&&"
	hostile $u "fleet ls > $T/canary" "redirection"
	hostile $u "fleet ls < /etc/passwd" "input redirection"
	hostile $u "fleet add (evil)" "parentheses"
	hostile $u 'fleet add ev\il' "backslash"
	hostile $u $'fleet add evil\nfleet rm acme' "newline"
	hostile $u $'fleet add ev\x01il' "control character"
	hostile $u $'fleet add \x1b[31mevil' "escape sequence"
	hostile $u "fleet add $(head -c 5000 /dev/zero | tr '\0' a)" "5000-byte command line"
	hostile $u "fleet ls $(seq 1 70 | tr '\n' ' ')" "70 words"
done
[ -f "$T/canary" ] && [ ! -s "$T/canary" ] || fail "a hostile command touched the canary file"
hostile admin "fleet add 'e;v\$(i)l'" "quoted shell syntax as a name"
# 1 MiB: 16 arguments of 64 KiB (one argv string is limited to 128 KiB);
# ssh joins them with spaces into one exec request.
big=()
for i in $(seq 1 16); do big+=("$(head -c 65536 /dev/zero | tr '\0' a)"); done
for u in admin alice; do
	t0=$(now_ms)
	timeout 30 ssh -F "$(client_config $u)" jump fleet add "${big[@]}" </dev/null >"$T/out" 2>"$T/err"
	rc=$?
	log "1 MiB command line ($u): status $rc after $(($(now_ms) - t0)) ms: $(head -c 200 "$T/err" | tr '\n' ' ')"
	[ $rc != 0 ] && [ $rc != 124 ] || fail "1 MiB command line ($u): status $rc"
	alive "$OUTPOSTD_PID" || fail "outpostd died on a 1 MiB command line"
	jump_cmd $u whoami >/dev/null || fail "$u cannot run whoami after the 1 MiB command line"
done
log "NUL bytes: not sent (stock ssh takes the command from argv, which cannot hold NUL)"
store_snapshot "$T/snap.3"
diff "$T/snap.1" "$T/snap.3" >&2 || fail "hostile commands changed the store"
jump_cmd admin fleet ls >"$T/out" || fail "admin fleet ls after the hostile strings"
expect_output "$T/out" '^acme ' "fleet ls after the hostile strings"
[ "$(CLIENT=bob dev_ssh root@pi-hq.acme echo x 2>/dev/null)" = "" ] || fail "bob reached acme after revoke"
[ "$(dev_ssh root@pi-hq.acme echo still-ok)" = still-ok ] || fail "routing broken after the hostile strings"
"$OUTPOST_BIN" -d "$STATE" audit verify >"$T/verify" 2>&1 || fail "audit verify: $(cat "$T/verify")"
done_ok
