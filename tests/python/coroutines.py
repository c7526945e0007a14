"""asyncio: a leak at the bottom of a coroutine chain (handler -> helper), one in a task a
handler created (its own frames name it), and one opened entirely inside the standard library
(asyncio.open_connection in a task of its own): only the task's origin names the handler."""
import asyncio
import socket

keep = []


async def helper():
    await asyncio.sleep(0)
    keep.append(socket.socket())  # LEAK fn=helper


async def handler():
    await helper()


async def child():
    keep.append(open("/etc/hostname"))  # LEAK fn=child


async def spawner():
    await asyncio.get_running_loop().create_task(child())


async def connector(port):
    task = asyncio.create_task(asyncio.open_connection("127.0.0.1", port))  # LEAK fn=connector origin
    reader, writer = await task
    keep.append(writer)


async def main():
    server = await asyncio.start_server(lambda r, w: keep.append(w), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    await handler()
    await spawner()
    await connector(port)
    await asyncio.sleep(0.05)
    server.close()
    for w in keep:
        if isinstance(w, asyncio.StreamWriter) and w.get_extra_info("sockname")[1] == port:
            w.close()  # the server's end of the connection
    # Before wait_closed: from 3.12.1 on it also waits for the server's connections to close.
    await server.wait_closed()


asyncio.run(main())
