"""Findings whose titles must count what they name (tests/check_titles.py). Against a server
on 127.0.0.1:PORT (argv[1], the checker's):
  - two places, client_a and client_b, each make 20 clients (connections) and keep them:
    duplicate-clients, 40 connections held from 2 places, 20 at each;
  - one place, mixed, keeps 3 files and 3 sockets (argv[2] = 3) or 30 and 30: never-closed,
    counted by kind;
  - one place, two_paths, makes files through two native paths (builtin open, os.open) and
    keeps only the open() ones: its finding lists the open() site, the other one only counted.
It prints its ground truth: FDLEAK_PLACE <name> <file>:<line> in <function> for each place,
FDLEAK_KEPT (every kept descriptor) and FDLEAK_OPEN (/proc/self/fd at its end)."""
import os
import socket
import sys

from groundtruth import open_fds

PORT, MIXED = int(sys.argv[1]), int(sys.argv[2])
kept = []


def place(name, fn, offset):
    code = fn.__code__
    print("FDLEAK_PLACE %s %s:%d in %s" % (name, code.co_filename, code.co_firstlineno + offset,
                                           getattr(code, "co_qualname", code.co_name)), flush=True)


def client_a():
    return socket.create_connection(("127.0.0.1", PORT))


def client_b():
    return socket.create_connection(("127.0.0.1", PORT))


def mixed(i):
    return open(__file__, "rb") if i % 2 else socket.socket(socket.AF_INET, socket.SOCK_STREAM)


def two_paths(keep):
    return open(__file__, "rb") if keep else os.fdopen(os.open(__file__, os.O_RDONLY), "rb")


place("a", client_a, 1)
place("b", client_b, 1)
place("mixed", mixed, 1)
place("two_paths", two_paths, 1)
for _ in range(20):
    kept.append(client_a())
    kept.append(client_b())
for i in range(2 * MIXED):
    kept.append(mixed(i))
for i in range(6):
    f = two_paths(i % 2)
    if i % 2:
        kept.append(f)
    else:
        f.close()


print("FDLEAK_KEPT", " ".join(str(k.fileno()) for k in kept), flush=True)
print("FDLEAK_OPEN", " ".join(str(fd) for fd in open_fds()), flush=True)
