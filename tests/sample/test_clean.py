"""Tests that close everything: the plugin must charge nothing to them, including a session
fixture that cleans up after itself."""
import socket

import pytest


@pytest.fixture(scope="session")
def server():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    yield s
    s.close()


def test_connects(server):
    with socket.create_connection(server.getsockname()) as c:
        conn, _ = server.accept()
        conn.close()
        assert c.fileno() >= 0


def test_nothing():
    assert True
