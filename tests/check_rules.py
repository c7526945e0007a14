#!/usr/bin/python3
"""The shipped Prometheus alerting rules: valid, unit-tested, and about series fdleak writes.

    check_rules.py --lib SHIM --victim victim-live_growth

promtool check rules contrib/prometheus/fdleak-rules.yml and promtool test rules
tests/prometheus/fdleak-rules.test.yml (alerts firing exactly when they should, with their
texts); then a real metrics file — victim-live_growth growing one site under --interval — must
hold every series the rules read (fdleak_exhaustion_seconds, fdleak_place_growth_per_hour with a
site label, fdleak_process_open_descriptors, fdleak_limit), and the forecast must agree with
the file's own numbers. Exit 0 when all hold, 1 otherwise, 77 without promtool (Debian package
prometheus; scripts/bootstrap installs it).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

from harness import clean_env, finish

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RULES = os.path.join(ROOT, "contrib", "prometheus", "fdleak-rules.yml")
TESTS = os.path.join(ROOT, "tests", "prometheus", "fdleak-rules.test.yml")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--victim", required=True)
    a = ap.parse_args()
    tool = shutil.which("promtool")
    if not tool:
        print("SKIP: no promtool (Debian package prometheus)")
        return 77
    failures = []
    for args, what in (([tool, "check", "rules", RULES], "check rules"),
                       ([tool, "test", "rules", os.path.basename(TESTS)], "test rules")):
        p = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=os.path.dirname(TESTS))
        print("promtool %s: %s" % (what, "ok" if p.returncode == 0 else "FAILED"))
        if p.returncode:
            failures.append("promtool %s:\n%s%s" % (what, p.stdout, p.stderr))
    with open(RULES) as f:
        used = set(re.findall(r"\b(fdleak_[a-z_]+)\b", "".join(l for l in f if "expr:" in l)))
    tmp = tempfile.mkdtemp(prefix="fdleak-rules-")
    metrics = os.path.join(tmp, "m.prom")
    env = dict(clean_env(), LD_PRELOAD=os.path.abspath(a.lib), FDLEAK_METRICS=metrics, FDLEAK_INTERVAL="0.1",
               FDLEAK_OUTPUT=os.path.join(tmp, "r-%p-%n.txt"), FDLEAK_TEST_DIR=tmp)
    # grow_one opens one more every 60 ms, 30 times; the victim exits right after (no flat hold)
    subprocess.run([a.victim, "60", "30", "0", "3"], env=env, capture_output=True, text=True, timeout=60)
    text = open(metrics).read() if os.path.exists(metrics) else ""
    samples = {}
    for name, labels, value in re.findall(r"^(fdleak_[a-z_]+)(\{[^}]*\})? (\S+)$", text, re.M):
        samples.setdefault(name, []).append((labels, float(value)))
    missing = sorted(n for n in used if n not in samples)
    if missing:
        failures.append("the rules read %s, which the metrics file does not have:\n%s" % (missing, text))
    places = [l for l, _ in samples.get("fdleak_place_growth_per_hour", [])]
    if not any('site="grow_one' in l for l in places):
        failures.append("fdleak_place_growth_per_hour names no grow_one place: %s" % places)
    if not missing:
        limit = samples["fdleak_limit"][0][1]
        open_now = samples["fdleak_process_open_descriptors"][0][1]
        rate = samples["fdleak_growth_per_hour"][0][1]
        eta = samples["fdleak_exhaustion_seconds"][0][1]
        want = (limit - open_now) * 3600 / rate
        if abs(eta - want) > max(1, want * 0.01):
            failures.append("fdleak_exhaustion_seconds %s, expected (limit %s - open %s) * 3600 / rate %s = %s"
                            % (eta, limit, open_now, rate, want))
    print("metrics: %s" % ", ".join("%s=%s" % (n, v[0][1]) for n, v in sorted(samples.items()) if n in used))
    return finish(failures, tmp)


if __name__ == "__main__":
    sys.exit(main())
