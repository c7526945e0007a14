"""Descriptors made with no frame of this program's code anywhere on their chain: tempfile.mkstemp
run as a thread's target through _thread.start_new_thread (a thread fdleak does not follow), its
descriptor returned to nobody. The site must say "no frame of the program's code" and name the
library's call, never a standard-library frame as the app frame. One file made by this
program's own line as well. Prints its ground truth: FDLEAK_KEPT (all it keeps), FDLEAK_NOAPP
(those made with no frame of its own) and FDLEAK_OPEN (/proc/self/fd at its end)."""
import _thread
import os
import shutil
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
noapp = sorted(set(open_fds()) - set(before))
shutil.rmtree(d)
print("FDLEAK_KEPT", " ".join(map(str, sorted(noapp + [own.fileno()]))))
print("FDLEAK_NOAPP", " ".join(map(str, noapp)))
print("FDLEAK_OPEN", " ".join(map(str, open_fds())), flush=True)
