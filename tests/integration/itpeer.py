#!/usr/bin/python3
"""itpeer.py: tiny TCP peers for the integration tests, so no netcat is needed.

  itpeer.py serve PORT:MODE...   listen on 127.0.0.1:PORT for each spec;
                                 MODE is "echo" (send back every byte until
                                 EOF, then close), "name=TEXT" (send TEXT and
                                 a newline, then close) or "file=PATH" (send
                                 the file's bytes, then close) or "stall"
                                 (accept with a 4 KiB receive buffer, then
                                 never read nor close)
  itpeer.py send PORT [RCVBUF]   connect to 127.0.0.1:PORT, copy stdin to the
                                 socket (then half-close) and the socket to
                                 stdout, both at once (flushed as it comes, so
                                 it also serves as an ssh ProxyCommand); with
                                 RCVBUF, the socket's receive buffer is fixed
                                 at that many bytes before connecting
  itpeer.py junk PORT CASE       one hostile pre-authentication client (see
                                 JUNK); exits 0 once the server closed or the
                                 case is done
  itpeer.py hold PORT N SECONDS  hold N half-open pre-banner connections
  itpeer.py channels PORT USER KEY DEST DPORT N SECONDS
                                 (python3-paramiko) log in to the SSH server
                                 on PORT as USER with KEY, open N direct-tcpip
                                 channels to DEST:DPORT and fill one window after
                                 the other, round and round, for SECONDS;
                                 print the channels opened and bytes written,
                                 then hold them open until stdin ends
  itpeer.py keepalive PORT USER KEY
                                 (python3-paramiko) log in as USER with KEY,
                                 print "ready", then send a keepalive global
                                 request every 50 ms, each waiting for its
                                 answer, until stdin ends; print the slowest
                                 answer in milliseconds and how many were sent
  itpeer.py flood PORT N SECONDS FIRST_SRC NSRC
                                 N connections at once from NSRC source
                                 addresses counting up from FIRST_SRC
                                 (127.0.1.1 ...): a third send nothing, a third
                                 half a banner, a third a banner and a KEXINIT,
                                 then all stay silent; any the server closes
                                 is opened again (at most 10*N attempts) until
                                 SECONDS pass; prints a JSON summary
  itpeer.py audit FILE EVENT [KEY=VALUE]...
                                 count audit.log lines of EVENT whose members
                                 equal the given values (numbers compare as text)
  itpeer.py audit-check FILE     every line is a JSON object with "ts" and
                                 "event"; prints the first bad line and fails
"""
import json
import os
import socket
import struct
import sys
import threading
import time


def half_close(conn):
    """Ends our direction, then reads (and drops) until the peer ends its."""
    conn.shutdown(socket.SHUT_WR)
    while conn.recv(65536):
        pass


def handle(conn, mode):
    with conn:
        try:
            if mode == "stall":
                while True:
                    time.sleep(3600)
            if mode.startswith("file="):
                with open(mode[5:], "rb") as f:
                    while True:
                        data = f.read(262144)
                        if not data:
                            break
                        conn.sendall(data)
                half_close(conn)
                return
            if mode.startswith("name="):
                conn.sendall(mode[5:].encode() + b"\n")
                half_close(conn)
                return
            while True:
                data = conn.recv(262144)
                if not data:
                    break
                conn.sendall(data)
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def serve(specs):
    listeners = []
    for spec in specs:
        port, mode = spec.split(":", 1)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if mode == "stall":	# accepted sockets inherit it: little for the kernel to absorb
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.bind(("127.0.0.1", int(port)))
        s.listen(128)
        listeners.append((s, mode))

    def accept_loop(s, mode):
        while True:
            conn, _ = s.accept()
            threading.Thread(target=handle, args=(conn, mode), daemon=True).start()

    threads = [threading.Thread(target=accept_loop, args=lm, daemon=True) for lm in listeners]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def send(port, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, int(rcvbuf))
    s.settimeout(60)
    s.connect(("127.0.0.1", int(port)))
    s.settimeout(None)

    def pump_in():
        try:
            while True:
                data = os.read(0, 262144)
                if not data:
                    break
                s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    t = threading.Thread(target=pump_in, daemon=True)
    t.start()
    out = sys.stdout.buffer
    while True:
        data = s.recv(262144)
        if not data:
            break
        out.write(data)
        out.flush()
    t.join(timeout=5)


