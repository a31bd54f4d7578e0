#!/bin/bash
# t-auth-flood.sh: 1,000+ failed public-key authentications with unknown keys,
# 8 clients at a time from 127.0.0.2, while a device and a technician session
# stay up; afterwards the daemon still serves (from 127.0.0.1), its memory did
# not balloon, and the store is unchanged.
. "$(dirname "$0")/lib.sh"
require_outpost

basic_setup -o ExitOnForwardFailure=yes
dev=$DEV_PID
db_snapshot "$T/db.before"
spawn longsession ssh -F "$CFG" -J jump root@pi-hq.acme "sleep 600"
long=$LAST_PID
rss() { awk '/^VmRSS/ {print $2}' "/proc/$OUTPOSTD_PID/status"; }
rss0=$(rss)

# Six unknown keys per connection: the server's per-connection limit (6 by
# default) is reached on every connection.
ids=()
for k in 1 2 3 4 5 6; do ids+=(-i "$(key "stranger$k")"); done
attempt() {
	timeout 20 ssh -F "$CFG" -b 127.0.0.2 "${ids[@]}" -o IdentitiesOnly=yes -o ConnectTimeout=5 \
		-p "$JUMP_PORT" -o HostKeyAlias="[127.0.0.1]:$JUMP_PORT" "intruder$1@127.0.0.1" true >/dev/null 2>&1
	[ $? != 0 ]	# success would be a disaster
}
t0=$(now_ms)
conns=0 successes=0
while [ "$(audit_count auth result=failure)" -lt 1000 ] && [ $conns -lt 400 ] && [ $(($(now_ms) - t0)) -lt 120000 ]; do
	for i in 1 2 3 4 5 6 7 8; do job attempt "$conns-$i"; done
	wait_jobs || successes=$((successes + JOBS_FAILED))
	conns=$((conns + 8))
	alive "$OUTPOSTD_PID" || fail "outpostd died during the flood"
done
failures=$(audit_count auth result=failure)
log "$conns connections, $failures failed authentications audited in $(($(now_ms) - t0)) ms"
[ "$successes" = 0 ] || fail "$successes connections with unknown keys were let in"
if [ "$failures" -lt 1000 ]; then
	grep -qi 'ban' "$DAEMON_LOG" || fail "only $failures failed authentications after $conns connections, and no ban logged"
	log "source banned after $failures failures"
fi
alive "$dev" || fail "the device's ssh was dropped"
alive "$long" || fail "the open technician session was dropped"
[ "$(dev_ssh root@pi-hq.acme echo after)" = after ] || fail "a technician login after the flood"
[ "$(ssh -F "$CFG" jump ls | awk '$1 == "pi-hq.acme" {print $2}')" = online ] || fail "ls after the flood"
rss1=$(rss)
log "outpostd RSS ${rss0} kB before, ${rss1} kB after"
[ $((rss1 - rss0)) -lt 51200 ] || fail "outpostd grew by $((rss1 - rss0)) kB during the flood"
db_snapshot "$T/db.after"
diff "$T/db.before" "$T/db.after" >&2 || fail "the store changed"
done_ok
