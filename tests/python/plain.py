"""Leaks from a plain function, a class method and module level; a clean with-block; a file
held by a global until interpreter shutdown closes it (still a leak: open when finalizing
began). Markers (LEAK comments) say where each leak's app frame must point (check_python.py)."""
import os
import socket

keep = []


def leak_file(path):
    return open(path, "rb")  # LEAK fn=leak_file


class Pool:
    def connect(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # LEAK fn=Pool.connect
        return self


def tidy():
    with open("/etc/hostname", "rb") as f:
        f.read()
    s = socket.socket()
    s.close()


tidy()
keep.append(leak_file("/etc/passwd"))
pool = Pool().connect()
r, w = os.pipe()  # LEAK x2 fn=<module>
GLOBAL_LOG = open("/etc/os-release")  # LEAK fn=<module>
