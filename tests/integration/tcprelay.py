#!/usr/bin/env python3
"""tcprelay.py LISTEN_PORT TARGET_HOST TARGET_PORT: a TCP relay on 127.0.0.1
for the scenarios that cut a path (t-nodes-cutoff: one node's way to
PostgreSQL). Every accepted connection is joined to a new one to the target;
killing the relay (kill -9) cuts them all at once (the kernel closes both
ends), and starting it again on the same port heals the path. Prints
"listening PORT" once it accepts. Loopback only, bounded: at most 64
connections at a time, 64 KiB buffers."""
import selectors
import socket
import sys

MAX_CONNS = 64
CHUNK = 65536


def main():
    port, host, tport = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    ls.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ, None)
    peers = {}
    print("listening %d" % port, flush=True)

    def close(s):
        p = peers.pop(s, None)
        for x in (s, p):
            if x is None:
                continue
            peers.pop(x, None)
            try:
                sel.unregister(x)
            except (KeyError, ValueError):
                pass
            x.close()

    while True:
        for key, _ in sel.select():
            s = key.fileobj
            if s is ls:
                c, _ = ls.accept()
                if len(peers) >= 2 * MAX_CONNS:
                    c.close()
                    continue
                try:
                    t = socket.create_connection((host, tport), timeout=5)
                except OSError:
                    c.close()
                    continue
                for x in (c, t):
                    x.setblocking(True)
                    x.settimeout(None)
                peers[c], peers[t] = t, c
                sel.register(c, selectors.EVENT_READ, None)
                sel.register(t, selectors.EVENT_READ, None)
                continue
            try:
                data = s.recv(CHUNK)
            except OSError:
                data = b""
            if not data:
                close(s)
                continue
            try:
                peers[s].sendall(data)
            except (OSError, KeyError):
                close(s)


if __name__ == "__main__":
    main()
