"""Descriptors made with no frame of this program's code anywhere on their chain, in threads
started with _thread.start_new_thread (which fdleak does not follow): tempfile.mkstemp as the
target, its descriptor returned to nobody; and socket.create_connection mapped over three
addresses by the built-in list.extend (two connections to one listener, one to another), kept
in a list. Their sites must say "no frame of the program's code" and name the library's call,
never a standard-library frame as the app frame; the connections' findings keep the two peers
apart. One file made by this program's own line as well. Prints its ground truth: FDLEAK_KEPT
(all it keeps), FDLEAK_NOAPP (those made with no frame of its own), FDLEAK_FINDING (the
never-closed titles it expects, to their first words) and FDLEAK_OPEN (/proc/self/fd at its
end)."""
import _thread
import os
import shutil
import socket
import tempfile
import time

from groundtruth import open_fds

d = tempfile.mkdtemp(prefix="fdleak-noapp-")
own = open(os.devnull)  # LEAK
before = open_fds()
for _ in range(2):
    _thread.start_new_thread(tempfile.mkstemp, (), {"dir": d})
deadline = time.monotonic() + 10
while len(set(open_fds()) - set(before)) < 2 and time.monotonic() < deadline:
    time.sleep(0.01)
time.sleep(0.05)  # the threads' own ends
listeners = []
for _ in range(2):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    listeners.append(s)
a, b = (s.getsockname() for s in listeners)
conns = []
_thread.start_new_thread(conns.extend, (map(socket.create_connection, [a, a, b]),))
while len(conns) < 3 and time.monotonic() < deadline:
    time.sleep(0.01)
time.sleep(0.05)
for s in listeners:
    s.close()
noapp = sorted(set(open_fds()) - set(before))
shutil.rmtree(d)
print("FDLEAK_FINDING never-closed 2 connections to %s:%d opened at no frame of the program's code: " % a)
print("FDLEAK_FINDING never-closed 1 connection to %s:%d opened at no frame of the program's code: " % b)
print("FDLEAK_KEPT", " ".join(map(str, sorted(noapp + [own.fileno()]))))
print("FDLEAK_NOAPP", " ".join(map(str, noapp)))
print("FDLEAK_OPEN", " ".join(map(str, open_fds())), flush=True)
