#!/usr/bin/python3
"""The settings table (src/settings.def) read two ways must agree: for every setting, the line
the library writes for a bad value (C, config.c) is the one the Python side
(scripts/python/fdleak/settings.py, which the launcher and the docs use) predicts from the
same entry — variable, what is accepted, the default — and each value the Python side accepts
or refuses is accepted or refused by the library alike.

    check_settings.py --lib SHIM --pkg DIR"""
import argparse
import os
import subprocess
import sys
from harness import clean_env, finish

LONG = "/" + "x" * 1100

# Per kind: values the library must refuse, and values it must take silently.
BAD = {"INT": ["x", "-1", "99999999999999999999", " 7"], "SECONDS": ["x", "-1", "nan", "1e99"],
       "CHOICE": ["x", "JSON"], "PATH": [LONG], "PATHS": [LONG],
       "SIGNAL": ["SIGFOO", "KILL", "9", "65", "RTMIN", "IOT"], "THRESHOLD": ["0", "101%", "%", "x"],
       "PATTERN": [LONG]}


def good_values(s):
    k = s.kind
    vals = [s.off_word] if s.off_word else []
    if k in ("INT", "SECONDS"):
        vals += ["%d" % s.lo if k == "INT" else repr(s.lo), "%d" % s.hi]
    elif k == "CHOICE":
        vals += s.choices
    elif k in ("PATH", "PATHS"):
        vals += ["/dev/null"]
    elif k == "PATTERN":
        vals += s.choices + ["python3*", "*/bin/myapp"]
    elif k == "SIGNAL":
        vals += ["USR2", "SIGUSR1", "10", "HUP"]
    elif k == "THRESHOLD":
        vals += ["1", "50%", "%d" % s.hi]
    return vals


def complaints(lib, var, value):
    env = dict(clean_env(), LD_PRELOAD=lib, FDLEAK_QUIET="1", FDLEAK_OUTPUT="/dev/null")
    env[var] = value
    p = subprocess.run(["/bin/true"], env=env, capture_output=True, text=True, timeout=30)
    return [l for l in p.stderr.splitlines() if l.startswith("fdleak:")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--pkg", required=True, help="the directory holding the fdleak package")
    a = ap.parse_args()
    sys.path.insert(0, a.pkg)
    from fdleak import settings as S
    lib = os.path.abspath(a.lib)
    failures, checked = [], 0
    if len(S.SETTINGS) < 19:
        failures.append("settings.def read as %d settings, expected at least 19" % len(S.SETTINGS))
    for s in S.SETTINGS:
        for value in BAD[s.kind]:
            checked += 1
            if s.check(value) is None:
                failures.append("%s=%r: the Python side accepts it" % (s.var, value))
            shown = "(too long)" if s.kind in ("PATH", "PATHS", "PATTERN") else value
            want = ["fdleak: %s='%s' is invalid (accepted: %s); using %s"
                    % (s.var, shown, s.accepted(), s.default_said())]
            got = complaints(lib, s.var, value)
            if got != want:
                failures.append("%s=%r:\n    library: %r\n    python:  %r" % (s.var, value, got, want))
        for value in good_values(s) + ([s.default] if s.default else []):
            checked += 1
            if s.check(value) is not None:
                failures.append("%s=%r: the Python side refuses it (%s)" % (s.var, value, s.check(value)))
            got = complaints(lib, s.var, value)
            if got:
                failures.append("%s=%r: the library refuses it: %r" % (s.var, value, got))
    print("%d values of %d settings checked" % (checked, len(S.SETTINGS)))
    return finish(failures)


if __name__ == "__main__":
    sys.exit(main())
