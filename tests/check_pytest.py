#!/usr/bin/python3
"""fdleak's pytest plugin on the sample suite (tests/sample), through the launcher.

    check_pytest.py --lib SHIM [--interp PYTHON] [--pythonpath DIR] [--xdist N] [--fail] [--rerun]
    check_pytest.py --lib SHIM [--interp PYTHON] [--pythonpath DIR] --strict|--asyncio|--late

Runs `fdleak -- PYTHON -m pytest tests/sample --fdleak-json OUT` (with -n N under xdist;
PYTHON defaults to /usr/bin/python3; another interpreter gets Debian's pytest, which is pure
Python, through --pythonpath /usr/lib/python3/dist-packages) and
checks the plugin's results against the suite's markers — `# LEAK [xN] test=NAME` or
`# LEAK fixture=NAME` on the line each leak's app frame must point at: every leak charged to
the named test or fixture, as many as declared, nothing charged to any other test, and the
terminal summary names each leaking test. Under xdist a module fixture is set up once per
worker that needs it, so its count is 1 or more. --fail: with --fdleak-fail the leaking tests
error at teardown, and so does the teardown that ends a leaking fixture (pytest exits 1).
--rerun: the suite's files given twice with --keep-duplicates, so each test runs twice under one
node id: each run's leaks are kept apart (`NODEID` and `NODEID [run 2]`, the same counts), in the
JSON and the summary. Always: the JUnit XML (--junitxml) has one short `fdleak` property on each
leaking test (its count and places, under 400 characters) and no fdleak property on any other.
--strict: tests/sample_strict (filterwarnings = error; a socket left in a reference cycle, one
held by a failure's traceback) run bare and under fdleak: every test's outcome and pytest's exit
status the same, nothing charged to any test (the plugin's own collection closes both).
--asyncio: tests/sample_async under pytest-asyncio (its placeholder loop open between tests),
anyio's plugin and pytest-aiohttp's aiohttp_client: exactly the tests that leak a loop of their
own are charged, with their marked lines' counts, and the framework's descriptors are counted as
not charged (skipped where pytest_asyncio, anyio or pytest_aiohttp does not import).
--late: tests/sample_late (a module-scoped server thread that closes its side of each connection
50 ms after the client; a library that logs a caught connection error, its socket held by pytest's
log capture; a fixture value pytest drops after the test's report) run bare and under fdleak: the
same outcomes; only the LEAK-marked test charged; each LATE-marked descriptor closed late (with
--xdist N too: a worker's session end reaches the controller through xdist's workeroutput).
Prints expected and actual on failure.
Exit 77 (skipped, the reason printed) when PYTHON does not run or cannot import pytest (and
xdist) with that PYTHONPATH — e.g. Debian's pytest on 3.10 needs the exceptiongroup backport;
for /usr/bin/python3 itself that is a failure."""
import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
from harness import finish, interp_version, skip_or_fail_missing

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE = os.path.join(ROOT, "tests", "sample")
MARK = re.compile(r"#\s*LEAK\b(.*)$")


def markers():
    marks = {}
    for path in sorted(glob.glob(os.path.join(SAMPLE, "*.py"))):
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                m = MARK.search(line)
                if not m:
                    continue
                spec = {"count": 1}
                for tok in m.group(1).split():
                    if re.fullmatch(r"x\d+", tok):
                        spec["count"] = int(tok[1:])
                    elif tok.startswith(("test=", "fixture=")):
                        k, v = tok.split("=", 1)
                        spec[k] = v
                marks[(os.path.realpath(path), n)] = spec
    return marks


def pytest_env(a):
    """pytest's environment: this one without fdleak's settings, pytest's plugin list, a preload
    or a PYTHONPATH (the launcher sets them), with the library to test and --pythonpath."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FDLEAK_", "PYTEST_")) and k not in ("LD_PRELOAD", "PYTHONPATH")}
    env["FDLEAK_LIBRARY"] = os.path.abspath(a.lib)
    if a.pythonpath:
        env["PYTHONPATH"] = a.pythonpath
    return env


def outcomes(path):
    """{test name: passed|failed|error|skipped} from a JUnit XML file."""
    import xml.etree.ElementTree as ET
    out = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        kinds = [c.tag for c in case if c.tag in ("failure", "error", "skipped")]
        out[case.get("name")] = "error" if "error" in kinds else kinds[0] if kinds else "passed"
    return out


def bare_and_fdleak(a, sample, tmp):
    """The sample suite run bare and under fdleak (its results in tmp/fdleak.json): ({tool: (exit
    status, {test: outcome})}, the fdleak run), or a failure's text when a run wrote no JUnit XML."""
    got = {}
    for tool in ("bare", "fdleak"):
        junit = os.path.join(tmp, tool + ".xml")
        cmd = [a.interp, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--rootdir", sample, sample,
               "--junitxml", junit] + (["-n", str(a.xdist), "--dist", "loadfile"] if a.xdist else [])  # a file's tests in one worker
        if tool == "fdleak":
            cmd = [os.path.join(ROOT, "scripts", "fdleak"), "-q", "-o", os.path.join(tmp, "exit-%p.txt"), "--"] + \
                  cmd + ["--fdleak-json", os.path.join(tmp, "fdleak.json")]
        p = subprocess.run(cmd, env=pytest_env(a), cwd=tmp, capture_output=True, text=True, timeout=120)
        try:
            got[tool] = (p.returncode, outcomes(junit))
        except (OSError, ValueError) as e:
            return "%s: no JUnit XML (%s); stdout:\n%s\nstderr:\n%s" % (tool, e, p.stdout, p.stderr), None
    return got, p


