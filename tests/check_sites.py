#!/usr/bin/python3
"""Live reports list what matters, not every site a service ever used.

    check_sites.py --lib SHIM --victim victim-live_sites

The victim makes 300 idle sites (distinct stacks that opened and closed a descriptor) and one
that keeps 3 files, then reports on SIGUSR1 and exits. The signal report must list exactly the
site that holds the kept descriptors and count the idle ones in sites_omitted (at least 300);
with FDLEAK_SITES=all it lists them all and omits none; the exit report lists them all
either way. Exit 0 when all hold, 1 otherwise.
"""
import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile

from harness import clean_env, finish, keep_or_remove, load_report


def run(a, tmp, extra):
    env = dict(clean_env(), LD_PRELOAD=os.path.abspath(a.lib), FDLEAK_FORMAT="json",
               FDLEAK_OUTPUT=os.path.join(tmp, "r-%p-%n.json"), **extra)
    p = subprocess.run([a.victim], env=env, capture_output=True, text=True, timeout=60)
    idle = int(re.search(r"^idle (\d+)$", p.stdout, re.M).group(1))
    kept = sorted(int(x) for x in re.search(r"^kept(.*)$", p.stdout, re.M).group(1).split())
    reps = {r["trigger"]: r for r in (load_report(f) for f in glob.glob(os.path.join(tmp, "r-*.json")))}
    return p, idle, kept, reps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--victim", required=True)
    a = ap.parse_args()
    failures = []
    for extra in ({}, {"FDLEAK_SITES": "all"}):
        tmp = tempfile.mkdtemp(prefix="fdleak-sites-")
        what = "FDLEAK_SITES=%s" % extra.get("FDLEAK_SITES", "(default)")
        p, idle, kept, reps = run(a, tmp, extra)
        if p.returncode or set(reps) != {"signal", "exit"}:
            failures.append("%s: status %d, reports %s; stderr:\n%s" % (what, p.returncode, sorted(reps), p.stderr))
            continue
        sig, ext = reps["signal"], reps["exit"]
        if sorted(l["fd"] for l in sig["leaks"]) != kept:
            failures.append("%s: the signal report's leaks %s, kept %s" % (what, [l["fd"] for l in sig["leaks"]], kept))
        holders = {l["site"] for l in sig["leaks"]}
        listed = {s["id"] for s in sig["sites"]}
        if extra:
            if len(listed) < idle + 1 or sig.get("sites_omitted"):
                failures.append("%s: the signal report lists %d sites, omits %r; expected all (%d or more)"
                                % (what, len(listed), sig.get("sites_omitted"), idle + 1))
        elif listed != holders or sig.get("sites_omitted", 0) < idle:
            failures.append("%s: the signal report lists sites %s (holders %s) and omits %r; expected the "
                            "holders only and %d or more omitted" % (what, sorted(listed), sorted(holders),
                                                                      sig.get("sites_omitted"), idle))
        if len(ext["sites"]) < idle + 1 or ext.get("sites_omitted"):
            failures.append("%s: the exit report lists %d sites, omits %r; expected all"
                            % (what, len(ext["sites"]), ext.get("sites_omitted")))
        print("%s: signal report lists %d sites, omits %s; exit report lists %d; %d bytes against %d"
              % (what, len(listed), sig.get("sites_omitted", 0), len(ext["sites"]),
                 os.path.getsize(glob.glob(os.path.join(tmp, "r-*-1.json"))[0]),
                 os.path.getsize(glob.glob(os.path.join(tmp, "r-*-2.json"))[0])))
        keep_or_remove(tmp, failures)
    return finish(failures)


if __name__ == "__main__":
    sys.exit(main())
