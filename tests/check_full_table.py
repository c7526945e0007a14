#!/usr/bin/python3
"""Reports that survive the full table (issue 17): a program that runs out of descriptors gets
its emfile and exit reports at their -o paths, every leak named by the function (C) or the line
of the program (Python) that made it — with no descriptor free for fdleak.

    check_full_table.py --lib SHIM (--victim EXE | --interp PYTHON)

The program (tests/victims/full_table.c, or tests/python/full_table.py on PYTHON) leaks files
and sockets from two functions until EMFILE, retries as an accept loop would, and prints what it
keeps (FDLEAK_KEPT fd function) and /proc/self/fd at its end. It runs through the launcher
(JSON, -o), under each limit case:
  hard64    soft = hard = 64 from the start (docker --ulimit nofile=64:64)
  soft64    soft 64, hard as this machine's (fdleak may lift the soft limit; it need not)
  lowered   the program lowers its own limit to 64:hard at start (the reserve stays above it,
            where a bare run's slots are not taken, and fdleak lifts the soft limit for a report)
  outside   (C) the same from outside (prlimit) while the program waits
For each: exit status 0; no "cannot write" on stderr; exactly one emfile and one exit report of
the program's pid, each listing exactly the kept descriptors (all open at its end), each leak's
site named by the function that made it (C: `leak_file (full_table.c:N) …`; Python: the place the
program prints), argv as run and limit 64. Exit 0 when all hold, 1 otherwise, 77 when the
interpreter does not run."""
import argparse
import glob
import os
import re
import resource
import subprocess
import sys
import tempfile

from harness import clean_env, finish, load_report, runtime_or_skip

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HARD = resource.getrlimit(resource.RLIMIT_NOFILE)[1]


def limit_at_start(soft, hard):
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def run_case(name, cmd, tmp, env, failures, places, preexec=None, outside=False):
    out = os.path.join(tmp, name)
    os.mkdir(out)
    full = [os.path.join(ROOT, "scripts", "fdleak"), "--format", "json", "-o", os.path.join(out, "r-%p.json"), "--"] + cmd
    p = subprocess.Popen(full, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, preexec_fn=preexec, cwd=tmp)
    try:
        if outside:
            first = p.stdout.readline()
            m = re.match(r"FDLEAK_PID (\d+)", first)
            if not m:
                p.kill()
                failures.append("%s: the program said %r, not its pid" % (name, first))
                return
            resource.prlimit(int(m.group(1)), resource.RLIMIT_NOFILE, (64, HARD))
            p.stdin.write("go\n")
            p.stdin.flush()
        stdout, stderr = p.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        failures.append("%s: the program did not finish in 120 s (deadlock?)" % name)
        return
    if p.returncode:
        failures.append("%s: status %d; stderr:\n%s" % (name, p.returncode, stderr[-3000:]))
        return
    if "cannot write" in stderr:
        failures.append("%s: a report missed its -o path: %s" % (name, stderr[:600]))
    pid = int(re.findall(r"^FDLEAK_PID (\d+)$", stdout, re.M)[-1]) if "FDLEAK_PID" in stdout else None
    kept = {int(fd): fn for fd, fn in re.findall(r"^FDLEAK_KEPT (\d+) (\w+)$", stdout, re.M)}
    opened = re.findall(r"^FDLEAK_OPEN(.*)$", stdout, re.M)
    at_end = {int(x) for x in opened[-1].split()} if opened else set()
    if len(kept) < 40 or not kept.keys() <= at_end:
        failures.append("%s: the program kept %d descriptors, %s not open at its end; stdout:\n%s"
                        % (name, len(kept), sorted(set(kept) - at_end), stdout[-2000:]))
        return
    reports = {}
    for f in glob.glob(os.path.join(out, "r-*.json")):
        rep = load_report(f)
        if rep["pid"] == pid:
            reports.setdefault(rep["trigger"], []).append(rep)
    for trigger in ("emfile", "exit"):
        reps = reports.get(trigger, [])
        if len(reps) != 1:
            failures.append("%s: %d %s reports of pid %s at the -o path (triggers seen: %s)"
                            % (name, len(reps), trigger, pid, sorted(reports)))
            continue
        check_report(name, trigger, reps[0], kept, cmd, places, failures)


def check_report(name, trigger, rep, kept, cmd, places, failures):
    what = "%s: %s report" % (name, trigger)
    if rep["argv"] != cmd:
        failures.append("%s: argv %s, expected %s" % (what, rep["argv"], cmd))
    if rep["limit"] != 64:
        failures.append("%s: limit %s, expected 64 (the program's soft limit)" % (what, rep["limit"]))
    leaks = {l["fd"]: l for l in rep["leaks"]}
    if set(leaks) != set(kept):
        failures.append("%s: leaks %s, the program kept %s" % (what, sorted(leaks), sorted(kept)))
    sites = {s["id"]: s for s in rep["sites"]}
    wrong = []
    for fd, fn in sorted(kept.items()):
        l = leaks.get(fd)
        at = sites.get(l.get("site"), {}).get("at") if l else None
        want = places.get(fn)
        ok = at == want if want else bool(at and re.match(r"%s \(full_table\.c:\d+\)" % fn, at))
        if l and not ok:
            wrong.append("fd %d made by %s: site %r%s" % (fd, fn, at, ", expected %r" % want if want else ""))
    if wrong:
        failures.append("%s: %d leaks not named by the function that made them:\n    %s"
                        % (what, len(wrong), "\n    ".join(wrong[:8])))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--victim")
    ap.add_argument("--interp")
    a = ap.parse_args()
    env = dict(clean_env(python=True), FDLEAK_LIBRARY=os.path.abspath(a.lib), PYTHONDONTWRITEBYTECODE="1")
    tmp = tempfile.mkdtemp(prefix="fdleak-full-")
    failures = []
    if a.interp:
        if runtime_or_skip(a.interp) is None:
            return 77
        prog = os.path.join(ROOT, "tests", "python", "full_table.py")
        cmd = [a.interp, prog]
        places = {}
        with open(prog, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                m = re.match(r"def (leak_\w+)\(", line)
                if m:
                    places[m.group(1)] = "%s:%d in %s" % (prog, n + 1, m.group(1))
        cases = [("hard64", cmd, limit_at_start(64, 64), False),
                 ("soft64", cmd, limit_at_start(64, HARD), False),
                 ("lowered", cmd + ["64", str(HARD)], None, False)]
    else:
        places = {}
        cmd = [os.path.abspath(a.victim)]
        cases = [("hard64", cmd, limit_at_start(64, 64), False),
                 ("soft64", cmd, limit_at_start(64, HARD), False),
                 ("lowered", cmd + ["64", str(HARD)], None, False),
                 ("outside", cmd + ["wait"], None, True)]
    for name, c, preexec, outside in cases:
        before = len(failures)
        run_case(name, c, tmp, env, failures, places, preexec, outside)
        print("%s: %s" % (name, "ok" if len(failures) == before else "FAILED"))
    return finish(failures, tmp)


if __name__ == "__main__":
    sys.exit(main())
