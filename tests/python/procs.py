"""subprocess from four threads (vfork children that close and dup2 on the parent's memory)
and os.fork: the parent keeps its own frames and records; the forked child reports its own
leak at the child's line, and nothing of the parent's as a leak."""
import os
import subprocess
import threading

keep = []


def run_children(i):
    keep.append(open("/etc/hostname"))  # LEAK x4 fn=run_children
    for _ in range(10):
        subprocess.run(["/bin/true"], check=True)


threads = [threading.Thread(target=run_children, args=(i,)) for i in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()

before_fork = open("/etc/passwd")  # LEAK fn=<module>
pid = os.fork()
if pid == 0:
    child_file = open("/etc/os-release")  # LEAK child fn=<module>
    os._exit(0)
_, status = os.waitpid(pid, 0)
assert status == 0, status
