#!/usr/bin/python3
"""Node.js under fdleak: libuv closes every descriptor with syscall(SYS_close, fd).

    check_node.py --lib SHIM [--node PATH] [--timeout S] [PROGRAM.js]

PROGRAM (default tests/node/connections.js) connects to a TCP server this checker runs on
127.0.0.1 (its port the program's argument): 35 connections, 30 destroyed, 5 kept, and prints
its ground truth (`FDLEAK_KEPT fd…`, `FDLEAK_OPEN fd…` = /proc/self/fd at its end). It runs
through the launcher (JSON). Checks: exit status 0 in time; one exit report of its pid; its
leaks are exactly the kept descriptors, each a socket connected to the server and open at the
program's end; no misuse error, nothing unattributed; the connecting site(s) (the leaks' `at`)
count 35 created, 30 closed, 5 open; the never-closed finding counts 5 connections. Node's own
descriptors (libuv's loop, signal pipes, /dev/null reserve) are not leaks. Exit 0 when all
hold, 1 otherwise, 77 when node is not installed.
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

from harness import clean_env, finish, load_report, tcp_sink

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOTAL, KEPT = 35, 5


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--node", default=shutil.which("node") or "node")
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("program", nargs="?", default=os.path.join(ROOT, "tests", "node", "connections.js"))
    a = ap.parse_args()
    if not shutil.which(a.node):
        print("SKIP: no node (Debian package nodejs; scripts/bootstrap installs it)")
        return 77
    listener = tcp_sink()
    port = listener.getsockname()[1]
    tmp = tempfile.mkdtemp(prefix="fdleak-node-")
    env = clean_env(python=True)
    env["FDLEAK_LIBRARY"] = os.path.abspath(a.lib)
    cmd = [os.path.join(ROOT, "scripts", "fdleak"), "--format", "json", "-o", os.path.join(tmp, "r-%p.json"),
           "--", a.node, a.program, str(port)]
    failures = []
    try:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=a.timeout)
    except subprocess.TimeoutExpired:
        return finish(["%s did not finish in %ss (deadlock?)" % (a.program, a.timeout)])
    finally:
        listener.close()
    if p.returncode != 0:
        failures.append("status %d; stdout:\n%s\nstderr:\n%s" % (p.returncode, p.stdout, p.stderr))
    kept = [int(x) for l in re.findall(r"^FDLEAK_KEPT(.*)$", p.stdout, re.M) for x in l.split()]
    opened = re.findall(r"^FDLEAK_OPEN(.*)$", p.stdout, re.M)
    at_end = {int(x) for x in opened[-1].split()} if opened else set()
    if len(kept) != KEPT or not opened:
        failures.append("the program printed kept %s (expected %d) and open %s; stdout:\n%s"
                        % (kept, KEPT, sorted(at_end), p.stdout))
    reports = [load_report(f) for f in sorted(glob.glob(os.path.join(tmp, "r-*.json")))]
    exits = [r for r in reports if r["trigger"] == "exit"]
    if len(exits) != 1:
        failures.append("%d exit reports (%s), expected 1" % (len(exits), [(r["pid"], r["trigger"]) for r in reports]))
        return finish(failures)
    rep = exits[0]
    leaks = sorted(l["fd"] for l in rep["leaks"])
    if leaks != sorted(kept):
        failures.append("leaked fds %s, the program kept %s; leaks:\n    %s"
                        % (leaks, sorted(kept), "\n    ".join("%(fd)s %(kind)s %(desc)s" % l for l in rep["leaks"])))
    gone = sorted(fd for fd in set(leaks) | set(kept) if fd not in at_end)
    if gone:
        failures.append("fds %s reported or kept but not open at the program's end %s" % (gone, sorted(at_end)))
    for l in rep["leaks"]:
        if l["kind"] != "socket" or not l["desc"].endswith("-> 127.0.0.1:%d" % port):
            failures.append("leak fd %s is %s %r, expected a socket to 127.0.0.1:%d" % (l["fd"], l["kind"], l["desc"], port))
    for e in rep.get("errors", []):
        failures.append("unexpected error %s of fd %s" % (e["what"], e["fd"]))
    if rep.get("unattributed"):
        failures.append("unattributed descriptors: %s" % rep["unattributed"])
    sites = {s["id"]: s for s in rep["sites"]}
    places = {sites[l["site"]]["at"] for l in rep["leaks"] if l.get("site") in sites}
    counts = [sum(s[k] for s in rep["sites"] if s["at"] in places) for k in ("created", "closed", "open")]
    if counts != [TOTAL, TOTAL - KEPT, KEPT]:
        failures.append("the connecting place(s) %s count created/closed/open %s, expected %s"
                        % (sorted(places), counts, [TOTAL, TOTAL - KEPT, KEPT]))
    titles = [f["title"] for f in rep["findings"] if f.get("pattern") == "never-closed"]
    if not any(t.startswith("%d connections to 127.0.0.1:%d " % (KEPT, port)) for t in titles):
        failures.append("no never-closed finding of %d connections to 127.0.0.1:%d; findings: %s"
                        % (KEPT, port, [f["title"] for f in rep["findings"]]))
    print("node: %d leaks (kept %s), %d suppressed, connecting place(s) %s: %s"
          % (len(leaks), sorted(kept), rep.get("suppressed", 0), sorted(places), counts))
    return finish(failures, tmp)


if __name__ == "__main__":
    sys.exit(main())
