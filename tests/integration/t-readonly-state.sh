#!/bin/bash
# timeout: 240
# t-readonly-state.sh: the state directory is an ext4 file system of its own
# (a 64 MiB loop mount). First it fills up (ENOSPC), then space comes back,
# then the file system turns read-only under the running daemon (an ext4
# error with errors=remount-ro, as a failing disk does). Through all of it
# routing goes on: an established stream keeps flowing, new technician
# connections and a device's (re)registration work; admin commands, remote
# and local, fail with a clear reason; outpostd logs a clear error, and each
# audit record that cannot be appended goes to its log in full. audit.log
# never holds half a record, and once it takes records again an audit-gap
# record counts the missing ones and `outpost audit verify` passes;
# `ssh jump metrics` says outpost_store_up 0 while the disk is full or
# read-only and 1 once space comes back.
# docs/HARDENING.md explains the choice (routing goes on, audit falls back).
. "$(dirname "$0")/lib.sh"
require_outpost

command -v mkfs.ext4 >/dev/null || fail "mkfs.ext4 missing (e2fsprogs)"
MNT=$(mktemp -d /tmp/outpost-state.XXXXXX)
truncate -s 64M "$MNT.img" && mkfs.ext4 -q -F -m 0 "$MNT.img" || fail "mkfs.ext4"
mount -o loop,errors=remount-ro "$MNT.img" "$MNT" || skip "cannot loop-mount a file system here"
# Unmounted once this scenario's processes are gone (the daemon keeps files open).
( while kill -0 "$MAIN_PID" 2>/dev/null; do sleep 0.5; done
  umount "$MNT" || umount -l "$MNT"; rmdir "$MNT"; rm -f "$MNT.img" ) </dev/null >/dev/null 2>&1 &
DEV=$(basename "$(findmnt -n -o SOURCE "$MNT")")
[ -w "/sys/fs/ext4/$DEV/trigger_fs_error" ] || fail "no /sys/fs/ext4/$DEV/trigger_fs_error"
STATE=$MNT/state
AUDIT=$STATE/audit.log
mkdir -m 0700 "$STATE"

fleet_add acme
user_add alice --admin acme
user_add bob acme
device_add pi-hq acme
device_add pi-2 acme
start_jump
start_device_sshd
start_device pi-hq acme
wait_online pi-hq.acme
bcfg=$(client_config bob)

# alice's established session: a line every 0.2 s until the end.
spawn stream ssh -F "$CFG" -J jump root@pi-hq.acme 'i=0; while [ $i -lt 3000 ]; do echo "tick $i"; i=$((i+1)); sleep 0.2; done'
stream=$LAST_PID
wait_for "alice's stream" 15 grep -q "tick 3" "$LOGDIR/stream.log"
ticks() { grep -c '^tick' "$LOGDIR/stream.log"; }
flowing() {
	local a b
	a=$(ticks)
	sleep 1
	b=$(ticks)
	[ "$b" -gt "$a" ] || fail "$1: alice's established stream stopped ($a ticks, then $b)"
}

# routing_works WHAT: new connections to both devices, one as bob.
routing_works() {
	[ "$(dev_ssh root@pi-hq.acme echo "$1")" = "$1" ] || fail "$1: a new connection to pi-hq.acme"
	[ "$(ssh -F "$bcfg" -J jump root@pi-2.acme echo "$1")" = "$1" ] || fail "$1: bob to pi-2.acme"
}

# admin_refused WHAT REGEX: remote and local admin changes fail, saying why.
admin_refused() {
	local rc
	ssh -F "$CFG" jump fleet add "f-$RANDOM" >"$T/admin.out" 2>"$T/admin.err"
	rc=$?
	[ $rc != 0 ] || fail "$1: remote fleet add succeeded"
	expect_output "$T/admin.err" "$2" "$1: remote fleet add"
	log "$1: remote fleet add (status $rc): $(cat "$T/admin.err")"
	"$OUTPOST_BIN" -d "$STATE" fleet add "g-$RANDOM" >"$T/admin.out" 2>"$T/admin.err"
	rc=$?
	[ $rc != 0 ] || fail "$1: local fleet add succeeded"
	expect_output "$T/admin.err" "$2" "$1: local fleet add"
	log "$1: local fleet add (status $rc): $(cat "$T/admin.err")"
}

