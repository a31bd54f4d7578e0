#!/bin/bash
# t-nodes-failover.sh: issue 17's failover end to end. Three nodes a, b, c on
# one PostgreSQL store (lib-nodes.sh) behind a real HAProxy (mode tcp,
# send-proxy-v2, health checks from 127.0.0.8; every node's ProxyProtocol
# lists 127.0.0.8): technicians enter through HAProxy's round robin, a stock
# `ssh -R` device (autossh) through HAProxy's device entry that prefers b
# (`balance first`), two outpost-agent devices enrolled with all three nodes
# as `server` lines, b first. Node b is killed with SIGKILL: every device
# b held is reachable by name through HAProxy within 30 s (on a or c; from
# the other one through a peer connection), technicians' new connections
# through HAProxy succeed all along, nothing in the store is lost (fleets,
# users, grants, keys, devices, tokens the same before and after) and
# `outpost nodes` shows b down within LIM_NODE_DOWN_S + 5 s. Meanwhile the
# per-source penalty on a node applies to the real client behind HAProxy:
# three failed keys from 127.0.0.9 through HAProxy block 127.0.0.9 on node
# a; alice from 127.0.3.5 through the same HAProxy to a still logs in.
# A device that stays with b (a plain `ssh -R` to b) is refused with its
# reason on a and c, at once and once b is down ("on node b, which is down").
# needs: postgresql
# flavours: build
# timeout: 240
. "$(dirname "$0")/lib.sh"
. "$IT_DIR/lib-agent.sh"
. "$IT_DIR/lib-nodes.sh"
command -v haproxy >/dev/null || skip "no haproxy (Debian package haproxy)"
command -v autossh >/dev/null || skip "no autossh (Debian package autossh)"

HA_SRC=127.0.0.8
NODES_CONF_EXTRA="ProxyProtocol $HA_SRC
PerSourcePenaltyExempt 127.0.0.1/32
PerSourcePenaltyFailures 3
PerSourcePenaltyMin 60"
nodes_init a b c
fleet_add acme ops
user_add alice acme
user_add bob acme ops
device_add pi-s acme
device_add pi-b acme
for n in a b c; do node_start "$n"; done
for n in a b c; do wait_for "node $n up in the store" 10 node_up "$n"; done
start_device_sshd

# ---- HAProxy: technicians (round robin), devices (b first), one entry pinned to a ----
HA_PORT=$(pick_port)
HA_DEV_PORT=$(pick_port)
HA_PIN_PORT=$(pick_port)
srv() {	# srv NAME [EXTRA]: a server line for node NAME
	echo "  server $1 $(node_addr "$1") send-proxy-v2 check inter 300ms fall 2 rise 2 source $HA_SRC ${2:-}"
}
cat >"$T/haproxy.cfg" <<EOC
global
  pidfile $T/haproxy.pid
  stats socket $T/haproxy.sock mode 600 level admin
defaults
  mode tcp
  timeout connect 2s
  timeout client 10m
  timeout server 10m
  retries 3
  option redispatch
frontend jump
  bind 127.0.0.1:$HA_PORT
  default_backend nodes
frontend devices
  bind 127.0.0.1:$HA_DEV_PORT
  default_backend devices
frontend pin
  bind 127.0.0.1:$HA_PIN_PORT
  default_backend pin
backend nodes
  balance roundrobin
$(srv a)
$(srv b)
$(srv c)
backend devices
  balance first
$(srv b "maxconn 1000")
$(srv a "maxconn 1000")
$(srv c "maxconn 1000")
backend pin
$(srv a)
EOC
spawn haproxy haproxy -db -f "$T/haproxy.cfg"
for p in "$HA_PORT" "$HA_DEV_PORT" "$HA_PIN_PORT"; do
	wait_for "haproxy listening on $p" 10 port_listening "$p"
done
# ha_state BACKEND SERVER: UP or DOWN per HAProxy's stats
ha_state() {
	"$PY" - "$T/haproxy.sock" "$1" "$2" <<'PYEOF'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"show stat\n")
out = b""
while True:
    d = s.recv(65536)
    if not d: break
    out += d
