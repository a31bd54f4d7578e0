#!/bin/bash
# timeout: 180
# t-long-link.sh: the windows outpostd grants on a long link (issue 15).
# The technician reaches the jump through bench's outpost-delayrelay (25 ms
# each way: a 50 ms round trip). A 24 MiB upload to the device's sshd and a
# 24 MiB download from it, each several 4 MiB windows, arrive byte-exact;
# while the reader keeps up, outpostd tops the sending side's window up to
# 4 MiB again and again (its debug log says when, and how much of the last
# grant the sender had left: never none, so the window never closed; with
# libssh's own windows there are no top-ups at all). Then a
# channel into a service that never reads is pushed for a few seconds
# through the same relay: outpostd grows by at most 12 MiB (one window of
# libssh's, one deep window it may have granted while the device still took
# bytes, and their buffers).
. "$(dirname "$0")/lib.sh"
require_outpost
[ "${OUTPOST_VALGRIND:-0}" = 1 ] && skip "throughput through memcheck is not what this checks"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1:thread_local_quarantine_size_kb=64"
RELAY=$OUTPOST_BUILD/bench/outpost-delayrelay
[ -x "$RELAY" ] || fail "no $RELAY (build it first)"

p_stall=$(pick_port)
start_peer "$p_stall:stall"
fleet_add acme
user_add alice acme
device_add pi-hq acme
start_jump -v
start_device_sshd
start_device --service "8080:$p_stall" pi-hq acme
wait_online pi-hq.acme
rp=$(pick_port)
spawn relay "$RELAY" -l "$rp" -t "$JUMP_PORT" -d 25
wait_for "the delay relay" 10 port_listening "$rp"
# jump-far: the jump 25 ms away each way.
lcfg=$T/ssh_config.far
{ printf 'Host jump-far\n  HostName 127.0.0.1\n  Port %s\n  User alice\n  HostKeyAlias [127.0.0.1]:%s\n' "$rp" "$JUMP_PORT"; cat "$CFG"; } >"$lcfg"

data=$(mkdata up $((24 << 20)))
# grants WHOSE: the top-ups of WHOSE ("technician's" or "device's") window so far.
grants() { grep -c "pi-hq.acme:22: $1 window topped up" "$DAEMON_LOG"; }
# top_ups WHOSE: "ms left" of each top-up after a channel's first: the time
# since the one before and how much of its window the sender had not used.
top_ups() { grep "pi-hq.acme:22: $1 window topped up" "$DAEMON_LOG" | grep -v ', 0 ms and 0 bytes left' |
	sed 's/.*, \([0-9]*\) ms and \([0-9]*\) bytes left/\1 \2/'; }
max_gap() { top_ups "$1" | sort -n | tail -1 | cut -d' ' -f1; }
min_left() { top_ups "$1" | sort -k2n | head -1 | cut -d' ' -f2; }

ssh -F "$lcfg" -J jump-far root@pi-hq.acme "cat > $T/data/up.out" <"$data" || fail "upload through the long link failed"
same_file "$data" "$T/data/up.out"
n=$(grants "technician's")
log "upload: 24 MiB byte-exact; $n top-ups of the technician's window, longest gap $(max_gap "technician's") ms, least left $(min_left "technician's") bytes"
[ "$n" -ge 8 ] || fail "only $n top-ups of the technician's window for 24 MiB (expected one per 512 KiB while the reader keeps up)"
[ "$(min_left "technician's")" -gt 0 ] || fail "the technician's window closed before a top-up"

ssh -F "$lcfg" -J jump-far root@pi-hq.acme "cat $data" >"$T/data/down.out" || fail "download through the long link failed"
same_file "$data" "$T/data/down.out"
n=$(grants "device's")
log "download: 24 MiB byte-exact; $n top-ups of the device's window, longest gap $(max_gap "device's") ms, least left $(min_left "device's") bytes"
[ "$n" -ge 8 ] || fail "only $n top-ups of the device's window for 24 MiB"
[ "$(min_left "device's")" -gt 0 ] || fail "the device's window closed before a top-up"

# A stuck reader through the same link.
rss() { awk '/^VmRSS/ {print $2}' "/proc/$OUTPOSTD_PID/status"; }
rss0=$(rss) peak=$rss0
spawn stuck sh -c "head -c $((64 << 20)) /dev/zero | ssh -F '$lcfg' -W pi-hq.acme:8080 jump-far"
for _ in $(seq 1 50); do r=$(rss); [ "$r" -gt "$peak" ] && peak=$r; sleep 0.1; done
log "a channel into a service that never reads: outpostd RSS ${rss0} kB before, peak ${peak} kB"
[ $((peak - rss0)) -le 12288 ] || fail "outpostd grew by $((peak - rss0)) kB for one stuck channel"
done_ok
