# lib-ondemand.sh: what the t-ondemand-* scenarios share on top of lib.sh: a
# private mosquitto broker on a random loopback port (its own config file,
# optionally TLS with a test CA made with openssl), outpost-agents in
# on-demand mode with their own state directories, and MQTT look-ups with
# the stock mosquitto_pub / mosquitto_sub clients (a seed-003 controller).

AGENT_BIN=$OUTPOST_BUILD/outpost-agent
[ -x "$AGENT_BIN" ] || fail "no outpost-agent in $OUTPOST_BUILD"
command -v mosquitto >/dev/null || PATH=$PATH:/usr/sbin
command -v mosquitto >/dev/null || skip "no mosquitto broker (make deps installs it)"
command -v mosquitto_sub >/dev/null || skip "no mosquitto_sub (make deps installs mosquitto-clients)"
BROKER_PORT=
BROKER_PID=
BROKER_TLS=0
declare -A AGENT_PIDS=()

# ondemand_setup: fleet acme, technician alice, device pi-hq.acme, the
# broker, outpostd following it, and the device's own sshd.
ondemand_setup() {
	fleet_add acme
	user_add alice acme
	device_add pi-hq acme
	start_broker
	start_jump --mqtt "$(broker_url)"
	start_device_sshd
}

# start_broker [--tls]: mosquitto on 127.0.0.1:$BROKER_PORT (kept across
# restarts). --tls: TLS only, client certificates required (make_ca first).
start_broker() {
	[ "${1:-}" = --tls ] && BROKER_TLS=1
	[ -n "$BROKER_PORT" ] || BROKER_PORT=$(pick_port)
	{
		echo "listener $BROKER_PORT 127.0.0.1"
		echo "allow_anonymous true"
		echo "persistence false"
		echo "log_dest stderr"
		echo "log_type all"
		# as root, mosquitto would switch to user mosquitto, who cannot read $T
		[ "$(id -u)" = 0 ] && echo "user root"
		if [ "$BROKER_TLS" = 1 ]; then
			echo "cafile $T/ca/ca.crt"
			echo "certfile $T/ca/broker.crt"
			echo "keyfile $T/ca/broker.key"
			echo "require_certificate true"
			echo "use_identity_as_username true"
		fi
	} >"$T/mosquitto.conf"
	echo "==== $(date +%T.%3N) mosquitto -c $T/mosquitto.conf" >>"$LOGDIR/mosquitto.log"
	spawn mosquitto mosquitto -c "$T/mosquitto.conf"
	BROKER_PID=$LAST_PID
	wait_for "mosquitto listening" 10 eval "port_listening $BROKER_PORT || ! alive $BROKER_PID"
	alive "$BROKER_PID" || { tail -n 20 "$LOGDIR/mosquitto.log" >&2; fail "mosquitto did not start"; }
	log "mosquitto pid $BROKER_PID on 127.0.0.1:$BROKER_PORT (tls $BROKER_TLS)"
}

stop_broker() {
	stop_pid "$BROKER_PID" TERM 10
	BROKER_PID=
}

broker_url() {
	if [ "$BROKER_TLS" = 1 ]; then echo "mqtts://127.0.0.1:$BROKER_PORT"; else echo "mqtt://127.0.0.1:$BROKER_PORT"; fi
}

# make_ca: $T/ca/ca.{key,crt}, the broker's certificate for 127.0.0.1, and
# client certificates: each NAME given gets $T/ca/NAME.{key,crt}.
make_ca() {
	local n
	mkdir -p "$T/ca"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=outpost test CA" \
	    -keyout "$T/ca/ca.key" -out "$T/ca/ca.crt" >/dev/null 2>&1 || fail "openssl: CA"
	ca_sign broker "/CN=127.0.0.1" "subjectAltName=IP:127.0.0.1"
	for n in "$@"; do
		ca_sign "$n" "/CN=$n"
	done
}

# ca_sign NAME SUBJECT [EXTENSION]: a key and a certificate signed by the test CA.
ca_sign() {
	local ext=$T/ca/$1.ext
	printf '%s\n' "${3:-basicConstraints=CA:FALSE}" >"$ext"
	openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$T/ca/$1.key" -out "$T/ca/$1.csr" \
	    >/dev/null 2>&1 || fail "openssl: $1 request"
	openssl x509 -req -in "$T/ca/$1.csr" -CA "$T/ca/ca.crt" -CAkey "$T/ca/ca.key" \
	    -CAcreateserial -days 2 -extfile "$ext" -out "$T/ca/$1.crt" >/dev/null 2>&1 ||
	    fail "openssl: sign $1"
}

