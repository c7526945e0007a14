"""Leaks that a suppression file accepts (tests/python/suppressed.rules) are counted, not
listed; the one it does not match is still reported."""
import os
import socket

keep = []


class Pool:
    def connect(self):
        keep.append(socket.socket())  # accepted: python-file + python-function rule


def open_log():
    keep.append(open("/etc/hostname"))  # accepted: kind + desc rule


Pool().connect()
Pool().connect()
open_log()
keep.append(open("/etc/os-release"))  # LEAK fn=<module>
r, w = os.pipe()
os.close(r)
os.close(w)
