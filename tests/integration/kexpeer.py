#!/usr/bin/python3
"""kexpeer.py: key-exchange floods and round-trip probes for t-kex-flood and bench.

  kexpeer.py flood PORT SECONDS FIRST_SRC NSRC PER_SRC [ALGS]
        keeps NSRC*PER_SRC connections busy for SECONDS, PER_SRC from each of
        NSRC source addresses counting up from FIRST_SRC (127.0.3.1 ...).
        Each one sends its identification and a KEXINIT offering ALGS (a
        comma-separated list, most expensive first by default, as an attacker
        would order it), reads the server's KEXINIT, sends the key-exchange
        init with a random public value (no work on our side), waits for the
        server's reply (which cost it a full key exchange) and hangs up,
        then starts again at once. Prints a JSON summary: handshakes the
        server computed, connections it refused or closed early, and the
        algorithm it chose.
  kexpeer.py rtt PORT USER KEYFILE COUNT GAP_MS [START_FILE [STOP_FILE]]
        logs in with paramiko (then prints "ready" on standard error and
        waits for START_FILE to exist, if given) and sends up to COUNT
        keepalive@openssh.com global requests with want-reply, one every
        GAP_MS after the last answer, until STOP_FILE exists; prints
        "median_ms p99_ms max_ms count". A stall is one long sample: look
        at the maximum too.
  kexpeer.py kex PORT ALGS...
        one paramiko handshake per ALGS (a comma-separated list), offering
        only those; prints "ALGS agreed: <paramiko's kex class>" or "ALGS
        refused: <reason>" for each.
"""
import json
import os
import selectors
import socket
import struct
import sys
import time

BANNER = b"SSH-2.0-OpenSSH_9.2p1 kexpeer\r\n"
EXPENSIVE_FIRST = ("diffie-hellman-group18-sha512,diffie-hellman-group16-sha512,"
                   "diffie-hellman-group14-sha256,diffie-hellman-group-exchange-sha256,"
                   "ecdh-sha2-nistp521,ecdh-sha2-nistp384,ecdh-sha2-nistp256,"
                   "curve25519-sha256,curve25519-sha256@libssh.org")
# Bytes of the modulus of each fixed DH group (RFC 3526, RFC 8268).
DH_BYTES = {"diffie-hellman-group14-sha256": 256, "diffie-hellman-group14-sha1": 256,
            "diffie-hellman-group16-sha512": 512, "diffie-hellman-group18-sha512": 1024}


def packet(payload):
    """An unencrypted SSH binary packet (RFC 4253 6) around payload."""
    pad = 8 - ((5 + len(payload)) % 8)
    if pad < 4:
        pad += 8
    return struct.pack(">IB", 1 + len(payload) + pad, pad) + payload + os.urandom(pad)


def sshstr(b):
    return struct.pack(">I", len(b)) + b


def kexinit(algs):
    lists = [algs.encode(), b"ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512,rsa-sha2-256"]
    lists += [b"chacha20-poly1305@openssh.com,aes128-gcm@openssh.com,aes128-ctr"] * 2
    lists += [b"hmac-sha2-256-etm@openssh.com,hmac-sha2-256"] * 2
    lists += [b"none"] * 2 + [b""] * 2
    return packet(bytes([20]) + os.urandom(16) + b"".join(sshstr(x) for x in lists) + b"\0" + b"\0" * 4)


def kex_init_for(alg):
    """The client's key-exchange init for alg with a random public value, or None."""
    if alg in DH_BYTES:
        e = bytes([1 + os.urandom(1)[0] % 0x7e]) + os.urandom(DH_BYTES[alg] - 2)
        return packet(bytes([30]) + sshstr(e))
    if alg.startswith("curve25519"):
        return packet(bytes([30]) + sshstr(os.urandom(32)))
    return None	# ecdh-nistp and gex need real work or more messages: not flooded


