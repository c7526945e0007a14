"""Hand-offs under uvloop, whose Cython loop builds tasks without BaseEventLoop.create_task:
loopwork.py's clean network work, plus sockets made by a library (socket.create_connection in
asyncio.to_thread: no frame of this program's own in the worker) inside tasks this program
creates with loop.create_task and asyncio.ensure_future, and os.open in run_in_executor. The
marked lines are where the work was handed off; the chain task → work item leads there.
Ground truth as loopwork.py prints it (libuv's process-wide signal pipe is the runtime's)."""
import asyncio
import os
import socket

from loopwork import run

kept = []


async def extra(port):
    loop = asyncio.get_running_loop()
    addr = ("127.0.0.1", port)
    kept.append(await loop.create_task(asyncio.to_thread(socket.create_connection, addr)))  # LEAK origin via=task
    kept.append(await asyncio.ensure_future(asyncio.to_thread(socket.create_connection, addr)))  # LEAK origin via=task
    kept.append(await loop.run_in_executor(None, os.open, "/dev/null", os.O_RDONLY))  # LEAK via=work


run("uvloop", extra, lambda: sorted(k if isinstance(k, int) else k.fileno() for k in kept))
