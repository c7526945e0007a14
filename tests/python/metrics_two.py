"""Two functions that leak (3 files in leak_a, 2 sockets in leak_b), then a pause long enough for
interval reports to rewrite the metrics file (tests/check_pymetrics.py). Prints each place as
the report names it (FDLEAK_PLACE <function> <file>:<line> in <function>) and what it keeps."""
import socket
import sys
import time

kept = []


def leak_a():
    kept.append(open(__file__, "rb"))


def leak_b():
    kept.append(socket.socket())


for fn, n in ((leak_a, 3), (leak_b, 2)):
    code = fn.__code__
    print("FDLEAK_PLACE %s %s:%d in %s" % (code.co_name, code.co_filename, code.co_firstlineno + 1, code.co_name))
    for _ in range(n):
        fn()
print("FDLEAK_KEPT", " ".join(str(k.fileno()) for k in kept), flush=True)
time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0)
