"""Interpreter finalization while 16 daemon threads open and close sockets and files as fast as
they can: the main thread keeps a socket and a file on purpose (LEAK markers, the same syntax as
check_python.py's) and returns from the module with the threads still running. What a thread
held when finalization began may be listed, from its own lines and nothing else (`any`);
descriptors it makes once finalization has begun are shutdown noise, not the program's.
check_pyrace.py runs this many times. The program prints what it kept:

    kept <fd> <kind> <lineno>     a descriptor the main thread keeps (still open at the end)
"""
import os
import socket
import sys
import threading
import time

started = threading.Barrier(17)
here = os.path.abspath(__file__)


def churn():
    started.wait()
    while True:
        with socket.socket() as s:  # LEAK any fn=churn
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        with open(here, "rb") as f:  # LEAK any fn=churn
            f.read(16)


for _ in range(16):
    threading.Thread(target=churn, daemon=True).start()
started.wait()
kept = [("socket", socket.socket(socket.AF_INET, socket.SOCK_DGRAM), sys._getframe().f_lineno)]  # LEAK fn=<module>
kept.append(("file", open("/etc/hostname", "rb"), sys._getframe().f_lineno))  # LEAK fn=<module>
time.sleep(0.2)
for kind, obj, lineno in kept:
    os.fstat(obj.fileno())  # still open
    print("kept %d %s %d" % (obj.fileno(), kind, lineno))
sys.stdout.flush()