def strict(a):
    """The strict sample bare and under fdleak: the same outcomes, no leak charged."""
    sample = os.path.join(ROOT, "tests", "sample_strict")
    failures = []
    with tempfile.TemporaryDirectory(prefix="fdleak-pytest-strict-") as tmp:
        got, p = bare_and_fdleak(a, sample, tmp)
        if p is None:
            return finish([got])
        with open(os.path.join(tmp, "fdleak.json"), encoding="utf-8") as f:
            res = json.load(f)
        if res["tests"] or res["fixtures"]:
            failures.append("leaks charged: %s" % {k: [r["headline"] for r in v] for k, v in res["tests"].items()})
        if got["bare"] != got["fdleak"]:
            failures.append("outcomes bare %s, under fdleak %s (exit status, per test)" % (got["bare"], got["fdleak"]))
        print("strict sample: bare %s, fdleak %s" % (got["bare"], got["fdleak"]))
    return finish(failures)


def asyncio_sample(a):
    """tests/sample_async under fdleak: only the test's own loop is charged."""
    sample = os.path.join(ROOT, "tests", "sample_async")
    marks = {}  # (file, line) -> count
    for path in sorted(glob.glob(os.path.join(sample, "test_*.py"))):
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                m = MARK.search(line)
                if m:
                    c = re.search(r"x(\d+)", m.group(1))
                    marks[(os.path.realpath(path), n)] = int(c.group(1)) if c else 1
    failures = []
    with tempfile.TemporaryDirectory(prefix="fdleak-pytest-asyncio-") as tmp:
        env = pytest_env(a)
        out = os.path.join(tmp, "results.json")
        cmd = [os.path.join(ROOT, "scripts", "fdleak"), "-q", "-o", os.path.join(tmp, "exit-%p.txt"), "--",
               a.interp, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--rootdir", sample, sample,
               "--fdleak-json", out]
        p = subprocess.run(cmd, env=env, cwd=tmp, capture_output=True, text=True, timeout=120)
        if p.returncode:
            failures.append("pytest exited %d" % p.returncode)
        try:
            with open(out, encoding="utf-8") as f:
                res = json.load(f)
        except (OSError, ValueError) as e:
            return finish(["no results file: %s; stdout:\n%s\nstderr:\n%s" % (e, p.stdout, p.stderr)])
        got = {}
        for nodeid, recs in res["tests"].items():
            for r in recs:
                app = r.get("app") or {}
                where = (os.path.realpath(app.get("file", "?")), app.get("line"))
                if where not in marks:
                    failures.append("%s charged with fd %s (%s) at %s, not a marked line" % (nodeid, r["fd"], r["kind"], r["headline"]))
                else:
                    got[where] = got.get(where, 0) + 1
        if got != marks:
            failures.append("leaks per marked line %s, expected %s" % (got, marks))
        if res.get("fixtures"):
            failures.append("fixtures charged: %s" % [r["headline"] for r in res["fixtures"]])
        if not res.get("framework"):
            failures.append("no descriptor of the framework counted (pytest-asyncio's loop between tests): %r"
                            % res.get("framework"))
        print("asyncio sample: charged %s, the framework's %s" % (got, res.get("framework")))
        if failures:
            failures.append("pytest stdout:\n" + p.stdout[-3000:])
    return finish(failures)


