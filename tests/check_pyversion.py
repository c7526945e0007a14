#!/usr/bin/python3
"""A CPython fdleak cannot read frames of (tests/victims/pyfake.c) still gets native reports.

    check_pyversion.py --lib SHIM --expect-runtime "cpython 3.12.0" --expect-warning TEXT PROGRAM

Checks: the program's stderr carries the warning line exactly once, the JSON report says
"runtime": EXPECT, and the one leak (the fd the program prints) is attributed to leak_here by
its native frames, with no Python frames and no app frame. Exit 0 when all hold, else 1 with
expected and actual values."""
import argparse
import os
import subprocess
import sys
import tempfile
from harness import clean_env, finish, load_report


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--expect-runtime", required=True)
    ap.add_argument("--expect-warning", required=True)
    ap.add_argument("program")
    a = ap.parse_args()
    failures = []
    with tempfile.TemporaryDirectory(prefix="fdleak-pyver-") as tmp:
        out = os.path.join(tmp, "r.json")
        env = clean_env()
        env.update(LD_PRELOAD=os.path.abspath(a.lib), FDLEAK_FORMAT="json", FDLEAK_OUTPUT=out)
        p = subprocess.run([a.program], env=env, capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            failures.append("exit status %d, expected 0" % p.returncode)
        lines = [l for l in p.stderr.splitlines() if a.expect_warning in l]
        if len(lines) != 1:
            failures.append("stderr has %d lines with %r, expected 1; stderr:\n%s"
                            % (len(lines), a.expect_warning, p.stderr))
        try:
            rep = load_report(out)
        except (OSError, ValueError) as e:
            print("FAIL: no report: %s" % e)
            return 1
        if rep.get("runtime") != a.expect_runtime:
            failures.append("runtime %r, expected %r" % (rep.get("runtime"), a.expect_runtime))
        fds = [l["fd"] for l in rep["leaks"]]
        want = [int(p.stdout.split()[0])] if p.stdout.split() else []
        if fds != want:
            failures.append("leaked fds %s, expected %s" % (fds, want))
        sites = {s["id"]: s for s in rep["sites"]}
        for leak in rep["leaks"]:
            site = sites.get(leak["site"], {})
            names = [f["function"] for f in site.get("native", [])]
            if "leak_here" not in names[:3]:
                failures.append("fd %d: native frames %s, expected leak_here among the first 3"
                                % (leak["fd"], names[:6]))
            if site.get("python") != [] or site.get("app") is not None:
                failures.append("fd %d: python %s app %s, expected [] and null"
                                % (leak["fd"], site.get("python"), site.get("app")))
    return finish(failures)


if __name__ == "__main__":
    sys.exit(main())
