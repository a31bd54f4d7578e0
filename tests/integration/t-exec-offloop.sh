#!/bin/bash
# t-exec-offloop.sh: remote commands run off outpostd's event loop. While the
# store is held by another writer (another process's write transaction: the
# stall a database over the network gives), two admin commands wait for it at
# once; meanwhile an established technician session's keepalives are answered
# without delay, and both commands complete once the store is free. With the
# store locked again, a new login and its command end without waiting for the
# lock (their store writes wait in the store thread's queue; on SQLite's old
# direct path the loop waited out the lock), and nothing queued is dropped.
# Then the client of a waiting command is killed: its job finishes into
# nothing and outpostd goes on (ASan: no use after free). Run on outpostd's
# old in-loop commands, the keepalives waited for the whole hold.
. "$(dirname "$0")/lib.sh"
require_outpost
[ "$JUMP_MODE" = outpost ] || { log "outpostd only"; done_ok; }

HOLD=3		# seconds the store stays locked
BOUND=1500	# ms: a keepalive slower than this waited for the store

fleet_add acme
user_add alice acme
user_add root-admin --admin
MPORT=$(pick_port)
OUTPOSTD_CONF_EXTRA="MetricsListen 127.0.0.1:$MPORT"
start_jump
acfg=$(client_config root-admin)
cm=(-o "ControlPath=$T/cm-admin" -o ControlMaster=no)

# The admin's connection is up before the store is locked (a login writes the store).
ssh -F "$acfg" -o "ControlPath=$T/cm-admin" -o ControlMaster=yes -o ControlPersist=120 -f -N jump ||
	fail "admin ControlMaster did not start"

# The technician's session, answering keepalives, also logged in beforehand.
mkfifo "$T/ka.in"
"$PY" "$IT_DIR/itpeer.py" keepalive "$JUMP_PORT" alice "$(key alice)" <"$T/ka.in" >"$T/ka.out" 2>"$T/ka.err" &
KA_PID=$!
PIDS+=("$KA_PID")
exec 7>"$T/ka.in"
wait_for "the technician's session" 15 grep -q ready "$T/ka.out"
sleep 2		# the logins' records reach the audit anchor before the lock

# Another writer holds the store: both commands wait for it on the workers.
"$PY" -c '
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
c.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
c.execute("COMMIT")
print("released", flush=True)' "$STATE/outpost.db" "$HOLD" >"$T/lock.out" 2>&1 &
LOCK_PID=$!
PIDS+=("$LOCK_PID")
wait_for "the store locked" 10 grep -q locked "$T/lock.out"
t0=$(now_ms)
for f in beta gamma; do
	job timeout 60 ssh -F "$acfg" "${cm[@]}" jump fleet add "$f"
done
wait_jobs || fail "$JOBS_FAILED of the two commands failed while the store was held"
took=$(($(now_ms) - t0))
grep -q released "$T/lock.out" || fail "the commands finished before the store was released"
exec 7>&-
wait "$KA_PID" 2>/dev/null
forget_pid "$KA_PID"
read -r worst sent < <(tail -1 "$T/ka.out")
log "two commands waited ${took} ms for the store; slowest keepalive ${worst} ms of ${sent}"
[ "${sent:-0}" -ge 10 ] || fail "the technician's session sent only ${sent:-0} keepalives: $(cat "$T/ka.err")"
[ "$worst" -lt "$BOUND" ] ||
	fail "a keepalive took ${worst} ms while commands waited for the store (bound ${BOUND} ms): the event loop waited with them"
outpost fleet ls | grep -q '^beta' || fail "fleet beta missing"
outpost fleet ls | grep -q '^gamma' || fail "fleet gamma missing"
for f in beta gamma; do
	[ "$(audit_count admin command="fleet add $f" result=ok)" = 1 ] || fail "no admin record for fleet add $f"
	[ "$(audit_count command command="fleet add $f" status=0)" = 1 ] || fail "no command record for fleet add $f"
done

