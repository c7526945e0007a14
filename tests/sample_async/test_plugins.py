"""Async tests under the other plugins that run a loop around them: anyio's (its pytest plugin,
`@pytest.mark.anyio`, on the asyncio backend) and pytest-aiohttp's (`aiohttp_client`, a test
server and client each test). Their loops, servers and clients are the framework's or closed
by the fixtures; the one test that leaks a loop of its own is charged with it (LEAK)."""
import asyncio

import pytest
from aiohttp import web

import loopwork

kept = []


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
async def test_anyio_sleeps():
    await asyncio.sleep(0)


@pytest.mark.anyio
async def test_anyio_opens_a_connection_and_closes_it():
    await loopwork.open_and_close_a_connection()


@pytest.mark.anyio
async def test_anyio_leaks_its_own_loop():
    kept.append(asyncio.new_event_loop())  # LEAK x3


async def hello(request):
    return web.Response(text="hello")


@pytest.mark.asyncio
async def test_aiohttp_client(aiohttp_client):
    app = web.Application()
    app.router.add_get("/", hello)
    client = await aiohttp_client(app)
    resp = await client.get("/")
    assert await resp.text() == "hello"


@pytest.mark.asyncio
async def test_aiohttp_client_again(aiohttp_client):
    app = web.Application()
    app.router.add_get("/", hello)
    client = await aiohttp_client(app)
    assert (await client.get("/")).status == 200
