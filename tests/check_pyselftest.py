#!/usr/bin/python3
"""libfdleak's Python start-up self-test, _fdleak.selftest(file, line, function), from outside.

    check_pyselftest.py --lib SHIM --interp PYTHON [--launcher PATH] [--timeout S] [PROGRAM]

PROGRAM (default tests/python/selftest.py) runs through the launcher (which installs the
start-up hook, itself meant to call the self-test once) in each mode and prints its leaks
(`leak <fd> before|after <lineno>`) and what its own calls returned (`selftest <mode> <r>...`):

  plain           no call of its own: no "failed the start-up check" line, no other fdleak line,
                  every leak at its line with Python frames (app frame = the declared line)
  right           a correct call returns 1; the same as plain otherwise
  subinterp       the program's call from a legacy subinterpreter (whose start runs the hook,
                  and its call, too) returns -1 (not checked there); no "failed" line, and the
                  exit report is the process's, not taken when the subinterpreter ends: the
                  same as plain otherwise
  wrong-line, wrong-function, wrong-file
                  the call returns 0 and a second, correct one -1 (frames already off); stderr
                  has exactly one line `fdleak: Python frames failed the start-up check on
                  CPython 3.X (...); native frames only` with this interpreter's X; the leak made
                  before the call keeps its Python frames; the leaks made after it have
                  python [] and app null, with native frames still there

In every mode: exit status 0, one exit report that parses, "runtime" of this version, its leaks
exactly the declared fds. Exit 0 when all hold, 1 otherwise (expected and actual printed), 77
when the interpreter is absent. Without the built-in module _fdleak the program prints `missing`
and the modes with a call fail saying so.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

from harness import check_runtime, clean_env, finish, load_report, runtime_or_skip

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAILED = re.compile(r"^fdleak: Python frames failed the start-up check on CPython 3\.(\d+) \((.*)\); "
                    r"native frames only$")
MODES = ["plain", "right", "wrong-line", "wrong-function", "wrong-file", "subinterp"]


def frames_text(site):
    py = ["%s:%s %s" % (os.path.basename(f["file"]), f["line"], f["function"])
          for f in site.get("python") or []]
    native = [f.get("function") or "?" for f in site.get("native") or []][:6]
    return "python: %s; native: %s" % (" < ".join(py) or "(none)", " < ".join(native) or "(none)")


def check_mode(a, mode, version, failures):
    what = mode
    env = clean_env(python=True)
    env.update(PYTHONDONTWRITEBYTECODE="1", FDLEAK_LIBRARY=os.path.abspath(a.lib))
    with tempfile.TemporaryDirectory(prefix="fdleak-pyselftest-") as tmp:
        cmd = [a.launcher, "--format", "json", "-o", os.path.join(tmp, "r-%p.json"), "--",
               a.interp, a.program, mode]
        p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        try:
            p.stdout_text, p.stderr_text = p.communicate(timeout=a.timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            failures.append("%s: did not finish in %ss" % (what, a.timeout))
            return
        reports = []
        for name in sorted(os.listdir(tmp)):
            try:
                reports.append(load_report(os.path.join(tmp, name)))
            except ValueError as e:
                failures.append("%s: %s does not parse: %s" % (what, name, e))
    if p.returncode != 0:
        failures.append("%s: exit status %d, expected 0; stderr:\n%s" % (what, p.returncode, p.stderr_text))
    leaks_decl, result = {}, None
    for line in p.stdout_text.splitlines():
        w = line.split()
        if w[:1] == ["leak"] and len(w) == 4:
            leaks_decl[int(w[1])] = (w[2], int(w[3]))
        elif w[:1] == ["selftest"]:
            result = w[2:]
    # the call's result
    wrong = mode.startswith("wrong")
    expect = None if mode == "plain" else ["0", "-1"] if wrong else ["1"]
    if mode == "subinterp":
        expect = ["-1"]  # a subinterpreter's call is not checked (walks read the main one's state)
        if result == ["no-testcapi"]:
            print("note: %s: no _testcapi in this interpreter: no subinterpreter started, the "
                  "rest checked as plain" % what)
            expect = result
    if result == ["missing"]:
        failures.append("%s: no built-in module _fdleak under %s (the library registers it "
                        "before CPython starts)" % (what, a.lib))
    elif result != expect:
        failures.append("%s: _fdleak.selftest returned %s, expected %s"
                        % (what, " then ".join(result) if result else "(no call)",
                           " then ".join(expect) if expect else "(no call)"))
    # stderr
    notices = [l for l in p.stderr_text.splitlines() if l.startswith("fdleak:")]
    failed = [l for l in notices if FAILED.match(l)]
    others = [l for l in notices if not FAILED.match(l)]
    if any("start-up check" in l for l in others):
        failures.append("%s: a start-up check line not in the expected form: %s"
                        % (what, [l for l in others if "start-up check" in l]))
    if others:
        failures.append("%s: unexpected fdleak lines on stderr: %s" % (what, others))
    if wrong and result != ["missing"]:
        if len(failed) != 1:
            failures.append("%s: %d \"failed the start-up check\" lines, expected exactly 1; "
                            "stderr:\n%s" % (what, len(failed), p.stderr_text))
        elif "3.%s" % FAILED.match(failed[0]).group(1) != version:
            failures.append("%s: the line names CPython 3.%s, the interpreter is %s: %s"
                            % (what, FAILED.match(failed[0]).group(1), version, failed[0]))
    elif failed:
        failures.append("%s: the start-up check failed, expected no such line: %s" % (what, failed))
    # the report
    exits = [r for r in reports if r.get("pid") == p.pid and r.get("trigger") == "exit"]
    if len(exits) != 1:
        failures.append("%s: %d exit reports of the program, expected 1" % (what, len(exits)))
        return
    rep = exits[0]
    check_runtime(rep, a.runtime, what, failures)
    sites = {s["id"]: s for s in rep["sites"]}
    leaked = {l["fd"]: l for l in rep["leaks"]}
    if sorted(leaked) != sorted(leaks_decl) or len(leaks_decl) != 3:
        failures.append("%s: leaked fds %s, expected the declared %s (3 of them)"
                        % (what, sorted(leaked), sorted(leaks_decl)))
    prog = os.path.realpath(a.program)
    for fd, (when, lineno) in sorted(leaks_decl.items()):
        leak = leaked.get(fd)
        site = sites.get(leak.get("site")) if leak else None
        if not site:
            continue
        label = "%s: fd %d (%s %s, made %s the call at line %d)" % (
            what, fd, leak.get("kind"), leak.get("desc"), when, lineno)
        if not site.get("native"):
            failures.append("%s: no native frames" % label)
        frames_off = wrong and when == "after" and result != ["missing"]
        if frames_off:
            if site.get("python") != [] or site.get("app") is not None:
                failures.append("%s: expected python [] and app null once the check failed, got "
                                "app %s; %s" % (label, site.get("app"), frames_text(site)))
            continue
        app = site.get("app")
        if not app or os.path.realpath(app["file"]) != prog or app["line"] != lineno:
            failures.append("%s: app frame %s, expected %s:%d; %s"
                            % (label, app and "%s:%s in %s" % (app["file"], app["line"], app["function"]),
                               a.program, lineno, frames_text(site)))
    print("%s: selftest %s, %d leaks, stderr lines %s" % (what, " ".join(result or ["-"]),
                                                          len(leaked), len(notices)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--interp", required=True)
    ap.add_argument("--launcher", default=os.path.join(ROOT, "scripts", "fdleak"))
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("program", nargs="?", default=os.path.join(ROOT, "tests", "python", "selftest.py"))
    a = ap.parse_args()
    found = runtime_or_skip(a.interp)
    if not found:
        return 77
    a.runtime, version = found
    print("%s (CPython %s)" % (a.interp, version))
    failures = []
    for mode in a.modes.split(","):
        check_mode(a, mode, version, failures)
    return finish(failures)


if __name__ == "__main__":
    sys.exit(main())
