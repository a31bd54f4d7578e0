#!/bin/bash
# t-metrics.sh: outpostd's Prometheus metrics. MetricsListen on a random
# loopback port serves text that `promtool check metrics` accepts; real
# traffic (a device by stock `ssh -R`, a technician by `ssh -J`, a refused
# connect, a failed authentication) moves the counters; `ssh jump metrics`
# prints the same families for an admin and refuses a plain user; junk,
# over-long and idle HTTP requests get an error or a close while outpostd
# keeps serving; a second outpostd on the same MetricsListen address does not
# start; the alert rules pass `promtool check rules` and their unit
# tests, and every metric the rules and the Grafana dashboard name exists.
. "$(dirname "$0")/lib.sh"
require_outpost
command -v promtool >/dev/null || fail "no promtool (Debian package prometheus)"

MPORT=$(pick_port)
OUTPOSTD_CONF_EXTRA="MetricsListen 127.0.0.1:$MPORT"
RULES=$SRC_ROOT/dist/prometheus/outpost.rules.yml
DASH=$SRC_ROOT/dist/grafana/outpost.json

# http OUT RAW|GET PATH|METHOD PATH: one request to MetricsListen; the body
# goes to OUT, the status line's code (or "closed") to standard output.
http() {
	"$PY" - "$MPORT" "$@" <<-'EOF'
	import socket, sys
	port, out, kind, arg = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
	req = arg.encode().decode('unicode_escape').encode('latin-1') if kind == 'RAW' else \
	    f"{kind} {arg} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
	s = socket.create_connection(("127.0.0.1", port), timeout=15)
	s.sendall(req)
	data = b""
	try:
	    while True:
	        b = s.recv(65536)
	        if not b:
	            break
	        data += b
	except (ConnectionResetError, socket.timeout):
	    pass
	head, _, body = data.partition(b"\r\n\r\n")
	open(out, "wb").write(body)
	print(head.split(b" ")[1].decode() if head.startswith(b"HTTP/1.") else "closed")
	EOF
}

# scrape FILE: GET /metrics into FILE; fails unless 200.
scrape() {
	local code
	code=$(http "$1" GET /metrics) || fail "scrape: no answer"
	[ "$code" = 200 ] || fail "scrape: HTTP $code"
}

# mval FILE SERIES: the value of one series (exact name and labels), or "".
mval() {
	awk -v s="$2" '$1 == s { print $2 }' "$1"
}

# at_least FILE SERIES N: the series exists and is >= N.
at_least() {
	local v
	v=$(mval "$1" "$2")
	[ -n "$v" ] && awk -v v="$v" -v n="$3" 'BEGIN { exit !(v + 0 >= n + 0) }'
}

fleet_add acme
user_add alice acme
user_add root-admin --admin
device_add pi-hq acme
start_jump
wait_for "MetricsListen on $MPORT" 10 port_listening "$MPORT"
start_device_sshd
acfg=$(client_config root-admin)

# Before any traffic: valid text, fleets listed, nothing relayed.
scrape "$T/m0"
promtool check metrics <"$T/m0" >"$T/lint0" 2>&1 || { cat "$T/lint0" >&2; fail "promtool check metrics (idle)"; }
expect_output "$T/m0" '^outpost_build_info\{version="[^"]+"\} 1$' "build info"
expect_output "$T/m0" '^outpost_devices\{fleet="acme",state="offline"\} 1$' "pi-hq.acme offline at start"
[ "$(mval "$T/m0" 'outpost_relayed_bytes_total{direction="to_device"}')" = 0 ] || fail "bytes relayed before any traffic"
grep -q 'pi-hq' "$T/m0" && fail "a device name is a label value"
grep -q '127\.0\.0\.1' "$T/m0" && fail "an address is a label value"

# Traffic: a device, a technician through it, a refusal, a failed authentication.
start_device pi-hq acme -o ExitOnForwardFailure=yes
wait_online pi-hq.acme
[ "$(dev_ssh root@pi-hq.acme echo relayed)" = relayed ] || fail "technician could not reach pi-hq.acme"
REFUSE_TRIES=1 expect_refusal "no such device" 'no device named nosuch' dev_ssh root@nosuch.acme true
timeout 20 ssh -F "$CFG" -i "$(key stranger)" -o IdentityFile=none -p "$JUMP_PORT" \
	-o HostKeyAlias="[127.0.0.1]:$JUMP_PORT" mallory@127.0.0.1 true >/dev/null 2>&1 && fail "a stranger logged in"

# Counters move (the loop publishes once a second, per-fleet counts every 5 s).
moved() {
	scrape "$T/m1" &&
	at_least "$T/m1" 'outpost_devices{fleet="acme",state="online"}' 1 &&
	at_least "$T/m1" 'outpost_sessions{kind="device"}' 1 &&
	at_least "$T/m1" 'outpost_sessions_opened_total{kind="user"}' 2 &&
	at_least "$T/m1" 'outpost_authentications_total{result="success"}' 3 &&
	at_least "$T/m1" 'outpost_authentications_total{result="unknown_key"}' 1 &&
	at_least "$T/m1" 'outpost_connects_total{result="ok"}' 1 &&
	at_least "$T/m1" 'outpost_connects_total{result="refused"}' 1 &&
	at_least "$T/m1" 'outpost_relayed_bytes_total{direction="to_device"}' 1000 &&
	at_least "$T/m1" 'outpost_relayed_bytes_total{direction="from_device"}' 1000 &&
	at_least "$T/m1" 'outpost_connections_accepted_total' 4 &&
	at_least "$T/m1" 'outpost_handshake_duration_seconds_count' 3 &&
	at_least "$T/m1" 'outpost_store_query_duration_seconds_count' 10 &&
	at_least "$T/m1" 'outpost_store_up' 1 &&
	at_least "$T/m1" 'outpost_audit_queue_limit' 1
}
try_for 15 moved || { cat "$T/m1" >&2; fail "counters did not move with the traffic"; }
promtool check metrics <"$T/m1" >"$T/lint1" 2>&1 || { cat "$T/lint1" >&2; fail "promtool check metrics (busy)"; }
log "after traffic: $(grep -E '^outpost_(connects|authentications|relayed_bytes)_total' "$T/m1" | tr '\n' ' ')"

