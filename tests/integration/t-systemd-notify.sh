#!/bin/bash
# timeout: 120
# t-systemd-notify: outpostd as dist/systemd/outpostd.service.in runs it:
# started as an unprivileged user (User=, no root to drop), with
# NOTIFY_SOCKET and WATCHDOG_USEC set (Type=notify, WatchdogSec=). It sends
# READY=1 once it listens, WATCHDOG=1 well within the watchdog interval,
# STOPPING=1 on SIGTERM; it routes a technician to a device meanwhile, and
# every file it creates in the state directory belongs to that user.
. "$(dirname "$0")/lib.sh"
require_outpost
command -v setpriv >/dev/null || fail "setpriv (util-linux) is missing"

RUN_AS=nobody
RUN_GROUP=$(id -gn "$RUN_AS")
fleet_add acme
user_add alice acme
device_add pi-hq acme
# The unprivileged user must reach its state directory and the notify socket.
chmod 711 "$T"
chown -R "$RUN_AS:$RUN_GROUP" "$STATE"
# Its configuration: readable by it, and no AllowRoot (it is not root).
: >"$T/outpostd.conf"
chmod 644 "$T/outpostd.conf"

# A stand-in for systemd's notification socket: every datagram, one line.
spawn notify "$PY" -c '
import os, socket, sys, time
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
s.settimeout(1)
end = time.time() + 100
with open(out, "a") as f:
    while time.time() < end:
        try:
            d = s.recv(4096)
        except socket.timeout:
            continue
        for line in d.decode("utf-8", "replace").splitlines():
            f.write("%.3f %s\n" % (time.time(), line))
            f.flush()
' "$T/notify.sock" "$LOGDIR/notify.log"
wait_for "the notify socket" 10 test -S "$T/notify.sock"
: >>"$LOGDIR/notify.log"

DAEMON_WRAP=(env NOTIFY_SOCKET="$T/notify.sock" WATCHDOG_USEC=3000000
	setpriv --reuid="$RUN_AS" --regid="$RUN_GROUP" --clear-groups --inh-caps=-all --bounding-set=-all
	"${DAEMON_WRAP[@]}")
start_jump
wait_for "READY=1" 10 grep -q ' READY=1$' "$LOGDIR/notify.log"
[ "$(ps -o user= -p "$OUTPOSTD_PID" | tr -d ' ')" = "$RUN_AS" ] ||
	fail "outpostd runs as $(ps -o user= -p "$OUTPOSTD_PID"), not $RUN_AS"
grep -q 'running as root' "$DAEMON_LOG" && fail "outpostd says it runs as root"

# It serves as usual.
start_device_sshd
start_device pi-hq acme
wait_online pi-hq.acme
[ "$(dev_ssh root@pi-hq.acme echo through)" = through ] || fail "no route through outpostd started as $RUN_AS"

# Keepalives for the watchdog: at least 3 within 4 s (WatchdogSec=3 would
# need one every 3 s).
n0=$(grep -c ' WATCHDOG=1$' "$LOGDIR/notify.log")
sleep 4
n1=$(grep -c ' WATCHDOG=1$' "$LOGDIR/notify.log")
log "WATCHDOG=1: $((n1 - n0)) in 4 s"
[ $((n1 - n0)) -ge 3 ] || fail "only $((n1 - n0)) WATCHDOG=1 in 4 s"

stop_outpostd
grep -q ' STOPPING=1$' "$LOGDIR/notify.log" || fail "no STOPPING=1 on SIGTERM"
# Nothing in the state directory belongs to root.
others=$(find "$STATE" ! -user "$RUN_AS" -print)
[ -z "$others" ] || fail "files in the state directory not owned by $RUN_AS: $others"
log "notifications: $(awk '{ print $2 }' "$LOGDIR/notify.log" | sort | uniq -c | tr -s ' \n' ' ')"
done_ok
