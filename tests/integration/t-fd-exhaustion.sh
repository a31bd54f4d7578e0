#!/bin/bash
# timeout: 120
# t-fd-exhaustion.sh: outpostd runs out of file descriptors (started with a
# limit of 40) while 100 half-open connections are held. It must not spin
# (the listener stays readable: accept fails, epoll wakes again at once):
# it sheds what it cannot serve, using less than a third of a CPU over 4 s,
# warns at most every 10 s, keeps the device's session, and serves new
# logins once the holders are gone.
. "$(dirname "$0")/lib.sh"
require_outpost

command -v prlimit >/dev/null || fail "prlimit missing (util-linux)"
DAEMON_WRAP=(prlimit --nofile=40:40 "${DAEMON_WRAP[@]}")
basic_setup
dev=$DEV_PID
[ "$(awk '/^Max open files/ {print $4}' "/proc/$OUTPOSTD_PID/limits")" = 40 ] || fail "the limit did not reach outpostd"
cpu() { awk '{print $14 + $15}' "/proc/$OUTPOSTD_PID/stat"; }

spawn holder "$PY" "$IT_DIR/itpeer.py" hold "$JUMP_PORT" 100 12
wait_for "outpostd to run out of descriptors" 10 grep -q "accept: Too many open files" "$DAEMON_LOG"
c0=$(cpu)
sleep 4
used=$(($(cpu) - c0))
hz=$(getconf CLK_TCK)
log "outpostd used $used ticks (of $((4 * hz)) in 4 s) while out of descriptors; open: $(ls "/proc/$OUTPOSTD_PID/fd" | wc -l)"
[ "$used" -lt $((4 * hz / 3)) ] || fail "outpostd spins while out of descriptors: $used ticks in 4 s"
warned=$(grep -c "accept: Too many open files" "$DAEMON_LOG")
[ "$warned" -le 2 ] || fail "$warned accept warnings in a few seconds: the log is flooded"
alive "$dev" || fail "the device's session was dropped"
wait_for "the holder to let go" 30 exited "$LAST_PID"
[ "$(dev_ssh root@pi-hq.acme echo after)" = after ] || fail "a login once descriptors are free again"
grep "accept: Too many open files" "$DAEMON_LOG" | head -n 1 >&2
done_ok
