#!/usr/bin/python3
"""Bad settings and bad places to write (issue 9): a program under the library with one bad
FDLEAK_* value, or a report path it cannot write, must behave exactly as bare — same stdout,
same exit status, its own stderr intact — and fdleak must say so in one line naming the
variable (or the path), then run on with the default.

    check_badenv.py --lib SHIM [--hostile EXE]

With --hostile (tests/victims/hostile.c), also programs unkind to a preload library — a fork
from a signal handler while descriptors churn, closing every descriptor at start, /dev/null
put over stderr, RLIMIT_NOFILE of 16 — must print and leave exactly what they do bare.

The program is /bin/sh running builtins only (one process): it prints to stdout and stderr and
exits with status 3. Each case runs with FDLEAK_OUTPUT pointing into a temporary directory (so
the report itself never lands on stderr) unless the case is about FDLEAK_OUTPUT."""
import argparse
import glob
import os
import subprocess
import sys
import tempfile
from harness import clean_env, load_report

PROGRAM = ["/bin/sh", "-c", "echo out; echo err >&2; exit 3"]

# (variable, [bad values]): garbage, huge, negative, and whatever else the variable's syntax
# invites. An empty value means "unset" for every variable (no line).
NUMERIC = ["x%!", "99999999999999999999", "-5", "1e3x", " 7"]
CASES = [
    ("FDLEAK_FORMAT", ["xml", "JSON", "\x01"]),
    ("FDLEAK_DEPTH", NUMERIC + ["0", "257"]),
    ("FDLEAK_EXITCODE", NUMERIC + ["256"]),
    ("FDLEAK_QUIET", ["yes", "2", "-1"]),
    ("FDLEAK_EXEC", ["always", "-1"]),
    ("FDLEAK_MISUSE", ["warn", "99999999999999999999"]),
    ("FDLEAK_SIGNAL", ["SIGFOO", "KILL", "SEGV", "65", "-1", "99999999999999999999"]),
    ("FDLEAK_INTERVAL", ["x%!", "0", "-1", "1e99", "nan", "inf"]),
    ("FDLEAK_THRESHOLD", NUMERIC + ["0", "101%", "%"]),
    ("FDLEAK_GROWTH", NUMERIC + ["1", "17"]),
    ("FDLEAK_SNAPSHOT", ["x%!", "0", "-1", "1e99", "nan"]),
    ("FDLEAK_CHURN_MIN", NUMERIC + ["1"]),
    ("FDLEAK_CHURN_LIFE", ["x%!", "0", "-1", "3601", "nan"]),
    ("FDLEAK_PYDEPTH", NUMERIC + ["65"]),
    ("FDLEAK_PYORIGIN", ["yes", "2", "-1"]),
    ("FDLEAK_DEFAULT_SUPPRESS", ["no", "2", "-1"]),
    ("FDLEAK_OUTPUT", ["/" + "x" * 2000]),
    ("FDLEAK_METRICS", ["/" + "x" * 2000]),
    ("FDLEAK_SUPPRESS", ["/" + "x" * 2000]),
    ("FDLEAK_CHILDREN", ["/" + "x" * 2000]),
]


def run(env):
    p = subprocess.run(PROGRAM, env=env, capture_output=True, text=True, errors="replace", timeout=30)
    return p.returncode, p.stdout, p.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--hostile")
    a = ap.parse_args()
    # The program is a shell, which FDLEAK_CHILDREN's default leaves silent: every process here.
    base = dict(clean_env(), FDLEAK_CHILDREN="all")
    bare = run(base)
    failures, checked = [], 0
    with tempfile.TemporaryDirectory(prefix="fdleak-badenv-") as tmp:
        good = dict(base, LD_PRELOAD=os.path.abspath(a.lib), FDLEAK_OUTPUT=os.path.join(tmp, "r-%p.txt"))

        def expect(what, env, lines_with):
            """The program as bare; stderr is its own line plus exactly len(lines_with) fdleak
            lines, each naming one of lines_with."""
            nonlocal checked
            checked += 1
            status, out, err = run(env)
            if (status, out) != bare[:2]:
                failures.append("%s: status/stdout %r, bare %r" % (what, (status, out), bare[:2]))
            ours = [l for l in err.splitlines() if l.startswith("fdleak:")]
            theirs = [l for l in err.splitlines() if not l.startswith("fdleak:")]
            if theirs != bare[2].splitlines():
                failures.append("%s: the program's stderr %r, bare %r" % (what, theirs, bare[2].splitlines()))
            if len(ours) != len(lines_with) or not all(any(w in l for l in ours) for w in lines_with):
                failures.append("%s: fdleak said %r, expected %d line(s) naming %r" % (what, ours, len(lines_with), lines_with))

        expect("all defaults", good, [])
        quiet = dict(base, LD_PRELOAD=os.path.abspath(a.lib), FDLEAK_QUIET="1")  # a clean run says nothing
        for var, values in CASES:
            # empty: unset (FDLEAK_OUTPUT unset is stderr: quiet keeps the clean report off it)
            expect("%s=''" % var, dict(quiet if var == "FDLEAK_OUTPUT" else good, **{var: ""}), [])
            for v in values:
                env = dict(quiet if var == "FDLEAK_OUTPUT" else good, **{var: v})
                expect("%s=%r" % (var, v[:40]), env, [var])
        # Reports that cannot be written: one line naming the path and why, the report on
        # stderr instead (nothing lost; here nothing to say); the program unaffected.
        for path, why, reason in [(os.path.join(tmp, "missing", "r.txt"), "a missing directory", "no such directory"),
                                  ("/proc/version", "a directory that takes no new file", "not writable there"),
                                  ("/dev/full", "a full device", "not writable there")]:
            expect("FDLEAK_OUTPUT in %s" % why, dict(quiet, FDLEAK_OUTPUT=path), [path + " (" + reason])
        for mode in ["fork-in-handler", "closefrom", "dup2-stderr", "few-fds"] if a.hostile else []:
            checked += 1
            outs = []
            under = dict(good, FDLEAK_FORMAT="json", FDLEAK_OUTPUT=os.path.join(tmp, "h-%p.%n.json"))
            for tag, env in (("bare", base), ("fdleak", under)):
                extra = [os.path.join(tmp, "%s-%s.out" % (mode, tag))] if mode == "closefrom" else []
                try:
                    p = subprocess.run([a.hostile, mode] + extra, env=env, capture_output=True, text=True, timeout=60)
                except subprocess.TimeoutExpired:
                    failures.append("hostile %s (%s): no end within 60 s" % (mode, tag))
                    break
                written = open(extra[0]).read() if extra and os.path.exists(extra[0]) else None
                outs.append((p.returncode, p.stdout, written))
            if len(outs) == 2 and outs[0] != outs[1]:
                failures.append("hostile %s: bare %r, under fdleak %r" % (mode, outs[0], outs[1]))
        reports = glob.glob(os.path.join(tmp, "h-*.json"))
        for path in reports:  # the hostile runs' reports, their fork children's included
            try:
                load_report(path)
            except ValueError as e:
                failures.append("%s does not parse: %s" % (os.path.basename(path), e))
        if a.hostile and len(reports) < 4:
            failures.append("hostile runs: %d reports, expected one per mode at least" % len(reports))
    for f in failures:
        print("FAIL %s" % f)
    print("%d cases, %d failed" % (checked, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