def late_sample(a):
    """tests/sample_late, bare and under fdleak: the same outcomes; charged exactly the LEAK
    lines' tests, with their counts; closed late at least each LATE line's descriptor and
    nothing charged for it; the caught-and-logged connection error (its socket held by pytest's
    log capture until the test's teardown is over) neither charged nor closed late."""
    sample = os.path.join(ROOT, "tests", "sample_late")
    marks = {}
    for path in sorted(glob.glob(os.path.join(sample, "*.py"))):
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                for m in re.finditer(r"#?\s*\b(LEAK|LATE) test=([\w\[\]-]+)", line.partition("#")[2]):
                    marks.setdefault((os.path.realpath(path), n), set()).add((m.group(1), m.group(2)))
    failures = []
    with tempfile.TemporaryDirectory(prefix="fdleak-pytest-late-") as tmp:
        got, p = bare_and_fdleak(a, sample, tmp)
        if p is None:
            return finish([got])
        out = os.path.join(tmp, "fdleak.json")
        if got["bare"] != got["fdleak"]:
            failures.append("outcomes bare %s, under fdleak %s (exit status, per test)" % (got["bare"], got["fdleak"]))
        try:
            with open(out, encoding="utf-8") as f:
                res = json.load(f)
        except (OSError, ValueError) as e:
            return finish(["no results file: %s; stdout:\n%s\nstderr:\n%s" % (e, p.stdout, p.stderr)])
        seen = {"LEAK": {}, "LATE": {}}
        for kind, section in (("LEAK", res["tests"]), ("LATE", res.get("closed_late", {}))):
            for who, recs in section.items():
                test = who.split("::")[-1].split(" [run")[0]
                for r in recs:
                    app = r.get("app") or {}
                    mark = marks.get((os.path.realpath(app.get("file", "?")), app.get("line")), set())
                    if (kind, test) in mark:
                        seen[kind][test] = seen[kind].get(test, 0) + 1
                    elif kind == "LATE" and test in ("test_connects_to_the_thread_server", "test_connects_again"):
                        pass  # the server's side, when it outlived the settle time: shown, not charged
                    else:
                        failures.append("%s: %s has fd %s (%s) at %s, expected %s" % (
                            "charged" if kind == "LEAK" else "closed late", who, r["fd"], r.get("kind"),
                            r["headline"], " or ".join("%s test=%s" % m for m in sorted(mark)) or "no mark"))
        for kind in ("LEAK", "LATE"):
            want = {}
            for line_marks in marks.values():
                for k, t in line_marks:
                    if k == kind:
                        want[t] = want.get(t, 0) + 1
            if seen[kind] != want:
                failures.append("%s per test %s, expected %s" % ("charged" if kind == "LEAK" else "closed late",
                                                                 seen[kind], want))
        if not re.search(r"not charged: \d+ descriptors? closed late", p.stdout):
            failures.append("the terminal summary does not say what closed late")
        print("late sample: charged %s, closed late %s; outcomes %s" % (seen["LEAK"], seen["LATE"], got["fdleak"]))
        if failures:
            failures.append("pytest stdout:\n" + p.stdout[-3000:])
    return finish(failures)


