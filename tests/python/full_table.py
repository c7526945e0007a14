"""A Python program that runs out of descriptors (tests/check_full_table.py): files from
leak_file and sockets from leak_socket until EMFILE, five more tries as a server's accept loop
would make, then its ground truth and a normal exit. Prints FDLEAK_PLACE <function> <file>:<line>
in <function> for each leaking line, FDLEAK_PID <pid>, FDLEAK_KEPT <fd> <function> for each descriptor kept, and
FDLEAK_OPEN <fd>… — /proc/self/fd at the end, listed by closing the last kept descriptor for a
moment (the table is full) and opening it again at the same line, so the table is full at exit.
Optional arguments SOFT HARD: the program lowers its own RLIMIT_NOFILE first."""
import os
import resource
import socket
import sys

if len(sys.argv) > 2:
    resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[1]), int(sys.argv[2])))

kept = []


def leak_file():
    kept.append((open("/dev/null", "rb"), "leak_file"))


def leak_socket():
    kept.append((socket.socket(socket.AF_UNIX), "leak_socket"))


for fn in (leak_file, leak_socket):
    code = fn.__code__
    print("FDLEAK_PLACE %s %s:%d in %s" % (code.co_name, code.co_filename, code.co_firstlineno + 1, code.co_name))
fails, i = 0, 0
while fails < 6:
    try:
        (leak_socket if i % 2 else leak_file)()
    except OSError as e:
        if e.errno != 24:
            raise
        fails += 1
    i += 1
last, fn = kept.pop()
last.close()
names = os.listdir("/proc/self/fd")  # its directory descriptor takes the number just freed
(leak_socket if fn == "leak_socket" else leak_file)()
print("FDLEAK_PID %d" % os.getpid())
for f, fn in kept:
    print("FDLEAK_KEPT %d %s" % (f.fileno(), fn))
print("FDLEAK_OPEN", " ".join(sorted(names, key=int)), flush=True)
