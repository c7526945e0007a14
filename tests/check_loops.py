#!/usr/bin/python3
"""The same program on asyncio's loop and on uvloop's: the same counts and lifetimes.

    check_loops.py --lib SHIM [--interp PYTHON] [--runs N] [PROGRAM.py]

PROGRAM (default tests/python/loopwork.py, run as `PROGRAM asyncio` and `PROGRAM uvloop`)
marks with `# SAME` the lines that make the same descriptors whatever the loop (the client
connections, a file). Each run goes through the launcher (JSON) and must leak nothing; for each
marked line the sites whose app frame it is (summed) must count the same created, closed and
open under both loops, and the median lifetime (from the histogram: bucket i holds
[2^i, 2^(i+1)) µs) must lie within two buckets: uvloop is the faster loop (about twice, one
bucket), but a missed close (libuv closes through syscall(SYS_close)) stretches a
connection's life to the next reuse of its number — tens of buckets' worth. Exit 0 when all
hold, 1 otherwise, 77 when the interpreter cannot import uvloop.
"""
import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile

from harness import clean_env, finish, load_report, skip_or_fail_missing

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(a, loop, tmp):
    env = clean_env(python=True)
    env.update(FDLEAK_LIBRARY=os.path.abspath(a.lib), PYTHONDONTWRITEBYTECODE="1")
    out = os.path.join(tmp, loop + "-%p.json")
    cmd = [os.path.join(ROOT, "scripts", "fdleak"), "--format", "json", "-o", out, "--", a.interp, a.program, loop]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=a.timeout)
    reports = [load_report(f) for f in glob.glob(os.path.join(tmp, loop + "-*.json"))]
    return p, [r for r in reports if r["trigger"] == "exit" and r.get("runtime")]  # not its subprocess's


def per_line(rep, path, lines):
    """line -> [created, closed, open, hist] over the sites whose app frame is path:line."""
    agg = {n: [0, 0, 0, [0] * 32] for n in lines}
    for s in rep["sites"]:
        app = s.get("app") or {}
        if os.path.realpath(app.get("file") or "") != path or app.get("line") not in agg:
            continue
        a = agg[app["line"]]
        a[0] += s["created"]
        a[1] += s["closed"]
        a[2] += s["open"]
        for i, h in enumerate(s.get("lifetime", {}).get("hist", [])):
            a[3][i] += h
    return agg


def median_bucket(hist):
    total, seen = sum(hist), 0
    for i, h in enumerate(hist):
        seen += h
        if total and seen * 2 >= total:
            return i
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--interp", default="/usr/bin/python3")
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("program", nargs="?", default=os.path.join(ROOT, "tests", "python", "loopwork.py"))
    a = ap.parse_args()
    status = skip_or_fail_missing(a.interp, ["uvloop"])
    if status is not None:
        return status
    path = os.path.realpath(a.program)
    with open(path) as f:
        lines = [n for n, text in enumerate(f, 1) if re.search(r"#\s*SAME\s*$", text)]
    tmp = tempfile.mkdtemp(prefix="fdleak-loops-")
    failures, seen = [], {}
    for loop in ("asyncio", "uvloop"):
        p, exits = run(a, loop, tmp)
        if p.returncode != 0 or len(exits) != 1:
            failures.append("%s: status %d, %d exit reports with a runtime; stderr:\n%s"
                            % (loop, p.returncode, len(exits), p.stderr))
            continue
        rep = exits[0]
        for l in rep["leaks"]:
            failures.append("%s: leak fd %s %s %s" % (loop, l["fd"], l["kind"], l["desc"]))
        seen[loop] = per_line(rep, path, lines)
    if len(seen) == 2:
        for n in lines:
            x, y = seen["asyncio"][n], seen["uvloop"][n]
            mx, my = median_bucket(x[3]), median_bucket(y[3])
            print("line %d: asyncio created/closed/open %s median bucket %s; uvloop %s median bucket %s"
                  % (n, x[:3], mx, y[:3], my))
            if x[:3] != y[:3] or not x[0]:
                failures.append("line %d: created/closed/open under asyncio %s, under uvloop %s" % (n, x[:3], y[:3]))
            if mx is None or my is None or abs(mx - my) > 2:
                failures.append("line %d: median lifetime bucket under asyncio %s, under uvloop %s (histograms %s, %s)"
                                % (n, mx, my, x[3], y[3]))
    return finish(failures, tmp)


if __name__ == "__main__":
    sys.exit(main())
