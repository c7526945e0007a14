"""16 daemon threads open and close sockets while the main thread exits: no deadlock, no
crash, a report that parses. Whatever a thread held at that moment may be listed, from its
line and nothing else."""
import socket
import threading
import time

started = threading.Barrier(17)


def churn():
    started.wait()
    while True:
        with socket.socket() as s:  # LEAK any fn=churn
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)


for _ in range(16):
    threading.Thread(target=churn, daemon=True).start()
started.wait()
time.sleep(0.3)
