"""loopwork.py's network work on uvloop, which closes everything it opens: no leak. libuv
closes each descriptor with syscall(SYS_close); its process-wide signal pipe (closed by its
own destructor after the exit report) is the runtime's, suppressed."""
from loopwork import run

run("uvloop")
