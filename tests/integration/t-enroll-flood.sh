#!/bin/bash
# timeout: 180
# t-enroll-flood.sh: `enroll` logins are pre-enrollment, not a principal.
# Against an outpostd limited to 64 descriptors (PerSourceMaxStartups 8,
# LoginGraceTime 15): 60 enroll logins at once from 127.0.0.2 (paramiko, each
# holding a session channel) get at most 8 sessions, a technician's three
# logins through the jump all succeed meanwhile, the enroll sessions show in
# `outpost who` and one is kicked, the rest end at LoginGraceTime and count
# as failures, so 127.0.0.2 ends up blocked. Hostile shapes (one source
# each): a second session channel is refused, two commands on one channel
# run one, more than LIM_ENROLL_STDIN bytes of input end the login. Failed
# key attempts on a connection that then enrolls count against its source.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-agent.sh"
require_outpost

command -v prlimit >/dev/null || fail "prlimit missing (util-linux)"
DAEMON_WRAP=(prlimit --nofile=64:64 "${DAEMON_WRAP[@]}")
OUTPOSTD_CONF_EXTRA="PerSourcePenaltyExempt 127.0.0.1/32
PerSourceMaxStartups 8
LoginGraceTime 15
PerSourcePenaltyFailures 3
PerSourcePenaltyMin 120"
basic_setup
EP=("$PY" "$IT_DIR/enrollpeer.py")
k=$(key enroller)
enroll_lines() { outpost who 2>/dev/null | awk '$2 == "enroll"' | wc -l; }

# 1. The flood: 60 enroll logins from one address.
spawn enroll-flood "${EP[@]}" hold "$JUMP_PORT" 127.0.0.2 "$k" 60 25
flood=$LAST_PID
wait_for "the enroll flood to log in" 60 grep -q '^held' "$LOGDIR/enroll-flood.log"
held=$(sed -n 's/^held //p' "$LOGDIR/enroll-flood.log")
log "enroll sessions held from one address: $held of 60 tried; open descriptors: $(ls "/proc/$OUTPOSTD_PID/fd" | wc -l)"
[ "$held" -ge 1 ] || fail "no enroll login got in at all"
[ "$held" -le 8 ] || fail "one address holds $held enroll sessions (PerSourceMaxStartups 8)"
for i in 1 2 3; do
	[ "$(dev_ssh root@pi-hq.acme echo "tech$i" 2>>"$LOGDIR/tech.err")" = "tech$i" ] ||
		fail "technician login $i failed during the enroll flood: $(tail -n 2 "$LOGDIR/tech.err")"
done

# 2. Visible in `who`, kickable.
n=$(enroll_lines)
[ "$n" = "$held" ] || fail "outpost who lists $n enroll sessions, $held are held: $(outpost who)"
id=$(outpost who | awk '$2 == "enroll" {print $1; exit}')
outpost kick "$id" >/dev/null || fail "outpost kick $id"
wait_for "the kicked enroll session to end" 10 eval '[ "$(enroll_lines)" -eq $((held - 1)) ]'
grep -qE "session $id \\(enroll enroll\\)( from [^ ]*)?: kicked by an admin" "$DAEMON_LOG" || fail "no kick in the log"

# 3. LoginGraceTime ends the rest, and idle enroll logins count as failures.
wait_for "the flood's sessions to be closed" 20 grep -q '^closed' "$LOGDIR/enroll-flood.log"
line=$(grep '^closed' "$LOGDIR/enroll-flood.log")
log "enroll flood: $line"
case $line in "closed $held of $held "*) ;; *) fail "enroll sessions outlived LoginGraceTime: $line" ;; esac
[ "$(grep -c 'enroll session: login grace time exceeded' "$DAEMON_LOG")" -ge $((held - 1)) ] ||
	fail "enroll sessions did not end at LoginGraceTime"
[ "$(enroll_lines)" = 0 ] || fail "outpost who still lists enroll sessions: $(outpost who)"
[ "$("${EP[@]}" banner "$JUMP_PORT" 127.0.0.2)" = refused ] ||
	fail "127.0.0.2 is not blocked after $held idle enroll logins"

# 4. Hostile shapes, each from its own address.
log "127.0.0.2 is blocked; hostile shapes next"
before=$(audit_count command user=enroll)
"${EP[@]}" shapes "$JUMP_PORT" "$k" 127.0.0.3 127.0.0.4 127.0.0.5 5000 >"$T/shapes" || fail "hostile shapes: client failed"
[ "$(sed -n 1p "$T/shapes")" = refused ] || fail "an enroll login opened a second session channel"
ran=$(($(audit_count command user=enroll) - before))
[ "$ran" = 1 ] || fail "two commands on one enroll channel ran $ran"
[ "$(sed -n 3p "$T/shapes")" = closed ] || fail "an enroll login sent 5000 bytes of input and stayed"
grep -q 'more than 4096 bytes of input' "$DAEMON_LOG" || fail "no log line for the input cap"

# 5. Failed key attempts, then a successful enroll: still a failure of the source.
log "second channel refused, one command ran, input capped; failed keys before enrolling next"
tok=$(token_create acme --uses 3)
args=()
for i in 1 2 3; do
	args+=("$(key "guess-bad$i")" "$(key "guess$i")" "guess$i")
done
st=$("${EP[@]}" guesses "$JUMP_PORT" 127.0.0.6 "$tok" "${args[@]}" | tr '\n' ' ') ||
	fail "guess-then-enroll did not run"
[ "$st" = "0 0 0 " ] || fail "enrolls after a failed key attempt exited: $st"
outpost device ls | grep -q '^guess3\.acme' || fail "guess3.acme was not enrolled"
[ "$("${EP[@]}" banner "$JUMP_PORT" 127.0.0.6)" = refused ] ||
	fail "127.0.0.6 is not blocked after 3 connections with failed key attempts"

[ "$(dev_ssh root@pi-hq.acme echo after)" = after ] || fail "technician login at the end"
wait_for "the flood client to exit" 30 exited "$flood"
done_ok
