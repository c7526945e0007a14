"""Tests whose outcome must not change under fdleak's plugin (tests/check_pytest.py --strict):
in a suite with filterwarnings = error, a socket left in a reference cycle is closed — with a
ResourceWarning — whenever the collector next runs. Bare, that is not during these tests, and
they pass; the plugin's own collection (it sees the socket open after teardown) must not turn
that warning into an error in the test's teardown either."""
import socket


def test_socket_in_a_cycle():
    s = socket.socket()
    cycle = [s]
    cycle.append(cycle)


def test_failing_with_a_socket():
    s = socket.socket()  # kept alive by the failure's traceback (sys.last_*) until the plugin drops it
    assert s is None


def test_clean():
    with socket.socket():
        pass
