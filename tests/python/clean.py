"""A program that closes everything: files, sockets, pipes, an event loop, threads, a
subprocess. The report must list no leak."""
import asyncio
import os
import socket
import subprocess
import threading


def files():
    with open("/etc/hostname") as f:
        f.read()
    r, w = os.pipe()
    os.close(r)
    os.close(w)


def sockets():
    a, b = socket.socketpair()
    a.close()
    b.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))


async def coro():
    reader, writer = await asyncio.open_connection(*server_addr)
    writer.close()
    await writer.wait_closed()


async def main():
    global server_addr
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    server_addr = server.sockets[0].getsockname()
    await coro()
    server.close()
    await server.wait_closed()


files()
sockets()
t = threading.Thread(target=files)
t.start()
t.join()
asyncio.run(main())
subprocess.run(["/bin/true"], check=True)
