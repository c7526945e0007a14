"""tests/check_pytest.py --late: which tests the plugin charges, which descriptors it calls
closed late. LEAK marks the line a charged descriptor's app frame names (test=the test);
LATE, one that is open when its test ends and closed before the session does."""
import socket

import pytest

import fetcher

kept = []


def test_connects_to_the_thread_server(server):
    # The server's side closes SERVER_LINGER after this test's client: not this test's leak.
    with socket.create_connection(server) as s:
        s.sendall(b"ping")


def test_connects_again(server):
    with socket.create_connection(server) as s:
        s.sendall(b"pong")


def test_logs_a_caught_connection_error():
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    address = closed.getsockname()
    closed.close()  # nothing listens there: refused
    assert fetcher.fetch(address) is None


def test_with_a_loose_fixture(loose_socket):
    assert loose_socket.fileno() >= 0


def test_leaks_a_socket():
    kept.append(socket.socket())  # LEAK test=test_leaks_a_socket


held = []


@pytest.mark.parametrize("run", [0, 1])
def test_replaces_the_held_socket(run):
    # Run 1 closes run 0's socket and opens one at the same line (one site), often with the same
    # number: run 0's is closed late, run 1's is the leak.
    for s in held:
        s.close()
    held[:] = [socket.socket()]  # LATE test=test_replaces_the_held_socket[0] LEAK test=test_replaces_the_held_socket[1]
