#!/usr/bin/python3
"""Findings' titles count what they name, and name only the sites that hold it.

    check_titles.py --lib SHIM [--interp PYTHON] [PROGRAM.py]

PROGRAM (default tests/python/titles.py) connects to this checker's server on 127.0.0.1 and
prints its ground truth: its places (FDLEAK_PLACE name label), the descriptors it keeps
(FDLEAK_KEPT) and /proc/self/fd at its end (FDLEAK_OPEN). It runs twice (3 and 30 of each kind
at its mixed place), each time through the launcher with JSON and again with text (the
library's writer), and its JSON is also rendered by `fdleak report` (the Python mirror).
Checks: the leaks are exactly the kept descriptors; duplicate-clients is titled "40
connections to PEER held from 2 places: 20 at A and 20 at B"; the mixed place's never-closed
counts "N files and N sockets"; two_paths' finding holds one site of its two; in JSON every
finding site's holders are its ids that list descriptors, the others list none; both text
writers list exactly the holders on each finding's sites line, then "and K more site(s)".
Exit 0 when all hold, 1 otherwise.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

from harness import clean_env, finish, load_report, tcp_sink

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAUNCHER = os.path.join(ROOT, "scripts", "fdleak")


def sites_line(ids_holders):
    """The text writers' sites line for a finding: its holders, then the rest counted."""
    shown = [i for _, holders in ids_holders for i in holders]
    more = sum(len(ids) for ids, _ in ids_holders) - len(shown)
    line = "fdleak:    site%s %s" % ("s" if len(shown) > 1 else "", " ".join(str(i) for i in shown))
    if more:
        line += " and %d more site%s" % (more, "" if more == 1 else "s")
    return line + ";"


