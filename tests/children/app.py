"""The program the children tests run: keeps one file on purpose and prints
`FDLEAK_PROC <pid> <kept fd>`; with the argument `workers`, forks two workers that do the same
and exit, and waits for them."""
import os
import sys

kept = open("/etc/hostname")
print("FDLEAK_PROC %d %d" % (os.getpid(), kept.fileno()), flush=True)
if "workers" in sys.argv:
    children = []
    for _ in range(2):
        pid = os.fork()
        if pid == 0:
            mine = open("/etc/hostname")
            print("FDLEAK_PROC %d %d" % (os.getpid(), mine.fileno()), flush=True)  # the parent's is inherited
            os._exit(0)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)
