#!/usr/bin/python3
"""sockact.py [ADDR:]PORT PROGRAM ARGS...: what systemd does for
outpostd.socket: one listening socket on ADDR:PORT (default 127.0.0.1), held
here, passed to PROGRAM as descriptor 3 with LISTEN_FDS=1 and LISTEN_PID (the
sd_listen_fds(3) protocol). Each start and stop is printed with a timestamp.

For t-socket-activation: SIGUSR1 SIGTERMs the program, waits for it, waits
GAP seconds (env SOCKACT_GAP, default 2) with the socket still listening, and
starts it again; SIGTERM stops the program and exits; a program that exits by
itself ends this script with status 1.

For bench/nodes.sh, env SOCKACT_RESPAWN=1: a program that exits (stopped by
someone else, as the benchmark's restart does) is started again at once, as
systemd starts a socket-activated service when the next connection arrives;
more than 5 exits within 10 s end this script with status 1.
SOCKACT_PIDFILE: the running program's pid is written there.
SOCKACT_BACKLOG: the socket's listen backlog (default 128; systemd's is
SOMAXCONN, dist/systemd/outpostd.socket says 4096)."""
import os, signal, socket, sys, time

where, prog = sys.argv[1], sys.argv[2:]
host, _, port = where.rpartition(":")
host = host.strip("[]") or "127.0.0.1"
gap = float(os.environ.get("SOCKACT_GAP", "2"))
respawn = os.environ.get("SOCKACT_RESPAWN", "0") == "1"
pidfile = os.environ.get("SOCKACT_PIDFILE")
ls = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((host, int(port)))
ls.listen(int(os.environ.get("SOCKACT_BACKLOG", "128")))

def say(what):
    print("%s %s" % (time.strftime("%H:%M:%S"), what), flush=True)

def start():
    pid = os.fork()
    if pid == 0:
        if ls.fileno() != 3:
            os.dup2(ls.fileno(), 3)
        os.set_inheritable(3, True)
        os.environ["LISTEN_FDS"] = "1"
        os.environ["LISTEN_PID"] = str(os.getpid())
        os.execv(prog[0], prog)
    if pidfile:
        with open(pidfile + ".tmp", "w") as f:
            f.write("%d\n" % pid)
        os.rename(pidfile + ".tmp", pidfile)
    say("started %d" % pid)
    return pid

def stop(pid):
    os.kill(pid, signal.SIGTERM)
    _, status = os.waitpid(pid, 0)
    say("stopped %d (status %d)" % (pid, status))

restart = False
ending = False
def on_usr1(sig, frm):
    global restart
    restart = True
def on_term(sig, frm):
    global ending
    ending = True
signal.signal(signal.SIGUSR1, on_usr1)
signal.signal(signal.SIGTERM, on_term)

child = start()
exits = []
while not ending:
    time.sleep(0.05)
    if restart:
        restart = False
        stop(child)
        say("socket held, nothing accepts for %.1f s" % gap)
        time.sleep(gap)
        child = start()
        continue
    pid, status = os.waitpid(child, os.WNOHANG)
    if pid != child:
        continue
    if not respawn:
        say("program exited by itself (status %d)" % status)
        sys.exit(1)
    say("exited %d (status %d), started again" % (child, status))
    now = time.monotonic()
    exits = [t for t in exits if now - t < 10] + [now]
    if len(exits) > 5:
        say("more than 5 exits within 10 s: giving up")
        sys.exit(1)
    child = start()
stop(child)
