#!/bin/bash
# t-loadgen.sh: bench/outpost-loadgen (the benchmarks' device simulator) keeps
# working: 50 devices it provisions register through outpostd and show online
# in `outpost ls` and `who`; a technician's stock `ssh -W` to one of them gets
# its bytes echoed back by the loadgen; after an outpostd restart every device
# comes back on its own (jittered backoff, as the agent). No timing assertions.
. "$(dirname "$0")/lib.sh"
require_outpost

N=50
LG=$OUTPOST_BUILD/bench/outpost-loadgen
[ -x "$LG" ] || fail "no $LG (build it first)"
LGST=$T/loadgen.status

# Hostile arguments are refused with a usage error, not a crash.
for bad in "-n 0" "-n 70000" "-s nohost" "-f BAD" "-r -5" "-m shout" "-z"; do
	# shellcheck disable=SC2086
	"$LG" -k "$T/lgkeys" $bad >"$T/bad.out" 2>&1
	rc=$?
	[ $rc = 2 ] || fail "loadgen $bad: status $rc, expected 2: $(cat "$T/bad.out")"
done

"$LG" -k "$T/lgkeys" -d "$STATE" -n $N -f lgf -x -q >>"$LOGDIR/loadgen.log" 2>&1 || fail "loadgen could not provision"
[ "$(outpost device ls | grep -c '^lg-[0-9]*\.lgf ')" = $N ] || fail "loadgen did not add $N devices"
user_add alice lgf
start_outpostd

registered() {
	grep -q "registered=$1 " "$LGST" 2>/dev/null
}
online_count() {
	outpost ls 2>/dev/null | grep -Ec '^lg-[0-9]+\.lgf[[:space:]]+online'
}

spawn loadgen "$LG" -k "$T/lgkeys" -n $N -f lgf -s "127.0.0.1:$JUMP_PORT" \
	-H "$STATE/ssh_host_ed25519_key.pub" -o "$LGST" -r 100 -q -v
LGPID=$LAST_PID
wait_for "$N loadgen devices registered" 60 registered $N
wait_for "$N devices online in outpost ls" 20 eval '[ "$(online_count)" = $N ]'
[ "$(outpost who | grep -c 'lg-[0-9]*\.lgf')" = $N ] || fail "outpost who does not list the $N device sessions"
[ "$(audit_count register result=ok)" -ge $N ] || fail "fewer than $N register records"

# A technician's channel to device 7: the loadgen echoes every byte.
data=$(mkdata echo 300000)
timeout 60 ssh -F "$CFG" -W lg-00007.lgf:22 jump <"$data" >"$T/data/echo.back" 2>"$LOGDIR/ssh-w.err" ||
	fail "ssh -W to lg-00007.lgf failed: $(cat "$LOGDIR/ssh-w.err")"
same_file "$data" "$T/data/echo.back"
grep -q 'channels=1 ' "$LGST" || sleep 1.2
grep -q 'channels=1 ' "$LGST" || fail "the loadgen did not count the forwarded channel: $(cat "$LGST")"

# Restart: every device comes back by itself.
stop_outpostd
wait_for "the loadgen to see the restart" 20 eval 'grep -q "registered=0 " "$LGST"'
start_outpostd
wait_for "$N devices back after a restart" 60 registered $N
wait_for "$N devices online again" 20 eval '[ "$(online_count)" = $N ]'
alive "$LGPID" || fail "the loadgen exited"
stop_pid "$LGPID" TERM 20
[ "$STOP_STATUS" = 0 ] || fail "the loadgen exited with status $STOP_STATUS"
grep -q 'final=1' "$LOGDIR/loadgen.log" || fail "no final status line from the loadgen"
wait_for "devices offline after the loadgen stopped" 20 eval '[ "$(online_count)" = 0 ]'
done_ok
