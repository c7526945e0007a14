#!/usr/bin/python3
"""Runs a Python test program under fdleak and checks its exit report's Python attribution.

    check_python.py --lib SHIM --interp PYTHON [--servers redis,http] [--timeout S] PROGRAM.py

The program says what must leak with markers on the lines its leaks' app frames point at:

    sock = socket.socket()  # LEAK [xN | any] [fn=FUNCTION] [origin] [child]

xN: N descriptors (default 1); any: zero or more (a race decides). fn: the app frame's function
(qualified name). origin: the app frame comes from the running task's origin (task_origin).
child: the leak belongs to the report of a forked child, not to the program's own.

Checks: the program exits 0 in time (a hang is a deadlock), the report says "runtime":
"cpython 3.11…", every leak's site has Python frames whose app frame is a marked line of the
program (file, line, function) and whose frames include that line, the number of leaks per
marker is as declared, nothing else leaks, and there are no misuse errors. Exit status 0 when
all hold, 1 otherwise (expected and actual printed), 77 when the interpreter is unavailable.
"""

import argparse
import glob
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

MARK = re.compile(r"#\s*LEAK\b(.*)$")


def parse_markers(path):
    marks = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            m = MARK.search(line)
            if not m:
                continue
            spec = {"count": 1, "fn": None, "origin": False, "child": False}
            for tok in m.group(1).split():
                if re.fullmatch(r"x\d+", tok):
                    spec["count"] = int(tok[1:])
                elif tok == "any":
                    spec["count"] = None
                elif tok.startswith("fn="):
                    spec["fn"] = tok[3:]
                elif tok in ("origin", "child"):
                    spec[tok] = True
                else:
                    raise SystemExit("%s:%d: unknown marker word %r" % (path, lineno, tok))
            marks[lineno] = spec
    return marks


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit("%s exited early with status %s" % (what, proc.returncode))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("%s did not listen on port %d within %ds" % (what, port, timeout))


def start_servers(names, env, procs):
    here = os.path.dirname(os.path.abspath(__file__))
    for name in names:
        if name == "redis":
            exe = shutil.which("redis-server") or "/usr/bin/redis-server"
            if not os.path.exists(exe):
                raise SystemExit("redis-server not found: scripts/bootstrap installs Debian's redis-server")
            port = free_port()
            p = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                  "--appendonly", "no", "--daemonize", "no", "--logfile", ""],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(p)
            wait_port(port, p, "redis-server")
            env["FDLEAK_TEST_REDIS_PORT"] = str(port)
        elif name == "http":
            p = subprocess.Popen(["/usr/bin/python3", os.path.join(here, "python", "http_server.py")],
                                 stdout=subprocess.PIPE, text=True)
            procs.append(p)
            port = int(p.stdout.readline())
            wait_port(port, p, "http_server.py")
            env["FDLEAK_TEST_HTTP_PORT"] = str(port)
        else:
            raise SystemExit("unknown server %r" % name)


def frames_text(site):
    out = []
    for f in site.get("python") or []:
        out.append("      %s:%s in %s%s" % (f["file"], f["line"], f["function"],
                                            " (task origin)" if f.get("task_origin") else ""))
    return "\n".join(out) or "      (no Python frames)"


