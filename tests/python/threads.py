"""Leaks from a threading.Thread and from a concurrent.futures worker; each attributed to the
function that ran in the thread."""
import concurrent.futures
import socket
import threading

keep = []


def worker():
    keep.append(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))  # LEAK fn=worker


def pooled(i):
    keep.append(open("/etc/hostname"))  # LEAK x4 fn=pooled
    with open("/etc/hostname") as f:
        return f.read()


t = threading.Thread(target=worker)
t.start()
t.join()
with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
    list(ex.map(pooled, range(4)))
