#!/bin/bash
# stores: sqlite postgresql
# t-agent-enroll.sh: a token from `outpost token create`, then
# `outpost-agent enroll TOKEN` and `run`: the device is reached by name with
# stock ssh -J through its own (stock) sshd. Also: the default name from the
# host name, stock-OpenSSH enrollment (`ssh enroll@jump TOKEN NAME`, then a
# plain `ssh -N -R`), --uses, --ttl and revoke enforced with a clear message,
# and a name already bound to another key refused.
. "$(dirname "$0")/lib.sh"
. "$IT_DIR/lib-agent.sh"
require_outpost

agent_setup

# 1. token -> enroll -> run -> reachable by name.
tok=$(token_create acme) || fail "token create"
case $tok in op1:*) ;; *) fail "token create printed '$tok' last" ;; esac
[ "$(agent_enroll 1 "$tok" --name pi-hq)" = pi-hq.acme ] || fail "enrolled under another name"
[ -s "$(agent_dir 1)/id_ed25519" ] || fail "enroll made no key"
outpost device ls | grep -q '^pi-hq\.acme' || fail "pi-hq.acme not in device ls"
start_agent 1
wait_online pi-hq.acme
reach pi-hq.acme || fail "pi-hq.acme not reachable by name through the agent"
reach pi-hq || fail "bare name pi-hq not reachable"
[ "$(audit_count register device=pi-hq.acme result=ok)" -ge 1 ] || fail "no register record"
# The agent reported itself: ls shows version, host name, OS, boot time (from its uptime) and host keys.
wait_for "pi-hq.acme's report in ls" 10 eval 'ls_line pi-hq.acme | grep -q " agent [0-9][^ ]* on $(hostname) (.*), up since [0-9T:-]*Z, [0-9]* host key"'
log "ls: $(ls_line pi-hq.acme)"
# The token had one use: it is spent now.
outpost token ls | grep -q 'uses-left=0\|used-up\|used up' || fail "token not spent: $(outpost token ls)"

# 2. The default name: the host name made a valid label (own UTS namespace).
tok=$(token_create acme)
out=$(unshare --uts "$PY" -c 'import os, socket, sys; socket.sethostname(sys.argv[1]); os.execv(sys.argv[2], sys.argv[2:])' \
	Field_Box.site-3 "$AGENT_BIN" -d "$(agent_dir 2)" enroll "$tok" 2>>"$LOGDIR/agent-2.log") ||
	fail "enroll without --name failed"
[ "$out" = "enrolled field-box.acme" ] || fail "default name: got '$out', want field-box.acme"
[ "$(agent_name 2)" = field-box.acme ] || fail "agent.conf of agent 2 names $(agent_name 2)"

# 3. Stock OpenSSH enrollment: the key it authenticates with is bound, then
# a plain ssh -N -R serves the device.
k=$(key dev-pi-stock.acme)
tok=$(token_create acme)
out=$(timeout 30 ssh -F "$DEVCFG" -i "$k" -p "$JUMP_PORT" enroll@127.0.0.1 "$tok" pi-stock 2>"$T/stock.err") ||
	fail "stock enroll failed: $(cat "$T/stock.err")"
case $out in *"enrolled pi-stock.acme"*) ;; *) fail "stock enroll printed '$out'" ;; esac
start_device pi-stock acme -o ExitOnForwardFailure=yes
wait_online pi-stock.acme
reach pi-stock.acme stock || fail "stock-enrolled pi-stock.acme not reachable"
# The enrolling key may do nothing else as `enroll`.
timeout 20 ssh -F "$DEVCFG" -i "$k" -p "$JUMP_PORT" enroll@127.0.0.1 ls >"$T/enroll-ls.out" 2>&1 &&
	fail "an enroll login ran ls: $(cat "$T/enroll-ls.out")"

# 4. --uses 2: two enrollments, the third refused.
tok=$(token_create acme --uses 2)
agent_enroll 3 "$tok" --name u1 >/dev/null
agent_enroll 4 "$tok" --name u2 >/dev/null
agent_refused "third use of a 2-use token" "used up" 5 enroll "$tok" --name u3
outpost device ls | grep -q '^u3\.acme' && fail "u3 bound by a used-up token"

# 5. --ttl: expired after 2 s.
tok=$(token_create acme --ttl 2s)
sleep 3
agent_refused "expired token" "expired" 5 enroll "$tok" --name t1
outpost device ls | grep -q '^t1\.acme' && fail "t1 bound by an expired token"

# 6. revoke.
tok=$(token_create acme --uses 5)
id=$(outpost token ls | awk '$3 == "active" {print $1}' | tail -n 1)
[ -n "$id" ] || fail "no active token in token ls"
outpost token revoke "$id" >/dev/null || fail "token revoke $id"
agent_refused "revoked token" "revoked" 5 enroll "$tok" --name r1
outpost device ls | grep -q '^r1\.acme' && fail "r1 bound by a revoked token"
# the stock client is told too
timeout 30 ssh -F "$DEVCFG" -i "$(key dev-r2.acme)" -p "$JUMP_PORT" enroll@127.0.0.1 "$tok" r2 \
	>/dev/null 2>"$T/stock-revoked.err" && fail "stock enroll with a revoked token succeeded"
grep -q revoked "$T/stock-revoked.err" || fail "stock client not told 'revoked': $(cat "$T/stock-revoked.err")"

# 7. A name bound to another key is refused (agent and stock client), and
# the device keeps working.
tok=$(token_create acme --uses 3)
agent_refused "pi-hq taken by another key" "already bound to another key" 6 enroll "$tok" --name pi-hq
timeout 30 ssh -F "$DEVCFG" -i "$(key dev-thief.acme)" -p "$JUMP_PORT" enroll@127.0.0.1 "$tok" pi-stock \
	>/dev/null 2>"$T/stock-taken.err" && fail "stock enroll of a taken name succeeded"
grep -q "already bound" "$T/stock-taken.err" || fail "stock client not told the name is taken: $(cat "$T/stock-taken.err")"
reach pi-hq.acme again || fail "pi-hq.acme lost after a refused enrollment of its name"
# The token was not spent by the refusals.
agent_enroll 6 "$tok" --name pi-new >/dev/null

# 8. A junk token is refused locally, and so is a run before enrollment.
agent_refused "junk token" "not a valid enrollment token" 7 enroll "op1:junk" --name j
agent_refused "run before enroll" "enroll first" 8 run
stop_agent 1
done_ok