def check_junit(path, leaking, failures):
    """One short fdleak property on each leaking test's testcase (fixtures' on whichever test
    ended them), none on the others."""
    import xml.etree.ElementTree as ET
    try:
        cases = ET.parse(path).getroot().iter("testcase")
    except (OSError, ET.ParseError) as e:
        failures.append("no JUnit XML: %s" % e)
        return
    seen = set()
    for case in cases:
        name = case.get("name", "").split("[")[0]
        props = [(p.get("name"), p.get("value") or "") for p in case.iter("property") if p.get("name", "").startswith("fdleak")]
        tests = [v for n, v in props if n == "fdleak"]
        if name in leaking:
            seen.add(name)
            if len(tests) != 1 or not re.match(r"\d+ descriptors? leaked: \d+ at ", tests[0]) or len(tests[0]) >= 400:
                failures.append("JUnit: %s has fdleak properties %s, expected one short one" % (name, props))
        elif [n for n, _ in props if n != "fdleak_fixture"]:
            failures.append("JUnit: %s did not leak but has fdleak properties %s" % (name, props))
        for n, v in props:
            if len(v) >= 400:
                failures.append("JUnit: %s's %s property is %d characters long" % (name, n, len(v)))
    if seen != leaking:
        failures.append("JUnit: no testcase for %s" % sorted(leaking - seen))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--interp", default="/usr/bin/python3")
    ap.add_argument("--pythonpath", default="")
    ap.add_argument("--xdist", type=int, default=0)
    ap.add_argument("--fail", action="store_true")
    ap.add_argument("--rerun", action="store_true")
    ap.add_argument("--strict", action="store_true")
    ap.add_argument("--asyncio", action="store_true")
    ap.add_argument("--late", action="store_true")
    a = ap.parse_args()
    if interp_version(a.interp) is None:
        print("SKIP: %s does not run" % a.interp)
        return 77
    status = skip_or_fail_missing(a.interp, ["pytest"] + (["xdist"] if a.xdist else []) +
                                  (["pytest_asyncio", "anyio", "aiohttp", "pytest_aiohttp"] if a.asyncio else []),
                                  a.pythonpath)
    if status is not None:
        return status
    if a.strict:
        return strict(a)
    if a.asyncio:
        return asyncio_sample(a)
    if a.late:
        return late_sample(a)
    marks = markers()
    failures = []
    with tempfile.TemporaryDirectory(prefix="fdleak-pytest-") as tmp:
        out = os.path.join(tmp, "results.json")
        junit = os.path.join(tmp, "junit.xml")
        targets = [SAMPLE]
        if a.rerun:  # every test twice, under one node id
            files = sorted(glob.glob(os.path.join(SAMPLE, "test_*.py")))
            targets = files + files + ["--keep-duplicates"]
        cmd = [os.path.join(ROOT, "scripts", "fdleak"), "-q", "-o", os.path.join(tmp, "exit-%p.txt"), "--",
               a.interp, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--rootdir", SAMPLE] + targets + \
              ["--fdleak-json", out, "--junitxml", junit]
        if a.xdist:
            cmd += ["-n", str(a.xdist)]
        if a.fail:
            cmd += ["--fdleak-fail"]
        env = pytest_env(a)
        p = subprocess.run(cmd, env=env, cwd=tmp, capture_output=True, text=True, timeout=240)
        want_status = 1 if a.fail else 0
        if p.returncode != want_status:
            failures.append("pytest exited %d, expected %d" % (p.returncode, want_status))
        try:
            with open(out, encoding="utf-8") as f:
                res = json.load(f)
        except (OSError, ValueError) as e:
            print("FAIL: no results file: %s\nstdout:\n%s\nstderr:\n%s" % (e, p.stdout, p.stderr))
            return 1
        got = {}
        if a.rerun:  # each run apart, the second with the first one's leaks
            for nodeid, recs in sorted(res["tests"].items()):
                if nodeid.endswith(" [run 2]"):
                    continue
                again = res["tests"].get(nodeid + " [run 2]")
                if again is None or len(again) != len(recs):
                    failures.append("%s leaked %d in its first run, %s in its second (expected the same, kept apart)"
                                    % (nodeid, len(recs), "nothing recorded" if again is None else len(again)))
            odd = [k for k in res["tests"] if "[run" in k and not k.endswith(" [run 2]")]
            if odd:
                failures.append("runs beyond the second: %s" % odd)
            if not re.search(r" \[run 2\] leaked \d+ descriptor", p.stdout):
                failures.append("the terminal summary names no second run")
        for who, records in [("test=" + nodeid.split("::")[-1].split(" [run")[0], recs) for nodeid, recs in res["tests"].items()] + \
                            [("fixture=" + r["fixture"].split()[0], [r]) for r in res["fixtures"]]:
            for r in records:
                app = r.get("app") or {}
                key = (os.path.realpath(app.get("file", "?")), app.get("line"))
                spec = marks.get(key)
                if not spec:
                    failures.append("%s leaked fd %s (%s %s) at %s, not a marked line" % (who, r["fd"], r["kind"], r["desc"], r["headline"]))
                    continue
                owner = "test=" + spec["test"] if "test" in spec else "fixture=" + spec.get("fixture", "?")
                if owner != who:
                    failures.append("the leak at %s was charged to %s, expected %s" % (r["headline"], who, owner))
                got[key] = got.get(key, 0) + 1
        for key, spec in sorted(marks.items()):
            n = got.get(key, 0)
            fixture_xdist = (a.xdist or a.rerun) and "fixture" in spec
            want = spec["count"] * (2 if a.rerun and "test" in spec else 1)
            if (n < want) if fixture_xdist else (n != want):
                failures.append("%s:%d (%s): %d leaks, expected %s%d" % (os.path.basename(key[0]), key[1],
                                spec.get("test") or spec.get("fixture"), n, "at least " if fixture_xdist else "", want))
        check_junit(junit, {s["test"] for s in marks.values() if "test" in s}, failures)
        for name in sorted({s["test"] for s in marks.values() if "test" in s}):
            if not re.search(r"::%s leaked \d+ descriptor" % re.escape(name), p.stdout):
                failures.append("the terminal summary does not name %s" % name)
        if a.fail:
            # each leaking test errors at its teardown; so does the teardown that ends a leaking
            # fixture (which may be a leaking test's own)
            n_tests = len({s["test"] for s in marks.values() if "test" in s})
            n_fixtures = len({s["fixture"] for s in marks.values() if "fixture" in s})
            m = re.search(r"\b(\d+) errors?\b", p.stdout)
            if not m or not n_tests + 1 <= int(m.group(1)) <= n_tests + n_fixtures:
                failures.append("%s errors in pytest's summary line, expected %d to %d"
                                % (m.group(1) if m else "no", n_tests + 1, n_tests + n_fixtures))
        if failures:
            failures.append("pytest stdout:\n" + p.stdout[-4000:] + "\nstderr:\n" + p.stderr[-2000:])
    return finish(failures)


if __name__ == "__main__":
    sys.exit(main())
