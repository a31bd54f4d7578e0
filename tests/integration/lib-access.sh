# lib-access.sh: helpers shared by the access-control, admin and audit
# scenarios (t-access-*, t-admin-*, t-audit-*). Source it after lib.sh.

# jump_cmd USER COMMAND...: USER runs an outpost command over SSH on the jump
# (an exec request); stdin is the caller's, so `--key -` can be piped.
jump_cmd() {
	local cfg
	cfg=$(client_config "$1")
	shift
	timeout 30 ssh -F "$cfg" jump "$@"
}

# fp PUBFILE: the key's SHA256 fingerprint as ssh-keygen -l prints it.
fp() {
	ssh-keygen -l -f "$1" | awk '{print $2}'
}

# start_session NAME USER TARGET [SECONDS]: USER logs in to TARGET through
# the jump with -J and holds the login open (the device runs
# `echo READY; sleep SECONDS`, default 30); SESS_PID is the ssh's PID, its
# output in $LOGDIR/sess-NAME.log. wait_ready NAME waits for READY.
start_session() {
	local name=$1 user=$2 target=$3 secs=${4:-30}
	: >"$LOGDIR/sess-$name.log"
	spawn "sess-$name" ssh -F "$(client_config "$user")" -J jump "root@$target" "echo READY; exec sleep $secs"
	SESS_PID=$LAST_PID
}

wait_ready() {
	wait_for "session $1 to be open" 20 grep -q READY "$LOGDIR/sess-$1.log"
}

# measure_exit PID LIMIT_MS DESC [T0_MS]: waits (bounded, 20 s) for one of our
# children to exit; ELAPSED = ms from T0_MS (default: now) to its exit; fails if
# it is still alive after 20 s or exited later than LIMIT_MS.
measure_exit() {
	local pid=$1 limit=$2 desc=$3 t0=${4:-$(now_ms)} deadline
	deadline=$((t0 + 20000))
	while ! exited "$pid"; do
		[ "$(now_ms)" -ge "$deadline" ] && fail "$desc: still running $(($(now_ms) - t0)) ms later"
		sleep 0.02
	done
	ELAPSED=$(($(now_ms) - t0))
	log "$desc: ended after $ELAPSED ms (limit $limit ms, exit status $EXIT_STATUS)"
	echo "$desc $ELAPSED" >>"$LOGDIR/timings"
	[ "$ELAPSED" -le "$limit" ] || fail "$desc: ended after $ELAPSED ms, limit $limit ms"
}

# store_snapshot FILE: the store's listings, for "unchanged" checks.
store_snapshot() {
	db_snapshot "$1"
	local t
	for t in users fleets devices keys grants; do
		store_sql "SELECT * FROM $t ORDER BY 1, 2" >>"$1" 2>/dev/null
	done
	return 0
}

# json_ok FILE DESC: FILE holds one valid JSON document.
json_ok() {
	"$PY" -m json.tool "$1" >/dev/null 2>"$T/json.err" ||
		fail "$2: not JSON ($(head -c 300 "$T/json.err")): $(head -c 300 "$1")"
}

# verify_copy FILE: `outpost audit verify` on a state dir holding only a copy
# of FILE as its audit log; status in VERIFY_RC, output in VERIFY_OUT.
verify_copy() {
	local d
	d=$(mktemp -d "$T/verify.XXXXXX")
	cp "$1" "$d/audit.log"
	chmod 600 "$d/audit.log"
	VERIFY_OUT=$(env -u OUTPOST_STORE "$OUTPOST_BIN" -d "$d" audit verify 2>&1)
	VERIFY_RC=$?
	echo "\$ outpost -d $d audit verify (status $VERIFY_RC): $VERIFY_OUT" >>"$CLI_LOG"
}

# client_configs USER...: writes each user's ssh_config once, in this shell.
# lib.sh's client_config remembers a user only when it runs in the main
# shell; called as $(client_config U) it rewrites the file every time, which
# can truncate it under an ssh that is reading it (seen as "Host key
# verification failed" for a session started next to another). Call this
# before starting concurrent sessions.
client_configs() {
	local u
	for u in "$@"; do
		client_config "$u" >/dev/null
	done
}
