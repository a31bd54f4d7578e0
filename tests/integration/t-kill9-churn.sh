#!/bin/bash
# stores: sqlite postgresql
# timeout: 280
# t-kill9-churn.sh: both writers of the state are killed with SIGKILL at
# random moments, 8 rounds. Each round restarts outpostd and, while three
# autossh devices reconnect, technicians transfer 1 MiB through the jump,
# strangers fail to authenticate, an admin runs commands over SSH and the
# local `outpost` adds and removes fleets and users, outpostd gets SIGKILL
# (in rounds 3 and 6 within 0.3 s of starting, in the devices' reconnect
# storm; in the others 0-1.5 s after the churn is under way) and so does the
# local `outpost` that is running at that moment. After every
# kill, before anything else touches the state: audit.log ends with a
# newline (never half a record), `PRAGMA integrity_check` is ok and
# `outpost audit verify` passes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-access.sh"
require_outpost

ROUNDS=8
fleet_add acme
user_add alice acme
user_add admin --admin
for d in 1 2 3; do device_add "pi-$d" acme; done
start_jump
client_configs admin
acfg=$(client_config admin)
start_device_sshd
for d in 1 2 3; do
	start_device --autossh "pi-$d" acme -o ServerAliveInterval=1 -o ServerAliveCountMax=2
done
for d in 1 2 3; do wait_online "pi-$d.acme" 30; done
stranger=$(key stranger)
payload=$(mkdata payload $((1 << 20)))

churn() {
	local kind=$1 i=$2 n=0 end=$(($(now_ms) + 20000))
	while [ ! -e "$T/stop" ] && [ $n -lt 50 ] && [ "$(now_ms)" -lt $end ]; do
		case $kind in
		xfer) timeout 10 ssh -F "$CFG" -J jump "root@pi-$i.acme" "cat > $T/dev/x-$i" <"$payload" ;;
		badauth) timeout 10 ssh -F "$CFG" -i "$stranger" -o IdentityFile=none -p "$JUMP_PORT" \
			-o HostKeyAlias="[127.0.0.1]:$JUMP_PORT" x@127.0.0.1 true ;;
		remote) timeout 10 ssh -F "$acfg" jump device ls ;;
		local) "$OUTPOST_BIN" -d "$STATE" fleet add "k-$i-$n" && "$OUTPOST_BIN" -d "$STATE" user add "u-$i-$n" \
			--key "$stranger.pub" --fleet "k-$i-$n" && "$OUTPOST_BIN" -d "$STATE" user rm "u-$i-$n" &&
			"$OUTPOST_BIN" -d "$STATE" fleet rm "k-$i-$n" ;;
		esac
		n=$((n + 1))
		[ "$kind" = xfer ] || sleep 0.05
	done >/dev/null 2>&1
	echo "$kind $i: $n" >>"$LOGDIR/churn.log"
	return 0
}

# check ROUND: the state as the kill left it.
check() {
	local r
	if [ -s "$AUDIT" ] && [ "$(tail -c 1 "$AUDIT" | od -An -c | tr -d ' ')" != '\n' ]; then
		cp "$AUDIT" "$LOGDIR/audit.log.round$1"
		fail "round $1: audit.log ends in half a record"
	fi
	r=$(store_check)
	[ "$r" = ok ] || fail "round $1: integrity_check: $r"
	if ! "$OUTPOST_BIN" -d "$STATE" audit verify >"$T/verify" 2>&1; then
		cp "$AUDIT" "$LOGDIR/audit.log.round$1"
		fail "round $1: audit verify: $(cat "$T/verify")"
	fi
}

lines=0 cli_kills=0
for round in $(seq 1 $ROUNDS); do
	rm -f "$T/stop"
	[ $round -gt 1 ] && {
		# outpostd comes back while the devices' autossh are already knocking
		"${DAEMON_WRAP[@]}" "$OUTPOSTD_BIN" -f "$T/outpostd.conf" -d "$STATE" -l "127.0.0.1:$JUMP_PORT" </dev/null >>"$DAEMON_LOG" 2>&1 &
		OUTPOSTD_PID=$!
		PIDS+=("$OUTPOSTD_PID")
		PID_NAME[$OUTPOSTD_PID]=outpostd
	}
	for d in 1 2 3; do job churn xfer "$d"; done
	job churn badauth 0
	job churn remote 0
	job churn local "$round"
	# Rounds 3 and 6 kill the daemon while it starts up; the others once the
	# churn is under way (10 new records, at most 30 s), at a random moment.
	if [ $((round % 3)) = 0 ]; then
		delay=$((RANDOM % 300))
	else
		try_for 30 eval '[ $(wc -l <"$AUDIT") -ge $((lines + 10)) ]' || log "round $round: slow churn"
		delay=$((RANDOM % 1500))
	fi
	sleep "$((delay / 1000)).$(printf %03d $((delay % 1000)))"
	listening=no
	port_listening "$JUMP_PORT" && listening=yes
	victim=$(pgrep -x -P "$(jobs -p | tr '\n' ',' | sed 's/,$//')" outpost 2>/dev/null | head -n 1)
	kill -KILL "$OUTPOSTD_PID"
	[ -n "$victim" ] && kill -KILL "$victim" 2>/dev/null && cli_kills=$((cli_kills + 1))
	wait "$OUTPOSTD_PID" 2>/dev/null
	forget_pid "$OUTPOSTD_PID"
	OUTPOSTD_PID=
	touch "$T/stop"
	wait_jobs
	check "$round"
	n=$(wc -l <"$AUDIT")
	log "round $round: SIGKILL ${delay} ms after $([ $((round % 3)) = 0 ] && echo start || echo "10 records") (listening: $listening${victim:+, a local outpost killed too}); $n records ($((n - lines)) new), integrity ok, verify ok"
	lines=$n
done
cat "$LOGDIR/churn.log" >&2
[ "$lines" -ge 60 ] || fail "only $lines audit records in $ROUNDS rounds: no churn?"
[ "$(audit_count connect result=ok)" -ge 4 ] || fail "too few transfers got through during the churn"
[ $cli_kills -ge 1 ] || log "note: no local outpost was running at any of the kills"

# A last clean run: routes again, stops cleanly, the chain holds.
start_outpostd
for d in 1 2 3; do wait_online "pi-$d.acme" 40; done
dev_ssh "root@pi-2.acme" "cat > $T/dev/final" <"$payload" || fail "no route after the last restart"
same_file "$payload" "$T/dev/final"
stop_outpostd
check final
log "$ROUNDS SIGKILLs of outpostd and $cli_kills of the local outpost; $(wc -l <"$AUDIT") records verify"
done_ok
