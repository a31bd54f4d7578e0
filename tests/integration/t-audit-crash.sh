#!/bin/bash
# timeout: 180
# t-audit-crash.sh: outpostd is killed with SIGKILL 4 times in the middle of
# heavy churn (7 loops of technician logins through the jump, a loop of
# failed authentications, a loop of commands over SSH, a loop of local
# administrative changes: 10 writers of the audit log at once). After each
# crash `outpost audit verify` passes (a record is one write(2): a kill
# cannot tear it) and has grown, the store passes PRAGMA integrity_check,
# and the restarted outpostd lists no ghost sessions of the dead one and
# routes again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-access.sh"
require_outpost

ROUNDS=4
fleet_add acme
user_add alice acme
user_add admin --admin
device_add pi-hq acme
start_jump
client_configs admin
start_device_sshd
acfg=$(client_config admin)
stranger=$(key stranger)

# churn KIND I: one writer loop, bounded (60 iterations, 30 s) and ended by
# $T/stop.
churn() {
	local kind=$1 i=$2 n=0 end=$(($(now_ms) + 30000))
	while [ ! -e "$T/stop" ] && [ $n -lt 60 ] && [ "$(now_ms)" -lt $end ]; do
		case $kind in
		login) timeout 10 ssh -F "$CFG" -J jump root@pi-hq.acme true ;;
		badauth) timeout 10 ssh -F "$CFG" -i "$stranger" -o IdentityFile=none -p "$JUMP_PORT" \
			-o HostKeyAlias="[127.0.0.1]:$JUMP_PORT" x@127.0.0.1 true ;;
		remote) timeout 10 ssh -F "$acfg" jump who ;;
		admin) "$OUTPOST_BIN" -d "$STATE" fleet add "churn-$i-$n" && "$OUTPOST_BIN" -d "$STATE" fleet rm "churn-$i-$n" ;;
		esac
		n=$((n + 1))
	done >/dev/null 2>&1
	echo "$kind $i: $n iterations" >>"$LOGDIR/churn.log"
	return 0
}

integrity() {
	local r
	r=$(sqlite3 "$STATE/outpost.db" 'PRAGMA integrity_check' 2>&1)
	[ "$r" = ok ] || fail "after crash $1: integrity_check: $r"
}

prev_n=0
for round in $(seq 1 $ROUNDS); do
	if [ $round -gt 1 ]; then
		start_outpostd
	fi
	start_device pi-hq acme
	dev=$DEV_PID
	wait_online pi-hq.acme
	# No ghosts: the sessions of the killed daemon are gone from who.
	if ! try_for 5 eval '[ "$(outpost who | wc -l)" = 1 ]'; then
		outpost who >&2
		fail "round $round: who lists other sessions than the new device's"
	fi
	[ "$(dev_ssh root@pi-hq.acme echo up)" = up ] || fail "round $round: no route after the restart"
	rm -f "$T/stop"
	for i in 1 2 3 4 5 6 7; do job churn login "$i"; done
	job churn badauth 8
	job churn remote 9
	job churn admin "$round"
	# once the churn is under way (30 records, at most 30 s: sanitizer builds
	# are slow), at a random moment
	try_for 30 eval '[ $(wc -l <"$AUDIT") -ge $((prev_n + 30)) ]' || log "round $round: slow churn"
	sleep "$((RANDOM % 2)).$((RANDOM % 10))"
	before=$(wc -l <"$AUDIT")
	stop_pid "$OUTPOSTD_PID" KILL
	OUTPOSTD_PID=
	log "round $round: outpostd killed with SIGKILL (audit.log had $before lines just before)"
	touch "$T/stop"
	wait_jobs
	exited "$dev" || stop_pid "$dev"
	# The log: every line a record, the chain intact, more records than before.
	n=$(wc -l <"$AUDIT")
	if ! "$OUTPOST_BIN" -d "$STATE" audit verify >"$T/verify" 2>&1; then
		cp "$AUDIT" "$LOGDIR/audit.log.round$round"
		fail "after crash $round: audit verify: $(cat "$T/verify")"
	fi
	expect_output "$T/verify" "^audit log OK: $n records\$" "audit verify after crash $round"
	[ $((n - prev_n)) -ge 30 ] || fail "round $round: only $((n - prev_n)) new records: no churn?"
	log "round $round: $n records ($((n - prev_n)) new), verify OK"
	[ "$(tail -c 1 "$AUDIT" | od -An -c | tr -d ' ')" = '\n' ] || fail "after crash $round: the log does not end with a newline"
	integrity "$round"
	prev_n=$n
done
cat "$LOGDIR/churn.log" >&2
[ "$(audit_count connect user=alice device=pi-hq.acme result=ok)" -ge 20 ] || fail "too few logins during the churn"
[ "$(audit_count auth result=failure key_fp="$(fp "$stranger.pub")")" -ge 4 ] || fail "too few failed auths during the churn"

# After the last crash: a clean run, a clean stop, and the chain still holds.
start_outpostd
start_device pi-hq acme
wait_online pi-hq.acme
[ "$(dev_ssh root@pi-hq.acme echo final)" = final ] || fail "no route after the last restart"
outpost fleet ls >"$T/fleets" || fail "fleet ls"
! grep -q churn "$T/fleets" || log "note: churn fleets left by a writer cut off between add and rm: $(grep -c churn "$T/fleets")"
stop_outpostd
outpost audit verify >"$T/verify" 2>&1 || fail "final audit verify: $(cat "$T/verify")"
integrity final
done_ok
