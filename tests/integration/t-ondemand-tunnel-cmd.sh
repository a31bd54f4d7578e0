#!/bin/bash
# timeout: 120
# t-ondemand-tunnel-cmd: `ssh -p 2222 jump tunnel connect|disconnect|status
# NAME.FLEET` for technicians granted the fleet (no MQTT client on the
# laptop): connect raises the tunnel, disconnect drops it at once, status
# works over SSH and locally; a user without the fleet cannot touch it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-ondemand.sh"
require_outpost

fleet_add acme other
user_add alice acme
user_add bob other
device_add pi-hq acme
start_broker
start_jump --mqtt "$(broker_url)"
start_device_sshd
start_agent pi-hq acme		# default --idle 10m: only disconnect drops it

jump() { timeout 20 ssh -F "$(client_config "${CLIENT:-alice}")" jump "$@"; }

wait_for "standby in ls" 15 eval '[ "$(device_state pi-hq.acme)" = standby ]'
jump tunnel status pi-hq.acme >"$T/st.out" 2>&1 || fail "tunnel status over ssh"
expect_output "$T/st.out" '^pi-hq\.acme +standby +mqtt standby since ' "tunnel status (standby)"
outpost tunnel status pi-hq.acme >"$T/st-local.out" || fail "local tunnel status"
expect_output "$T/st-local.out" '^pi-hq\.acme +standby' "local tunnel status"
if outpost tunnel connect pi-hq.acme >"$T/local-connect.out" 2>&1; then
	fail "local tunnel connect succeeded without outpostd's broker connection"
fi
expect_output "$T/local-connect.out" "needs outpostd's MQTT connection" "local tunnel connect"

# bob is not granted acme: refused like an unknown device, nothing published.
if CLIENT=bob jump tunnel connect pi-hq.acme >"$T/bob.out" 2>&1; then
	fail "bob could connect a device of a fleet he is not granted"
fi
expect_output "$T/bob.out" 'no device named pi-hq' "bob's refusal"
sleep 2
[ "$(registrations pi-hq.acme)" = 0 ] || fail "bob's command raised the tunnel"

jump tunnel connect pi-hq.acme >"$T/c.out" 2>&1 || { cat "$T/c.out" >&2; fail "tunnel connect"; }
expect_output "$T/c.out" '^connect sent to pi-hq\.acme' "tunnel connect"
wait_online pi-hq.acme 15
wait_for "status says online" 10 eval 'jump tunnel status pi-hq.acme | grep -Eq "^pi-hq\.acme +online +mqtt connected"'
out=$(od_ssh root@pi-hq.acme echo up) || fail "ssh after tunnel connect"
[ "$out" = up ] || fail "unexpected output '$out'"
[ "$(audit_count wake device=pi-hq.acme command=connect user=alice result=sent)" = 1 ] ||
    fail "tunnel connect left no wake record"

# disconnect drops it at once (well before the 10 min idle time).
jump tunnel disconnect pi-hq.acme >"$T/d.out" 2>&1 || fail "tunnel disconnect"
wait_offline_or_standby() { [ "$(device_state pi-hq.acme)" = standby ]; }
wait_for "tunnel down after disconnect" 5 wait_offline_or_standby
wait_for "disconnected state" 5 state_is pi-hq.acme '^disconnected$'
[ "$(audit_count wake device=pi-hq.acme command=disconnect result=sent)" = 1 ] ||
    fail "tunnel disconnect left no wake record"
od_done
