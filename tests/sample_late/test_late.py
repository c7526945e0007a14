"""tests/check_pytest.py --late: which tests the plugin charges, which descriptors it calls
closed late. LEAK marks the line a charged descriptor's app frame names (test=the test);
LATE, one that is open when its test ends and closed before the session does."""
import socket

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