def ssh_packet(payload, pad=4):
    """An unencrypted SSH binary packet (RFC 4253 6) around payload."""
    pad = 8 - ((5 + len(payload)) % 8)
    if pad < 4:
        pad += 8
    return struct.pack(">IB", 1 + len(payload) + pad, pad) + payload + os.urandom(pad)


def name_list(s):
    return struct.pack(">I", len(s)) + s


def kexinit(lists=None):
    lists = lists or [b"curve25519-sha256", b"ssh-ed25519", b"aes128-ctr", b"aes128-ctr",
                      b"hmac-sha2-256", b"hmac-sha2-256", b"none", b"none", b"", b""]
    return bytes([20]) + os.urandom(16) + b"".join(name_list(x) for x in lists) + b"\0" + b"\0\0\0\0"


BANNER = b"SSH-2.0-OpenSSH_9.2p1 itpeer\r\n"

# name -> list of byte strings sent one after the other (None = pause 0.2 s)
JUNK = {
    "connect-close": [],
    "random": [os.urandom(65536)],
    "banner-only": [BANNER],
    "banner-random": [BANNER, os.urandom(65536)],
    "nul-banner": [b"SSH-2.0-\0\0\0evil\r\n"],
    "ssh1-banner": [b"SSH-1.5-old\r\n"],
    "long-banner": [b"SSH-2.0-" + b"A" * (1 << 20)],
    "pre-banner-lines": [b"hello\r\n" * 5000],
    "huge-length": [BANNER, struct.pack(">IB", 0xFFFFFFFF, 4) + os.urandom(64)],
    "zero-length": [BANNER, struct.pack(">IB", 0, 0) * 16],
    "truncated-packet": [BANNER, struct.pack(">IB", 35000, 4) + os.urandom(1000)],
    "truncated-kexinit": [BANNER, ssh_packet(kexinit())[:40]],
    "kexinit-huge-namelist": [BANNER, ssh_packet(bytes([20]) + os.urandom(16) + struct.pack(">I", 0x7FFFFFFF) + b"x" * 100)],
    "kexinit-no-common": [BANNER, ssh_packet(kexinit([b"nope"] * 10))],
    "kexinit-then-close": [BANNER, ssh_packet(kexinit())],
    "kexinit-twice": [BANNER, ssh_packet(kexinit()), ssh_packet(kexinit())],
    "service-before-kex": [BANNER, ssh_packet(bytes([5]) + name_list(b"ssh-userauth"))],
    "userauth-before-kex": [BANNER, ssh_packet(bytes([50]) + name_list(b"root") + name_list(b"ssh-connection") + name_list(b"none"))],
    "channel-open-before-kex": [BANNER, ssh_packet(bytes([90]) + name_list(b"direct-tcpip") + b"\0\0\0\0" * 3)],
    "slow-banner": [b"SSH-2.0-", None, b"slow", None, b"\r\n"],
}


def junk(port, case):
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
    try:
        for chunk in JUNK[case]:
            if chunk is None:
                time.sleep(0.2)
                continue
            s.sendall(chunk)
        s.shutdown(socket.SHUT_WR)
        s.settimeout(10)
        while s.recv(65536):
            pass
    except OSError:
        pass
    finally:
        s.close()


def keepalive(port, user, keyfile):
    import paramiko
    t = paramiko.Transport(("127.0.0.1", int(port)))
    t.connect(username=user, pkey=paramiko.Ed25519Key.from_private_key_file(keyfile))
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    print("ready", flush=True)
    worst, n = 0.0, 0
    while not stop.is_set() and t.is_active():
        t0 = time.monotonic()
        t.global_request("keepalive@openssh.com", wait=True)
        worst = max(worst, time.monotonic() - t0)
        n += 1
        stop.wait(0.05)
    print(int(worst * 1000), n, flush=True)
    t.close()


def hold(port, n, secs):
    """Opens n connections that send half a banner and then nothing."""
    socks = []
    for _ in range(int(n)):
        try:
            c = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
            c.sendall(b"SSH-2.0-")
            socks.append(c)
        except OSError:
            pass
    print(len(socks), flush=True)
    time.sleep(float(secs))
    for c in socks:
        c.close()


