"""loopwork.py's clean network work on uvloop (libuv closes each descriptor with
syscall(SYS_close)), plus what this program keeps on purpose, at the marked lines: 5
connections made with the blocking socket API from inside a coroutine (what a synchronous
client library does there) and one file. It also holds 5 stream connections until the end;
uvloop's loop.close() closes those through libuv, so they are not leaks. libuv's own
process-wide signal pipe is the runtime's (suppressed)."""
import asyncio
import socket

from loopwork import run

kept, streams = [], []


async def keep(port):
    for _ in range(5):
        kept.append(socket.create_connection(("127.0.0.1", port)))  # LEAK x5 fn=keep
    kept.append(open(__file__, "rb"))  # LEAK fn=keep
    for _ in range(5):
        streams.append(await asyncio.open_connection("127.0.0.1", port))


run("uvloop", keep, lambda: [k.fileno() for k in kept])
