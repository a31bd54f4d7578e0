#!/bin/bash
# agent.sh: the device agent's footprint next to the tunnel it replaces,
# measured in one run on loopback: outpost-agent and a stock
# `ssh -N -R NAME:22:... -o ServerAliveInterval=60` both connected to the
# same outpostd, both idle for BENCH_AGENT_S seconds (default 180). Prints
# binary size, idle RSS/PSS, and keepalive traffic per hour (TCP payload
# bytes and segments on each device's connection, from ss -ti, extrapolated
# from the idle window), with the ratio agent / ssh.
#
#   bench/agent.sh [BUILD_DIR]        (default build; BENCH_AGENT_S=600 for a longer window)
set -u
export OUTPOST_BUILD=${1:-${OUTPOST_BUILD:-build}}
case $OUTPOST_BUILD in /*) ;; *) OUTPOST_BUILD=$PWD/$OUTPOST_BUILD ;; esac
SECS=${BENCH_AGENT_S:-180}
. "$(dirname "$0")/../tests/integration/lib.sh"
. "$IT_DIR/lib-agent.sh"
TEST_NAME=bench-agent

fleet_add acme
user_add alice acme
device_add pi-ssh acme
start_jump
start_device_sshd
agent_enroll 1 "$(token_create acme)" --name pi-agent >/dev/null
start_agent 1
apid=$AGENT_PID
start_device pi-ssh acme -o ServerAliveInterval=60 -o ServerAliveCountMax=3 -o ExitOnForwardFailure=yes
spid=$DEV_PID
wait_online pi-agent.acme
wait_online pi-ssh.acme
reach pi-agent.acme || fail "pi-agent.acme not reachable"
reach pi-ssh.acme || fail "pi-ssh.acme not reachable"
sleep 5		# let the logins' channels close

# counters PID: "bytes_sent bytes_received segs_out segs_in" of PID's
# connection to the jump (from the device's side).
counters() {
	ss -Htinp state established "( dport = :$JUMP_PORT )" | "$PY" -c '
import re, sys
pid, lines = sys.argv[1], sys.stdin.read().split("\n")
for i, l in enumerate(lines):
    if "pid=%s," % pid in l and i + 1 < len(lines):
        info = lines[i + 1]
        v = {k: int(n) for k, n in re.findall(r"\b(bytes_sent|bytes_received|segs_out|segs_in):(\d+)", info)}
        print(v.get("bytes_sent", 0), v.get("bytes_received", 0), v.get("segs_out", 0), v.get("segs_in", 0))
        break
' "$1"
}
rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
pss_kib() { awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup" 2>/dev/null; }
priv_kib() { awk '/^Private_(Clean|Dirty):/ { s += $2 } END { print s }' "/proc/$1/smaps_rollup" 2>/dev/null; }

t0=$(now_ms)
a0=$(counters "$apid") s0=$(counters "$spid")
[ -n "$a0" ] && [ -n "$s0" ] || fail "cannot find the devices' connections in ss"
log "idle for ${SECS}s ..."
sleep "$SECS"
a1=$(counters "$apid") s1=$(counters "$spid")
t1=$(now_ms)	# both windows: within a second of each other, and of this
alive "$apid" && alive "$spid" || fail "a device died while idle"
reach pi-agent.acme after || fail "pi-agent.acme not reachable after the idle window"

AGENT_SIZE=$(stat -c %s "$AGENT_BIN")
strip -o "$T/agent.stripped" "$AGENT_BIN" 2>/dev/null && AGENT_STRIPPED=$(stat -c %s "$T/agent.stripped") || AGENT_STRIPPED=-
SSH_SIZE=$(stat -c %s "$(command -v ssh)")
"$PY" - "$SECS" "$((t1 - t0))" "$a0" "$a1" "$s0" "$s1" \
	"$AGENT_SIZE" "$AGENT_STRIPPED" "$SSH_SIZE" \
	"$(rss_kib "$apid")" "$(rss_kib "$spid")" "$(pss_kib "$apid")" "$(pss_kib "$spid")" \
	"$(priv_kib "$apid")" "$(priv_kib "$spid")" <<-'PY'
import sys
secs, ms = int(sys.argv[1]), int(sys.argv[2])
a0, a1, s0, s1 = ([int(x) for x in s.split()] for s in sys.argv[3:7])
asize, astrip, ssize, arss, srss, apss, spss, apriv, spriv = sys.argv[7:16]
per_h = 3600000.0 / ms
def d(x1, x0): return [(b - a) * per_h for a, b in zip(x0, x1)]
ad, sd = d(a1, a0), d(s1, s0)
# on the wire: TCP payload + 52 bytes of IPv4 and TCP headers (with timestamps) per segment
aw = ad[0] + ad[1] + 52 * (ad[2] + ad[3])
sw = sd[0] + sd[1] + 52 * (sd[2] + sd[3])
def row(name, a, s, unit=""):
    try: r = "%.2f" % (float(a) / float(s)) if float(s) else "-"
    except ValueError: r = "-"
    print("%-40s %14s %14s %8s" % (name + unit, a, s, r))
print("idle window: %d s measured, extrapolated to one hour" % (ms // 1000))
print("%-40s %14s %14s %8s" % ("figure", "outpost-agent", "ssh -R", "ratio"))
row("binary size (bytes, dynamic)", asize, ssize)
row("binary size stripped (bytes)", astrip, ssize)
row("idle RSS (KiB)", arss, srss)
row("idle PSS (KiB)", apss, spss)
row("idle private memory (KiB)", apriv, spriv)
row("keepalive payload sent (bytes/h)", "%.0f" % ad[0], "%.0f" % sd[0])
row("keepalive payload received (bytes/h)", "%.0f" % ad[1], "%.0f" % sd[1])
row("segments out+in (per h)", "%.0f" % (ad[2] + ad[3]), "%.0f" % (sd[2] + sd[3]))
row("on the wire, both ways (bytes/h)", "%.0f" % aw, "%.0f" % sw)
PY
stop_agent 1
done_ok