def channels(port, user, keyfile, dest, dport, n, secs):
    import paramiko
    t = paramiko.Transport(("127.0.0.1", int(port)))
    t.connect(username=user, pkey=paramiko.Ed25519Key.from_private_key_file(keyfile))
    chans = []
    for _ in range(int(n)):
        try:
            c = t.open_channel("direct-tcpip", (dest, int(dport)), ("127.0.0.1", 0), timeout=30)
        except Exception:
            break
        c.setblocking(0)
        chans.append(c)
    chunk, total = b"\x5a" * 32768, 0
    end = time.time() + float(secs)
    while time.time() < end and t.is_active():
        moved = 0
        for c in chans:	# one window at a time: the most held per byte sent
            try:
                while c.send_ready() and time.time() < end:
                    moved += c.send(chunk)
            except Exception:
                pass
        total += moved
        if moved == 0:
            time.sleep(0.05)
    print(len(chans), total, flush=True)
    sys.stdin.read()
    for c in chans:
        c.close()
    t.close()


def flood(port, n, secs, first, nsrc):
    import ipaddress
    import selectors
    n, secs, nsrc = int(n), float(secs), int(nsrc)
    base = int(ipaddress.IPv4Address(first))
    sel = selectors.DefaultSelector()
    st = {"attempts": 0, "connected": 0, "refused": 0, "closed_by_server": 0,
          "max_open": 0, "open_at_end": 0}
    live = {}
    hello = [b"", b"SSH-2.0-", BANNER + ssh_packet(kexinit())]

    def open_one(i):
        src = str(ipaddress.IPv4Address(base + i % nsrc))
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.setblocking(False)
        try:
            c.bind((src, 0))
            c.connect_ex(("127.0.0.1", int(port)))
        except OSError:
            c.close()
            st["refused"] += 1
            return
        st["attempts"] += 1
        live[c] = [i, False]
        sel.register(c, selectors.EVENT_WRITE | selectors.EVENT_READ)

    def drop(c, why):
        sel.unregister(c)
        del live[c]
        c.close()
        st[why] += 1

    for i in range(n):
        open_one(i)
    end = time.time() + secs
    while time.time() < end:
        for key, ev in sel.select(timeout=0.2):
            c = key.fileobj
            i, up = live[c]
            if not up and ev & selectors.EVENT_WRITE:
                if c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                    drop(c, "refused")
                    continue
                live[c][1] = True
                st["connected"] += 1
                sel.modify(c, selectors.EVENT_READ)
                try:
                    if hello[i % 3]:
                        c.send(hello[i % 3])
                except OSError:
                    pass
                continue
            if ev & selectors.EVENT_READ:
                try:
                    data = c.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    drop(c, "closed_by_server")
        st["max_open"] = max(st["max_open"], sum(1 for v in live.values() if v[1]))
        while len(live) < n and st["attempts"] < 10 * n and time.time() < end:
            open_one(st["attempts"])
    st["open_at_end"] = sum(1 for v in live.values() if v[1])
    for c in list(live):
        c.close()
    print(json.dumps(st), flush=True)


def audit_records(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            out.append(None)
    return out


def audit_count(path, event, conds):
    want = [c.split("=", 1) for c in conds]
    n = 0
    for rec in audit_records(path):
        if not isinstance(rec, dict) or rec.get("event") != event:
            continue
        if all(str(rec.get(k)) == v for k, v in want):
            n += 1
    print(n)


def audit_check(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        for i, line in enumerate(f.read().splitlines(), 1):
            try:
                rec = json.loads(line)
            except ValueError as e:
                print("line %d: not JSON (%s): %r" % (i, e, line[:200]))
                sys.exit(1)
            if not isinstance(rec, dict) or "event" not in rec or "ts" not in rec:
                print("line %d: not an object with ts and event: %r" % (i, line[:200]))
                sys.exit(1)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "junk-cases":
        print(" ".join(JUNK))
    elif len(sys.argv) == 5 and sys.argv[1] == "hold":
        hold(sys.argv[2], sys.argv[3], sys.argv[4])
    elif len(sys.argv) == 9 and sys.argv[1] == "channels":
        channels(*sys.argv[2:])
    elif len(sys.argv) == 5 and sys.argv[1] == "keepalive":
        keepalive(*sys.argv[2:])
    elif len(sys.argv) == 7 and sys.argv[1] == "flood":
        flood(*sys.argv[2:])
    elif len(sys.argv) == 4 and sys.argv[1] == "junk":
        junk(sys.argv[2], sys.argv[3])
    elif len(sys.argv) >= 4 and sys.argv[1] == "audit":
        audit_count(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif len(sys.argv) == 3 and sys.argv[1] == "audit-check":
        audit_check(sys.argv[2])
    elif len(sys.argv) >= 3 and sys.argv[1] == "serve":
        serve(sys.argv[2:])
    elif len(sys.argv) in (3, 4) and sys.argv[1] == "send":
        send(*sys.argv[2:])
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)
