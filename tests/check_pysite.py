#!/usr/bin/python3
"""One site per leaking Python line, whatever CPython's adaptive interpreter does underneath.

    check_pysite.py --lib SHIM --interp PYTHON [--launcher PATH] [--counts 3,40] [--timeout S]
                    [PROGRAM]

PROGRAM (default tests/python/same_line.py) leaks one socket and one file from two lines, K times
each (K its argument), and prints what it kept (`line <lineno> <kind> <fd>`, then `open <fds>`
from /proc/self/fd). After a few calls CPython specializes the calls on those lines, so the
native frames below them change; a report that keys sites on native frames alone splits one
line into two sites. For each K in --counts it runs the program bare (its own output is the
ground truth) and under fdleak (the launcher, JSON), and checks: exit status 0 both ways; the
report's leaks are exactly the fds the program declared, each at a site whose app frame is the
declared line; for each line exactly ONE site has it as app frame, with `leaks` == K and its
leaks[] the declared fds; and each line's site `key` is the same for every K. Exit 0 when all
hold, 1 otherwise (expected and actual printed), 77 when the interpreter is absent.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

from harness import check_runtime, clean_env, finish, load_report, runtime_or_skip

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_output(text):
    """{(lineno, kind): [fd, ...]} and the fds open at the end."""
    decl, open_fds = {}, None
    for line in text.splitlines():
        w = line.split()
        if w[:1] == ["line"] and len(w) == 4:
            decl.setdefault((int(w[1]), w[2]), []).append(int(w[3]))
        elif w[:1] == ["open"]:
            open_fds = {int(x) for x in w[1:]}
    return decl, open_fds


def marked_lines(program):
    """{kind: lineno} from the program's `# SITE kind` comments (a cross-check of its output)."""
    marks = {}
    with open(program, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            m = re.search(r"#\s*SITE\s+(\w+)", line)
            if m:
                marks[m.group(1)] = n
    return marks


def where(site):
    app = site.get("app")
    return "%s:%s in %s" % (app["file"], app["line"], app["function"]) if app else "(no app frame)"


def site_text(site):
    native = [f.get("function") or "?" for f in site.get("native", [])][:8]
    py = ["%s:%s %s" % (os.path.basename(f["file"]), f["line"], f["function"])
          for f in site.get("python", [])]
    return ("site %s key %s leaks %s at %s\n        native: %s\n        python: %s"
            % (site["id"], site.get("key"), site.get("leaks"), where(site), " < ".join(native),
               " < ".join(py) or "(none)"))


def run_one(a, k, failures, keys):
    what = "K=%d" % k
    env = clean_env(python=True)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    try:
        bare = subprocess.run([a.interp, a.program, str(k)], env=env, capture_output=True,
                              text=True, timeout=a.timeout)
    except subprocess.TimeoutExpired:
        failures.append("%s: the bare run did not finish in %ss" % (what, a.timeout))
        return
    if bare.returncode != 0:
        failures.append("%s: the bare run exited %d; stderr:\n%s" % (what, bare.returncode, bare.stderr))
        return
    bare_decl, _ = parse_output(bare.stdout)
    marks = marked_lines(a.program)
    want_lines = {(marks[kind], kind) for kind in marks}
    if set(bare_decl) != want_lines or any(len(v) != k for v in bare_decl.values()):
        failures.append("%s: the bare run declared %s, expected %d fds on each of %s (the program "
                        "itself is wrong)" % (what, {x: len(v) for x, v in bare_decl.items()}, k,
                                              sorted(want_lines)))
        return

    with tempfile.TemporaryDirectory(prefix="fdleak-pysite-") as tmp:
        env = dict(env, FDLEAK_LIBRARY=os.path.abspath(a.lib))
        cmd = [a.launcher, "--format", "json", "-o", os.path.join(tmp, "r-%p.json"), "--",
               a.interp, a.program, str(k)]
        try:
            p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=a.timeout)
        except subprocess.TimeoutExpired:
            failures.append("%s: the run under fdleak did not finish in %ss" % (what, a.timeout))
            return
        if p.returncode != 0:
            failures.append("%s: exit status %d under fdleak (0 bare); stderr:\n%s"
                            % (what, p.returncode, p.stderr))
        warnings = [l for l in p.stderr.splitlines() if l.startswith("fdleak:")]
        decl, open_fds = parse_output(p.stdout)
        files = [f for f in os.listdir(tmp) if f.endswith(".json")]
        if len(files) != 1:
            failures.append("%s: %d report files (%s), expected 1" % (what, len(files), files))
            return
        try:
            rep = load_report(os.path.join(tmp, files[0]))
        except ValueError as e:
            failures.append("%s: the report does not parse: %s" % (what, e))
            return
    check_runtime(rep, a.runtime, what, failures)
    if set(decl) != want_lines or any(len(v) != k for v in decl.values()):
        failures.append("%s: under fdleak the program declared %s, expected %d fds on each of %s"
                        % (what, {x: len(v) for x, v in decl.items()}, k, sorted(want_lines)))
        return
    declared = {fd: key for key, fds in decl.items() for fd in fds}
    missing_open = sorted(set(declared) - (open_fds or set()))
    if missing_open:
        failures.append("%s: declared fds %s not in /proc/self/fd at the end (the program is wrong)"
                        % (what, missing_open))
    sites = {s["id"]: s for s in rep["sites"]}
    leaked = {l["fd"]: l for l in rep["leaks"]}
    if sorted(leaked) != sorted(declared):
        failures.append("%s: leaked fds %s, expected exactly %s (missing %s, extra %s)"
                        % (what, sorted(leaked), sorted(declared),
                           sorted(set(declared) - set(leaked)), sorted(set(leaked) - set(declared))))
    prog = os.path.realpath(a.program)
    if not any(s.get("app") for s in rep["sites"]):
        failures.append("%s: no site has Python frames; fdleak said: %s"
                        % (what, " | ".join(warnings) or "nothing"))
        return
    for (lineno, kind), fds in sorted(decl.items()):
        at_line = [s for s in rep["sites"] if s.get("app")
                   and os.path.realpath(s["app"]["file"]) == prog and s["app"]["line"] == lineno]
        label = "%s: line %d (%s)" % (what, lineno, kind)
        if len(at_line) != 1:
            failures.append("%s: %d sites have it as app frame, expected exactly 1:\n      %s"
                            % (label, len(at_line), "\n      ".join(site_text(s) for s in at_line)))
        for s in at_line:
            keys.setdefault((lineno, kind), {}).setdefault(s.get("key"), []).append(k)
        if len(at_line) == 1:
            s = at_line[0]
            if s.get("leaks") != k:
                failures.append("%s: its site's leaks is %s, expected %d" % (label, s.get("leaks"), k))
        site_fds = sorted(fd for fd, l in leaked.items()
                          if l.get("site") in {s["id"] for s in at_line})
        if site_fds != sorted(fds):
            failures.append("%s: leaks[] at its site(s): %s, expected the declared %s"
                            % (label, site_fds, sorted(fds)))
    for fd, l in sorted(leaked.items()):
        s = sites.get(l.get("site"))
        if fd in declared:
            lineno, kind = declared[fd]
            if not s or not s.get("app") or s["app"]["line"] != lineno \
                    or os.path.realpath(s["app"]["file"]) != prog:
                failures.append("%s: fd %d (declared at line %d) is at %s, expected line %d"
                                % (what, fd, lineno, where(s) if s else "no site", lineno))
        else:
            failures.append("%s: fd %d (%s %s) leaked but not declared: %s"
                            % (what, fd, l.get("kind"), l.get("desc"),
                               site_text(s) if s else "no site"))
    print("%s: %d leaks, %d sites with leaks" % (what, len(leaked),
                                                  sum(1 for s in rep["sites"] if s.get("leaks"))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--interp", required=True)
    ap.add_argument("--launcher", default=os.path.join(ROOT, "scripts", "fdleak"))
    ap.add_argument("--counts", default="3,40")
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("program", nargs="?", default=os.path.join(ROOT, "tests", "python", "same_line.py"))
    a = ap.parse_args()
    found = runtime_or_skip(a.interp)
    if not found:
        return 77
    a.runtime, version = found
    print("%s (CPython %s), %s" % (a.interp, version, os.path.basename(a.program)))
    failures, keys = [], {}
    for k in [int(x) for x in a.counts.split(",")]:
        run_one(a, k, failures, keys)
    for (lineno, kind), by_key in sorted(keys.items()):
        if len(by_key) != 1:
            failures.append("line %d (%s): site keys differ between runs: %s (expected one key "
                            "for every K)" % (lineno, kind,
                                               ", ".join("%s in K=%s" % (key, ",".join(map(str, ks)))
                                                         for key, ks in by_key.items())))
    return finish(failures)


if __name__ == "__main__":
    sys.exit(main())
