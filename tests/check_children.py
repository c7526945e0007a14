#!/usr/bin/python3
"""FDLEAK_CHILDREN: which processes of a tree write reports.

    check_children.py --lib SHIM [--interp PYTHON]

Runs tests/children/'s programs through the launcher (`-o DIR/%p-%n.json --format json`) and
compares the processes that wrote report files with the ones that should have. app.py says
itself which processes it is and what each keeps (`FDLEAK_PROC <pid> <fd>…`); shim.sh is a
pyenv-like bash shim (command substitutions of basename, readlink, dirname and a helper script,
then exec of the interpreter); entry.sh an entrypoint that runs the program as a child.

  default (programs)  shim.sh app.py          only the interpreter's report, its kept file
  first               shim.sh app.py          the same
  all                 shim.sh app.py          the shells' and utilities' reports too
  default             sh entry.sh             only the program's (date in $(…) is silent)
  first               sh entry.sh             none: the program is not on the exec chain
  default, first      app.py workers          the program's and both workers'
  default             $(fdleak … shim.sh)     the same: the outer shell is not the tree's
  python3*            shim.sh app.py          only the interpreter's; nomatch*: none at all
  default             pyenv's own shim        only the interpreter's (skipped without pyenv)

Each report must list exactly what its process kept (a worker: its own file, and the parent's it
inherited). Exit 0 when all hold, 1 otherwise.
"""
import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile

from harness import clean_env, finish, keep_or_remove, load_report

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.join(ROOT, "tests", "children")
LAUNCHER = os.path.join(ROOT, "scripts", "fdleak")


def run_case(a, name, children, cmd, want, failures, env_extra=None, outer=False):
    """want: "program" (exactly the processes app.py names), "none", or "more" (the program's
    and at least one other process's)."""
    tmp = tempfile.mkdtemp(prefix="fdleak-children-")
    env = clean_env(python=True)
    env.update(FDLEAK_LIBRARY=os.path.abspath(a.lib), FDLEAK_TEST_PY=a.interp, PYTHONDONTWRITEBYTECODE="1")
    env.update(env_extra or {})
    opts = ["--children", children] if children else []
    full = [LAUNCHER, "--format", "json", "-o", os.path.join(tmp, "%p-%n.json")] + opts + ["--"] + cmd
    if outer:  # fdleak itself inside a command substitution of a shell outside its tree
        full = ["sh", "-c", 'out=$("$@"); printf "%s\\n" "$out"', "sh"] + full
    p = subprocess.run(full, env=env, capture_output=True, text=True, timeout=a.timeout, cwd=tmp)
    procs = {}
    for line in re.findall(r"^FDLEAK_PROC (.*)$", p.stdout, re.M):
        pid, *fds = (int(x) for x in line.split())
        procs[pid] = sorted(fds)
    reports = {}
    for f in sorted(glob.glob(os.path.join(tmp, "*.json"))):
        r = load_report(f)
        reports.setdefault(r["pid"], []).append(r)
    what = "%s (--children %s)" % (name, children or "default")
    bad = []
    if p.returncode != 0:
        bad.append("status %d; stderr:\n%s" % (p.returncode, p.stderr))
    if want != "none" and not procs:
        bad.append("the program did not run (stdout %r, stderr %r)" % (p.stdout, p.stderr))
    if want == "none" and reports:
        bad.append("reports from pids %s, expected none" % sorted(reports))
    elif want == "program" and sorted(reports) != sorted(procs):
        bad.append("reports from pids %s, expected exactly the program's %s (files: %s)"
                   % (sorted(reports), sorted(procs), [os.path.basename(x) for x in glob.glob(os.path.join(tmp, "*"))]))
    elif want == "more" and not (set(procs) < set(reports)):
        bad.append("reports from pids %s, expected the program's %s and others" % (sorted(reports), sorted(procs)))
    for pid, fds in procs.items():
        exits = [r for r in reports.get(pid, []) if r["trigger"] == "exit"]
        if want == "none":
            continue
        if len(exits) != 1:
            bad.append("pid %d: %d exit reports" % (pid, len(exits)))
            continue
        leaks = sorted(l["fd"] for l in exits[0]["leaks"])
        if leaks != fds:
            bad.append("pid %d: leaks %s, it kept %s" % (pid, leaks, fds))
    if want == "none" and p.stderr.strip():
        bad.append("a silent tree said something on stderr: %r" % p.stderr)
    print("%s: reports from %s; the program's processes %s%s" % (what, sorted(reports), sorted(procs),
                                                                  "" if not bad else " — FAIL"))
    failures += ["%s: %s" % (what, b) for b in bad]
    keep_or_remove(tmp, bad)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--interp", default="/usr/bin/python3")
    ap.add_argument("--timeout", type=float, default=60)
    a = ap.parse_args()
    shim, entry, app = (os.path.join(HERE, n) for n in ("shim.sh", "entry.sh", "app.py"))
    failures = []
    run_case(a, "shim", "", [shim, app], "program", failures)
    run_case(a, "shim", "first", [shim, app], "program", failures)
    run_case(a, "shim", "all", [shim, app], "more", failures)
    run_case(a, "entrypoint", "", ["sh", entry], "program", failures)
    run_case(a, "entrypoint", "first", ["sh", entry], "none", failures)
    run_case(a, "workers", "", [a.interp, app, "workers"], "program", failures)
    run_case(a, "workers", "first", [a.interp, app, "workers"], "program", failures)
    run_case(a, "shim inside $(fdleak …)", "", [shim, app], "program", failures, outer=True)
    run_case(a, "shim", "python3*", [shim, app], "program", failures)
    run_case(a, "shim", "nomatch*", [shim, app], "none", failures)
    pyenv = os.path.join(os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv")), "shims", "python3")
    if os.access(pyenv, os.X_OK):
        run_case(a, "pyenv's shim", "", [pyenv, app], "program", failures)
    else:
        print("pyenv's shim: skipped (no %s)" % pyenv)
    return finish(failures)


if __name__ == "__main__":
    sys.exit(main())
