#!/usr/bin/python3
# rxrate.py: reads standard input to EOF; prints "BYTES MIB_PER_S", timed
# from the first byte read to EOF (bench/longlink.sh: a transfer's rate
# without the logins' round trips).
import os, sys, time

fd = sys.stdin.fileno()
first = None
total = 0
while True:
    b = os.read(fd, 1 << 20)
    if not b:
        break
    if first is None:
        first = time.monotonic()
    total += len(b)
end = time.monotonic()
secs = end - first if first is not None else 0
print(total, "%.2f" % (total / 1048576 / secs if secs > 0 else 0))
