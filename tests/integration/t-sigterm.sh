#!/bin/bash
# t-sigterm.sh: SIGTERM with a device, an open technician session and
# half-open connections ends outpostd cleanly (status 0, bounded); peers see
# the end; a restart on the same state keeps the host key (strict host key
# checking passes) and marks the device offline until it returns.
. "$(dirname "$0")/lib.sh"
require_outpost

basic_setup -o ExitOnForwardFailure=yes
dev=$DEV_PID
spawn longsession ssh -F "$CFG" -J jump root@pi-hq.acme "sleep 600"
long=$LAST_PID
wait_for "the long session" 20 eval "[ \$(audit_count connect device=pi-hq.acme result=ok) -ge 1 ]"
job eval '"$PY" "$IT_DIR/itpeer.py" hold "$JUMP_PORT" 10 5 >/dev/null'
sleep 0.5
fp=$(ssh-keygen -lf "$STATE/ssh_host_ed25519_key.pub" | awk '{print $2}')
t0=$(now_ms)
stop_outpostd
log "outpostd exited 0 in $(($(now_ms) - t0)) ms after SIGTERM"
! port_listening "$JUMP_PORT" || fail "port $JUMP_PORT still listening"
wait_for "the device ssh to notice" 15 exited "$dev"
wait_for "the technician session to end" 15 exited "$long"
wait_jobs
# each session has its disconnect record; the daemon's log one line for all
# (a line per session flooded the journal at 20,000 devices)
[ "$(audit_count disconnect device=pi-hq.acme reason='server shutting down')" = 1 ] ||
	fail "no disconnect record of the device at the shutdown"
[ "$(audit_count disconnect user=alice reason='server shutting down')" = 1 ] ||
	fail "no disconnect record of alice's session at the shutdown"
grep -q "shutdown: 2 sessions ended, each with its \"disconnect\" record in the audit log" "$DAEMON_LOG" ||
	fail "no summary line of the sessions ended at the shutdown: $(grep -a 'shutdown\|stopped' "$DAEMON_LOG" | tail -n 3)"
! grep -q "ended after .*: server shutting down" "$DAEMON_LOG" || fail "a line per session at the shutdown (LogLevel info)"
grep -Eq "stopped: [0-9]+ connections closed in [0-9]+ ms, [0-9]+ ms of CPU" "$DAEMON_LOG" ||
	fail "the stopped line does not say how long the shutdown took"
ls_line pi-hq.acme | grep -q ' offline ' || log "note: pi-hq.acme is not marked offline right after the shutdown: $(ls_line pi-hq.acme)"
start_outpostd
[ "$(ssh-keygen -lf "$STATE/ssh_host_ed25519_key.pub" | awk '{print $2}')" = "$fp" ] || fail "host key changed across a restart"
ls_line pi-hq.acme | grep -q ' offline ' || fail "pi-hq.acme not offline after the restart: $(ls_line pi-hq.acme)"
expect_refusal "pi-hq.acme before it reconnects" 'device pi-hq\.acme is offline' dev_ssh root@pi-hq.acme true
start_device pi-hq acme -o ExitOnForwardFailure=yes
wait_online pi-hq.acme
[ "$(dev_ssh root@pi-hq.acme echo back)" = back ] || fail "device after restart"
# A second SIGTERM while idle, and a SIGINT, also end it cleanly.
stop_outpostd
start_outpostd
OUTPOSTD_PID_SAVED=$OUTPOSTD_PID
stop_pid "$OUTPOSTD_PID" INT 15 || fail "outpostd ignored SIGINT"
OUTPOSTD_PID=
[ "$STOP_STATUS" = 0 ] || fail "outpostd exited $STOP_STATUS on SIGINT"
done_ok
