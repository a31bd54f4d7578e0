# lib-nodes.sh: several outpostd nodes on one PostgreSQL store, for the
# t-nodes-* scenarios (issue 17). Source it after lib.sh; such a scenario
# carries "# needs: postgresql".
#
# nodes_init a b c   one fresh database on the test cluster (lib.sh's pg_db;
#                    the scenario's STORE_SPEC, and OUTPOST_STORE for the CLI),
#                    one host key every node serves (what clients trust is
#                    the same whichever node they reach), and a slot per
#                    node: address 127.0.0.2, .3, .4 ... and a random port.
# node_start a       outpostd `a`: its own state dir $T/node-a, config
#                    $T/node-a.conf (Store, HostKey, NodeName a, PeerAddress
#                    its address, NODES_CONF_EXTRA lines), log
#                    $LOGDIR/outpostd-a.log; waits until it listens.
# node_stop a        SIGTERM; fails unless it exits 0 without a sanitizer report.
# node_kill a        SIGKILL (a crash: its rows stay until its heartbeat ages).
# node_ip a, node_port a, node_addr a ("ip:port"), node_log a, node_state a
# on_node a CMD...   CMD (a lib.sh function such as start_device) with the
#                    jump being node a (JUMP_HOST, JUMP_PORT).
# node_ssh a ARGS... a technician (alice, or CLIENT=user) through node a:
#                    `ssh -F <config whose jump is a> -J jump ARGS`.
# node_jump a CMD... `ssh jump CMD` (outpost's commands over SSH) on node a.
# node_reach a NAME.FLEET [WORD]: true if `echo WORD` ran on the device's sshd
#                    reached through node a.
# node_token a FLEET [ARGS...]: an enrollment token naming node a.
# node_of NAME.FLEET: the node `outpost ls --json` says holds it ("" offline).
# node_wait_on NAME.FLEET NODE [SECONDS]: until the device is online on NODE.
# node_up a:         true if the store says node a beats (heartbeat within 20 s).
# nodes_stop_all     node_stop for every running node (call before done_ok).
#
# The CLI (lib.sh's `outpost`) runs on the shared store; its state dir
# $STATE holds the shared host key's public half, so `token create` names it.

NODE_HOSTKEY=$T/keys/nodes_host_key
NODES=()			# names, in nodes_init order
declare -A NODE_PID=() NODE_IP=() NODE_PORT=()
NODE_DOWN_S=20			# LIM_NODE_DOWN_S

# nodes_init NAME...: the shared store and host key, one slot per node.
nodes_init() {
	local n i=2
	[ $# -ge 1 ] || fail "nodes_init: name at least one node"
	if [ -z "$STORE_SPEC" ]; then
		pg_db nodes
		STORE_SPEC=$PG_DB
		export OUTPOST_STORE=$STORE_SPEC
		store_plumbed "$STORE_SPEC" || skip "NO POSTGRESQL IN THIS BUILD: $PLUMB_WHY"
	fi
	log "nodes' store: $STORE_SPEC"
	[ -f "$NODE_HOSTKEY" ] || ssh-keygen -q -t ed25519 -N '' -C nodes-host -f "$NODE_HOSTKEY" </dev/null >/dev/null ||
		fail "ssh-keygen for the nodes' host key"
	mkdir -p "$STATE" && chmod 700 "$STATE"
	cp "$NODE_HOSTKEY.pub" "$STATE/ssh_host_key.pub" || fail "cannot publish the host key to the CLI"
	for n in "$@"; do
		case $n in *[!a-z0-9-]*|-*|'') fail "nodes_init: '$n' is not a node name" ;; esac
		NODES+=("$n")
		NODE_IP[$n]=127.0.0.$i
		NODE_PORT[$n]=$(pick_port)
		known_add "[${NODE_IP[$n]}]:${NODE_PORT[$n]}" "$NODE_HOSTKEY.pub"
		i=$((i + 1))
	done
	# lib.sh's `jump` (dev_ssh, start_device, token_create) is the first node
	JUMP_HOST=${NODE_IP[$1]}
	JUMP_PORT=${NODE_PORT[$1]}
	write_configs
}

node_ip() { echo "${NODE_IP[$1]:?no node $1}"; }
node_port() { echo "${NODE_PORT[$1]:?no node $1}"; }
node_addr() { echo "${NODE_IP[$1]:?no node $1}:${NODE_PORT[$1]}"; }
node_log() { echo "$LOGDIR/outpostd-$1.log"; }
node_state() { echo "$T/node-$1"; }