for l in out.decode().splitlines():
    f = l.split(",")
    if len(f) > 17 and f[0] == sys.argv[2] and f[1] == sys.argv[3]:
        print(f[17].split(" ")[0])
PYEOF
}
for n in a b c; do wait_for "haproxy sees node $n up" 10 eval '[ "$(ha_state nodes '"$n"')" = UP ]'; done
wait_for "haproxy sees node b up for devices" 10 eval '[ "$(ha_state devices b)" = UP ]'

# Every node serves the one host key: trust it under HAProxy's addresses.
for p in "$HA_PORT" "$HA_DEV_PORT" "$HA_PIN_PORT"; do known_add "[127.0.0.1]:$p" "$NODE_HOSTKEY.pub"; done
# via PORT SRC [USER]: a client config whose jump is HAProxy's PORT, dialled from SRC.
via() {
	local u=${3:-alice} f=$T/ssh_config.via-$1-$2-${3:-alice}
	if [ ! -f "$f" ]; then
		JUMP_HOST=127.0.0.1 JUMP_PORT=$1 write_client_config "$f" "$u"
		sed -i "s/^  Port $1\$/  Port $1\n  BindAddress $2/" "$f"
		grep -q "BindAddress $2" "$f" || fail "client config through haproxy not written"
	fi
	echo "$f"
}
A_CFG=$(via "$HA_PORT" 127.0.3.5)
B_CFG=$(via "$HA_PORT" 127.0.3.6 bob)
# ha_reach NAME.FLEET WORD [CFG]: a technician through HAProxy runs `echo WORD` on the device.
ha_reach() {
	[ "$(timeout 20 ssh -F "${3:-$A_CFG}" -J jump "root@$1" echo "$2" 2>>"$LOGDIR/reach.log")" = "$2" ]
}

# ---- devices: a stock ssh -R through HAProxy (lands on b), two agents b first ----
JUMP_HOST=127.0.0.1 JUMP_PORT=$HA_DEV_PORT start_device --autossh pi-s acme -o ServerAliveInterval=2 -o ServerAliveCountMax=3
node_wait_on pi-s.acme b
# pi-b.acme: a stock ssh -R straight to b, without a restarter: it does not come back
on_node b start_device pi-b acme
node_wait_on pi-b.acme b
tok=$(node_token b acme)
sv=()
for n in b a c; do sv+=(--server "$(node_addr "$n")"); done
[ "$(agent_enroll 1 "$tok" --name ag1 "${sv[@]}")" = ag1.acme ] || fail "agent 1 enrolled under another name"
sv=()
for n in b c a; do sv+=(--server "$(node_addr "$n")"); done
[ "$(agent_enroll 2 "$(node_token b ops)" --name ag2 "${sv[@]}")" = ag2.ops ] || fail "agent 2 enrolled under another name"
[ "$(grep -c '^server ' "$(agent_dir 1)/agent.conf")" = 3 ] || fail "agent 1's agent.conf: $(cat "$(agent_dir 1)/agent.conf")"
start_agent 1
start_agent 2
node_wait_on ag1.acme b
node_wait_on ag2.ops b
outpost token create --fleet ops --server "$(node_addr a)" >/dev/null || fail "a spare token"

# Through HAProxy, each device once (round robin: three logins, one on each of a, b and c).
ha_reach pi-s.acme s1 || fail "pi-s.acme through haproxy"
ha_reach ag1.acme ag1 || fail "ag1.acme through haproxy"
ha_reach ag2.ops ag2 "$B_CFG" || fail "bob to ag2.ops through haproxy"
for n in a b c; do
	[ "$(AUDIT=$(node_state "$n")/audit.log audit_count auth result=success)" -ge 1 ] ||
		fail "haproxy's round robin never reached node $n"
done
grep -h '"event":"auth"' "$(node_state a)/audit.log" "$(node_state b)/audit.log" "$(node_state c)/audit.log" |
    grep -q "\"src\":\"$HA_SRC:" && fail "a node audited HAProxy's address, not the client's"

