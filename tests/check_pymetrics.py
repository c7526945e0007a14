#!/usr/bin/python3
"""The metrics file of a Python program names its places, not the interpreter.

    check_pymetrics.py --lib SHIM [--interp PYTHON]

Runs python/metrics_two.py (3 files leaked in leak_a, 2 sockets in leak_b) through the launcher
with --metrics and --interval 0.2, and reads the file the interval reports leave: the
fdleak_open_descriptors series must be one per leaking function, its site label the place the
program prints (`file:line in function`), with the counts it kept; and nothing summed under an
interpreter address. Each series also has a `key` label, 16 hex digits, one per place, and the
same again when the program runs a second time from a copy with two lines added at its top (its
places' lines move; their keys must not). Exit 0 when that holds, 1 otherwise, 77 when the
interpreter does not run.
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
    failures = []
    prog = os.path.join(ROOT, "tests", "python", "metrics_two.py")
    moved = os.path.join(tmp, "moved", "metrics_two.py")
    os.makedirs(os.path.dirname(moved))
    with open(prog) as f, open(moved, "w") as g:
        g.write("# two lines added at the top:\n# the places' lines move by two\n" + f.read())
    first = run(a, prog, os.path.join(tmp, "first"), failures)
    second = run(a, moved, os.path.join(tmp, "second"), failures)
    if first and second and sorted(first.values()) != sorted(second.values()):
        failures.append("the keys changed when the places' lines moved: %s, then %s" % (first, second))
    return finish(failures, tmp)


def run(a, prog, out, failures):
    """Runs prog; checks its metrics file; returns {function: key}."""
    os.makedirs(out)
    metrics = os.path.join(out, "m.prom")
    env = dict(clean_env(python=True), FDLEAK_LIBRARY=os.path.abspath(a.lib), PYTHONDONTWRITEBYTECODE="1")
    p = subprocess.run([os.path.join(ROOT, "scripts", "fdleak"), "-q", "-o", os.path.join(out, "r-%p.txt"),
                        "--metrics", metrics, "--interval", "0.2", "--", a.interp, prog, "1.0"],
                       env=env, capture_output=True, text=True, timeout=60, cwd=out)
    if p.returncode:
        failures.append("status %d; stderr:\n%s" % (p.returncode, p.stderr))
    places = dict(re.findall(r"^FDLEAK_PLACE (\S+) (.+)$", p.stdout, re.M))
    text = open(metrics).read() if os.path.exists(metrics) else ""
    series, keys = {}, {}
    for site, key, n in re.findall(r'^fdleak_open_descriptors\{site="([^"]*)",key="([^"]*)",kind="[^"]*",peer="[^"]*"\} (\d+)$',
                                   text, re.M):
        series[site] = series.get(site, 0) + int(n)
        keys.setdefault(site, set()).add(key)
    want = {places.get("leak_a"): 3, places.get("leak_b"): 2}
    got = {s: series.get(s) for s in want}
    if got != want:
        failures.append("open descriptors by site %s, expected %s; the file:\n%s" % (series, want, text))
    mixed = [s for s in series if "+0x" in s]
    if mixed:
        failures.append("series named by an address: %s" % mixed)
    by_fn = {fn: sorted(keys.get(places.get(fn), ())) for fn in ("leak_a", "leak_b")}
    if any(len(k) != 1 or not re.fullmatch(r"[0-9a-f]{16}", k[0]) for k in by_fn.values()) \
            or len({k[0] for k in by_fn.values() if k}) != 2:
        failures.append("keys %s: expected one 16-hex key per place, the two different" % by_fn)
    print("metrics of %s: %s, keys %s" % (os.path.basename(os.path.dirname(prog)), series, by_fn))
    return {fn: k[0] for fn, k in by_fn.items() if len(k) == 1}



if __name__ == "__main__":
    sys.exit(main())
