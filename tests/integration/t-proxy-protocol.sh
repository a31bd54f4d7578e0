#!/bin/bash
# timeout: 120
# t-proxy-protocol.sh: outpostd behind a real HAProxy (mode tcp, send-proxy-v2,
# health checks) with `ProxyProtocol 127.0.0.9` (HAProxy's source address; the
# devices dial 127.0.0.1 directly, without a header). A technician through
# HAProxy from 127.0.3.5 reaches a device byte-exact, and the audit log and
# `outpost who` name 127.0.3.5, not the balancer; failed keys from 127.0.3.6
# through the same HAProxy block 127.0.3.6 only; health checks cost nothing;
# a PROXY header from an unlisted address is refused and logged; a listed
# address sending anything but a header is closed.
. "$(dirname "$0")/lib.sh"
require_outpost
command -v haproxy >/dev/null || skip "no haproxy (Debian package haproxy)"

OUTPOSTD_CONF_EXTRA="ProxyProtocol 127.0.0.9
PerSourcePenaltyExempt 127.0.0.1/32
PerSourcePenaltyFailures 3
PerSourcePenaltyMin 60"
basic_setup

HA_PORT=$(pick_port)
haproxy_start "$HA_PORT" "s1 127.0.0.1:$JUMP_PORT send-proxy-v2 check inter 300ms source 127.0.0.9"

# cfg_via SRC KEY: a client config whose jump is HAProxy, dialled from SRC.
cfg_via() {
	sed -e "s/^  Port $JUMP_PORT\$/  Port $HA_PORT\n  BindAddress $1\n  HostKeyAlias [127.0.0.1]:$JUMP_PORT/" \
	    -e "s|^  IdentityFile .*|  IdentityFile $2|" "$CFG" >"$T/ssh_config.via-$1"
	echo "$T/ssh_config.via-$1"
}
ALICE_KEY=$(key alice)
A=$(cfg_via 127.0.3.5 "$ALICE_KEY")
grep -q "BindAddress 127.0.3.5" "$A" || fail "client config through haproxy not written"

server_up() {
	"$PY" - "$T/haproxy.sock" <<'PYEOF'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"show stat\n")
out = b""
while True:
    d = s.recv(65536)
    if not d: break
    out += d
rows = [l.split(",") for l in out.decode().splitlines() if l.startswith("outpost,s1,")]
sys.exit(0 if rows and rows[0][17] == "UP" else 1)
PYEOF
}
wait_for "haproxy's health check passes" 10 server_up

# Byte-exact through HAProxy, from 127.0.3.5.
head -c 1048576 /dev/urandom >"$T/blob"
ssh -F "$A" -J jump pi-hq.acme cat <"$T/blob" >"$T/blob.back" || fail "technician through haproxy"
cmp -s "$T/blob" "$T/blob.back" || fail "bytes through haproxy differ"
n=$(grep -c '"event":"auth".*"src":"127.0.3.5:' "$AUDIT")
[ "$n" -ge 1 ] || fail "no auth record from 127.0.3.5 in the audit log"
grep '"src":"127.0.0.9:' "$AUDIT" && fail "the balancer's address is in the audit log"

ssh -F "$A" -J jump pi-hq.acme sleep 4 &
SLEEPER=$!
wait_for "alice in who from 127.0.3.5" 10 eval 'outpost who | grep alice | grep -q 127.0.3.5'
outpost who | grep alice | grep -q 127.0.0.9 && fail "who shows the balancer's address"
wait "$SLEEPER"

# Failed keys from 127.0.3.6 through the same HAProxy block 127.0.3.6 only.
ssh-keygen -q -t ed25519 -N '' -f "$T/stranger" || fail "ssh-keygen"
S=$(cfg_via 127.0.3.6 "$T/stranger")
for i in 1 2 3; do ssh -F "$S" jump true 2>/dev/null && fail "a stranger's key logged in"; done
n=$(grep -c '"event":"auth".*"result":"failure".*"src":"127.0.3.6:' "$AUDIT")
[ "$n" -ge 3 ] || fail "$n failures audited from 127.0.3.6, expected 3"
G=$(cfg_via 127.0.3.6 "$ALICE_KEY")
ssh -F "$G" -J jump pi-hq.acme echo in 2>/dev/null && fail "127.0.3.6 is not blocked"
[ "$(ssh -F "$A" -J jump pi-hq.acme echo still)" = still ] || fail "127.0.3.5 blocked with 127.0.3.6"

# Health checks (every 300 ms all along) cost nothing: none failed or closed.
server_up || fail "haproxy marks outpostd down"
grep -q "ProxyProtocol address) closed" "$DAEMON_LOG" && fail "a health check counted as a failure"

# A valid header from an unlisted address (127.0.0.1) is refused and logged.
"$PY" - "$JUMP_PORT" <<'PYEOF' || fail "unlisted header: connection not closed"
import socket, struct, sys
sig = b"\r\n\r\n\x00\r\nQUIT\n"
hdr = sig + bytes([0x21, 0x11]) + struct.pack("!H", 12) + bytes([10, 9, 9, 9, 127, 0, 0, 1]) + struct.pack("!HH", 4000, 22)
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(hdr + b"SSH-2.0-x\r\n")
try:
    while s.recv(4096):
        pass
except ConnectionResetError:
    pass  # closed with our bytes unread
PYEOF
wait_for "unlisted header logged" 5 grep -q "not listed in ProxyProtocol" "$DAEMON_LOG"
grep -q '10.9.9.9' "$AUDIT" && fail "the unlisted peer's header was believed"

# A listed address sending garbage, or SSH without a header, is closed.
for what in garbage ssh; do
	"$PY" - "$JUMP_PORT" "$what" <<'PYEOF' || fail "listed peer sending $what: not closed"
import socket, sys
s = socket.socket(); s.settimeout(10); s.bind(("127.0.0.9", 0))
s.connect(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET / HTTP/1.0\r\n\r\n" if sys.argv[2] == "garbage" else b"SSH-2.0-OpenSSH_9.2\r\n")
try:
    while s.recv(4096):
        pass
except ConnectionResetError:
    pass  # closed with our bytes unread
PYEOF
done
wait_for "garbage logged" 5 grep -q "ProxyProtocol address) closed: not a valid PROXY" "$DAEMON_LOG"
grep -q "closed: sent SSH without the PROXY" "$DAEMON_LOG" || fail "SSH without a header not logged as such"
[ "$(ssh -F "$A" -J jump pi-hq.acme echo last)" = last ] || fail "technician after the hostile peers"
done_ok
