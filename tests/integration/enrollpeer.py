#!/usr/bin/python3
"""enrollpeer.py: hostile `enroll` logins (paramiko) for t-enroll-flood.

Every mode connects to 127.0.0.1:PORT from the source address SRC
(127.0.0.X) and logs in as `enroll` with the ed25519 key KEY.

  enrollpeer.py hold PORT SRC KEY N SECONDS
        opens N enroll logins, 10 at a time, each with one session channel, and
        holds them; prints "held K" once all tried (K logged in), then
        "closed C of K after S s" when the server has closed them all or
        SECONDS passed (C closed by the server).
  enrollpeer.py channels PORT SRC KEY
        a second session channel on one enroll login; prints "refused" or
        "accepted".
  enrollpeer.py commands PORT SRC KEY
        two exec requests (`help`) sent back to back on one channel; prints
        "sent" once the channel closed (the audit log says how many ran).
  enrollpeer.py stdin PORT SRC KEY BYTES
        sends BYTES of stdin on the channel before any command; prints
        "closed" if the server ended the login within 10 s, else "open".
  enrollpeer.py guess PORT SRC BADKEY KEY COMMAND
        first a failed key attempt as user alice with BADKEY, then logs in
        as enroll with KEY and runs COMMAND; prints its exit status.
  enrollpeer.py shapes PORT KEY SRC1 SRC2 SRC3 BYTES
        channels from SRC1, commands from SRC2, stdin BYTES from SRC3, in
        one process (one line each).
  enrollpeer.py guesses PORT SRC TOKEN BADKEY KEY NAME [BADKEY KEY NAME]...
        guess with COMMAND "TOKEN NAME" for each triple, one line each.
  enrollpeer.py banner PORT SRC
        prints "open" if the server sends its identification, else "refused".
"""
import socket
import sys
import time

import paramiko
from paramiko.common import cMSG_CHANNEL_REQUEST
from paramiko.message import Message


def sock_from(src, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(15)
    s.bind((src, 0))
    s.connect(("127.0.0.1", int(port)))
    return s


def login(port, src, keyfile, user="enroll"):
    t = paramiko.Transport(sock_from(src, port))
    t.start_client(timeout=20)
    t.auth_publickey(user, paramiko.Ed25519Key.from_private_key_file(keyfile))
    return t


def hold(port, src, keyfile, n, secs):
    from concurrent.futures import ThreadPoolExecutor

    def one(_):
        try:
            t = login(port, src, keyfile)
            t.open_session(timeout=10)
            return t
        except Exception:
            return None
    with ThreadPoolExecutor(max_workers=10) as pool:
        held = [t for t in pool.map(one, range(int(n))) if t is not None]
    print("held %d" % len(held), flush=True)
    t0 = time.time()
    while time.time() - t0 < float(secs) and any(t.is_active() for t in held):
        time.sleep(0.1)
    closed = sum(1 for t in held if not t.is_active())
    print("closed %d of %d after %.1f s" % (closed, len(held), time.time() - t0), flush=True)
    for t in held:
        t.close()


def channels(port, src, keyfile):
    t = login(port, src, keyfile)
    t.open_session(timeout=10)
    try:
        t.open_session(timeout=10)
        print("accepted")
    except Exception:
        print("refused")
    t.close()


def exec_request(chan, cmd):
    m = Message()
    m.add_byte(cMSG_CHANNEL_REQUEST)
    m.add_int(chan.remote_chanid)
    m.add_string("exec")
    m.add_boolean(True)
    m.add_string(cmd)
    chan.transport._send_user_message(m)


def commands(port, src, keyfile):
    t = login(port, src, keyfile)
    chan = t.open_session(timeout=10)
    exec_request(chan, "help")
    exec_request(chan, "help")
    t0 = time.time()
    while time.time() - t0 < 10 and not chan.closed:
        time.sleep(0.05)
    print("sent")
    t.close()


def stdin(port, src, keyfile, nbytes):
    t = login(port, src, keyfile)
    chan = t.open_session(timeout=10)
    try:
        chan.sendall(b"x" * int(nbytes))
    except Exception:
        pass
    t0 = time.time()
    while time.time() - t0 < 10 and t.is_active():
        time.sleep(0.05)
    print("open" if t.is_active() else "closed")
    t.close()


def shapes(port, keyfile, src_chan, src_cmd, src_in, nbytes):
    channels(port, src_chan, keyfile)
    commands(port, src_cmd, keyfile)
    stdin(port, src_in, keyfile, nbytes)


def guesses(port, src, token, *triples):
    for i in range(0, len(triples) - 2, 3):
        guess(port, src, triples[i], triples[i + 1], "%s %s" % (token, triples[i + 2]))


def guess(port, src, badkey, keyfile, command):
    t = paramiko.Transport(sock_from(src, port))
    t.start_client(timeout=20)
    try:
        t.auth_publickey("alice", paramiko.Ed25519Key.from_private_key_file(badkey))
        sys.exit("the bad key was accepted")
    except paramiko.AuthenticationException:
        pass
    t.auth_publickey("enroll", paramiko.Ed25519Key.from_private_key_file(keyfile))
    chan = t.open_session(timeout=10)
    chan.exec_command(command)
    print(chan.recv_exit_status(), flush=True)
    t.close()


def banner(port, src):
    try:
        s = sock_from(src, port)
        s.settimeout(5)
        print("open" if s.recv(64).startswith(b"SSH-") else "refused")
    except OSError:
        print("refused")


if __name__ == "__main__":
    modes = {"hold": (hold, 5), "channels": (channels, 3), "commands": (commands, 3),
             "stdin": (stdin, 4), "guess": (guess, 5), "banner": (banner, 2),
             "shapes": (shapes, 6), "guesses": (guesses, None)}
    a = sys.argv[1:]
    if not a or a[0] not in modes or (modes[a[0]][1] is not None and len(a) - 1 != modes[a[0]][1]) \
            or (a[0] == "guesses" and (len(a) < 7 or (len(a) - 4) % 3 != 0)):
        sys.stderr.write(__doc__)
        sys.exit(2)
    modes[a[0]][0](*a[1:])
