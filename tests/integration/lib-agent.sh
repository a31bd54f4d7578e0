# lib-agent.sh: helpers shared by the outpost-agent scenarios (t-agent-*):
# tokens, enrolling and running agents, each with its own state directory
# $T/agent-ID and its log $LOGDIR/agent-ID.log. Source it after lib.sh.

AGENT_BIN=$OUTPOST_BUILD/outpost-agent
[ -x "$AGENT_BIN" ] || [ ! -x "$OUTPOST_BUILD/src/agent/outpost-agent" ] || AGENT_BIN=$OUTPOST_BUILD/src/agent/outpost-agent
[ -x "$AGENT_BIN" ] || fail "no outpost-agent in $OUTPOST_BUILD (build it first)"
declare -A AGENT_PIDS=()	# ID -> PID of its `run`

# agent_setup [START_JUMP_ARGS...]: fleet acme, technician alice, outpostd
# and the device's own sshd: what every agent scenario starts from.
agent_setup() {
	fleet_add acme
	user_add alice acme
	start_jump "$@"
	start_device_sshd
}

# token_create FLEET [ARGS...]: a token for FLEET naming this jump; prints
# the token (the last line of `outpost token create`).
token_create() {
	local f=$1
	shift
	outpost token create --fleet "$f" --server "${JUMP_HOST:-127.0.0.1}:$JUMP_PORT" "$@" | tail -n 1
}

# agent_dir ID: the state directory of agent ID.
agent_dir() {
	echo "$T/agent-$1"
}

# agent ID ARGS...: outpost-agent on agent ID's state directory; its stderr
# goes to the caller and to $LOGDIR/agent-ID.log.
agent() {
	local id=$1
	shift
	run_logged "$LOGDIR/agent-$id.log" outpost-agent "$AGENT_BIN" -d "$(agent_dir "$id")" "$@"
}

# agent_enroll ID TOKEN [ARGS...]: enrolls agent ID; fails the scenario
# unless the agent prints "enrolled NAME.FLEET".
agent_enroll() {
	local id=$1 out
	shift
	out=$(agent "$id" enroll "$@") || fail "agent $id: enroll failed"
	case $out in enrolled\ *.*) ;; *) fail "agent $id: enroll printed '$out'" ;; esac
	echo "${out#enrolled }"
}

# agent_name ID: NAME.FLEET from agent ID's agent.conf.
agent_name() {
	awk '$1 == "name" { n = $2 } $1 == "fleet" { f = $2 } END { print n "." f }' "$(agent_dir "$1")/agent.conf"
}

# start_agent [--sshd SID] ID [RUN_ARGS...]: `outpost-agent run` for agent ID
# with its port 22 on device sshd SID (default 0), trusted under that sshd's
# host key; AGENT_PID is its PID. With AGENT_NETNS set it runs in that
# network namespace and reaches the sshd at AGENT_SVC_HOST (default 127.0.0.1);
# with AGENT_HOSTS set it resolves names with that file as /etc/hosts.
start_agent() {
	local sid=0 id fq v
	[ "$1" = --sshd ] && { sid=$2; shift 2; }
	id=$1
	shift
	v=SSHD_PORT_dev$sid
	[ -n "${!v:-}" ] || fail "start_agent: device sshd $sid is not running"
	fq=$(agent_name "$id")
	known_add "$fq,${fq%%.*},[$fq]:*,[${fq%%.*}]:*" "$T/host-dev$sid.pub"
	REG_BASE[$fq]=$(audit_count register device="$fq" result=ok)
	local wrap=()
	[ -n "${AGENT_NETNS:-}" ] && wrap=(ip netns exec "$AGENT_NETNS")
	# AGENT_HOSTS=FILE: the agent alone sees FILE as /etc/hosts (its own mount namespace).
	[ -n "${AGENT_HOSTS:-}" ] && wrap+=(unshare -m sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$AGENT_HOSTS")
	spawn "agent-$id" "${wrap[@]}" "$AGENT_BIN" -v -d "$(agent_dir "$id")" run \
		-s "22=${AGENT_SVC_HOST:-127.0.0.1}:${!v}" "$@"
	AGENT_PID=$LAST_PID
	AGENT_PIDS[$id]=$AGENT_PID
	log "agent $id ($fq): pid $AGENT_PID"
}

# stop_agent ID: SIGTERM; the agent must exit 0 within 10 s.
stop_agent() {
	local pid=${AGENT_PIDS[$1]:-}
	[ -n "$pid" ] || return 0
	unset "AGENT_PIDS[$1]"
	stop_pid "$pid" TERM 10 || fail "agent $1 did not stop within 10 s of SIGTERM"
	[ "$STOP_STATUS" = 0 ] || fail "agent $1 exited with status $STOP_STATUS after SIGTERM"
}

# reach NAME.FLEET [WORD]: a technician logs in to the device by name; true if
# the device's sshd ran `echo WORD`.
reach() {
	local w=${2:-hello}
	[ "$(timeout 20 ssh -F "$(client_config "${CLIENT:-alice}")" -J jump "root@$1" echo "$w" 2>>"$LOGDIR/reach.log")" = "$w" ]
}

# agent_refused DESC REGEX ID ARGS...: `outpost-agent ARGS` on agent ID must
# fail within 30 s and print REGEX on stderr.
agent_refused() {
	local desc=$1 re=$2 id=$3 rc
	shift 3
	timeout 30 "$AGENT_BIN" -d "$(agent_dir "$id")" "$@" >"$T/refused.out" 2>"$T/refused.err"
	rc=$?
	{ echo "\$ outpost-agent $* (status $rc, expected a refusal)"; cat "$T/refused.out" "$T/refused.err"; } >>"$LOGDIR/agent-$id.log"
	[ $rc != 0 ] || fail "$desc: not refused ($(cat "$T/refused.out"))"
	[ $rc != 124 ] || fail "$desc: hung instead of being refused"
	grep -Eq -- "$re" "$T/refused.err" || fail "$desc: expected /$re/, got: $(tr '\n' ' ' <"$T/refused.err")"
	log "$desc: status $rc: $(tr '\n' ' ' <"$T/refused.err")"
}
