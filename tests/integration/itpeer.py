#!/usr/bin/python3
"""itpeer.py: tiny TCP peers for the integration tests, so no netcat is needed.

  itpeer.py serve PORT:MODE...   listen on 127.0.0.1:PORT for each spec;
                                 MODE is "echo" (send back every byte until
                                 EOF, then close) or "name=TEXT" (send TEXT and
                                 a newline, then close)
  itpeer.py send PORT            connect to 127.0.0.1:PORT, copy stdin to the
                                 socket (then half-close) and the socket to
                                 stdout, both at once
  itpeer.py audit FILE EVENT [KEY=VALUE]...
                                 count audit.log lines of EVENT whose members
                                 equal the given values (numbers compare as text)
  itpeer.py audit-check FILE     every line is a JSON object with "ts" and
                                 "event"; prints the first bad line and fails
"""
import json
import os
import socket
import sys
import threading


def handle(conn, mode):
    with conn:
        try:
            if mode.startswith("name="):
                conn.sendall(mode[5:].encode() + b"\n")
                conn.shutdown(socket.SHUT_WR)
                while conn.recv(65536):
                    pass
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


def send(port):
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=60)
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
    if len(sys.argv) >= 4 and sys.argv[1] == "audit":
        audit_count(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif len(sys.argv) == 3 and sys.argv[1] == "audit-check":
        audit_check(sys.argv[2])
    elif len(sys.argv) >= 3 and sys.argv[1] == "serve":
        serve(sys.argv[2:])
    elif len(sys.argv) == 3 and sys.argv[1] == "send":
        send(sys.argv[2])
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)