# store_metrics WHAT UP: `ssh jump metrics` says outpost_store_up UP (the
# OutpostStoreUnreachable alert's metric) and counts the failures so far.
store_metrics() {
	ssh -F "$CFG" jump metrics >"$T/metrics" 2>&1 || fail "$1: ssh jump metrics: $(head -c 300 "$T/metrics")"
	expect_output "$T/metrics" "^outpost_store_up $2\$" "$1: outpost_store_up"
	log "$1: $(grep -E '^outpost_store_(up|errors_total) ' "$T/metrics" | tr '\n' ' ')"
}

ends_whole() {
	[ ! -s "$AUDIT" ] || [ "$(tail -c 1 "$AUDIT" | od -An -c | tr -d ' ')" = '\n' ] ||
		fail "$1: audit.log ends in half a record"
}

# ---- 1. the disk fills up ----
dd if=/dev/zero of="$MNT/filler" bs=1M 2>/dev/null
dd if=/dev/zero of="$MNT/filler2" bs=1k 2>/dev/null
sync "$MNT/filler2"
[ "$(df --output=avail "$MNT" | tail -n 1)" -lt 16 ] || fail "the file system did not fill up"
lines0=$(wc -l <"$AUDIT")
log "disk full: $(df -h --output=used,avail "$MNT" | tail -n 1); audit.log has $lines0 lines"
start_device pi-2 acme
pi2=$DEV_PID
wait_for "pi-2.acme registered (in the daemon's log)" 20 grep -q "device pi-2.acme: service port 22 registered" "$DAEMON_LOG"
routing_works full
flowing "disk full"
admin_refused "disk full" "No space left on device|disk full|cannot be written"
store_metrics "disk full" 0
grep -q "audit: cannot append to audit.log: No space left on device" "$DAEMON_LOG" ||
	fail "no clear error about the audit log in the daemon's log"
n=$(grep -c "audit record not in audit.log: {.*\"event\":\"connect\"" "$DAEMON_LOG")
[ "$n" -ge 2 ] || fail "only $n connect records went to the daemon's log while audit.log was full"
ends_whole "disk full"
log "disk full: routing went on; $(grep -c 'audit record not in audit.log' "$DAEMON_LOG") records went to the daemon's log"

# ---- 2. space comes back ----
rm -f "$MNT/filler" "$MNT/filler2"
routing_works freed
wait_for "the audit-gap record" 10 eval '[ "$(audit_count audit-gap)" -ge 1 ]'
[ "$(audit_count connect user=alice device=pi-hq.acme result=ok)" -ge 2 ] || fail "connects after space came back are not audited"
"$OUTPOST_BIN" -d "$STATE" audit verify >"$T/verify" 2>&1 || fail "audit verify after the disk was full: $(cat "$T/verify")"
# Every record outpostd could not append is counted by an audit-gap record.
gaps=$(grep '"event":"audit-gap"' "$AUDIT" | sed 's/.*"lost":\([0-9]*\).*/\1/' | awk '{ s += $1 } END { print s + 0 }')
fell=$(grep -c 'outpostd\[error\] audit record not in audit.log' "$DAEMON_LOG")
[ "$gaps" = "$fell" ] || fail "audit-gap records count $gaps missing records, the daemon's log has $fell"
log "space back: $(cat "$T/verify"); gap: $(grep '"audit-gap"' "$AUDIT" | head -n 1 | cut -c1-160)"
outpost fleet add afterfull >/dev/null || fail "fleet add once space came back"
ssh -F "$CFG" jump metrics >/dev/null 2>&1	# the first check may still see failures from before
store_metrics "space back" 1
ends_whole "space back"

# ---- 3. the file system turns read-only under the daemon ----
echo "outpost test: read-only state" >"/sys/fs/ext4/$DEV/trigger_fs_error"
touch "$MNT/probe" 2>/dev/null && fail "the file system is still writable"
log "read-only: $(findmnt -n -o OPTIONS "$MNT")"
stop_pid "$pi2"	# a device reconnects while the state is read-only
start_device pi-2 acme
wait_for "pi-2.acme registered again" 20 eval '[ "$(grep -c "device pi-2.acme: service port 22 registered" "$DAEMON_LOG")" -ge 2 ]'
routing_works readonly
flowing "read-only"
admin_refused "read-only" "Read-only file system|read-only"
store_metrics "read-only" 0
grep -q "audit: cannot append to audit.log: Read-only file system" "$DAEMON_LOG" ||
	fail "no clear error about the read-only audit log in the daemon's log"
[ "$(ssh -F "$CFG" jump ls | awk '$1 == "pi-hq.acme" {print $2}')" = online ] || fail "remote ls on a read-only state"
ends_whole "read-only"
alive "$stream" || fail "alice's stream ended"
stop_outpostd
log "read-only: outpostd stopped cleanly; $(ticks) ticks streamed in all"
done_ok
