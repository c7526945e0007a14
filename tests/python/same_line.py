"""One line leaks a socket and another a file, each called K times (K = argv[1]). CPython's
adaptive interpreter specializes the calls after a few runs, so the native frames under these
lines change from call to call; the report must still give one site per line, with K leaks, and
the same site key whatever K is (check_pysite.py). The program prints what it leaked:

    line <lineno> <kind> <fd>        one per descriptor it keeps
    open <fd> <fd> ...               /proc/self/fd at its end (the checker's ground truth)
"""
import os
import socket
import sys

keep = []


def make_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # SITE socket
    keep.append(s)
    return s.fileno()


def make_file():
    f = open("/etc/hostname", "rb")  # SITE file
    keep.append(f)
    return f.fileno()


def lineno_of(fn):
    return fn.__code__.co_firstlineno + 1


def main(k):
    for _ in range(k):
        print("line %d socket %d" % (lineno_of(make_socket), make_socket()))
        print("line %d file %d" % (lineno_of(make_file), make_file()))
    print("open " + " ".join(sorted(os.listdir("/proc/self/fd"), key=int)))
    sys.stdout.flush()


main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