def check_report(rep, marks, program, what, failures):
    """Leaks of one report (or of several, merged) against the markers meant for it."""
    sites = {s["id"]: s for s in rep["sites"]}
    got = {}
    real = os.path.realpath(program)
    for leak in rep["leaks"]:
        site = sites.get(leak["site"]) if leak.get("site") is not None else None
        app = site and site.get("app")
        desc = "fd %d (%s %s)" % (leak["fd"], leak["kind"], leak["desc"])
        if not app:
            failures.append("%s: %s leaked from a site without Python frames (site %s)"
                            % (what, desc, leak.get("site")))
            continue
        line = app["line"]
        if os.path.realpath(app["file"]) != real or line not in marks:
            failures.append("%s: %s leaked at %s:%s in %s, which is not a marked line of %s;"
                            " its Python frames:\n%s" % (what, desc, app["file"], line,
                                                        app["function"], program, frames_text(site)))
            continue
        spec = marks[line]
        if spec["fn"] and app["function"] != spec["fn"]:
            failures.append("%s: %s at line %d: app function is %r, expected %r"
                            % (what, desc, line, app["function"], spec["fn"]))
        if bool(app.get("task_origin")) != spec["origin"]:
            failures.append("%s: %s at line %d: app frame task_origin is %s, expected %s;"
                            " its Python frames:\n%s" % (what, desc, line, bool(app.get("task_origin")),
                                                        spec["origin"], frames_text(site)))
        if not any(os.path.realpath(f["file"]) == real and f["line"] == line for f in site["python"]):
            failures.append("%s: %s: line %d is the app frame but not among the Python frames"
                            % (what, desc, line))
        got[line] = got.get(line, 0) + 1
    for line, spec in sorted(marks.items()):
        n = got.get(line, 0)
        if spec["count"] is not None and n != spec["count"]:
            failures.append("%s: line %d (%s): expected %d leaks, got %d"
                            % (what, line, spec["fn"] or "?", spec["count"], n))
    for e in rep.get("errors", []):
        failures.append("%s: unexpected error %s of fd %s" % (what, e["what"], e["fd"]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--interp", required=True, help="a Python, or 'path' for the first python3 "
                    "on PATH that is not /usr/bin/python3 (skipped when there is none)")
    ap.add_argument("--servers", default="")
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("program")
    a = ap.parse_args()

    interp = a.interp
    if interp == "path":
        found = shutil.which("python3")
        real = found and subprocess.run([found, "-c", "import os, sys; print(os.path.realpath(sys.executable))"],
                                        capture_output=True, text=True).stdout.strip()
        if not real or real == os.path.realpath("/usr/bin/python3"):
            print("SKIP: no python3 on PATH other than /usr/bin/python3")
            return 77
        interp = real
    marks = parse_markers(a.program)
    tmp = tempfile.mkdtemp(prefix="fdleak-py-")
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("FDLEAK_") or k in ("LD_PRELOAD", "PYTHONPATH", "PYTHONHOME"):
            del env[k]
    servers = []
    failures = []
    try:
        start_servers([s for s in a.servers.split(",") if s], env, servers)
        env.update({"LD_PRELOAD": os.path.abspath(a.lib), "FDLEAK_FORMAT": "json",
                    "FDLEAK_OUTPUT": os.path.join(tmp, "fdleak-%p.json"),
                    "PYTHONDONTWRITEBYTECODE": "1"})
        start = time.monotonic()
        p = subprocess.Popen([interp, a.program], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        try:
            out, err = p.communicate(timeout=a.timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            print("FAIL: %s did not finish in %ss (deadlock?)\nstderr:\n%s" % (a.program, a.timeout, err))
            return 1
        if p.returncode != 0:
            failures.append("the program exited with status %d (expected 0); stderr:\n%s" % (p.returncode, err))
        reports = {}
        for path in sorted(glob.glob(os.path.join(tmp, "fdleak-*.json"))):
            try:
                with open(path, encoding="utf-8") as f:
                    reports[path] = json.load(f)
            except ValueError as e:
                failures.append("%s does not parse: %s" % (path, e))
        mine = [r for r in reports.values() if r["pid"] == p.pid and r["trigger"] == "exit"]
        children = [r for r in reports.values() if r["ppid"] == p.pid and r["trigger"] == "exit"
                    and r.get("runtime")]
        if len(mine) != 1:
            failures.append("expected one exit report of pid %d, found %d (files: %s)"
                            % (p.pid, len(mine), ", ".join(os.path.basename(x) for x in reports)))
        else:
            rep = mine[0]
            if not str(rep.get("runtime", "")).startswith("cpython 3.11"):
                failures.append('runtime is %r, expected "cpython 3.11…"' % rep.get("runtime"))
            check_report(rep, {k: v for k, v in marks.items() if not v["child"]}, a.program,
                         "pid %d" % p.pid, failures)
        child_marks = {k: v for k, v in marks.items() if v["child"]}
        if child_marks:
            merged = {"leaks": [], "sites": [], "errors": []}
            for r in children:
                # site ids are per process: keep each child's leaks with its own sites
                offset = 1000000 * (children.index(r) + 1)
                merged["sites"] += [dict(s, id=s["id"] + offset) for s in r["sites"]]
                merged["leaks"] += [dict(l, site=l["site"] + offset if l.get("site") is not None else None)
                                    for l in r["leaks"]]
                merged["errors"] += r.get("errors", [])
            if not children:
                failures.append("no exit report from a forked child of pid %d" % p.pid)
            check_report(merged, child_marks, a.program, "forked child", failures)
        print("%s under %s: %d reports, %.1fs" % (os.path.basename(a.program), interp, len(reports),
                                                 time.monotonic() - start))
    finally:
        for s in servers:
            s.kill()
            s.wait()
    if failures:
        print("FAIL:\n  " + "\n  ".join(failures))
        print("reports kept in", tmp)
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
