#!/usr/bin/python3
"""Runs a Python test program under fdleak and checks its exit report's Python attribution.

    check_python.py --lib SHIM --interp PYTHON [--servers redis,api] [--markers DIR]
                    [--pythonpath DIR] [--needs MOD,…] [--timeout S] [--kill SIGNAL]
                    PROGRAM.py [-- ARG…]

--servers starts a real redis-server and the demo bot's aiohttp API (examples/bot/servers.py);
their ports reach the program as FDLEAK_TEST_REDIS_PORT and FDLEAK_TEST_API_PORT, and replace
{redis_port} and {api_port} in its arguments. The program (or, with --markers, every .py file
under DIR) says what must leak with markers on the lines its leaks' app frames point at:

    sock = socket.socket()  # LEAK [xN | any] [fn=FUNCTION] [calls=F,G] [origin] [via=KIND] [child]

xN: N descriptors (default 1); any: zero or more (a race decides). fn: the app frame's function
(qualified name; under CPython 3.10, whose code objects have no co_qualname, its last part). calls: these functions are among the site's Python frames. origin: the app frame comes from the running task's origin (task_origin). via: the app frame is in an origin of that kind (task, thread, work, callback: the work was handed off there; listener: the connection was accepted on a listener made there).
child: the leak belongs to the report of a forked child, not to the program's own.

The program runs through the launcher (scripts/fdleak, with FDLEAK_LIBRARY=SHIM), as a user
runs it, under PYTHON (with --pythonpath as its PYTHONPATH, e.g. Debian's dist-packages for
another interpreter). --needs: modules the program imports that are not in the standard
library; when PYTHON cannot import one of them (Debian's compiled extensions are built for
3.11 only) the test is skipped with the import error, or fails for /usr/bin/python3 itself.
--kill SIGNAL: once the program prints a line READY, the test sends it SIGNAL, and the program
must die of it (a service stopped by systemd or docker). A program that prints
`FDLEAK_EXPECT_SUPPRESSED N` says itself how many descriptors the report must count as suppressed
(what the runtime holds), instead of --expect-suppressed. A program that prints
`FDLEAK_KEPT fd…` (what it keeps on purpose) and `FDLEAK_OPEN fd…` (its /proc/self/fd at the
end) is also checked against that ground truth: its leaks are exactly the kept fds, all open;
those it lists in `FDLEAK_NOAPP fd…` were made with no frame of its own code on their whole
chain: their sites must say so (`no frame of the program's code: …`, no app frame).
`FDLEAK_FINDING PATTERN TITLE-START` lines name findings the exit report must have.
Checks: the program exits 0 (or dies of --kill's signal) in time (a hang is a deadlock), the report's "runtime" is exactly
what PYTHON says it is ("cpython 3.12.1": asked of the interpreter), every leak's site has Python frames whose app frame is a marked line (file,
line, function) and whose frames include that line, the number of leaks per
marker is as declared, nothing else leaks, and there are no misuse errors. Exit status 0 when
all hold, 1 otherwise (expected and actual printed), 77 when the interpreter is unavailable
(or cannot import a --needs module).
"""

import argparse
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time



ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "examples", "bot"))
from servers import Servers, ServerError  # noqa: E402  (the demo's own server starter)
from harness import clean_env, interp_version, load_report, parse_markers, skip_or_fail_missing


def start_servers(names, servers, env):
    for name in names:
        if name == "redis":
            env["FDLEAK_TEST_REDIS_PORT"] = str(servers.start_redis())
        elif name == "api":
            env["FDLEAK_TEST_API_PORT"] = str(servers.start_api())
        else:
            raise SystemExit("unknown server %r (redis, api)" % name)


def frames_text(site):
    out = []
    for f in site.get("python") or []:
        out.append("      %s:%s in %s%s" % (f["file"], f["line"], f["function"],
                                            " (%s origin, level %s)" % (f["origin"], f["level"]) if f.get("origin") else ""))
    return "\n".join(out) or "      (no Python frames)"


def where(key):
    return "%s:%d" % (os.path.relpath(key[0]), key[1])


PROGRAMS = os.path.join(ROOT, "tests", "python") + os.sep  # the test programs' own code