# The store locked again, until the test lets it go (at most 60 s).
metric() { curl -s "http://127.0.0.1:$MPORT/metrics" | sed -n "s/^$1 //p"; }
"$PY" -c '
import os, sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
c.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
end = time.monotonic() + 60
while not os.path.exists(sys.argv[2]) and time.monotonic() < end:
	time.sleep(0.05)
c.execute("COMMIT")
print("released", flush=True)' "$STATE/outpost.db" "$T/unlock2" >"$T/lock2.out" 2>&1 &
LOCK_PID=$!
PIDS+=("$LOCK_PID")
wait_for "the store locked again" 10 grep -q locked "$T/lock2.out"

# A new login meanwhile: its session's records wait in the store thread's
# queue, not on the loop (the loop answers from its copy of the store). On
# the direct path the loop waited out SQLite's 5 s for the lock at the login.
bcfg=$(client_config alice)
t0=$(now_ms)
out=$(timeout 30 ssh -F "$bcfg" jump whoami) || fail "alice's login while the store was locked failed"
took=$(($(now_ms) - t0))
echo "$out" | grep -q alice || fail "whoami while the store was locked: $out"
grep -q released "$T/lock2.out" && fail "the store was released before the login ended"
log "a login and whoami while the store was locked: ${took} ms"
[ "$took" -lt 4000 ] || fail "a login took ${took} ms while the store was locked: it waited for the lock"
wait_for "whoami off the workers" 10 eval '[ "$(metric outpost_command_jobs)" = 0 ]'
[ -n "$(metric outpost_store_lock_waits_total)" ] || fail "no outpost_store_lock_waits_total"

# A command whose channel closes while it waits (its mux client killed): it
# completes into nothing. Each step waits for the one before it (the job on a
# worker, outpostd seeing its channel close), then the lock is let go.
ssh -F "$acfg" "${cm[@]}" jump fleet add delta >/dev/null 2>&1 &
CL_PID=$!
PIDS+=("$CL_PID")
wait_for "delta's command on a worker" 15 eval '[ "$(metric outpost_command_jobs)" = 1 ]'
kill -KILL "$CL_PID" 2>/dev/null
wait_for "delta's channel closed" 15 eval '[ "$(metric "outpost_channels{kind=\"exec\"}")" = 0 ]'
touch "$T/unlock2"
wait_for "the store released" 10 grep -q released "$T/lock2.out"
wait_for "delta's command done" 15 grep -q "command 'fleet' of session [0-9]* exited [0-9]* after its channel closed" \
	"$LOGDIR/outpostd.log"
status=$(sed -n "s/.*command 'fleet' of session [0-9]* exited \([0-9]*\) after its channel closed.*/\1/p" "$LOGDIR/outpostd.log")
if [ "$status" = 0 ]; then
	outpost fleet ls | grep -q '^delta' || fail "fleet delta missing: the command did not complete"
else
	# a loaded machine: the steps outlasted the worker's 5 s wait for the lock
	log "delta's command waited out the lock (exit $status)"
	[ "$(audit_count admin command="fleet add delta" result=failed)" = 1 ] ||
		fail "delta's command exited $status without its failed admin record"
	outpost fleet add delta >/dev/null || fail "fleet add delta after the lock"
fi
# what waited in the store thread's queue reached the store, none of it dropped
wait_for "the store thread's queue written" 10 eval '[ "$(metric outpost_store_queue_records)" = 0 ]'
[ "$(metric outpost_store_queue_dropped_total)" = 0 ] || fail "queued store writes were dropped"
out=$(ssh -F "$acfg" jump fleet ls) || fail "outpostd no longer runs commands"
echo "$out" | grep -q '^delta' || fail "remote fleet ls lacks delta: $out"
ssh -F "$acfg" -o "ControlPath=$T/cm-admin" -O exit jump 2>/dev/null
outpost audit verify >/dev/null || fail "audit verify: $(outpost audit verify 2>&1)"
done_ok
