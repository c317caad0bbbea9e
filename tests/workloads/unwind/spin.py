# spin.py [SECONDS]: python3 busy in its interpreter loop (default 3 s), for
# the unwinding tests: its native stacks run from _start through libc and
# the interpreter, none of it built with frame pointers.
import sys
import time


def work(n):
    return sum(i * i for i in range(n))


end = time.time() + (float(sys.argv[1]) if len(sys.argv) > 1 else 3.0)
while time.time() < end:
    work(10000)
