"""Async tests under pytest-asyncio (Debian's 0.20), which replaces the event loop after each
`event_loop` teardown and closes that placeholder at the next setup: one loop (an epoll and a
socketpair) is open between tests, the framework's, never charged to a test
(tests/check_pytest.py --asyncio). One test leaks a loop of its own, which is its leak (LEAK:
the line its descriptors' app frame must name, and how many)."""
import asyncio

import pytest

import loopwork

kept = []


@pytest.mark.asyncio
async def test_sleeps():
    await asyncio.sleep(0)


@pytest.mark.asyncio
async def test_opens_a_connection_and_closes_it():
    await loopwork.open_and_close_a_connection()


@pytest.mark.asyncio
async def test_leaks_its_own_loop():
    kept.append(asyncio.new_event_loop())  # LEAK x3


def test_sync():
    pass