# mqtt_args: how mosquitto_pub/sub reach the broker (as the controller).
mqtt_args() {
	echo "-h 127.0.0.1 -p $BROKER_PORT"
	[ "$BROKER_TLS" = 1 ] && echo "--cafile $T/ca/ca.crt --cert $T/ca/controller.crt --key $T/ca/controller.key"
	return 0
}

# mqtt_get TOPIC: the retained payload of TOPIC ("" if none within 2 s).
mqtt_get() {
	# shellcheck disable=SC2046
	timeout 5 mosquitto_sub $(mqtt_args) -t "$1" -C 1 -W 2 2>/dev/null
	return 0
}

# mqtt_put TOPIC PAYLOAD: publishes at QoS 1, not retained (a controller's command).
mqtt_put() {
	# shellcheck disable=SC2046
	timeout 10 mosquitto_pub $(mqtt_args) -q 1 -t "$1" -m "$2" || fail "mosquitto_pub $1 $2"
}

# state_is NAME.FLEET REGEX: the device's retained state matches.
state_is() {
	local n=${1%%.*} f=${1#*.}
	[[ $(mqtt_get "outpost/$f/$n/tunnel/state") =~ $2 ]]
}

# tunnel_cmd NAME.FLEET connect|disconnect: what seed 003's tunnel.sh sends.
tunnel_cmd() {
	local n=${1%%.*} f=${1#*.}
	mqtt_put "outpost/$f/$n/tunnel/control" "$2"
}

# start_agent NAME FLEET [ARGS...]: outpost-agent run --on-demand as
# NAME.FLEET (key from device_add, agent.conf written here, its service 22
# the device sshd), against the broker; extra ARGS go to `run`.
start_agent() {
	local name=$1 fleet=$2 fq=$1.$2 dir fp
	shift 2
	dir=$T/agent-$fq
	mkdir -p "$dir"
	cp "$T/keys/dev-$fq" "$dir/id_ed25519" && cp "$T/keys/dev-$fq.pub" "$dir/id_ed25519.pub" ||
	    fail "start_agent: no key for $fq (device_add first)"
	fp=$(ssh-keygen -lf "$STATE/ssh_host_ed25519_key.pub" | awk '{print $2}')
	cat >"$dir/agent.conf" <<-CONF
	server 127.0.0.1:$JUMP_PORT
	hostkey $fp
	name $name
	fleet $fleet
	service 22=127.0.0.1:$SSHD_PORT
	CONF
	known_add "$fq,$name,[$fq]:*,[$name]:*" "$T/host-dev0.pub"
	REG_BASE[$fq]=$(audit_count register device="$fq" result=ok)
	spawn "agent-$fq" "$AGENT_BIN" -v -d "$dir" run --on-demand --mqtt "$(broker_url)" "$@"
	AGENT_PIDS[$fq]=$LAST_PID
	log "agent $fq: pid $LAST_PID"
}

# registrations NAME.FLEET: how many times the device registered so far.
registrations() {
	audit_count register device="$1" result=ok
}

# device_state NAME.FLEET: its state word in `outpost ls`.
device_state() {
	ls_line "$1" | awk '{print $2}'
}

# od_ssh [SSH_ARGS...]: dev_ssh as alice (or CLIENT), bounded to 40 s.
od_ssh() {
	timeout 40 ssh -F "$(client_config "${CLIENT:-alice}")" -J jump "$@"
}

# od_done: stops the agents (each must exit 0 on SIGTERM), fails on a
# sanitizer report in their logs, then done_ok.
od_done() {
	local fq f
	for fq in "${!AGENT_PIDS[@]}"; do
		alive "${AGENT_PIDS[$fq]}" || continue
		stop_pid "${AGENT_PIDS[$fq]}" TERM 10
		[ "$STOP_STATUS" = 0 ] || fail "agent $fq exited $STOP_STATUS on SIGTERM"
	done
	for f in "$LOGDIR"/agent-*.log; do
		[ -f "$f" ] || continue
		if grep -Eq "$SANITIZER_RE" "$f"; then
			grep -E -A 12 "$SANITIZER_RE" "$f" | head -n 40 >&2
			fail "sanitizer report in $(basename "$f")"
		fi
	done
	done_ok
}
