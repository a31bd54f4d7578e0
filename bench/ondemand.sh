#!/bin/bash
# ondemand.sh: what on-demand mode costs. (1) mosquitto's and outpostd's
# memory (PSS) with BENCH_DEVICES (default 1000) standby devices, simulated
# by build/mqtt-standby (one process, one libmosquitto session per device,
# the agent's settings); (2) data an idle device uses per hour: a real
# outpost-agent on standby (MQTT, plain and TLS) against a real persistent
# tunnel (`outpost-agent run`), counted from the kernel's TCP counters over
# BENCH_IDLE_SECS (default 300) seconds. Prints "RESULT key value" lines.
#   OUTPOST_BUILD=build bench/ondemand.sh
. "$(dirname "$0")/../tests/integration/lib.sh"
. "$(dirname "$0")/../tests/integration/lib-ondemand.sh"

N=${BENCH_DEVICES:-1000}
SECS=${BENCH_IDLE_SECS:-300}
STANDBY_BIN=$OUTPOST_BUILD/mqtt-standby
[ -x "$STANDBY_BIN" ] || fail "no $STANDBY_BIN (ninja -C $OUTPOST_BUILD)"

pss() { awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup"; }	# KiB
result() { echo "RESULT $1 $2"; log "$1 = $2"; }

# ---- (1) memory with N standby devices ----
fleet_add bench acme
user_add alice acme
log "adding $N devices to the store"
for ((i = 0; i < N; i++)); do
	ssh-keygen -q -t ed25519 -N '' -C "b$i" -f "$T/keys/b$i" </dev/null >/dev/null
	echo "$i"
done | xargs -P 2 -I{} "$OUTPOST_BIN" -d "$STATE" device add dev{} --fleet bench --key "$T/keys/b{}.pub" \
    >/dev/null 2>>"$CLI_LOG" || fail "device add"
[ "$(outpost device ls | grep -c '\.bench ')" = "$N" ] || fail "not all $N devices were added"
make_ca outpost-agent
start_broker
start_jump --mqtt "$(broker_url)"
sleep 3
b0=$(pss "$BROKER_PID") o0=$(pss "$OUTPOSTD_PID")
log "before: broker $b0 KiB, outpostd $o0 KiB"
spawn standby "$STANDBY_BIN" 127.0.0.1 "$BROKER_PORT" bench "$N"
standby_pid=$LAST_PID
wait_for "$N standby clients" 120 grep -q '^READY' "$LOGDIR/standby.log"
wait_for "outpostd sees $N standby devices" 120 eval \
    '[ "$(outpost ls | grep -c "\.bench  standby ")" = "$N" ]'
sleep 5
b1=$(pss "$BROKER_PID") o1=$(pss "$OUTPOSTD_PID") c1=$(pss "$standby_pid")
result broker_pss_kib_before "$b0"
result broker_pss_kib_with_${N}_standby "$b1"
result broker_kib_per_standby_device "$(awk -v a="$b0" -v b="$b1" -v n="$N" 'BEGIN { printf "%.1f", (b - a) / n }')"
result outpostd_pss_kib_before "$o0"
result outpostd_pss_kib_with_${N}_standby "$o1"
result outpostd_kib_per_standby_device "$(awk -v a="$o0" -v b="$o1" -v n="$N" 'BEGIN { printf "%.2f", (b - a) / n }')"
result simulated_clients_pss_kib "$c1"
stop_pid "$standby_pid" TERM 20

# ---- (2) data per idle device per hour ----
# counters PID PORT: "bytes_sent bytes_received segs_out segs_in" of PID's
# TCP connection to 127.0.0.1:PORT.
counters() {
	ss -Htinp state established "( dport = :$2 )" 2>/dev/null |
	    awk -v pid="pid=$1," '
		index($0, pid) { want = 1; next }
		want { for (i = 1; i <= NF; i++) { split($i, kv, ":"); v[kv[1]] = kv[2] }
		       print v["bytes_sent"] + 0, v["bytes_received"] + 0, v["segs_out"] + 0, v["segs_in"] + 0; exit }'
}
device_add od acme
device_add pt acme
device_add odtls acme
start_device_sshd
start_agent od acme
od_pid=${AGENT_PIDS[od.acme]}
# A second broker, TLS with client certificates (as AWS IoT Core), for odtls.
tls_port=$(pick_port)
cat >"$T/mosquitto-tls.conf" <<-CONF
listener $tls_port 127.0.0.1
allow_anonymous true
persistence false
cafile $T/ca/ca.crt
certfile $T/ca/broker.crt
keyfile $T/ca/broker.key
require_certificate true
CONF
[ "$(id -u)" = 0 ] && echo "user root" >>"$T/mosquitto-tls.conf"
spawn mosquitto-tls mosquitto -c "$T/mosquitto-tls.conf"
wait_for "TLS broker" 10 port_listening "$tls_port"
mkdir -p "$T/agent-odtls.acme"
cp "$T/keys/dev-odtls.acme" "$T/agent-odtls.acme/id_ed25519"
cp "$T/keys/dev-odtls.acme.pub" "$T/agent-odtls.acme/id_ed25519.pub"
fp=$(ssh-keygen -lf "$STATE/ssh_host_ed25519_key.pub" | awk '{print $2}')
printf 'server 127.0.0.1:%s\nhostkey %s\nname odtls\nfleet acme\nservice 22=127.0.0.1:%s\n' \
    "$JUMP_PORT" "$fp" "$SSHD_PORT" >"$T/agent-odtls.acme/agent.conf"
spawn agent-odtls "$AGENT_BIN" -d "$T/agent-odtls.acme" run --on-demand --mqtt "mqtts://127.0.0.1:$tls_port" \
    --mqtt-cafile "$T/ca/ca.crt" --mqtt-cert "$T/ca/outpost-agent.crt" --mqtt-key "$T/ca/outpost-agent.key"
odtls_pid=$LAST_PID
# The persistent tunnel: the same agent in its ordinary mode.
mkdir -p "$T/agent-pt.acme"
cp "$T/keys/dev-pt.acme" "$T/agent-pt.acme/id_ed25519"
cp "$T/keys/dev-pt.acme.pub" "$T/agent-pt.acme/id_ed25519.pub"
printf 'server 127.0.0.1:%s\nhostkey %s\nname pt\nfleet acme\nservice 22=127.0.0.1:%s\n' \
    "$JUMP_PORT" "$fp" "$SSHD_PORT" >"$T/agent-pt.acme/agent.conf"
spawn agent-pt "$AGENT_BIN" -d "$T/agent-pt.acme" run
pt_pid=$LAST_PID
wait_online pt.acme 20
wait_for "od standby" 20 state_is od.acme '^standby$'
wait_for "odtls on its broker" 20 eval '[ -n "$(counters $odtls_pid $tls_port)" ]'
sleep 10	# past the set-up exchanges
a0=$(counters "$od_pid" "$BROKER_PORT") t0=$(counters "$odtls_pid" "$tls_port") p0=$(counters "$pt_pid" "$JUMP_PORT")
[ -n "$a0" ] && [ -n "$t0" ] && [ -n "$p0" ] || fail "no TCP counters (ss -ti)"
log "idle for $SECS s"
sleep "$SECS"
a1=$(counters "$od_pid" "$BROKER_PORT") t1=$(counters "$odtls_pid" "$tls_port") p1=$(counters "$pt_pid" "$JUMP_PORT")
# per_hour NAME "before" "after": TCP payload and IPv4 bytes (payload + 52 per
# segment: IPv4 20 + TCP 20 + timestamps 12) per hour, both directions.
per_hour() {
	read -r s0 r0 o0 i0 <<<"$2"
	read -r s1 r1 o1 i1 <<<"$3"
	result "${1}_tcp_payload_bytes_per_hour" "$(awk -v b=$(((s1 - s0) + (r1 - r0))) -v s="$SECS" 'BEGIN { printf "%.0f", b * 3600 / s }')"
	result "${1}_ip_bytes_per_hour" "$(awk -v b=$(((s1 - s0) + (r1 - r0) + 52 * ((o1 - o0) + (i1 - i0)))) -v s="$SECS" 'BEGIN { printf "%.0f", b * 3600 / s }')"
	result "${1}_segments_per_hour" "$(awk -v n=$(((o1 - o0) + (i1 - i0))) -v s="$SECS" 'BEGIN { printf "%.0f", n * 3600 / s }')"
}
per_hour standby_mqtt "$a0" "$a1"
per_hour standby_mqtts "$t0" "$t1"
per_hour persistent_ssh "$p0" "$p1"
od_done
