#!/bin/bash
# timeout: 150
# t-ondemand-tls: the broker speaks TLS only and requires client
# certificates from a test CA (made here with openssl), as AWS IoT Core
# does: the agent and outpostd connect with theirs and a wake works; an agent
# with a certificate from another CA, or none, is refused by the broker and
# never reaches the state topic; an agent that does not trust the broker's
# CA refuses the broker.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-ondemand.sh"
require_outpost

make_ca controller outpostd pi-hq rogue-ca-client
# A second CA and a certificate from it: the wrong certificate.
mkdir -p "$T/ca2"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=rogue CA" \
    -keyout "$T/ca2/ca.key" -out "$T/ca2/ca.crt" >/dev/null 2>&1 || fail "openssl: rogue CA"
openssl req -newkey rsa:2048 -nodes -subj "/CN=impostor" -keyout "$T/ca2/imp.key" \
    -out "$T/ca2/imp.csr" >/dev/null 2>&1 || fail "openssl: impostor request"
openssl x509 -req -in "$T/ca2/imp.csr" -CA "$T/ca2/ca.crt" -CAkey "$T/ca2/ca.key" \
    -CAcreateserial -days 2 -out "$T/ca2/imp.crt" >/dev/null 2>&1 || fail "openssl: sign impostor"

fleet_add acme
user_add alice acme
device_add pi-hq acme
device_add impostor acme
device_add blind acme
start_broker --tls
OUTPOSTD_TLS=(--mqtt "$(broker_url)" --mqtt-cafile "$T/ca/ca.crt" --mqtt-cert "$T/ca/outpostd.crt"
    --mqtt-key "$T/ca/outpostd.key")
start_jump "${OUTPOSTD_TLS[@]}"
start_device_sshd
start_agent pi-hq acme --idle 3s --mqtt-cafile "$T/ca/ca.crt" --mqtt-cert "$T/ca/pi-hq.crt" \
    --mqtt-key "$T/ca/pi-hq.key"
start_agent impostor acme --mqtt-cafile "$T/ca/ca.crt" --mqtt-cert "$T/ca2/imp.crt" \
    --mqtt-key "$T/ca2/imp.key"
# trusts only the rogue CA: must refuse the real broker
start_agent blind acme --mqtt-cafile "$T/ca2/ca.crt" --mqtt-cert "$T/ca/rogue-ca-client.crt" \
    --mqtt-key "$T/ca/rogue-ca-client.key"

wait_for "pi-hq standby over TLS" 20 eval '[ "$(device_state pi-hq.acme)" = standby ]'
out=$(od_ssh root@pi-hq.acme echo over-tls) || fail "wake over TLS failed"
[ "$out" = over-tls ] || fail "unexpected output '$out'"

sleep 2
for d in impostor blind; do
	st=$(mqtt_get "outpost/acme/$d/tunnel/state")
	[ -z "$st" ] || fail "$d reached the broker (state '$st')"
	[ "$(device_state $d.acme)" = offline ] || fail "$d.acme is $(device_state $d.acme)"
	grep -Eq "reconnecting to the broker" "$LOGDIR/agent-$d.acme.log" ||
	    fail "agent $d did not report the refused connection"
done
grep -q "certificate verify failed" "$LOGDIR/agent-blind.acme.log" ||
    fail "agent blind does not say why it refused the broker"
grep -q "certificate verify failed" "$LOGDIR/mosquitto.log" || fail "the broker did not log the bad certificate"

# A plain client is refused too (the listener is TLS only).
if timeout 5 mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" -t '#' -C 1 -W 2 >/dev/null 2>&1; then
	fail "a plain MQTT client got through"
fi
od_done