# ---- the store before ----
counts() {
	psql -XAtq -v ON_ERROR_STOP=1 "$STORE_SPEC" \
	    -c "SELECT 'fleets', count(*) FROM fleets UNION ALL SELECT 'users', count(*) FROM users
	        UNION ALL SELECT 'grants', count(*) FROM grants UNION ALL SELECT 'keys', count(*) FROM keys
	        UNION ALL SELECT 'devices', count(*) FROM devices UNION ALL SELECT 'tokens', count(*) FROM tokens" \
	    -c "SELECT name FROM fleets ORDER BY 1" \
	    -c "SELECT name, admin FROM users ORDER BY 1" \
	    -c "SELECT u.name, f.name, g.expires FROM grants g JOIN users u ON u.id = g.user_id
	        JOIN fleets f ON f.id = g.fleet_id ORDER BY 1, 2" \
	    -c "SELECT fingerprint, user_id, device_id FROM keys ORDER BY id" \
	    -c "SELECT name, fleet_id FROM devices ORDER BY id" \
	    -c "SELECT hash, fleet_id, uses_left, used, expires, revoked FROM tokens ORDER BY id"
}
counts >"$T/store.before" 2>&1 || fail "the store before: $(cat "$T/store.before")"
grep -q '^fleets|2$' "$T/store.before" || fail "the store before: $(cat "$T/store.before")"
grep -q '^tokens|3$' "$T/store.before" || fail "the store before: $(cat "$T/store.before")"

# ---- b crashes ----
t0=$(now_ms)
node_kill b
# New technicians' connections through HAProxy succeed all along (HAProxy
# still takes b for up for a moment: it redispatches).
for i in 1 2 3 4 5 6; do
	timeout 30 ssh -F "$A_CFG" jump ls >"$T/ls.$i" 2>"$T/ls.$i.err" ||
		fail "technician's login $i through haproxy after b's crash: $(cat "$T/ls.$i.err")"
done
log "six logins through haproxy after b's crash in $(($(now_ms) - t0)) ms"
# A device that does not come back: while b's row still beats, a and c try
# b (a refused peer connection) and say why; neither node goes down for it.
REFUSE_TRIES=2 expect_refusal "pi-b.acme just after b's crash" "device pi-b\.acme is (on node b|offline)|node b is unreachable" \
    ssh -F "$A_CFG" -J jump root@pi-b.acme true
declare -A AT=()
for d in ag1.acme ag2.ops pi-s.acme; do
	c=$B_CFG
	[ "$d" = ag2.ops ] || c=$A_CFG
	wait_for "$d reachable through haproxy after b's crash" 30 ha_reach "$d" moved "$c"
	AT[$d]=$(($(now_ms) - t0))
	log "$d reachable through haproxy $((AT[$d])) ms after b's SIGKILL (on node $(node_of "$d"))"
	[ "${AT[$d]}" -le 30000 ] || fail "$d reachable only ${AT[$d]} ms after b's crash (30 s)"
done
[ "$(node_of ag1.acme)" = a ] || fail "ag1.acme is on '$(node_of ag1.acme)', not a (its next server)"
[ "$(node_of ag2.ops)" = c ] || fail "ag2.ops is on '$(node_of ag2.ops)', not c (its next server)"
case $(node_of pi-s.acme) in a|c) ;; *) fail "pi-s.acme is on '$(node_of pi-s.acme)'" ;; esac

