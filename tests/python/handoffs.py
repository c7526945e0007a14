"""Work handed off to other code, each leak made by a library (or a built-in) with no frame of
this program's own on its stack: what fdleak must name is the line that handed the work off
(marked). asyncio.to_thread, loop.run_in_executor, executor.submit and map with os.open (a
built-in: the worker's stack is concurrent.futures' alone), run_in_executor with a standard
library function (socket.create_connection), threading.Thread(target=os.open), call_soon,
call_later, call_at and call_soon_threadsafe callbacks (os.open), a task built with
asyncio.Task(...) directly around asyncio.open_connection, and a ThreadingHTTPServer whose
accepted connections are kept, its accept loop in a thread this program starts. Prints its
ground truth: FDLEAK_KEPT (every descriptor it keeps: os.open's results it never closes, the
kept connections) and FDLEAK_OPEN (/proc/self/fd at its end)."""
import asyncio
import concurrent.futures
import http.server
import os
import socket
import threading
import urllib.request

from groundtruth import open_fds
from keepserver import Handler, keeping

kept_socks, kept_fds = [], []
NULL, RD = "/dev/null", os.O_RDONLY


def listener():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    return s


def new_fds(before):
    return sorted(set(open_fds()) - set(before))


def threads():
    before = open_fds()
    t = threading.Thread(target=os.open, args=(NULL, RD))
    t.start()  # LEAK via=thread
    t.join()
    kept_fds.extend(new_fds(before))


def executors(port):
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
        kept_fds.append(ex.submit(os.open, NULL, RD).result())  # LEAK via=work
        kept_fds.extend(ex.map(os.open, [NULL] * 3, [RD] * 3))  # LEAK x3 via=work


def from_thread(loop):
    loop.call_soon_threadsafe(os.open, NULL, RD)  # LEAK via=callback


async def in_loop(port):
    loop = asyncio.get_running_loop()
    kept_fds.append(await asyncio.to_thread(os.open, NULL, RD))  # LEAK via=work
    kept_fds.append(await loop.run_in_executor(None, os.open, NULL, RD))  # LEAK via=work
    kept_socks.append(await loop.run_in_executor(None, socket.create_connection, ("127.0.0.1", port)))  # LEAK via=work
    before = open_fds()
    done = loop.create_future()
    loop.call_soon(os.open, NULL, RD)  # LEAK via=callback
    loop.call_later(0.01, os.open, NULL, RD)  # LEAK via=callback
    loop.call_at(loop.time() + 0.01, os.open, NULL, RD)  # LEAK via=callback
    t = threading.Thread(target=from_thread, args=(loop,))
    t.start()
    t.join()
    loop.call_later(0.1, done.set_result, None)
    await done
    kept_fds.extend(new_fds(before))
    reader, writer = await asyncio.Task(asyncio.open_connection("127.0.0.1", port))  # LEAK origin via=task
    kept_socks.append(writer.get_extra_info("socket"))
    kept_writers.append(writer)


kept_writers = []


def server():
    httpd = keeping(http.server.ThreadingHTTPServer, kept_socks)(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()  # LEAK x2 via=thread
    for _ in range(2):
        urllib.request.urlopen("http://127.0.0.1:%d/" % httpd.server_address[1]).close()
    httpd.shutdown()
    httpd.server_close()


def main():
    peer = listener()
    port = peer.getsockname()[1]
    threads()
    executors(port)
    asyncio.run(in_loop(port))
    server()
    peer.close()
    mine = sorted(kept_fds + [s.fileno() for s in kept_socks])
    print("FDLEAK_KEPT", " ".join(map(str, mine)))
    print("FDLEAK_OPEN", " ".join(map(str, open_fds())), flush=True)


main()
