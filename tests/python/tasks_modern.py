"""asyncio tasks made the 3.11 way (CPython 3.11 and later): asyncio.TaskGroup and a plain
asyncio.create_task. In each, a leak in the program's own coroutine (attributed to its own
line) and one made entirely by the standard library (asyncio.open_connection run as the task
itself), which only the task's origin can name: the line that created the task. The
connections go to a listening socket nobody accepts from (the kernel's backlog completes them),
so the program holds no server-side ends; the listener is closed at the end. Eager tasks
(3.12+) are in tasks_eager.py."""
import asyncio
import socket

keep = []


async def grouped_own():
    await asyncio.sleep(0)
    keep.append(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))  # LEAK fn=grouped_own


async def grouped_file(i):
    await asyncio.sleep(0)
    keep.append(open("/etc/hostname", "rb"))  # LEAK x3 fn=grouped_file


async def in_group(port):
    async with asyncio.TaskGroup() as tg:
        tg.create_task(grouped_own())
        for i in range(3):
            tg.create_task(grouped_file(i))
        conn = tg.create_task(asyncio.open_connection("127.0.0.1", port))  # LEAK fn=in_group origin
    keep.append(conn.result()[1])


async def plain_own():
    await asyncio.sleep(0)
    keep.append(socket.socket())  # LEAK fn=plain_own


async def plain(port):
    await asyncio.create_task(plain_own())
    task = asyncio.create_task(asyncio.open_connection("127.0.0.1", port))  # LEAK fn=plain origin
    keep.append((await task)[1])


async def main(port):
    await in_group(port)
    await plain(port)


listener = socket.create_server(("127.0.0.1", 0), backlog=16)
asyncio.run(main(listener.getsockname()[1]))
listener.close()