# `ssh jump metrics`: the same families for an admin, refused for a user.
ssh -F "$acfg" jump metrics >"$T/ssh-m" 2>"$T/ssh-m.err" || fail "ssh jump metrics as admin: $(cat "$T/ssh-m.err")"
promtool check metrics <"$T/ssh-m" >"$T/lint2" 2>&1 || { cat "$T/lint2" >&2; fail "promtool check metrics (ssh jump metrics)"; }
diff <(grep '^# TYPE' "$T/m1") <(grep '^# TYPE' "$T/ssh-m") >&2 || fail "ssh jump metrics and /metrics differ in families"
at_least "$T/ssh-m" 'outpost_devices{fleet="acme",state="online"}' 1 || fail "ssh jump metrics: pi-hq.acme not online"
ssh -F "$CFG" jump metrics >"$T/ssh-u" 2>"$T/ssh-u.err" && fail "alice (not an admin) ran metrics"
expect_output "$T/ssh-u.err" 'not permitted' "metrics for a plain user"
[ -s "$T/ssh-u" ] && fail "a refused metrics printed: $(head -c 200 "$T/ssh-u")"
outpost metrics >/dev/null 2>"$T/local.err" && fail "local outpost metrics claimed live counters"
expect_output "$T/local.err" 'through the server' "local outpost metrics"

# Hostile HTTP: each gets an error or a close, and outpostd keeps serving.
[ "$(http "$T/h" GET /)" = 404 ] || fail "GET / not 404"
[ "$(http "$T/h" GET /metrics/../etc/passwd)" = 404 ] || fail "a path with .. not 404"
[ "$(http "$T/h" POST /metrics)" = 405 ] || fail "POST /metrics not 405"
[ "$(http "$T/h" DELETE /metrics)" = 405 ] || fail "DELETE /metrics not 405"
code=$(http "$T/h" GET "/metrics?$(head -c 20000 /dev/zero | tr '\0' a)")
case $code in 4*|closed) ;; *) fail "a 20 kB request line got $code" ;; esac
code=$(http "$T/h" RAW 'GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: '"$(head -c 20000 /dev/zero | tr '\0' b)"'\r\n\r\n')
case $code in 4*|closed) ;; *) fail "20 kB of headers got $code" ;; esac
code=$(http "$T/h" RAW 'hello\x00\x01\xff\r\n\r\n')
case $code in 4*|closed) ;; *) fail "junk got $code" ;; esac
code=$(http "$T/h" RAW 'GET /metrics HTTP/1.1\r\n\r\n')
case $code in 400|closed) ;; *) fail "HTTP/1.1 without Host got $code" ;; esac
# Idle connections are bounded: per address, then closed after their timeout.
"$PY" - "$MPORT" <<-'EOF' || fail "idle HTTP connections not bounded"
import socket, sys, time
port = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(6)]
t0 = time.time()
closed = 0
for s in held:
    try:
        closed += s.recv(1) == b""
    except socket.timeout:
        pass
# over the per-address limit: closed at once; the rest after the idle timeout
sys.exit(0 if closed == 6 and time.time() - t0 < 10 else 1)
EOF
scrape "$T/m2"
at_least "$T/m2" 'outpost_metrics_http_answers_total{code="404"}' 2 || fail "404s not counted"
at_least "$T/m2" 'outpost_metrics_http_answers_total{code="405"}' 2 || fail "405s not counted"
[ "$(dev_ssh root@pi-hq.acme echo still)" = still ] || fail "outpostd stopped serving after hostile HTTP"
alive "$OUTPOSTD_PID" || fail "outpostd died"

# A MetricsListen address already taken: a second outpostd refuses to start, saying so.
printf 'AllowRoot yes\nMetricsListen 127.0.0.1:%s\n' "$MPORT" >"$T/second.conf"
timeout 30 "$OUTPOSTD_BIN" -f "$T/second.conf" -d "$T/state2" -l "127.0.0.1:$(pick_port)" </dev/null >"$T/second.log" 2>&1 &&
	fail "a second outpostd started on a taken MetricsListen address"
expect_output "$T/second.log" "MetricsListen 127\.0\.0\.1:$MPORT" "second outpostd's reason"
scrape "$T/m3"

# The rules and the dashboard: valid, and every metric they name exists.
promtool check rules "$RULES" >"$T/rules" 2>&1 || { cat "$T/rules" >&2; fail "promtool check rules"; }
promtool test rules "$IT_DIR/metrics-rules.test.yml" >"$T/rules-test" 2>&1 ||
	{ cat "$T/rules-test" >&2; fail "promtool test rules"; }
"$PY" -c 'import json, sys; json.load(open(sys.argv[1]))' "$DASH" || fail "$DASH is not JSON"
for m in $(grep -ohE 'outpost_[a-z_]+' "$RULES" "$DASH" | sort -u); do
	base=$(echo "$m" | sed -E 's/_(bucket|sum|count)$//')
	grep -qE "^# TYPE ($m|$base) " "$T/m2" || fail "$m (in the rules or the dashboard) is not served"
done
done_ok
