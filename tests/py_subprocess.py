"""Python victim: subprocess.run from four threads at once must not disturb the parent's records.

Run by whichever interpreter is under test (check_leaks.py -- PYTHON tests/py_subprocess.py).
CPython >= 3.10 starts subprocesses with vfork(); the child closes and dup2s descriptors through
libc on the parent's memory before it execs. The parent first leaks sockets, files and pipes
from named functions, then runs /bin/true 4 x 20 times from 4 threads, then ends with
os._exit(0) so that its leaks are still open when fdleak writes the exit report. A socket and two
files made before the runs are closed after them. The report must list exactly the leaks (kind,
desc, via, cloexec; the creating function is not checked here, "-": tests/python/ check
Python attribution) and no errors.

Declarations go to stdout in the victims' format (tests/victims/victim.h), one os.write each.
Like v_finish(), the script checks its declarations against the kernel before it exits, and in
a bare run (no LD_PRELOAD) that nothing else of its own is open; status 1 when that fails.
"""

import os
import socket
import stat
import subprocess
import sys
import tempfile
import threading

THREADS = 4
RUNS = 20

keep = []      # objects that own the leaked descriptors (never closed)
declared = {}  # fd -> (kind, cloexec)
failures = []


def say(line):
    os.write(1, (line + "\n").encode())


def declare(fd, kind, desc, via, cloexec):
    if fd in declared:
        failures.append("fd %d declared twice" % fd)
    declared[fd] = (kind, cloexec)
    say("leak %d %s - %s via=%s cloexec=%d" % (fd, kind, desc, via, cloexec))


def leak_tcp_listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(4)
    keep.append(s)
    declare(s.fileno(), "socket", "tcp&listen&127.0.0.1:%d" % s.getsockname()[1], "socket", 1)


def leak_udp_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    keep.append(s)
    declare(s.fileno(), "socket", "udp", "socket", 1)


def leak_socketpair():
    a, b = socket.socketpair()
    keep.extend((a, b))
    declare(a.fileno(), "socket", "unix", "socketpair", 1)
    declare(b.fileno(), "socket", "unix", "socketpair", 1)


def leak_file(path):
    f = open(path, "rb")  # io.FileIO: open() (open64 in an LFS build), O_CLOEXEC
    keep.append(f)
    declare(f.fileno(), "file", os.path.basename(path), "open|open64", 1)


def leak_os_open(path):
    fd = os.open(path, os.O_RDONLY)  # PEP 446: non-inheritable
    keep.append(fd)
    declare(fd, "file", os.path.basename(path), "open|open64", 1)


def leak_pipe():
    r, w = os.pipe()  # pipe2(O_CLOEXEC)
    keep.extend((r, w))
    declare(r, "pipe", "pipe:", "pipe2", 1)
    declare(w, "pipe", "pipe:", "pipe2", 1)


def run_many(errors):
    try:
        for _ in range(RUNS):
            subprocess.run(["/bin/true"], check=True, timeout=20)
    except Exception as e:  # noqa: BLE001 -- any failure is the test's failure
        errors.append(repr(e))


def kind_of(fd):
    st = os.fstat(fd)
    if stat.S_ISSOCK(st.st_mode):
        return "socket"
    if stat.S_ISFIFO(st.st_mode):
        return "pipe"
    if stat.S_ISREG(st.st_mode):
        return "file"
    return "other"


def self_check(workdir):
    for fd, (kind, cloexec) in sorted(declared.items()):
        try:
            got = kind_of(fd)
        except OSError as e:
            failures.append("fd %d declared as a leak but not open: %s" % (fd, e))
            continue
        if got != kind:
            failures.append("fd %d is a %s, declared %s" % (fd, got, kind))
        if os.get_inheritable(fd) == bool(cloexec):
            failures.append("fd %d has cloexec=%d, declared %d" % (
                fd, not os.get_inheritable(fd), cloexec))
    preloaded = bool(os.environ.get("LD_PRELOAD"))
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd <= 2 or fd in declared:
            continue
        try:
            target = os.readlink("/proc/self/fd/%d" % fd)
        except OSError:
            continue  # the listing's own descriptor
        mine = target.startswith("socket:") or target.startswith(workdir)
        if mine and not preloaded:
            failures.append("fd %d -> %s is open but not declared" % (fd, target))
        elif mine or not preloaded:
            sys.stderr.write("py_subprocess: note: fd %d -> %s open\n" % (fd, target))


def main():
    say("pid %d" % os.getpid())
    workdir = os.environ.get("FDLEAK_TEST_DIR") or tempfile.mkdtemp(prefix="fdleak-py-")
    path = os.path.join(workdir, "py_subprocess.dat")
    with open(path, "w") as f:
        f.write("fdleak\n")

    leak_tcp_listener()
    leak_udp_socket()
    leak_socketpair()
    leak_file(path)
    leak_os_open(path)
    leak_pipe()

    # made before the children, released after them: neither a leak nor a misuse, as long as
    # the vfork children's closes left the parent's records alone
    before = [socket.socket(socket.AF_INET, socket.SOCK_STREAM), open(path, "rb"),
              os.open(path, os.O_RDONLY)]

    errors = []
    threads = [threading.Thread(target=run_many, args=(errors,)) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
        if t.is_alive():
            failures.append("a subprocess thread did not finish in 120 s")
    failures.extend("subprocess.run failed: %s" % e for e in errors)

    before[0].close()
    before[1].close()
    os.close(before[2])
    # creating and releasing after the children still works in the parent's table
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.close()

    self_check(workdir)
    for f in failures:
        sys.stderr.write("py_subprocess self-check: %s\n" % f)
    sys.stderr.flush()
    os._exit(1 if failures else 0)


if __name__ == "__main__":
    main()