def check_report(rep, marks, what, failures, noapp=()):
    """Leaks of one report (or of several, merged) against the markers meant for it; those in
    noapp (the program said: no frame of its code made them) must say so instead."""
    sites = {s["id"]: s for s in rep["sites"]}
    got = {}
    for leak in rep["leaks"]:
        site = sites.get(leak["site"]) if leak.get("site") is not None else None
        app = site and site.get("app")
        desc = "fd %d (%s %s)" % (leak["fd"], leak["kind"], leak["desc"])
        if leak["fd"] in noapp:
            at = (site or {}).get("at") or ""
            if app or not site or not site.get("python") or not at.startswith("no frame of the program's code: "):
                failures.append("%s: %s has no frame of the program's code, but its site says app %s, at %r;"
                                " its Python frames:\n%s" % (what, desc, app, at, frames_text(site or {})))
            elif any(os.path.realpath(f["file"]).startswith(PROGRAMS) for f in site["python"]):
                failures.append("%s: %s: a frame of the program's code among its Python frames:\n%s"
                                % (what, desc, frames_text(site)))
            continue
        if not app:
            failures.append("%s: %s leaked from a site without Python frames (site %s)"
                            % (what, desc, leak.get("site")))
            continue
        key = (os.path.realpath(app["file"]), app["line"])
        if key not in marks:
            failures.append("%s: %s leaked at %s:%s in %s, which is not a marked line;"
                            " its Python frames:\n%s" % (what, desc, app["file"], app["line"],
                                                        app["function"], frames_text(site)))
            continue
        spec = marks[key]
        if spec["fn"] and app["function"] != spec["fn"]:
            failures.append("%s: %s at %s: app function is %r, expected %r"
                            % (what, desc, where(key), app["function"], spec["fn"]))
        if bool(app.get("task_origin")) != spec["origin"]:
            failures.append("%s: %s at %s: app frame task_origin is %s, expected %s;"
                            " its Python frames:\n%s" % (what, desc, where(key), bool(app.get("task_origin")),
                                                        spec["origin"], frames_text(site)))
        if spec["via"] and app.get("origin") != spec["via"]:
            failures.append("%s: %s at %s: app frame's origin is %r, expected %r;"
                            " its Python frames:\n%s" % (what, desc, where(key), app.get("origin"),
                                                        spec["via"], frames_text(site)))
        missing = [c for c in spec["calls"] if c not in [f["function"] for f in site["python"]]]
        if missing:
            failures.append("%s: %s at %s: %s not among the Python frames:\n%s"
                            % (what, desc, where(key), ", ".join(missing), frames_text(site)))
        if not any((os.path.realpath(f["file"]), f["line"]) == key for f in site["python"]):
            failures.append("%s: %s: %s is the app frame but not among the Python frames"
                            % (what, desc, where(key)))
        got[key] = got.get(key, 0) + 1
    for key, spec in sorted(marks.items()):
        n = got.get(key, 0)
        if spec["count"] is not None and n != spec["count"]:
            failures.append("%s: %s (%s): expected %d leaks, got %d"
                            % (what, where(key), spec["fn"] or "?", spec["count"], n))
    for e in rep.get("errors", []):
        failures.append("%s: unexpected error %s of fd %s" % (what, e["what"], e["fd"]))


