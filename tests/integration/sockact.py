#!/usr/bin/python3
"""sockact.py PORT PROGRAM ARGS...: what systemd does for outpostd.socket,
for t-socket-activation: one listening socket on 127.0.0.1:PORT, held here,
passed to PROGRAM as descriptor 3 with LISTEN_FDS=1 and LISTEN_PID (the
sd_listen_fds(3) protocol). SIGUSR1: SIGTERM the program, wait for it, wait
GAP seconds (env SOCKACT_GAP, default 2) with the socket still listening,
start it again. SIGTERM: stop the program and exit. Each start and stop is
printed with a timestamp."""
import os, signal, socket, sys, time

port, prog = int(sys.argv[1]), sys.argv[2:]
gap = float(os.environ.get("SOCKACT_GAP", "2"))
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port))
ls.listen(128)

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
while not ending:
    time.sleep(0.05)
    if restart:
        restart = False
        stop(child)
        say("socket held, nothing accepts for %.1f s" % gap)
        time.sleep(gap)
        child = start()
    else:
        pid, status = os.waitpid(child, os.WNOHANG)
        if pid == child:
            say("program exited by itself (status %d)" % status)
            sys.exit(1)
stop(child)
