"""A module-scoped server in a thread of the test process, as urllib3's dummyserver or httpx's
uvicorn fixture: for each connection it reads to the client's EOF, then closes its own side a
moment later (SERVER_LINGER), after the client's test has ended."""
import socket
import socketserver
import threading
import time

import pytest

SERVER_LINGER = 0.05


class _Handler(socketserver.BaseRequestHandler):
    def handle(self):
        while self.request.recv(4096):
            pass
        time.sleep(SERVER_LINGER)  # then socketserver closes the accepted socket


@pytest.fixture(scope="module")
def server():
    srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv.server_address
    srv.shutdown()
    srv.server_close()
    thread.join()


@pytest.fixture
def loose_socket():
    # No finalizer: the socket lives as long as pytest holds the fixture's value, which it drops
    # after the test's teardown report — open when the test ended, closed late.
    return socket.socket()  # LATE test=test_with_a_loose_fixture
