"""os.fork from several threads while other threads open and close files (bounded: 2 x 20
forks): fdleak's captures hold locks (libunwind's, CPython's thread-state list lock during a
frame walk) that a child must not inherit held. Every child must exit at once; a child that
has not exited within 10 s counts as hung and fails the run."""
import os
import signal
import sys
import threading
import time

stop = False
hung = []


def spin():
    while not stop:
        os.close(os.open("/etc/hostname", os.O_RDONLY))


def forker():
    for _ in range(20):
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        deadline = time.monotonic() + 10
        while not os.waitpid(pid, os.WNOHANG)[0]:
            if time.monotonic() > deadline:
                hung.append(pid)
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                break
            time.sleep(0.002)


spinners = [threading.Thread(target=spin) for _ in range(2)]
forkers = [threading.Thread(target=forker) for _ in range(2)]
for t in spinners + forkers:
    t.start()
for t in forkers:
    t.join()
stop = True
for t in spinners:
    t.join()
if hung:
    print("%d forked children hung: %s" % (len(hung), hung), file=sys.stderr)
    sys.exit(1)
