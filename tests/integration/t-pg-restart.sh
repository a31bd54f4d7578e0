#!/bin/bash
# timeout: 150
# t-pg-restart.sh: outpostd on PostgreSQL loses its database while a device
# and a technician are connected (docs/ARCHITECTURE.md, "The store thread
# and the mirror"), on a PostgreSQL of its own (the shared test cluster is
# never stopped):
# - the technician's established session through the device keeps working;
# - a new login is refused with the reason ("the state store is
#   unreachable") reaching the client; the log says so once;
# - presence written during the outage (the device going away, the
#   technician's session ending) is in the database once it is back;
# - PostgreSQL started again on the same port: new logins are accepted
#   within the thread's backoff, and the log says the store is back.
. "$(dirname "$0")/lib.sh"
require_outpost

PG_URI=	# our own cluster, stopped and started below
pg_db main
STORE_SPEC=$PG_DB
export OUTPOST_STORE=$STORE_SPEC
store_plumbed "$STORE_SPEC" || skip "NO POSTGRESQL IN THIS BUILD: $PLUMB_WHY"
OUTPOSTD_CONF_EXTRA="Store $STORE_SPEC"

fleet_add acme
user_add alice acme
device_add pi-hq acme
start_jump
start_device_sshd
start_device pi-hq acme
dev_pid=$DEV_PID
wait_online pi-hq.acme
grep -q "store: postgresql through the store thread" "$DAEMON_LOG" || fail "outpostd does not run the store thread on PostgreSQL"

# The technician's session: lines written to `cat` on the device come back.
mkfifo "$T/in"
dev_ssh root@pi-hq.acme cat <"$T/in" >"$T/echo.out" 2>"$T/echo.err" &
sess=$!
PIDS+=("$sess")
exec 3>"$T/in"
echo before >&3
wait_for "the session echoes" 20 grep -q before "$T/echo.out"

# ---- PostgreSQL goes away ----
"$IT_DIR/../pg/pg-stop" "$PG_OWN" >>"$LOGDIR/pg-start.log" 2>&1 || fail "pg-stop failed"
t_down=$(date +%s)
log "PostgreSQL stopped"
echo during >&3
wait_for "the established session goes on" 10 grep -q during "$T/echo.out"
wait_for "outpostd notices" 20 grep -q "store: the state store is unreachable" "$DAEMON_LOG"
REFUSE_TRIES=2 expect_refusal "a new login while the store is unreachable" \
    "state store is unreachable" dev_ssh root@pi-hq.acme true
outpost ls >"$T/ls.err" 2>&1 && fail "outpost ls worked without its database"
log "outpost ls without its database: $(head -n 1 "$T/ls.err")"
grep -Eqi "postgresql|connect|unreachable" "$T/ls.err" || fail "outpost ls does not say why it failed: $(cat "$T/ls.err")"
# presence during the outage: the session ends, the device goes away
exec 3>&-
wait_for "the technician's session ends" 10 eval '! alive '"$sess"
stop_pid "$dev_pid" TERM
wait_for "outpostd sees the device go" 10 grep -q "session .* (device pi-hq.acme) .* ended" "$DAEMON_LOG"
sleep 1

# ---- PostgreSQL comes back on the same port ----
"$IT_DIR/../pg/pg-start" "$PG_OWN" >>"$LOGDIR/pg-start.log" 2>&1 || fail "pg-start (restart) failed"
log "PostgreSQL started again"
t0=$(now_ms)
wait_for "new logins accepted again" 40 eval 'ssh -F "$CFG" jump ls >"$T/ls.remote" 2>&1'
log "logins accepted $(($(now_ms) - t0)) ms after the restart"
grep -q "store: the state store is reachable again" "$DAEMON_LOG" || fail "no log line for the store coming back"
[ "$(grep -c "store: the state store is unreachable" "$DAEMON_LOG")" = 1 ] || fail "the outage was logged more than once"
# the records written during the outage reached the database
wait_for "the device's offline presence in the database" 10 eval \
    '[ "$(store_sql "SELECT online FROM devices WHERE name = '"'pi-hq'"'")" = 0 ]'
seen=$(store_sql "SELECT last_seen FROM devices WHERE name = 'pi-hq'")
[ "$seen" -ge "$t_down" ] || fail "last_seen $seen is from before the outage ($t_down): the offline write was lost"
n=$(store_sql "SELECT count(*) FROM sessions WHERE principal IN ('alice', 'pi-hq.acme')")
[ "$n" = 0 ] || fail "$n sessions that ended during the outage are still in the database"
grep -q "queued writes are lost" "$DAEMON_LOG" && fail "outpostd lost queued writes"
stop_outpostd
done_ok
