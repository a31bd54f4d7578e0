#!/bin/bash
# t-bad-input.sh: hostile bytes before authentication (random data, broken
# and truncated banners and packets, a KEXINIT with a 2 GiB name-list, held
# half-open connections): the daemon survives, keeps serving the device and
# technicians already there and new ones, and the store is unchanged.
. "$(dirname "$0")/lib.sh"
require_outpost

basic_setup -o ExitOnForwardFailure=yes -o ServerAliveInterval=5
dev=$DEV_PID
db_snapshot "$T/db.before"
# A technician session that stays open through it all.
spawn longsession ssh -F "$CFG" -J jump root@pi-hq.acme "sleep 600"
long=$LAST_PID
wait_for "the long session to reach the device" 20 eval "grep -q 'session opened\|Accepted publickey' $LOGDIR/sshd-dev0.log"

job eval '"$PY" "$IT_DIR/itpeer.py" hold "$JUMP_PORT" 40 8 >/dev/null'
cases=$("$PY" "$IT_DIR/itpeer.py" junk-cases x)
for round in 1 2; do
	for c in $cases; do
		t0=$(now_ms)
		timeout 30 "$PY" "$IT_DIR/itpeer.py" junk "$JUMP_PORT" "$c" || fail "junk case $c: client status $?"
		alive "$OUTPOSTD_PID" || fail "outpostd died on junk case $c"
		[ "$round" = 1 ] && log "junk $c: closed after $(($(now_ms) - t0)) ms"
	done
done
# Many at once.
for c in $cases; do job timeout 60 "$PY" "$IT_DIR/itpeer.py" junk "$JUMP_PORT" "$c"; done
# While 40 half-open connections are held, new logins still work.
[ "$(dev_ssh root@pi-hq.acme echo during)" = during ] || fail "a new login while junk connections are open"
wait_jobs || fail "$JOBS_FAILED junk clients failed"
alive "$OUTPOSTD_PID" || fail "outpostd died"
alive "$dev" || fail "the device's ssh was dropped"
alive "$long" || fail "the open technician session was dropped"
[ "$(dev_ssh root@pi-hq.acme echo after)" = after ] || fail "a new login after the junk"
db_snapshot "$T/db.after"
diff "$T/db.before" "$T/db.after" >&2 || fail "the store changed"
done_ok
