"""Coroutines driven by hand (coro.send, as some frameworks do) after many tasks of the same
function came and went: a finished task's origin must not be taken for a later coroutine that
landed at the same address, and the caller that drives it must stay in the frames."""
import asyncio
import socket

keep = []


async def worker(leak):
    if leak:
        keep.append(socket.socket())  # LEAK x50 fn=worker calls=drive,main


def spawn_from_somewhere_else():
    return asyncio.get_running_loop().create_task(worker(False))


def drive(coro):
    try:
        coro.send(None)
    except StopIteration:
        pass


async def main():
    for _ in range(50):
        await spawn_from_somewhere_else()
    for _ in range(50):
        drive(worker(True))


asyncio.run(main())
