#!/usr/bin/python3
"""Run a program bare and under fdleak; its stdout and exit status must be identical.

usage: compare_bare.py --lib PATH [--timeout S] [--keep] -- program [args...]

Meant for tests/victims/errno_check.c, which prints every call's return value, descriptor
number and errno: the library must change none of them. Each run gets its own empty scratch
directory in FDLEAK_TEST_DIR and stdin from /dev/null, with only descriptors 0, 1 and 2 open.
The preloaded run must also leave a JSON report for its pid (proof that the library was
really loaded) that parses and lists no leaks. Exit status 0 on success, 1 on any difference.
"""

import argparse
import difflib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from harness import clean_env, load_report


def run(argv, env, timeout):
    """Returns (pid, returncode or None on timeout, stdout, stderr)."""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, close_fds=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
        rc = None
    return proc.pid, rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def describe_rc(rc):
    if rc is None:
        return "timed out"
    if rc < 0:
        return "killed by signal %d (%s)" % (-rc, signal.Signals(-rc).name)
    return "exit %d" % rc


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lib", required=True, help="path to libfdleak.so")
    ap.add_argument("--timeout", type=float, default=60.0, metavar="S")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("program", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.program[1:] if args.program[:1] == ["--"] else args.program
    if not cmd:
        ap.error("no program given (after --)")
    lib = os.path.abspath(args.lib)
    if not os.path.isfile(lib):
        print("compare_bare: library %s does not exist" % lib)
        return 1
    argv = [os.path.abspath(cmd[0])] + cmd[1:]

    tmp = tempfile.mkdtemp(prefix="fdleak-compare-")
    base_env = clean_env()

    bare_dir = os.path.join(tmp, "bare")
    os.mkdir(bare_dir)
    env = dict(base_env, FDLEAK_TEST_DIR=bare_dir)
    _, bare_rc, bare_out, bare_err = run(argv, env, args.timeout)

    shim_dir = os.path.join(tmp, "shim")
    os.mkdir(shim_dir)
    env = dict(base_env, FDLEAK_TEST_DIR=shim_dir, LD_PRELOAD=lib, FDLEAK_FORMAT="json",
               FDLEAK_OUTPUT=os.path.join(tmp, "report.%p.json"))
    pid, shim_rc, shim_out, shim_err = run(argv, env, args.timeout)

    fails = []
    if bare_rc != 0:
        fails.append("bare run: %s (the program itself fails; fix it first)" % describe_rc(bare_rc))
    if shim_rc != bare_rc:
        fails.append("exit status differs: bare %s, preloaded %s" % (
            describe_rc(bare_rc), describe_rc(shim_rc)))
    if shim_out != bare_out:
        diff = difflib.unified_diff(bare_out.splitlines(), shim_out.splitlines(),
                                    "bare", "preloaded", lineterm="", n=1)
        fails.append("stdout differs:\n" + "\n".join(diff))
    if not bare_out.strip():
        fails.append("the program printed nothing: nothing was compared")

    # The exit report is the pid's last: report.PID.json, or report.PID.N.json when live
    # reports (EMFILE, threshold) came first.
    mine = sorted((f for f in os.listdir(tmp) if f == "report.%d.json" % pid
                   or (f.startswith("report.%d." % pid) and f.endswith(".json")
                       and f[len("report.%d." % pid):-5].isdigit())),
                  key=lambda f: int(f.split(".")[2]) if f.count(".") == 3 else 1)
    report = os.path.join(tmp, mine[-1] if mine else "report.%d.json" % pid)
    if shim_rc is not None and (shim_rc >= 0):
        if not os.path.exists(report):
            fails.append("no report %s from the preloaded run (library not loaded?); "
                         "directory holds %s" % (report, sorted(os.listdir(tmp))))
        else:
            try:
                rep = load_report(report)
            except (OSError, ValueError) as e:
                fails.append("report %s does not parse: %s" % (report, e))
            else:
                if not isinstance(rep, dict) or rep.get("fdleak") != 1:
                    fails.append("report is not an fdleak schema 1 report")
                elif rep.get("pid") != pid:
                    fails.append("report pid %r, expected %d" % (rep.get("pid"), pid))
                elif rep.get("trigger") != "exit":
                    fails.append("the last report %s has trigger %r, expected 'exit'" % (
                        report, rep.get("trigger")))
                elif rep.get("leaks") != []:
                    fails.append("the program leaks nothing, but the report lists: %s" %
                                 json.dumps(rep.get("leaks")))

    name = os.path.basename(argv[0])
    if fails:
        print("FAIL %s:" % name)
        for f in fails:
            print("  " + f)
        print("raw report: %s" % report)
        print("--- bare stdout (%s) ---" % describe_rc(bare_rc))
        print(bare_out.rstrip())
        print("--- preloaded stdout (%s) ---" % describe_rc(shim_rc))
        print(shim_out.rstrip())
        print("--- bare stderr ---")
        print(bare_err.rstrip())
        print("--- preloaded stderr ---")
        print(shim_err.rstrip())
        return 1
    print("ok %s: %d lines identical bare and preloaded (report %s)" % (
        name, len(bare_out.splitlines()), report))
    if args.keep:
        print("kept %s" % tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
