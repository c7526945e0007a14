"""What a test program says of itself: the descriptors open now (check_python.py and the other
checkers compare its printout with the report)."""
import os


def open_fds():
    """/proc/self/fd, sorted, less the directory descriptor that listed it (closed by now)."""
    fds = []
    for name in os.listdir("/proc/self/fd"):
        try:
            os.fstat(int(name))
            fds.append(int(name))
        except OSError:
            pass
    return sorted(fds)