class Conn:
    """One handshake in flight: parses the server's banner and packets as they come."""

    def __init__(self, src, port, algs):
        self.buf = b""
        self.banner = False
        self.alg = None
        self.sent_init = False
        self.algs = algs
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.s.setblocking(False)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.s.bind((src, 0))
        self.s.connect_ex(("127.0.0.1", port))
        self.connected = False

    def packets(self):
        while self.banner and len(self.buf) >= 5:
            n = struct.unpack(">I", self.buf[:4])[0]
            if len(self.buf) < 4 + n:
                return
            pad = self.buf[4]
            payload = self.buf[5:4 + n - pad]
            self.buf = self.buf[4 + n:]
            yield payload

    def feed(self, data):
        """Returns "done" once the server answered our init, "bad" on nonsense, else None."""
        self.buf += data
        if not self.banner:
            i = self.buf.find(b"\n")
            if i < 0:
                return "bad" if len(self.buf) > 8192 else None
            self.banner = True
            self.buf = self.buf[i + 1:]
        for p in self.packets():
            if p[:1] == b"\x14" and not self.sent_init:
                n = struct.unpack(">I", p[17:21])[0]
                theirs = p[21:21 + n].decode().split(",")
                self.alg = next((a for a in self.algs.split(",") if a in theirs), None)
                init = kex_init_for(self.alg) if self.alg else None
                if init is None:
                    return "nokex"
                self.s.sendall(init)
                self.sent_init = True
            elif p[:1] == b"\x1f":
                return "done"
        return None


def flood(port, secs, first, nsrc, per_src, algs=EXPENSIVE_FIRST):
    import ipaddress
    port, secs, nsrc, per_src = int(port), float(secs), int(nsrc), int(per_src)
    base = int(ipaddress.IPv4Address(first))
    sel = selectors.DefaultSelector()
    st = {"handshakes": 0, "refused": 0, "closed_early": 0, "nokex": 0, "alg": None}

    def start(i):
        src = str(ipaddress.IPv4Address(base + i % nsrc))
        try:
            c = Conn(src, port, algs)
        except OSError:
            st["refused"] += 1
            return
        sel.register(c.s, selectors.EVENT_WRITE, (c, i))

    def finish(c, i, why):
        sel.unregister(c.s)
        c.s.close()
        if why in st and why != "alg":
            st[why] += 1
        if time.time() < end:
            start(i)

    end = time.time() + secs
    for i in range(nsrc * per_src):
        start(i)
    while time.time() < end:
        if not sel.get_map():
            time.sleep(0.05)
            for i in range(nsrc * per_src):
                start(i)
            continue
        for key, ev in sel.select(timeout=0.2):
            c, i = key.data
            if not c.connected:
                if c.s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                    finish(c, i, "refused")
                    continue
                c.connected = True
                try:
                    c.s.sendall(BANNER + kexinit(algs))
                except OSError:
                    finish(c, i, "closed_early")
                    continue
                sel.modify(c.s, selectors.EVENT_READ, (c, i))
                continue
            try:
                data = c.s.recv(65536)
            except OSError:
                data = b""
            r = c.feed(data) if data else "closed_early"
            if r == "done":
                st["alg"] = c.alg
                st["handshakes"] += 1
                finish(c, i, None)
            elif r is not None:
                finish(c, i, r if r != "bad" else "closed_early")
    for key in list(sel.get_map().values()):
        key.fileobj.close()
    print(json.dumps(st), flush=True)


def connect(port, algs=None):
    import paramiko
    sock = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    t = paramiko.Transport(sock)
    if algs:
        t.get_security_options().kex = tuple(algs.split(","))
    t.start_client(timeout=20)
    return t


def rtt(port, user, keyfile, count, gap_ms, start=None, stop=None):
    import paramiko
    t = connect(port)
    t.auth_publickey(user, paramiko.Ed25519Key.from_private_key_file(keyfile))
    print("ready", file=sys.stderr, flush=True)
    while start is not None and not os.path.exists(start):
        time.sleep(0.05)
    times = []
    for _ in range(int(count)):
        if stop is not None and os.path.exists(stop) and times:
            break
        t0 = time.perf_counter()
        t.global_request("keepalive@openssh.com", wait=True)
        times.append((time.perf_counter() - t0) * 1000)
        if not t.is_active():
            sys.exit("session closed during the probe")
        time.sleep(int(gap_ms) / 1000)
    t.close()
    times.sort()
    print("%.2f %.2f %.2f %d" % (times[len(times) // 2], times[min(len(times) - 1, len(times) * 99 // 100)],
                                 times[-1], len(times)))


def kex(port, *algs):
    for a in algs:
        try:
            t = connect(port, a)
        except Exception as e:	# paramiko raises SSHException or EOFError for no common algorithm
            print("%s refused: %s" % (a, str(e) or type(e).__name__))
            continue
        print("%s agreed: %s" % (a, type(t.kex_engine).__name__))
        t.close()


if __name__ == "__main__":
    a = sys.argv[1:]
    if len(a) in (6, 7) and a[0] == "flood":
        flood(*a[1:])
    elif len(a) in (6, 7, 8) and a[0] == "rtt":
        rtt(*a[1:])
    elif len(a) >= 3 and a[0] == "kex":
        kex(*a[1:])
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)