# node_start NAME [OUTPOSTD_ARGS...]
node_start() {
	local n=$1 i conf log pid
	shift
	[ -n "${NODE_IP[$n]:-}" ] || fail "node_start: no node $n (nodes_init)"
	[ -z "${NODE_PID[$n]:-}" ] || fail "node_start: node $n is running"
	conf=$T/node-$n.conf
	log=$(node_log "$n")
	for i in 1 2 3; do
		{
			echo "AllowRoot yes"
			echo "Store $STORE_SPEC"
			echo "HostKey $NODE_HOSTKEY"
			echo "NodeName $n"
			echo "PeerAddress $(node_addr "$n")"
			printf '%s\n' "${NODES_CONF_EXTRA:-}"
		} >"$conf"
		echo "==== $(date +%T.%3N) outpostd -f $conf -d $(node_state "$n") -l $(node_addr "$n") $*" >>"$log"
		"${DAEMON_WRAP[@]}" "$OUTPOSTD_BIN" -f "$conf" -d "$(node_state "$n")" -l "$(node_addr "$n")" "$@" \
		    </dev/null >>"$log" 2>&1 &
		pid=$!
		PIDS+=("$pid")
		PID_NAME[$pid]=outpostd-$n
		if try_for 30 eval 'node_listening '"$n"' || ! alive '"$pid" && alive "$pid"; then
			NODE_PID[$n]=$pid
			log "node $n: outpostd pid $pid on $(node_addr "$n")"
			return 0
		fi
		exited "$pid" || stop_pid "$pid" KILL
		if grep -qi 'address already in use' "$log" && [ $i -lt 3 ]; then
			NODE_PORT[$n]=$(pick_port)
			known_add "[${NODE_IP[$n]}]:${NODE_PORT[$n]}" "$NODE_HOSTKEY.pub"
			[ "$n" = "${NODES[0]}" ] && JUMP_PORT=${NODE_PORT[$n]} && write_configs
			continue
		fi
		tail -n 20 "$log" >&2
		fail "node $n did not start listening"
	done
	fail "node $n did not start"
}

node_listening() {
	[ -n "$(ss -Hltn "src ${NODE_IP[$1]}:${NODE_PORT[$1]}" 2>/dev/null)" ]
}

# node_sanitizer NAME: 1 (reason in SAN_WHY) if node NAME's log has a sanitizer report.
node_sanitizer() {
	local log
	log=$(node_log "$1")
	SAN_WHY=
	[ -f "$log" ] && grep -Eq -- "$SANITIZER_RE" "$log" || return 0
	grep -E -A 12 -- "$SANITIZER_RE" "$log" | head -n 40 >&2
	SAN_WHY="sanitizer report in $(basename "$log")"
	return 1
}

# node_stop NAME: SIGTERM; it must exit 0 within 20 s, without a sanitizer report.
node_stop() {
	local pid=${NODE_PID[$1]:-}
	[ -n "$pid" ] || return 0
	unset "NODE_PID[$1]"
	stop_pid "$pid" TERM 20 || fail "node $1 did not exit within 20 s of SIGTERM"
	[ "$STOP_STATUS" = 0 ] || fail "node $1 exited with status $STOP_STATUS after SIGTERM"
	node_sanitizer "$1" || fail "$SAN_WHY"
	log "node $1 stopped"
}

# node_kill NAME: kill -9, as a crash.
node_kill() {
	local pid=${NODE_PID[$1]:-}
	[ -n "$pid" ] || fail "node_kill: node $1 is not running"
	unset "NODE_PID[$1]"
	stop_pid "$pid" KILL 5
	log "node $1 killed (SIGKILL)"
}

nodes_stop_all() {
	local n
	for n in "${NODES[@]}"; do
		node_stop "$n"
	done
}

# on_node NAME CMD...: CMD with node NAME as lib.sh's jump.
on_node() {
	local n=$1
	shift
	JUMP_HOST=${NODE_IP[$n]:?no node $n} JUMP_PORT=${NODE_PORT[$n]} "$@"
}

# node_client_config NAME: the ssh_config (alice's, or CLIENT's) whose `jump` is node NAME.
node_client_config() {
	local u=${CLIENT:-alice} f
	f=$T/ssh_config.$u.node-$1
	[ -f "$f" ] || JUMP_HOST=${NODE_IP[$1]:?no node $1} JUMP_PORT=${NODE_PORT[$1]} write_client_config "$f" "$u"
	echo "$f"
}

# node_ssh NAME ARGS...: a technician through node NAME with -J.
node_ssh() {
	local cfg
	cfg=$(node_client_config "$1")
	shift
	ssh -F "$cfg" -J jump "$@"
}

# node_jump NAME COMMAND...: `ssh jump COMMAND` (outpost's commands over SSH) on node NAME.
node_jump() {
	local cfg
	cfg=$(node_client_config "$1")
	shift
	timeout 30 ssh -F "$cfg" jump "$@"
}

# node_reach NAME NAME.FLEET [WORD]
node_reach() {
	local w=${3:-hello} cfg
	cfg=$(node_client_config "$1")
	[ "$(timeout 20 ssh -F "$cfg" -J jump "root@$2" echo "$w" 2>>"$LOGDIR/reach.log")" = "$w" ]
}

# node_token NAME FLEET [ARGS...]: a token naming node NAME; prints it.
node_token() {
	local n=$1 f=$2
	shift 2
	outpost token create --fleet "$f" --server "$(node_addr "$n")" "$@" | tail -n 1
}

# node_of NAME.FLEET: the node holding the device per `outpost ls --json` ("" if offline).
node_of() {
	outpost ls --json 2>/dev/null | "$PY" -c '
import json, sys
for d in json.load(sys.stdin):
    if d["device"] == sys.argv[1]:
        print(d["node"] if d["online"] and d.get("node") else "")
' "$1"
}

# node_wait_on NAME.FLEET NODE [SECONDS]
node_wait_on() {
	wait_for "$1 online on node $2" "${3:-20}" eval '[ "$(node_of '"$1"')" = '"$2"' ]'
}

# node_up NAME: the store's nodes row of NAME beats (within NODE_DOWN_S s).
node_up() {
	[ "$(store_sql "SELECT count(*) FROM nodes WHERE name = '$1' AND heartbeat >= extract(epoch FROM now())::bigint - $NODE_DOWN_S")" = 1 ]
}
