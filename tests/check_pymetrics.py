#!/usr/bin/python3
"""The metrics file of a Python program names its places, not the interpreter.

    check_pymetrics.py --lib SHIM [--interp PYTHON]

Runs python/metrics_two.py (3 files leaked in leak_a, 2 sockets in leak_b) through the launcher
with --metrics and --interval 0.2, and reads the file the interval reports leave: the
fdleak_open_descriptors series must be one per leaking function, its site label the place the
program prints (`file:line in function`), with the counts it kept; and nothing summed under an
interpreter address. Exit 0 when that holds, 1 otherwise, 77 when the interpreter does not run.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

from harness import clean_env, finish, runtime_or_skip

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--interp", default="/usr/bin/python3")
    a = ap.parse_args()
    if runtime_or_skip(a.interp) is None:
        return 77
    tmp = tempfile.mkdtemp(prefix="fdleak-pymetrics-")
    metrics = os.path.join(tmp, "m.prom")
    env = dict(clean_env(python=True), FDLEAK_LIBRARY=os.path.abspath(a.lib), PYTHONDONTWRITEBYTECODE="1")
    prog = os.path.join(ROOT, "tests", "python", "metrics_two.py")
    p = subprocess.run([os.path.join(ROOT, "scripts", "fdleak"), "-q", "-o", os.path.join(tmp, "r-%p.txt"),
                        "--metrics", metrics, "--interval", "0.2", "--", a.interp, prog, "1.0"],
                       env=env, capture_output=True, text=True, timeout=60, cwd=tmp)
    failures = []
    if p.returncode:
        failures.append("status %d; stderr:\n%s" % (p.returncode, p.stderr))
    places = dict(re.findall(r"^FDLEAK_PLACE (\S+) (.+)$", p.stdout, re.M))
    text = open(metrics).read() if os.path.exists(metrics) else ""
    series = {}
    for site, n in re.findall(r'^fdleak_open_descriptors\{site="([^"]*)",kind="[^"]*",peer="[^"]*"\} (\d+)$', text, re.M):
        series[site] = series.get(site, 0) + int(n)
    want = {places.get("leak_a"): 3, places.get("leak_b"): 2}
    got = {s: series.get(s) for s in want}
    if got != want:
        failures.append("open descriptors by site %s, expected %s; the file:\n%s" % (series, want, text))
    mixed = [s for s in series if "+0x" in s]
    if mixed:
        failures.append("series named by an address: %s" % mixed)
    print("metrics: %s" % series)
    return finish(failures, tmp)


if __name__ == "__main__":
    sys.exit(main())
