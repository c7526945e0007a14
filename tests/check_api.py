#!/usr/bin/python3
"""The public checkpoint API from a C program (tests/victims/api_checkpoint.c).

    check_api.py --lib SHIM PROGRAM

Bare, the program must run and say the calls are no-ops. Preloaded, its own checks must pass,
and the report it writes with fdleak_report_since must list exactly the two descriptors it
says it leaked after its checkpoint (not the one it closed, nor anything older), with trigger
"api", its label, and each site's native frames naming the function that created it. Prints
expected and actual on failure."""
import argparse
import os
import subprocess
import sys
import tempfile
from harness import clean_env, finish, load_report


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("program")
    a = ap.parse_args()
    failures = []
    env = clean_env()
    bare = subprocess.run([a.program], env=env, capture_output=True, text=True, timeout=30)
    if bare.returncode != 0 or "not loaded" not in bare.stdout:
        failures.append("bare run: status %d, stdout %r (expected 0 and 'not loaded')" % (bare.returncode, bare.stdout))
    with tempfile.TemporaryDirectory(prefix="fdleak-api-") as tmp:
        out = os.path.join(tmp, "since.json")
        run = subprocess.run([a.program, out], env=dict(env, LD_PRELOAD=os.path.abspath(a.lib), FDLEAK_QUIET="1"),
                             capture_output=True, text=True, timeout=30)
        if run.returncode != 0:
            failures.append("preloaded run: status %d, stdout:\n%s" % (run.returncode, run.stdout))
        words = [l.split()[1:] for l in run.stdout.splitlines() if l.startswith("leaked ")]
        want = sorted(int(x) for x in words[0]) if words else None
        try:
            rep = load_report(out)
        except (OSError, ValueError) as e:
            rep = None
            failures.append("no checkpoint report at %s: %s" % (out, e))
        if rep:
            got = sorted(l["fd"] for l in rep["leaks"])
            if got != want:
                failures.append("report leaks %s, expected %s" % (got, want))
            if rep.get("trigger") != "api" or rep.get("label") != "after setup":
                failures.append("trigger %r label %r, expected 'api' and 'after setup'" % (rep.get("trigger"), rep.get("label")))
            if rep["inherited"] or rep["unattributed"]:
                failures.append("inherited %s unattributed %s, expected none in a checkpoint report"
                                % (rep["inherited"], rep["unattributed"]))
            sites = {s["id"]: s for s in rep["sites"]}
            for leak in rep["leaks"]:
                names = [f["function"] for f in sites[leak["site"]]["native"]][:3]
                want_fn = "leak_file" if leak["kind"] == "file" else "leak_socket"
                if want_fn not in names:
                    failures.append("fd %d (%s): first frames %s, expected %s among them" % (leak["fd"], leak["kind"], names, want_fn))
            if len(rep["sites"]) != 2:
                failures.append("%d sites listed, expected only the 2 leak sites" % len(rep["sites"]))
    return finish(failures)


if __name__ == "__main__":
    sys.exit(main())
