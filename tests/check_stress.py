#!/usr/bin/python3
"""The stress run (tests/stress/stress.c, issue 9) under fdleak, held to what the program says
it left open.

    check_stress.py --lib SHIM --seconds S STRESS_EXE

It runs the program bare once (the descriptors the harness hands it, its own sweep finding
nothing), then under fdleak with JSON reports and the report signal arriving throughout. It
passes when the program ended normally within its watchdog (no deadlock), every report of
every process parses, the exit report lists as leaks exactly the descriptors the program kept
on purpose, as inherited exactly what the bare run was handed, nothing unattributed (the table
agrees with /proc/self/fd), the sweep found nothing of the program's left behind, and the
program asked for reports that were written."""
import argparse
import glob
import os
import subprocess
import sys
import tempfile
from harness import clean_env, load_report


def parse(out):
    """{"keep": [fds], "inherited": [fds], "children": n, "reports-asked": n, "swept": n}"""
    d = {}
    for line in out.splitlines():
        words = line.split()
        if words and words[0] in ("keep", "inherited"):
            d[words[0]] = sorted(int(w) for w in words[1:])
        elif words and words[0] == "children":
            d.update({words[i]: int(words[i + 1]) for i in range(0, len(words) - 1, 2)})
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("program")
    a = ap.parse_args()
    base = clean_env()
    failures = []
    limit = 3 * a.seconds + 30

    bare = subprocess.run([a.program, str(a.seconds)], env=base, capture_output=True, text=True, timeout=limit)
    b = parse(bare.stdout)
    if bare.returncode != 0 or b.get("swept") != 0 or "inherited" not in b:
        print("FAIL the bare run itself: status %d, output %r, stderr %r" % (bare.returncode, bare.stdout, bare.stderr))
        return 1

    with tempfile.TemporaryDirectory(prefix="fdleak-stress-") as tmp:
        env = dict(base, LD_PRELOAD=os.path.abspath(a.lib), FDLEAK_FORMAT="json",
                   FDLEAK_OUTPUT=os.path.join(tmp, "r-%p.%n.json"))
        p = subprocess.Popen([a.program, str(a.seconds)], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        try:
            out, err = p.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            print("FAIL no end within %d s (deadlock?); stderr:\n%s" % (limit, err[-3000:]))
            return 1
        s = parse(out)
        if p.returncode != 0:
            failures.append("status %d (expected 0; %d is SIGALRM: the watchdog saw a deadlock); stderr:\n%s"
                            % (p.returncode, -14, err[-3000:]))
        allowed = ("fdleak: a call stack could not be unwound",)
        odd = [l for l in err.splitlines() if not l.startswith(allowed)]
        if odd:
            failures.append("unexpected stderr lines: %r" % odd[:10])
        if s.get("swept") != 0:
            failures.append("the program's sweep closed %r descriptors of its own: it lost track (%s)" % (s.get("swept"), err))
        reports, bad = [], []
        for path in glob.glob(os.path.join(tmp, "*.json")):
            try:
                reports.append(load_report(path))
            except ValueError as e:
                bad.append("%s: %s" % (os.path.basename(path), e))
        if bad:
            failures.append("%d reports do not parse: %s" % (len(bad), bad[:5]))
        mine = [r for r in reports if r.get("pid") == p.pid]
        exits = [r for r in mine if r.get("trigger") == "exit"]
        signals = [r for r in mine if r.get("trigger") == "signal"]
        if len(exits) != 1:
            failures.append("expected one exit report of pid %d, found %d" % (p.pid, len(exits)))
        else:
            r = exits[0]
            leaks = sorted(x["fd"] for x in r["leaks"])
            inherited = sorted(x["fd"] for x in r["inherited"])
            unat = sorted(x["fd"] for x in r["unattributed"])
            if leaks != s.get("keep"):
                failures.append("leaks %r, expected the kept %r" % (leaks, s.get("keep")))
            if inherited != b["inherited"]:
                failures.append("inherited %r, expected what the bare run was handed %r" % (inherited, b["inherited"]))
            if unat:
                failures.append("unattributed %r, expected none (the table misses them)" % unat)
        asked = s.get("reports-asked", 0)
        if asked and not signals:
            failures.append("the program asked for %d signal reports; none was written" % asked)
        print("stress %ds: %d children, %d signal reports asked, %d written, %d reports in all"
              % (a.seconds, s.get("children", 0), asked, len(signals), len(reports)))
    for f in failures:
        print("FAIL %s" % f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
