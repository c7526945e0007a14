"""Leaks through libraries against real servers (check_python.py --servers: redis-server and the
demo bot's API): a
redis-py asyncio client that is never closed, and two handlers that each make a request with
their own httpx client. httpx connects in an anyio child task whose own stack holds only the
event loop and anyio: the task's origin must name each handler, as two sites."""
import asyncio
import os

import httpx
import redis.asyncio

REDIS_PORT = int(os.environ["FDLEAK_TEST_REDIS_PORT"])
API_URL = "http://127.0.0.1:%s/" % os.environ["FDLEAK_TEST_API_PORT"]
clients = []
store = redis.asyncio.Redis(host="127.0.0.1", port=REDIS_PORT)


async def remember(key):
    await store.set(key, "1")  # LEAK fn=remember


async def handle_poll():
    client = httpx.AsyncClient()
    clients.append(client)
    response = await client.get(API_URL + "users/1")  # LEAK fn=handle_poll origin
    return response.status_code


async def handle_weather():
    client = httpx.AsyncClient()
    clients.append(client)
    response = await client.get(API_URL + "weather")  # LEAK fn=handle_weather origin
    return response.status_code


async def tidy():
    async with httpx.AsyncClient() as client:
        await client.get(API_URL + "weather")
    r = redis.asyncio.Redis(host="127.0.0.1", port=REDIS_PORT)
    await r.ping()
    await r.close()


async def main():
    await tidy()
    await remember("a")
    await remember("b")
    assert await handle_poll() == 200
    assert await handle_weather() == 200


asyncio.run(main())
