#!/bin/bash
# timeout: 120
# t-ondemand-no-answer: a device whose retained state says standby but that
# never raises its tunnel (a dead agent, a stale retained message): the
# technician gets a clear reason within WakeTimeout (+ a little), the wake
# and the failure are audited, and nothing is left half-open on the jump.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-ondemand.sh"
require_outpost

OUTPOSTD_CONF_EXTRA="WakeTimeout 5"
fleet_add acme
user_add alice acme
device_add ghost acme
start_broker
start_jump --mqtt "$(broker_url)"
"$OUTPOSTD_BIN" -f "$T/outpostd.conf" -T | grep -q '^WakeTimeout 5$' || fail "-T does not show WakeTimeout 5"
"$OUTPOSTD_BIN" -f "$T/outpostd.conf" -T | grep -q "^MqttTopic outpost/{fleet}/{name}/tunnel$" ||
    fail "-T does not show the default MqttTopic"
# A controller left a retained standby; no agent listens on the control topic.
# shellcheck disable=SC2046
mosquitto_pub $(mqtt_args) -q 1 -r -t outpost/acme/ghost/tunnel/state -m standby || fail "mosquitto_pub"
wait_for "ghost standby in ls" 15 eval '[ "$(device_state ghost.acme)" = standby ]'

for i in 1 2; do
	t0=$(now_ms)
	if od_ssh root@ghost.acme true >"$T/out" 2>"$T/err"; then
		fail "ssh to a device that never answers succeeded"
	fi
	took=$(($(now_ms) - t0))
	log "attempt $i: refused after $took ms: $(tr '\n' ' ' <"$T/err")"
	expect_output "$T/err" 'device ghost\.acme did not come online within 5 s of a wake-up' "the reason"
	[ "$took" -lt 10000 ] || fail "refusal took $took ms, more than WakeTimeout 5 s + 5 s"
done
[ "$(audit_count wake device=ghost.acme result=sent)" = 2 ] || fail "expected 2 wake records"
[ "$(audit_count connect device=ghost.acme result=failed)" = 2 ] || fail "expected 2 failed connect records"

# Hostile publishers on the state topics: outpostd ignores what does not
# parse and keeps serving; unknown devices are not created.
hostile() {
	# shellcheck disable=SC2046
	timeout 10 mosquitto_pub $(mqtt_args) -q 1 "$@" >/dev/null 2>&1
}
hostile -t outpost/acme/nosuch/tunnel/state -m standby
hostile -t outpost/ACME/ghost/tunnel/state -m standby
hostile -t 'outpost/acme/gh$ost/tunnel/state' -m standby
hostile -t outpost/acme/ghost/tunnel/state/x -m connected
hostile -t outpost/acme/ghost/tunnel/state -m 'standby; rm -rf /'
hostile -t outpost/acme/ghost/tunnel/state -m "$(printf 'connected\033[2J')"
head -c 200000 /dev/urandom >"$T/big"
hostile -t outpost/acme/ghost/tunnel/state -f "$T/big"
[ "$(device_state ghost.acme)" = standby ] || fail "junk changed ghost's state"
outpost device ls | grep -q nosuch && fail "a state message created a device"
alive "$OUTPOSTD_PID" || fail "outpostd died on hostile MQTT messages"
# The last reason names the MQTT state it still believes.
expect_output "$T/err" 'its MQTT state: standby' "state in the reason"

# Nothing half-open: no technician session left, no established TCP
# connection to the jump, and outpostd still serves (ls over SSH).
wait_for "technician sessions gone" 10 eval '! outpost who | grep -q alice'
wait_for "no connection to the jump left" 10 eval \
    '[ -z "$(ss -Htn state established "( sport = :$JUMP_PORT )")" ]'
ssh -F "$CFG" jump ls >"$T/ls.out" 2>&1 || fail "outpostd stopped serving"
expect_output "$T/ls.out" '^ghost\.acme +standby' "ls after the failed wakes"
grep -q "waking ghost.acme" "$DAEMON_LOG" || fail "outpostd did not log the wake"
od_done
