"""Eager asyncio tasks (CPython 3.12 and later; tasks_modern.py has the rest): with
asyncio.eager_task_factory as the loop's task factory (loop.set_task_factory), create_task runs
the new task's coroutine at once, inside the create_task call, up to its first suspension. Leaks
made there and after a suspension, in the program's own coroutine (its own line) and by the
standard library alone (asyncio.open_connection as the task: only the task's origin, the
create_task line, names the program), also from an asyncio.TaskGroup on that loop. The
connections go to a listening socket nobody accepts from; it is closed at the end."""
import asyncio
import os
import socket

keep = []


async def eager_sync():
    keep.append(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))  # LEAK fn=eager_sync


async def eager_later():
    await asyncio.sleep(0)
    keep.append(open("/etc/hostname", "rb"))  # LEAK fn=eager_later


async def grouped_sync(i):
    keep.append(open("/etc/hostname", "rb"))  # LEAK x2 fn=grouped_sync
    await asyncio.sleep(0)


def sockets():
    """The sockets open now (/proc/self/fd)."""
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            n += os.readlink("/proc/self/fd/" + fd).startswith("socket:")
        except OSError:
            pass
    return n


async def main(port):
    asyncio.get_running_loop().set_task_factory(asyncio.eager_task_factory)
    first = asyncio.create_task(eager_sync())
    assert first.done(), "eager_sync did not run eagerly"
    await asyncio.create_task(eager_later())
    n = sockets()
    conn = asyncio.create_task(asyncio.open_connection("127.0.0.1", port))  # LEAK fn=main origin
    # the premise: the socket was made inside create_task, the task still pending
    assert sockets() == n + 1 and not conn.done(), "open_connection did not run eagerly"
    keep.append((await conn)[1])
    async with asyncio.TaskGroup() as tg:
        for i in range(2):
            tg.create_task(grouped_sync(i))
        grouped = tg.create_task(asyncio.open_connection("127.0.0.1", port))  # LEAK fn=main origin
    keep.append(grouped.result()[1])


listener = socket.create_server(("127.0.0.1", 0), backlog=16)
asyncio.run(main(listener.getsockname()[1]))
listener.close()
