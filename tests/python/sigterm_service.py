"""An asyncio service that leaks nothing of its own, stopped the way systemd and docker stop
one: SIGTERM, with Python's default action (the process dies at once, nothing is closed).
Run with --kill SIGTERM: it prints READY, then its event loop's own descriptors (epoll,
self-pipe; under uvloop, libuv's and its signal socketpair) and its listening socket are what
is open, and none of them is a leak (sigterm_leak.py adds one of its own, sigterm_uvloop.py
runs it on uvloop). With the argument `uvloop` it runs on uvloop's loop. It prints how many
descriptors the runtime holds (its ground truth for the report's suppressed count)."""
import asyncio
import sys

from groundtruth import open_fds


async def handle(reader, writer):
    writer.close()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    # What the runtime holds: every descriptor open now that was not open when the program
    # started (the loop's, the listener) — told by the process itself, from /proc/self/fd.
    held = set(open_fds()) - START
    print("open:", " ".join(str(fd) for fd in sorted(open_fds())), flush=True)
    print("FDLEAK_EXPECT_SUPPRESSED", len(held), flush=True)
    print("READY", flush=True)
    async with server:
        await server.serve_forever()


if "uvloop" in sys.argv:
    import uvloop
    uvloop.install()

START = set(open_fds())
asyncio.run(main())
