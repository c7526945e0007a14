"""The demo bot's servers, for the demo (run_demo.py) and the tests (tests/check_python.py):
a real redis-server and the aiohttp API (api_server.py), each on a free 127.0.0.1 port and run
bare (never under fdleak). Standard library only."""
import os
import shutil
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


class ServerError(Exception):
    pass


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port, proc, what, timeout=15):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise ServerError("%s exited early with status %s" % (what, proc.returncode))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise ServerError("%s did not listen on 127.0.0.1:%d within %ds" % (what, port, timeout))


def _bare_env():
    return {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("FDLEAK_")}


class Servers:
    """Started on demand, stopped by stop() (or the with-block's end)."""

    def __init__(self):
        self.procs = []
        self.redis_port = self.api_port = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def start_redis(self):
        exe = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not os.path.exists(exe):
            raise ServerError("redis-server not found (Debian package redis-server; scripts/bootstrap installs it)")
        port = _free_port()
        p = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no", "--daemonize", "no", "--logfile", ""],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_bare_env())
        self.procs.append(p)
        _wait_port(port, p, "redis-server")
        self.redis_port = port
        return port

    def start_api(self, updates=300, users=20):
        p = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "api_server.py"),
                              "--updates", str(updates), "--users", str(users)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_bare_env())
        self.procs.append(p)
        line = p.stdout.readline()
        if not line.strip().isdigit():
            p.kill()
            raise ServerError("api_server.py did not start (python3-aiohttp installed?): %s"
                              % (line + p.stderr.read()).strip())
        port = int(line)
        _wait_port(port, p, "api_server.py")
        self.api_port = port
        return port

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            for f in (p.stdout, p.stderr):
                if f:
                    f.close()
        self.procs = []
