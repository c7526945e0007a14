#!/usr/bin/python3
"""Real programs under fdleak (issue 9): each is exercised for real, must do what it does bare,
and its reports must hold no leak that is not one (what a program keeps for its life by design
is suppressed by default, with the reason in src/suppress.c).

    check_programs.py --lib SHIM [git] [http] [redis]

  git    init, add, commit, log and clone of a local repository (every git process, hooks and
         helpers included): same results as bare, no leak in any report
  http   python3 -m http.server under fdleak serving 60 requests from curl (also under fdleak),
         20 of them at once, then SIGTERM: every body right, no leak in any report (the
         server's listening socket, held until the signal, is a default suppression)
  redis  redis-server under fdleak driven by redis-benchmark (under fdleak too; keep-alive
         clients: no finding), then SHUTDOWN: every benchmark test completes, no leak"""
import argparse
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from harness import clean_env, load_report

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAUNCHER = os.path.join(ROOT, "scripts", "fdleak")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what):
    for _ in range(200):
        if proc.poll() is not None:
            raise RuntimeError("%s exited early (%s)" % (what, proc.returncode))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("%s did not listen on %d" % (what, port))


class Case:
    def __init__(self, lib, tmp, name, failures):
        self.tmp, self.name, self.failures = tmp, name, failures
        self.reports = os.path.join(tmp, "reports-" + name)
        os.makedirs(self.reports)
        self.bare = clean_env()
        self.env = dict(self.bare, FDLEAK_LIBRARY=os.path.abspath(lib))

    def under(self, argv):
        return [LAUNCHER, "--quiet", "--format", "json", "-o", os.path.join(self.reports, "r-%p.%n.json"), "--"] + argv

    def fail(self, what, expected, found):
        self.failures.append("%s: %s\n  expected: %s\n  found:    %s" % (self.name, what, expected, found))

    def check_reports(self, at_least=1):
        """Every report parses and lists no leak, no misuse, no finding."""
        paths = glob.glob(os.path.join(self.reports, "*.json"))
        if len(paths) < at_least:
            self.fail("reports written", "at least %d" % at_least, len(paths))
        for p in paths:
            try:
                r = load_report(p)
            except ValueError as e:
                self.fail("%s parses" % os.path.basename(p), "JSON", e)
                continue
            what = "%s (%s, %s)" % (os.path.basename(p), " ".join(r.get("argv", [])[:3]), r.get("trigger"))
            if r.get("leaks"):
                self.fail(what + " leaks", "none", ["%s %s %s" % (x["fd"], x["kind"], x["desc"]) for x in r["leaks"]])
            if r.get("errors"):
                self.fail(what + " misuse", "none", r["errors"][:3])
            if r.get("findings"):
                self.fail(what + " findings", "none", [f["title"] for f in r["findings"]])
        return len(paths)


def git_case(c):
    def run(env, wrap, where):
        os.makedirs(where)
        out = []
        for argv in (["git", "init", "-q", "repo"], ["git", "-C", "repo", "add", "a"],
                     ["git", "-C", "repo", "-c", "user.email=t@e", "-c", "user.name=t", "commit", "-qm", "m"],
                     ["git", "-C", "repo", "log", "--format=%s %an"], ["git", "clone", "-q", "repo", "clone"],
                     ["git", "-C", "clone", "log", "--format=%s %an"], ["git", "-C", "clone", "status", "--short"]):
            if argv[1] == "-C" and argv[2] == "repo" and argv[3] == "add":
                with open(os.path.join(where, "repo", "a"), "w") as f:
                    f.write("hello\n")
            p = subprocess.run(wrap(argv), cwd=where, env=env, capture_output=True, text=True, timeout=60)
            out.append((argv[3] if argv[1] == "-C" else argv[1], p.returncode, p.stdout))
        return out
    bare = run(c.bare, lambda a: a, os.path.join(c.tmp, "git-bare"))
    under = run(c.env, c.under, os.path.join(c.tmp, "git-under"))
    if bare != under:
        c.fail("git results (command, status, output)", bare, under)
    n = c.check_reports(at_least=7)
    print("git: %d git processes reported" % n)


def http_case(c):
    site = os.path.join(c.tmp, "site")
    os.makedirs(site)
    body = b"fdleak " * 1000
    with open(os.path.join(site, "page.txt"), "wb") as f:
        f.write(body)
    port = free_port()
    server = subprocess.Popen(c.under(["/usr/bin/python3", "-m", "http.server", str(port), "--bind", "127.0.0.1"]),
                              cwd=site, env=c.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, server, "http.server")
        url = "http://127.0.0.1:%d/page.txt" % port
        curl = lambda: subprocess.Popen(c.under(["curl", "-s", url]), env=c.env, stdout=subprocess.PIPE)  # noqa: E731
        got = []
        for _ in range(40):
            got.append(curl().communicate(timeout=30)[0])
        batch = [curl() for _ in range(20)]  # at once: the server under load
        got += [p.communicate(timeout=30)[0] for p in batch]
        wrong = sum(1 for g in got if g != body)
        if wrong:
            c.fail("curl bodies", "all %d right" % len(got), "%d wrong" % wrong)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    if server.returncode != -signal.SIGTERM:
        c.fail("http.server ended by SIGTERM", -signal.SIGTERM, server.returncode)
    n = c.check_reports(at_least=61)
    print("http: 60 requests served, %d reports" % n)


def redis_case(c):
    exe = shutil.which("redis-server")
    if not exe:
        c.fail("redis-server", "installed (scripts/bootstrap)", "missing")
        return
    port = free_port()
    server = subprocess.Popen(c.under([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                       "--logfile", ""]), env=c.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, server, "redis-server")
        tests = ["set", "get", "incr", "lpush", "lpop"]
        p = subprocess.run(c.under(["redis-benchmark", "-p", str(port), "-n", "20000", "-c", "20", "-q", "-t", ",".join(tests)]),
                           env=c.env, capture_output=True, text=True, timeout=120)
        done = [l for l in p.stdout.replace("\r", "\n").splitlines() if "requests per second" in l and "rps=" not in l]
        if p.returncode != 0 or len(done) != len(tests):
            c.fail("redis-benchmark results", "%d tests done" % len(tests), "status %d: %r" % (p.returncode, done))
        subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], env=c.bare, capture_output=True, timeout=30)
        server.wait(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    if server.returncode != 0:
        c.fail("redis-server's status after SHUTDOWN", 0, server.returncode)
    n = c.check_reports(at_least=2)
    print("redis: %s; %d reports" % (", ".join(l.strip() for l in done), n))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("cases", nargs="*", default=["git", "http", "redis"])
    a = ap.parse_args()
    failures = []
    with tempfile.TemporaryDirectory(prefix="fdleak-programs-") as tmp:
        for name in a.cases:
            {"git": git_case, "http": http_case, "redis": redis_case}[name](Case(a.lib, tmp, name, failures))
    for f in failures:
        print("FAIL %s" % f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
