"""scripts/bench's pytest workload: FDLEAK_BENCH_TESTS asyncio tests under pytest-asyncio, each
on its own event loop (the `event_loop` fixture, function scope, as pytest-asyncio 0.20 gives it),
each a connection to the echo server at FDLEAK_BENCH_PORT and a round trip; one test in ten keeps
its connection (a leak the plugin must describe)."""
import asyncio
import os

import pytest

N = int(os.environ.get("FDLEAK_BENCH_TESTS", "1000"))
PORT = int(os.environ.get("FDLEAK_BENCH_PORT", "0"))
kept = []


@pytest.mark.asyncio
@pytest.mark.parametrize("i", range(N))
async def test_round_trip(i):
    reader, writer = await asyncio.open_connection("127.0.0.1", PORT)
    writer.write(b"ping\n")
    assert await reader.readline() == b"ping\n"
    if i % 10 == 9:
        kept.append(writer)
        return
    writer.close()
    await writer.wait_closed()
