"""A library that logs the connection error it caught, as urllib3 logs "Retrying … after
connection broken by %r": the LogRecord holds the exception, its traceback the frame, the frame
the socket — until pytest's log capture lets go of the test's records."""
import logging
import socket

log = logging.getLogger("fetcher")


def fetch(address):
    sock = socket.socket()
    try:
        sock.connect(address)
    except OSError as err:
        log.warning("connection broken by %r", err)
        return None
    return sock
