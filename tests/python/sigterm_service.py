"""An asyncio service that leaks nothing of its own, stopped the way systemd and docker stop
one: SIGTERM, with Python's default action (the process dies at once, nothing is closed).
Run with --kill SIGTERM: it prints READY, then its event loop's own descriptors (epoll,
self-pipe; under uvloop, libuv's) and its listening socket are what is open, and none of them
is a leak. With the argument `leak` it also keeps one file on purpose, which must be found.
With `uvloop` it runs on uvloop's loop. It prints how many descriptors the runtime holds (its
ground truth for the report's suppressed count)."""
import asyncio
import os
import sys


async def handle(reader, writer):
    writer.close()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    listening = len(server.sockets)
    # What the runtime holds: the loop's descriptors (all open now that were not open at the
    # start, less the listener) — told by the process itself, from /proc/self/fd.
    fds = sorted(set(os.listdir("/proc/self/fd")), key=int)
    print("open:", " ".join(fds), flush=True)
    print("FDLEAK_EXPECT_SUPPRESSED", LOOP_FDS + listening, flush=True)
    print("READY", flush=True)
    async with server:
        await server.serve_forever()


if "uvloop" in sys.argv:
    import uvloop
    uvloop.install()


def loop_fds():
    """The descriptors one event loop of this kind opens: counted on a loop made and closed
    here, before the service's loop exists."""
    before = set(os.listdir("/proc/self/fd"))
    loop = asyncio.new_event_loop()
    n = len(set(os.listdir("/proc/self/fd")) - before)
    loop.close()
    return n


LOOP_FDS = loop_fds()
asyncio.run(main())
