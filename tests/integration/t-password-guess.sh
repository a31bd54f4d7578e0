#!/bin/bash
# timeout: 120
# t-password-guess.sh: password and keyboard-interactive guesses (sent by a
# real SSH client, libssh's, as bots do; outpostd offers only public keys)
# count like rejected keys: at most MaxAuthTries (6) are answered on one
# connection, each is an audited `auth` failure, and a source that keeps
# guessing is blocked (PerSourcePenaltyFailures 3) while technicians from
# another address still log in.
. "$(dirname "$0")/lib.sh"
require_outpost

GUESS=$OUTPOST_BUILD/tests/integration/ssh-guess
[ -x "$GUESS" ] || fail "no $GUESS (build it first)"
OUTPOSTD_CONF_EXTRA="PerSourcePenaltyExempt 127.0.0.1/32
PerSourcePenaltyFailures 3
PerSourcePenaltyMin 60"
basic_setup

out=$("$GUESS" 127.0.2.1 "$JUMP_PORT" root 40) || fail "ssh-guess: $out"
log "one connection, 40 guesses: $out"
n=${out#denied }
[ "$n" -le 6 ] || fail "$n guesses answered on one connection (MaxAuthTries is 6)"
[ "$n" -ge 5 ] || fail "only $n guesses answered: the test did not guess"
pw=$(audit_count auth result=failure reason="password authentication is not offered" ssh_user=root)
kb=$(audit_count auth result=failure reason="keyboard-interactive authentication is not offered")
[ $((pw + kb)) -ge 6 ] || fail "$pw password and $kb keyboard-interactive failures audited, expected 6"

# Two more guessing connections reach the limit of 3 failed connections.
for i in 1 2; do "$GUESS" 127.0.2.1 "$JUMP_PORT" admin 40 >/dev/null; done
out=$("$GUESS" 127.0.2.1 "$JUMP_PORT" root 40)
log "after 3 failed connections: $out"
case $out in
"connect failed"*|"denied 0") ;;
*) fail "the guessing source is not blocked: $out" ;;
esac
before=$(audit_count auth result=failure)
[ "$(dev_ssh root@pi-hq.acme echo still)" = still ] || fail "a technician from 127.0.0.1 while 127.0.2.1 is blocked"
[ "$(audit_count auth result=failure)" = "$before" ] || fail "the blocked source still reached authentication"
done_ok