def check_run(a, port, mixed, tmp, failures):
    env = clean_env(python=True)
    env.update(FDLEAK_LIBRARY=os.path.abspath(a.lib), PYTHONDONTWRITEBYTECODE="1")
    what = "mixed=%d" % mixed
    js = os.path.join(tmp, "m%d.json" % mixed)
    cmd = [a.interp, os.path.abspath(a.program), str(port), str(mixed)]
    # run from tmp, not from a parent of the program: the report names its file as Python does
    p = subprocess.run([LAUNCHER, "--format", "json", "-o", js, "--"] + cmd, env=env, capture_output=True,
                       text=True, timeout=a.timeout, cwd=tmp)
    if p.returncode or not os.path.exists(js):
        failures.append("%s: status %d, no report; stderr:\n%s" % (what, p.returncode, p.stderr))
        return
    rep = load_report(js)
    places = dict(re.findall(r"^FDLEAK_PLACE (\S+) (.+)$", p.stdout, re.M))
    kept = sorted(int(x) for l in re.findall(r"^FDLEAK_KEPT(.*)$", p.stdout, re.M) for x in l.split())
    opened = re.findall(r"^FDLEAK_OPEN(.*)$", p.stdout, re.M)
    at_end = {int(x) for x in opened[-1].split()} if opened else set()
    leaks = sorted(l["fd"] for l in rep["leaks"])
    if leaks != kept:
        failures.append("%s: leaked fds %s, the program kept %s" % (what, leaks, kept))
    if set(kept) - at_end:
        failures.append("%s: kept fds %s not open at its end" % (what, sorted(set(kept) - at_end)))
    by_place = {}
    for f in rep["findings"]:
        for s in f["sites"]:
            by_place[s["at"]] = f
    peer = "127.0.0.1:%d" % port
    dup = by_place.get(places.get("a"))
    want = ["40 connections to %s held from 2 places: 20 at %s and 20 at %s" % (peer, places.get(x), places.get(y))
            for x, y in (("a", "b"), ("b", "a"))]
    if not dup or dup["pattern"] != "duplicate-clients" or dup["title"] not in want:
        failures.append("%s: the duplicate-clients title is %r, expected %r" % (what, dup and dup["title"], want[0]))
    m = by_place.get(places.get("mixed"))
    kinds = ["%d files and %d sockets" % (mixed, mixed), "%d sockets and %d files" % (mixed, mixed)]
    if (not m or m["pattern"] != "never-closed" or not any(m["title"].startswith(k + " (e.g. ") for k in kinds)
            or " opened at %s and never closed" % places.get("mixed") not in m["title"]):
        failures.append("%s: the mixed place's title is %r, expected it to start %r" % (what, m and m["title"], kinds[0]))
    t = by_place.get(places.get("two_paths"))
    if not t or not t["title"].startswith("3 files (e.g. ") or [(len(s["ids"]), len(s["holders"])) for s in t["sites"]] != [(2, 1)]:
        failures.append("%s: two_paths' finding: %r, sites %s; expected 3 files from one of its two sites"
                        % (what, t and t["title"], t and t["sites"]))
    listed = {s["id"]: s["leaks"] for s in rep["sites"]}
    for f in rep["findings"]:
        for s in f["sites"]:
            if not set(s["holders"]) <= set(s["ids"]) or not s["holders"]:
                failures.append("%s: %s at %s: holders %s, ids %s" % (what, f["pattern"], s["at"], s["holders"], s["ids"]))
            wrong = [i for i in s["ids"] if (listed.get(i, 0) > 0) != (i in s["holders"])]
            if wrong:
                failures.append("%s: %s at %s: sites %s hold descriptors but are not holders, or the reverse "
                                "(holders %s, leaks per id %s)" % (what, f["pattern"], s["at"], wrong, s["holders"],
                                                                   {i: listed.get(i) for i in s["ids"]}))
    expected = [("fdleak: finding: %s: %s" % (f["pattern"], f["title"]),
                 sites_line([(s["ids"], s["holders"]) for s in f["sites"]])) for f in rep["findings"]]
    # The library's own text writer (same program, same numbers of sites) and the Python mirror.
    txt = os.path.join(tmp, "m%d.txt" % mixed)
    p2 = subprocess.run([LAUNCHER, "-o", txt, "--"] + cmd, env=env, capture_output=True, text=True,
                        timeout=a.timeout, cwd=tmp)
    mirror = subprocess.run([LAUNCHER, "report", js], env=env, capture_output=True, text=True, timeout=a.timeout,
                            cwd=tmp)
    texts = {"the library's text report": open(txt).read() if p2.returncode == 0 and os.path.exists(txt) else "",
             "fdleak report (the Python mirror)": mirror.stdout}
    for name, text in texts.items():
        lines = text.splitlines()
        finding_lines = [(l, lines[i + 1] if i + 1 < len(lines) else "") for i, l in enumerate(lines)
                         if l.startswith("fdleak: finding: ")]
        if name.startswith("the library"):
            # another run: its ids and ages differ; compare the shape (titles less ages, counts)
            norm = lambda s: re.sub(r"\d+(\.\d+)? ?(µs|ms|s) at exit|socket:\[\d+\]|\d+", "#", s)
            got = sorted((norm(t), norm(s.split(";")[0])) for t, s in finding_lines)
            exp = sorted((norm(t), norm(s.split(";")[0])) for t, s in expected)
        else:
            got = sorted((t, s.split(";")[0] + ";") for t, s in finding_lines)
            exp = sorted(expected)
        if got != exp:
            failures.append("%s, %s: finding lines\n      %s\n    expected\n      %s"
                            % (what, name, "\n      ".join(map(str, got)), "\n      ".join(map(str, exp))))
    print("%s: %s" % (what, "; ".join(f["title"] for f in rep["findings"])))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--interp", default="/usr/bin/python3")
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("program", nargs="?", default=os.path.join(ROOT, "tests", "python", "titles.py"))
    a = ap.parse_args()
    listener = tcp_sink()
    tmp = tempfile.mkdtemp(prefix="fdleak-titles-")
    failures = []
    try:
        for mixed in (3, 30):
            check_run(a, listener.getsockname()[1], mixed, tmp, failures)
    finally:
        listener.close()
    return finish(failures, tmp)


if __name__ == "__main__":
    sys.exit(main())