# ---- per-source penalty behind HAProxy, on node a (HAProxy's pinned entry) ----
ssh-keygen -q -t ed25519 -N '' -f "$T/stranger" </dev/null || fail "ssh-keygen"
S_CFG=$(via "$HA_PIN_PORT" 127.0.0.9)
sed -i "s|^  IdentityFile .*|  IdentityFile $T/stranger|" "$S_CFG"
for i in 1 2 3; do timeout 20 ssh -F "$S_CFG" jump true 2>/dev/null && fail "a stranger's key logged in"; done
[ "$(grep -c '"event":"auth".*"result":"failure".*"src":"127.0.0.9:' "$(node_state a)/audit.log")" -ge 3 ] ||
	fail "node a did not audit 3 failures from 127.0.0.9"
sed -i "s|^  IdentityFile .*|  IdentityFile $(key alice)|" "$S_CFG"
timeout 20 ssh -F "$S_CFG" -J jump root@ag1.acme echo in 2>"$T/blocked.err" && fail "127.0.0.9 is not blocked on node a"
log "127.0.0.9 through haproxy, blocked on a: $(tr '\n' ' ' <"$T/blocked.err")"
P_CFG=$(via "$HA_PIN_PORT" 127.0.3.5)
ha_reach ag1.acme pinned "$P_CFG" || fail "127.0.3.5 through haproxy blocked on a with 127.0.0.9 (HAProxy's address penalised?)"

# ---- nothing lost ----
counts >"$T/store.after" 2>&1
diff -u "$T/store.before" "$T/store.after" >&2 || fail "the store changed across b's crash"

# ---- outpost nodes: b down ----
wait_for "outpost nodes shows b down" 30 eval 'outpost nodes | grep -q "^b .* down "'
down=$(($(now_ms) - t0))
hb=$(store_sql "SELECT heartbeat FROM nodes WHERE name = 'b'")
log "outpost nodes shows b down $down ms after SIGKILL (its last heartbeat $((t0 / 1000 - hb)) s before it)"
[ $((t0 / 1000 - hb)) -le 6 ] || fail "b's last heartbeat was $((t0 / 1000 - hb)) s before its crash"
[ "$down" -le $(((NODE_DOWN_S + 8) * 1000)) ] || fail "b shown down only $down ms after its crash"
outpost nodes --json | "$PY" -c '
import json, sys
n = {x["name"]: x for x in json.load(sys.stdin)}
assert not n["b"]["up"] and n["b"]["devices"] == 0 and n["b"]["stranded"] == 1, n["b"]   # pi-b.acme: held by none, stranded (ls: offline)
assert n["a"]["up"] and n["c"]["up"], n
assert n["a"]["devices"] + n["c"]["devices"] == 3, n
' || fail "outpost nodes --json after b's crash: $(outpost nodes --json)"

# Each device from both surviving nodes, first time (HAProxy alternates a
# and c now): the node that does not hold it routes through the other,
# more than LIM_NODE_DOWN_S after the last change to the store (the
# nodes' copies of it know each other's heartbeats all the same).
wait_for "haproxy sees b down" 10 eval '[ "$(ha_state nodes b)" = DOWN ]'
# The store says b is down (outpost nodes, above); each node's copy of the
# store learns it within a second or two (the store thread's look at the
# nodes' rows, once a second on each node: a and c may see it up to a
# second apart). HAProxy alternates a and c: two answers in a row that say
# so are both nodes' views.
b_down_seen() { { timeout 20 ssh -F "$A_CFG" -J jump root@pi-b.acme true 2>&1 || :; } | grep -q "which is down"; }
wait_for "nodes a and c take b for down" 20 eval 'b_down_seen && b_down_seen'
REFUSE_TRIES=2 expect_refusal "pi-b.acme once b is down" "device pi-b\.acme is on node b, which is down" \
    ssh -F "$A_CFG" -J jump root@pi-b.acme true
for i in 1 2; do
	ha_reach ag1.acme "ag1-after-$i" || fail "ag1.acme through haproxy after the crash (round $i)"
	ha_reach ag2.ops "ag2-after-$i" "$B_CFG" || fail "ag2.ops through haproxy after the crash (round $i)"
	ha_reach pi-s.acme "s-after-$i" || fail "pi-s.acme through haproxy after the crash (round $i)"
done
[ "$(AUDIT=$(node_state a)/audit.log audit_count route via=c device=ag1.acme result=ok)" -ge 1 ] ||
	fail "node a: no route to ag1.acme asked by c after b's crash"
[ "$(AUDIT=$(node_state c)/audit.log audit_count route via=a device=ag2.ops result=ok)" -ge 1 ] ||
	fail "node c: no route to ag2.ops asked by a after b's crash"

stop_agent 1
stop_agent 2
stop_pid "$DEV_PID" TERM 5
nodes_stop_all
done_ok