def check_ground_truth(rep, out, failures):
    """What the program says of itself, when it does: `FDLEAK_KEPT fd…` (descriptors it keeps on
    purpose) and `FDLEAK_OPEN fd…` (/proc/self/fd at its end). The report's leaks are exactly
    the kept descriptors, and each of them was open at the end."""
    kept = [int(x) for l in re.findall(r"^FDLEAK_KEPT(.*)$", out, re.M) for x in l.split()]
    opened = re.findall(r"^FDLEAK_OPEN(.*)$", out, re.M)
    if not kept and not opened:
        return
    leaks = sorted(l["fd"] for l in rep["leaks"])
    if leaks != sorted(kept):
        failures.append("leaked fds %s, the program kept %s" % (leaks, sorted(kept)))
    if opened:
        at_end = {int(x) for x in opened[-1].split()}
        gone = [fd for fd in leaks + kept if fd not in at_end]
        if gone:
            failures.append("fds %s reported or kept but not in the program's /proc/self/fd at its end %s"
                            % (sorted(set(gone)), sorted(at_end)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--interp", required=True, help="the Python to run the program under "
                    "(skipped when it does not run)")
    ap.add_argument("--servers", default="")
    ap.add_argument("--markers", help="read markers from every .py file under this directory")
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--pythonpath", default="", help="PYTHONPATH for the program (e.g. Debian's "
                    "dist-packages for another interpreter)")
    ap.add_argument("--needs", default="", help="comma-separated modules the program imports "
                    "from outside the standard library")
    ap.add_argument("--suppress", help="a suppression file for the launcher (--suppress)")
    ap.add_argument("--expect-suppressed", type=int, default=0,
                    help="the report must count this many suppressed leaks")
    ap.add_argument("--kill", default="", help="send this signal (SIGTERM…) once the program prints READY")
    ap.add_argument("program")
    ap.add_argument("args", nargs="*")
    a = ap.parse_args()

    interp = a.interp
    want_runtime = interp_version(interp)
    if want_runtime is None:
        print("SKIP: %s does not run" % interp)
        return 77
    status = skip_or_fail_missing(interp, [m for m in a.needs.split(",") if m], a.pythonpath)
    if status is not None:
        return status
    files = [a.program]
    if a.markers:
        files = sorted(glob.glob(os.path.join(a.markers, "**", "*.py"), recursive=True))
    marks = parse_markers(files)
    if tuple(int(x) for x in re.findall(r"\d+", want_runtime)[:2]) < (3, 11):
        # Before 3.11 a code object has no co_qualname: frames can only name the function
        # itself (Pool.connect is connect there, f.<locals>.g is g).
        for spec in marks.values():
            spec["fn"] = spec["fn"] and spec["fn"].rsplit(".", 1)[-1]
            spec["calls"] = [c.rsplit(".", 1)[-1] for c in spec["calls"]]
    tmp = tempfile.mkdtemp(prefix="fdleak-py-")
    env = clean_env(python=True)
    servers = Servers()
    failures = []
    try:
        try:
            start_servers([s for s in a.servers.split(",") if s], servers, env)
        except ServerError as e:
            print("FAIL: %s" % e)
            return 1
        ports = {"redis_port": env.get("FDLEAK_TEST_REDIS_PORT", ""),
                 "api_port": env.get("FDLEAK_TEST_API_PORT", "")}
        args = [x.format(**ports) for x in a.args]
        # Through the launcher, as a user runs it: it adds the Python start-up hook.
        env.update({"FDLEAK_LIBRARY": os.path.abspath(a.lib), "PYTHONDONTWRITEBYTECODE": "1"})
        if a.pythonpath:
            env["PYTHONPATH"] = a.pythonpath
        launcher = [os.path.join(ROOT, "scripts", "fdleak"), "--format", "json",
                    "-o", os.path.join(tmp, "fdleak-%p.json")]
        if a.suppress:
            launcher += ["--suppress", a.suppress]
        launcher += ["--"]
        start = time.monotonic()
        p = subprocess.Popen(launcher + [interp, a.program] + args, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        want_status = 0
        try:
            out = ""
            if a.kill:
                sig = getattr(signal, a.kill)
                want_status = -sig
                timer = threading.Timer(a.timeout, p.kill)
                timer.start()
                for line in p.stdout:  # a timeout kills it: the loop ends, the status says
                    out += line
                    if line.strip() == "READY":
                        p.send_signal(sig)
                        break
                timer.cancel()
            more, err = p.communicate(timeout=a.timeout)
            out += more
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            print("FAIL: %s did not finish in %ss (deadlock?)\nstderr:\n%s" % (a.program, a.timeout, err))
            return 1
        if p.returncode != want_status:
            failures.append("the program exited with status %d (expected %d); stdout:\n%s\nstderr:\n%s"
                            % (p.returncode, want_status, out, err))
        said = re.findall(r"^FDLEAK_EXPECT_SUPPRESSED (\d+)$", out, re.M)
        expect_suppressed = int(said[-1]) if said else a.expect_suppressed
        reports = {}
        for path in sorted(glob.glob(os.path.join(tmp, "fdleak-*.json"))):
            try:
                reports[path] = load_report(path)
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
            if rep.get("runtime") != want_runtime:
                failures.append("runtime is %r, expected %r (what %s says it is)"
                                % (rep.get("runtime"), want_runtime, interp))
            noapp = {int(x) for l in re.findall(r"^FDLEAK_NOAPP(.*)$", out, re.M) for x in l.split()}
            check_report(rep, {k: v for k, v in marks.items() if not v["child"]}, "pid %d" % p.pid,
                         failures, noapp)
            check_ground_truth(rep, out, failures)
            titles = [(f["pattern"], f["title"]) for f in rep["findings"]]
            for pat, title in re.findall(r"^FDLEAK_FINDING (\S+) (.*)$", out, re.M):
                if not any(fp == pat and t.startswith(title) for fp, t in titles):
                    failures.append("no %s finding titled %r…; findings: %s" % (pat, title, titles))
            if rep.get("suppressed", 0) != expect_suppressed:
                failures.append("suppressed: %s, expected %d%s" % (rep.get("suppressed", 0), expect_suppressed,
                                                                  " (as the program said)" if said else ""))
            if a.kill and rep.get("signal") != a.kill:
                failures.append("signal: %r, expected %r" % (rep.get("signal"), a.kill))
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
            check_report(merged, child_marks, "forked child", failures)
        print("%s under %s: %d reports, %.1fs" % (os.path.basename(a.program), interp, len(reports),
                                                 time.monotonic() - start))
    finally:
        servers.stop()
    if failures:
        print("FAIL:\n  " + "\n  ".join(failures))
        print("reports kept in", tmp)
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
