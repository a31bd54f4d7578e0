#!/bin/bash
# t-token-leak.sh: an enrollment token's secret never reaches outpostd's log,
# the audit trail (the file, `outpost audit` and `outpost audit --json`), the
# CLI's log or the agent's log, whatever shape the command that carries it
# has: wrong argument count, an unknown option, sent by a user who is not
# `enroll`, sent as a bare command, with its prefix in capitals or after a
# `--token=`, a padded field, as an ssh user name, or refused by the agent.
# Afterwards the token, never spent by those attempts, still enrolls (and the
# successful enrollment leaks nothing either); the records of the attempts
# are there, with the token redacted.
. "$(dirname "$0")/lib.sh"
. "$IT_DIR/lib-agent.sh"
require_outpost

agent_setup

tok=$(token_create acme --uses 2) || fail "token create"
case $tok in op1:*:*:*) ;; *) fail "token create printed '$tok' last" ;; esac
secret=${tok##*:}
[ ${#secret} -eq 32 ] || fail "secret '$secret' is not 32 characters"
rest=${tok#op1:}
addr=${rest%%:*}

ek=$(key dev-leak.acme)
n=0
# as_enroll COMMAND...: one exec as the enrolling key; it must fail.
as_enroll() {
	n=$((n + 1))
	timeout 20 ssh -F "$DEVCFG" -i "$ek" -p "$JUMP_PORT" enroll@127.0.0.1 "$@" \
		>"$T/shape-$n.out" 2>&1 && fail "shape $n ($1 ...) succeeded: $(cat "$T/shape-$n.out")"
	log "enroll shape $n: $(head -c 160 "$T/shape-$n.out" | tr '\n' ' ')"
}
# as_alice COMMAND...: one exec as technician alice; it must fail.
as_alice() {
	n=$((n + 1))
	timeout 20 ssh -F "$CFG" jump "$@" >"$T/shape-$n.out" 2>&1 &&
		fail "shape $n ($1 ...) as alice succeeded: $(cat "$T/shape-$n.out")"
	log "alice shape $n: $(head -c 160 "$T/shape-$n.out" | tr '\n' ' ')"
}

as_enroll enroll "$tok"				# one argument short
as_enroll enroll "$tok" leak1 extra		# one too many
as_enroll enroll --bogus "$tok" leak2		# unknown option
as_enroll enroll "--token=$tok" leak3		# an option the command does not know
as_enroll "$tok"				# bare token, no name
as_enroll "$tok" leak4 extra			# bare token, too many words
as_enroll "$tok" a b c				# bare token past the shortcut: unknown command
as_enroll report --hostname "$tok"		# another command's argument
as_enroll "OP1:$rest" leak5			# prefix in capitals
as_enroll "op1:$addr=:${rest#*:}" leak6		# a padded field
as_enroll "'$tok" leak7				# an unbalanced quote
as_alice enroll "$tok" leak8			# a technician, not an enrolling key
as_alice "$tok" leak9				# a technician, bare token
as_alice fleet add "$tok"			# a technician's admin command
# the token as an ssh user name: refused at authentication
n=$((n + 1))
timeout 20 ssh -F "$DEVCFG" -i "$ek" -p "$JUMP_PORT" -l "$tok" 127.0.0.1 true \
	>"$T/shape-$n.out" 2>&1 && fail "a login as the token succeeded"
# the agent, refused by the server (name bound elsewhere) and locally (bad name)
"$AGENT_BIN" -v -d "$(agent_dir 9)" enroll "$tok" --name 'bad name!' \
	>"$T/agent-bad.out" 2>>"$LOGDIR/agent-9.log" && fail "agent enrolled 'bad name!'"

# Every attempt left its record, and the token was not spent by any of them.
cmds=$(audit_count command)
[ "$cmds" -ge 12 ] || fail "only $cmds command records for 14 command shapes"
outpost token ls | grep -q 'uses-left=2' || fail "a failed shape spent the token: $(outpost token ls)"

# The token still enrolls: once with stock ssh, once with the agent.
out=$(timeout 30 ssh -F "$DEVCFG" -i "$ek" -p "$JUMP_PORT" enroll@127.0.0.1 "$tok" pi-leak 2>"$T/stock.err") ||
	fail "stock enroll failed: $(cat "$T/stock.err")"
case $out in *"enrolled pi-leak.acme"*) ;; *) fail "stock enroll printed '$out'" ;; esac
[ "$(agent_enroll 2 "$tok" --name pi-agent)" = pi-agent.acme ] || fail "agent enrolled another name"

# Nowhere a secret: the daemon's log, the audit file and both forms of
# `outpost audit`, the CLI's log, the agents' logs.
outpost audit >"$T/audit.txt" || fail "outpost audit"
outpost audit --json >"$T/audit.json" || fail "outpost audit --json"
cp "$AUDIT" "$LOGDIR/audit.log"
# (A "$ COMMAND" line in the CLI's and agents' logs is this harness quoting
# how it ran them, not the programs' output.)
for f in "$DAEMON_LOG" "$AUDIT" "$T/audit.txt" "$T/audit.json" "$CLI_LOG" "$LOGDIR"/agent-*.log; do
	[ -f "$f" ] || continue
	if grep -v '^\$ ' "$f" | grep -qi "$secret"; then
		grep -v '^\$ ' "$f" | grep -ni "$secret" | head -n 5 >&2
		fail "the token's secret is in $(basename "$f")"
	fi
done
grep -q 'op1:redacted' "$AUDIT" || fail "no redacted token in the command records"
# The refusal went to the client, who sent the token: the client was told why.
grep -q 'usage\|unknown\|not' "$T/shape-1.out" || fail "shape 1 was not told why: $(cat "$T/shape-1.out")"
done_ok
