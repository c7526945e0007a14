"""What each hand-off costs under fdleak's start-up hook (scripts/bench handoffs): N of one kind.

    handoffs.py callsoon|callsoon-task|submit|thread N

callsoon: N loop.call_soon callbacks (a no-op each), scheduled 100 at a time from a task;
callsoon-task: N task steps (a task awaiting asyncio.sleep(0) N times: the call_soon asyncio
makes for every step, which the hook lets through); submit: N executor.submit of a no-op,
each awaited; thread: N threading.Thread starts and joins. No descriptors are made."""
import asyncio
import concurrent.futures
import sys
import threading


def noop(*args):
    pass


async def callsoon(n):
    loop = asyncio.get_running_loop()
    for _ in range(n // 100):
        done = loop.create_future()
        for _ in range(99):
            loop.call_soon(noop)
        loop.call_soon(done.set_result, None)
        await done


async def steps(n):
    for _ in range(n):
        await asyncio.sleep(0)


def main():
    kind, n = sys.argv[1], int(sys.argv[2])
    if kind == "callsoon":
        asyncio.run(callsoon(n))
    elif kind == "callsoon-task":
        asyncio.run(steps(n))
    elif kind == "submit":
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as ex:
            for _ in range(n):
                ex.submit(noop).result()
    elif kind == "thread":
        for _ in range(n):
            t = threading.Thread(target=noop)
            t.start()
            t.join()
    else:
        sys.exit("usage: handoffs.py callsoon|callsoon-task|submit|thread N")


main()
