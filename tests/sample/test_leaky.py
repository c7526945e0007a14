"""A sample suite for fdleak's pytest plugin (tests/check_pytest.py runs it under fdleak).
Lines marked LEAK are where the plugin must say a test or fixture leaked, and to which."""
import logging
import os
import socket

import pytest

kept = []


def test_leaks_a_socket():
    kept.append(socket.socket())  # LEAK test=test_leaks_a_socket


def test_closes_its_socket():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))


def test_leaks_two_files():
    kept.append(open(__file__))  # LEAK test=test_leaks_two_files
    kept.append(open(__file__))  # LEAK test=test_leaks_two_files


def test_closes_its_files(tmp_path):
    path = tmp_path / "f.txt"
    path.write_text("x")
    with open(path) as f:
        f.read()
    r, w = os.pipe()
    os.close(r)
    os.close(w)


def test_leaks_through_a_library(tmp_path):
    # The file is opened inside the standard library (logging); the test's line is the app frame.
    logging.getLogger("sample").addHandler(logging.FileHandler(tmp_path / "log.txt"))  # LEAK test=test_leaks_through_a_library


def test_garbage_is_not_a_leak():
    s = socket.socket()
    del s  # closed by the collector before the plugin counts


@pytest.fixture(scope="module")
def shared_log(tmp_path_factory):
    f = open(tmp_path_factory.mktemp("log") / "shared.txt", "w")  # LEAK fixture=shared_log
    kept.append(f)
    return f  # never closed: charged to the fixture when the module ends


@pytest.fixture(scope="module")
def dropped_log(tmp_path_factory):
    # Never closed either, but held by nothing once pytest lets go of the fixture's value: its
    # finalizer closes it then, before the plugin looks — not a leak, as a test's garbage is not.
    return open(tmp_path_factory.mktemp("log") / "dropped.txt", "w")


def test_uses_a_dropped_fixture(dropped_log):
    dropped_log.write("c")


def test_uses_the_module_fixture(shared_log):
    shared_log.write("a")


def test_uses_it_again(shared_log):
    shared_log.write("b")


@pytest.fixture
def tidy_socket():
    s = socket.socket()
    yield s
    s.close()


def test_with_a_tidy_function_fixture(tidy_socket):
    assert tidy_socket.fileno() >= 0


@pytest.fixture(scope="session")
def session_file():
    f = open(__file__)  # LEAK fixture=session_file
    kept.append(f)
    return f


@pytest.fixture(scope="module")
def lazy_user(request):
    # Asks for the session fixture only now: its descriptor stays the session fixture's.
    return request.getfixturevalue("session_file")


def test_lazy_fixtures(lazy_user):
    assert lazy_user.readable()
