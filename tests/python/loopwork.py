"""Network work on an event loop that closes everything it opens: a server on 127.0.0.1, 30
client connections made and closed one after another (each lives a few milliseconds), a file
read, a subprocess. `python loopwork.py [asyncio|uvloop]` runs it on that loop (asyncio's own by
default); other programs import run() and add leaks of their own. Prints its ground truth:
`FDLEAK_KEPT` (nothing kept) and `FDLEAK_OPEN` (/proc/self/fd at its end). Lines marked
`# SAME` make the same descriptors whatever the loop (tests/check_loops.py compares them).
"""
import asyncio
import sys

from groundtruth import open_fds

CONNECTIONS = 30


async def handle(reader, writer):
    await reader.read(100)
    writer.close()


async def work(extra=None):
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    for _ in range(CONNECTIONS):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)  # SAME
        writer.write(b"hello")
        await reader.read(100)
        writer.close()
        await writer.wait_closed()
    with open(__file__, "rb") as f:  # SAME
        f.read(10)
    proc = await asyncio.create_subprocess_exec("true")
    await proc.wait()
    if extra:
        await extra(port)
    server.close()
    await server.wait_closed()


def run(loop_kind, extra=None, kept=lambda: []):
    """Runs work() on the loop, then prints the ground truth: what the program kept, what is
    open, and how many of those the runtime holds (open now, not at the start, not kept: under
    uvloop, libuv's process-wide signal pipe)."""
    if loop_kind == "uvloop":
        import uvloop
        uvloop.install()
    before = set(open_fds())
    asyncio.run(work(extra))
    mine, now = kept(), open_fds()
    print("FDLEAK_KEPT", " ".join(str(fd) for fd in mine), flush=True)
    print("FDLEAK_OPEN", " ".join(str(fd) for fd in now), flush=True)
    print("FDLEAK_EXPECT_SUPPRESSED", len(set(now) - before - set(mine)), flush=True)


if __name__ == "__main__":
    run(sys.argv[1] if len(sys.argv) > 1 else "asyncio")
