#!/bin/bash
# t-refusal-zero-window.sh: a refused channel whose client announces a zero
# window (so the reason can never be written) and then never closes it is
# still closed by outpostd within a bound, and only that channel: the
# session carries on. A paramiko client opens direct-tcpip with window 0 to
# a device that does not exist and sends an SSH identification line.
. "$(dirname "$0")/lib.sh"
require_outpost
"$PY" -c 'import paramiko' 2>/dev/null || skip "python3-paramiko is not installed"

fleet_add acme
user_add alice acme
start_jump

cat >"$T/zero-window.py" <<'PYEOF'
import socket, sys, time
import paramiko

port, keyfile, bound = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
sock = socket.create_connection(("127.0.0.1", port))
t = paramiko.Transport(sock)
t.start_client(timeout=20)
t.auth_publickey("alice", paramiko.Ed25519Key.from_private_key_file(keyfile))
# paramiko clamps windows to at least 32 KiB; announce 0 anyway
sanitize = t._sanitize_window_size
t._sanitize_window_size = lambda w: 0 if w == 0 else sanitize(w)
ch = t.open_channel("direct-tcpip", ("nosuch.acme", 22), ("127.0.0.1", 40000),
                    window_size=0, timeout=20)
ch.sendall(b"SSH-2.0-zero-window-probe\r\n")
start = time.monotonic()
while not ch.closed and time.monotonic() - start < bound:
    time.sleep(0.1)
took = time.monotonic() - start
if not ch.closed:
    print("channel still open after %.1f s" % took)
    sys.exit(1)
if not t.is_active():
    print("the whole session ended, not only the channel")
    sys.exit(1)
# the session still serves: a second channel is accepted
ch2 = t.open_channel("direct-tcpip", ("nosuch.acme", 22), ("127.0.0.1", 40001), timeout=20)
ch2.close()
print("closed after %.1f s" % took)
t.close()
PYEOF

# The refusal lingers at most RefuseWait (10 s by default) for the client's
# first bytes, then 5 s to deliver the reason: 15 s is generous; before the
# bound, the channel stayed open for as long as the client kept it.
timeout 60 "$PY" "$T/zero-window.py" "$JUMP_PORT" "$(key alice)" 15 >"$T/zw.out" 2>"$T/zw.err" ||
	fail "refused zero-window channel: $(cat "$T/zw.out" "$T/zw.err")"
log "$(cat "$T/zw.out")"
done_ok
