#!/usr/bin/python3
"""CPython's own regression tests as the oracle: bare and under fdleak, identical results.

usage: check_regrtest.py --lib PATH [--launcher PATH] [--timeout S] [--outdir DIR]
                         [--ignore PAT]... [--match PAT]... MODULE...

Each MODULE (test_socket, test_os, or a part such as test.test_asyncio.test_events) is run
by CPython's regrtest (`/usr/bin/python3 -m test MODULE`, from Debian's
libpython3.11-testsuite), sequentially, with regrtest's default resources (no -u: no network,
no large memory) and its own JUnit XML file: once bare and once through the launcher
(`scripts/fdleak --quiet -o DIR/fdleak-%p.json --format json -- /usr/bin/python3 -m test ...`
with FDLEAK_LIBRARY=PATH). Each run has its own empty working and temporary directories and
a clean environment (no FDLEAK_*, LD_PRELOAD or PYTHON* variables).

Compared, per test case (test.test_x.Class.test_y): passed, failed, error, skipped, expected
failure, unexpected success; and per module the regrtest verdict (Tests result: SUCCESS,
FAILURE, ENV CHANGED, ...) and how the process ended. The JUnit XML of regrtest 3.11 drops
subtest failures and setUpClass/setUpModule errors and skips (no startTest), so the runs go
through a small wrapper that records those too.

A case whose outcome differs is retried: the module is run once more bare and under fdleak.
The difference counts only if the second bare run agrees with the first and the second fdleak
run still differs; flaky cases (bare disagreeing with itself, or fdleak differing only once)
are printed as retried but do not fail. Also checked: every JSON report that fdleak wrote
parses, each fdleak run wrote at least one, and no fdleak line on stderr tells of a crash.

Exit status 0 when everything matches, 1 otherwise.
"""

import argparse
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from harness import clean_env, load_report

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SYSTEM_PYTHON = "/usr/bin/python3"  # the default interpreter, and the one that runs the launcher

# Runs regrtest's main after teaching its JUnit result class to record what 3.11 drops:
# a result reported without startTest (setUpClass/setUpModule errors and skips: the test is an
# _ErrorHolder) gets an element of its own, and a failing subtest is recorded as a failure or
# error of the subtest's id (the parent test then reports no success of its own).
WRAPPER = r"""
import sys, unittest
try:  # 3.11.7+, 3.12, 3.13: regrtest's own module
    from test.libregrtest import testresult
except ImportError:  # 3.10, Debian's 3.11.2
    from test.support import testresult
R = testresult.RegressionTestResult
for _name in ('_add_result', 'addSubTest', '_RegressionTestResult__makeErrorDict'):
    if not hasattr(R, _name):
        sys.exit('check_regrtest wrapper: RegressionTestResult has no %s in this regrtest' % _name)
_orig_add = R._add_result

def _add_result(self, test, capture=False, **args):
    if self.USE_XML and self._RegressionTestResult__e is None:
        self._RegressionTestResult__e = self._RegressionTestResult__ET.SubElement(
            self._RegressionTestResult__suite, 'testcase')
    return _orig_add(self, test, capture, **args)
R._add_result = _add_result
_orig_sub = R.addSubTest
def addSubTest(self, test, subtest, err):
    if err is not None and self.USE_XML:
        kind = 'failure' if issubclass(err[0], test.failureException) else 'error'
        self._RegressionTestResult__e = None
        _add_result(self, test, True, name=subtest.id(),
                    **{kind: self._RegressionTestResult__makeErrorDict(*err)})
    return _orig_sub(self, test, subtest, err)
R.addSubTest = addSubTest
from test.libregrtest.main import main
main()
"""

# What the interpreter must have: CPython's regrtest and its JUnit result class (the wrapper's
# import, both places). Prints "cpython X.Y.Z" and where the test package is.
PROBE = r"""
import sys, os, test, test.libregrtest.main
try:
    from test.libregrtest import testresult
except ImportError:
    from test.support import testresult
testresult.RegressionTestResult
print("%s %d.%d.%d, tests in %s" % ((sys.implementation.name,) + sys.version_info[:3]
                                    + (os.path.dirname(test.__file__),)))
"""

# The wrapper's own test, on the interpreter's regrtest (--testdir): each thing it must record,
# as the name and outcome the JUnit XML must then hold.
SELFTEST_MODULE = r"""
import unittest

class Plain(unittest.TestCase):
    def test_pass(self):
        pass
    def test_fail(self):
        self.fail("on purpose")
    def test_subtests(self):
        for i in range(3):
            with self.subTest(i=i):
                self.assertNotEqual(i, 1)

class ClassError(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        raise RuntimeError("setUpClass on purpose")
    def test_never(self):
        pass

class ClassSkip(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        raise unittest.SkipTest("skipped in setUpClass")
    def test_never(self):
        pass
"""
SELFTEST_EXPECT = {
    "test_fdleak_wrapper.Plain.test_pass": "passed",
    "test_fdleak_wrapper.Plain.test_fail": "failed",
    "test_fdleak_wrapper.Plain.test_subtests (i=1)": "failed",
    "setUpClass (test_fdleak_wrapper.ClassError)": "error",
    "setUpClass (test_fdleak_wrapper.ClassSkip)": "skipped",
}


RANDSEED = 20240101


def wrapper_selftest(args):
    """Problems (expected and found) when the wrapper, on args.python's regrtest, does not
    record a failing subtest and setUpClass's error and skip."""
    d = tempfile.mkdtemp(prefix="check_regrtest-self-")
    try:
        testdir = os.path.join(d, "tests")
        os.mkdir(testdir)
        with open(os.path.join(testdir, "test_fdleak_wrapper.py"), "w") as f:
            f.write(SELFTEST_MODULE)
        ns = argparse.Namespace(python=args.python, lib=args.lib, launcher=args.launcher,
                                timeout=120, ignore=[], match=[], testdir=testdir, randseed=None)
        run = Run("test_fdleak_wrapper", "bare", os.path.join(d, "run"), ns)
        problems = list(run.problems)
        # 3.11.7+, 3.12, 3.13 seed `random` in every test, with a new seed each run unless
        # --randseed gives one (which in 3.10 and 3.11.2 would also shuffle the order): both
        # sides then get the same fixed seed.
        if "Using random seed" in run.output:
            args.randseed = RANDSEED
        for name, want in sorted(SELFTEST_EXPECT.items()):
            found = run.cases.get(name)
            if found != want:
                problems.append("%s: expected %s, found %s" % (name, want, found or "(absent)"))
        if problems:
            problems.append("cases found: %s" % json.dumps(run.cases, indent=1, sort_keys=True))
            problems.append("regrtest output:\n" + tail(run.output, 30))
            return problems
        # A module's own --match patterns together with --ignore: only the matching cases run,
        # less the ignored ones (the order of the two options matters from 3.11.7 on).
        ns.ignore = ["*test_fail"]
        run = Run("test_fdleak_wrapper:Plain", "bare", os.path.join(d, "run-match"), ns)
        want = {"test_fdleak_wrapper.Plain.test_pass": "passed",
                "test_fdleak_wrapper.Plain.test_subtests (i=1)": "failed"}
        got = {n: o for n, o in run.cases.items() if not n.startswith("<")}
        if got != want:
            problems.append("--match Plain --ignore '*test_fail': expected exactly %s, found %s"
                            % (want, got))
        return problems
    finally:
        shutil.rmtree(d, ignore_errors=True)


CRASH_RE = re.compile(r"crash|fatal|internal error|assert|SIGSEGV|SIGBUS|SIGABRT|abort",
                      re.IGNORECASE)


# Each side's directory: names of one length, so that both sides' paths are as long (a test
# that builds an AF_UNIX path under its working directory skips when it passes 108 bytes).
DIR = {"bare": "bare", "fdleak": "fdlk"}


def regrtest_env():
    """A clean environment in a fixed locale: outcomes must not depend on the caller's."""
    env = clean_env(python=True)
    env["LC_ALL"] = "C.UTF-8"
    env.pop("LANG", None)
    env.pop("LANGUAGE", None)
    return env


def describe_rc(rc):
    if rc is None:
        return "timed out"
    if rc < 0:
        try:
            return "killed by signal %d (%s)" % (-rc, signal.Signals(-rc).name)
        except ValueError:
            return "killed by signal %d" % -rc
    return "exit %d" % rc


class Run:
    """One regrtest run of one module, bare or under fdleak."""

    def __init__(self, module, side, base, args):
        self.module, self.side = module, side
        self.dir = base
        os.makedirs(base)
        self.cwd = os.path.join(base, "cwd")
        self.tmp = os.path.join(base, "tmp")
        self.reports = os.path.join(base, "reports")
        for d in (self.cwd, self.tmp, self.reports):
            os.mkdir(d)
        # test_subprocess runs children as another user (test_user, test_group): their
        # reports must be writable here too, not fall back to the test's stderr.
        os.chmod(self.reports, 0o1777)
        self.xml = os.path.join(base, "junit.xml")
        self.log = os.path.join(base, "output.txt")
        cmd = [args.python, "-c", WRAPPER, "--junit-xml", self.xml, "--tempdir", self.tmp,
               "--timeout", str(max(60, int(args.timeout) - 30))]
        if getattr(args, "randseed", None) is not None:
            cmd += ["--randseed", str(args.randseed)]
        # --match before --ignore: regrtest 3.11.7+ reads them in order, and a case that no
        # pattern matches gets the opposite of the FIRST group's verdict (ignore first: every
        # other case would run). 3.10 and 3.11.2 keep two lists, where the order is moot.
        name, _, pats = module.partition(":")
        for pat in args.match + [p for p in pats.split(",") if p]:
            cmd += ["--match", pat]
        for pat in args.ignore:
            cmd += ["--ignore", pat]
        if getattr(args, "testdir", None):
            cmd += ["--testdir", args.testdir]
        cmd.append(name)
        env = regrtest_env()
        if side == "fdleak":
            env["FDLEAK_LIBRARY"] = args.lib
            cmd = [SYSTEM_PYTHON, args.launcher, "--quiet", "-o",
                   os.path.join(self.reports, "fdleak-%p.json"), "--format", "json", "--"] + cmd
        self.cmd = cmd
        start = time.monotonic()
        with open(self.log, "wb") as log:
            proc = subprocess.Popen(cmd, cwd=self.cwd, env=env, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, close_fds=True,
                                    start_new_session=True)
            try:
                self.rc = proc.wait(timeout=args.timeout)
            except subprocess.TimeoutExpired:
                self.rc = None
            finally:
                # On a timeout, and when this script is stopped (meson's timeout sends
                # SIGTERM): nothing of the run may outlive it.
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
        self.seconds = time.monotonic() - start
        with open(self.log, encoding="utf-8", errors="replace") as f:
            self.output = f.read()
        self.cases = {}
        self.messages = {}  # name: the failure's or error's message
        self.problems = []
        self._parse_xml()
        # "Tests result: X" (3.10, Debian's 3.11.2), "Result: X" (3.11.7+, 3.12, 3.13)
        verdict = re.findall(r"^(?:Tests result|Result): (.*)$", self.output, re.MULTILINE)
        self.cases["<module %s>" % module] = "%s, %s" % (
            verdict[-1].strip() if verdict else "no verdict", describe_rc(self.rc))

    def _parse_xml(self):
        if not os.path.exists(self.xml):
            self.problems.append("no JUnit XML written (%s)" % describe_rc(self.rc))
            return
        try:
            root = ET.parse(self.xml).getroot()
        except ET.ParseError as e:
            self.problems.append("JUnit XML does not parse: %s" % e)
            return
        for tc in root.iter("testcase"):
            name = tc.get("name")
            if name is None:
                name = "<unnamed testcase>"
            bad = tc.find("error")
            if bad is None:
                bad = tc.find("failure")
            if bad is not None:
                self.messages[name] = (bad.get("message") or "").strip()
            if tc.find("error") is not None:
                outcome = "error"
            elif tc.find("failure") is not None:
                outcome = "failed"
            elif tc.find("skipped") is not None:
                outcome = "skipped"
            elif tc.find("output") is not None:
                outcome = "expected failure"
            elif tc.find("outcome") is not None:
                outcome = "unexpected success"
            else:
                outcome = "passed"
            # A name seen twice (a failing subtest's id repeated, a rerun) keeps every outcome.
            prev = self.cases.get(name)
            self.cases[name] = outcome if prev is None else prev + "+" + outcome

    def fdleak_checks(self):
        """Problems with fdleak's own side of the run: reports, crash warnings."""
        problems = []
        reports = sorted(glob.glob(os.path.join(self.reports, "*")))
        if not reports:
            problems.append("fdleak wrote no report in %s" % self.reports)
        for path in reports:
            try:
                load_report(path)
            except (OSError, ValueError) as e:
                problems.append("report %s does not parse: %s" % (path, e))
        for line in self.output.splitlines():
            if line.startswith("fdleak") and CRASH_RE.search(line):
                problems.append("fdleak warned: %s" % line)
        self.report_count = len(reports)
        return problems

    def counts(self):
        c = {}
        for name, outcome in self.cases.items():
            if not name.startswith("<module"):
                c[outcome] = c.get(outcome, 0) + 1
        return ", ".join("%d %s" % (n, o) for o, n in sorted(c.items()))


def differences(a, b):
    """Names whose outcome differs between the case maps a and b (missing counts)."""
    return sorted(n for n in set(a) | set(b) if a.get(n) != b.get(n))


def show_diff(names, bare, under):
    """bare and under: Runs."""
    for n in names:
        print("    %s\n      bare (expected): %s\n      fdleak (found):  %s"
              % (n, bare.cases.get(n, "(absent)"), under.cases.get(n, "(absent)")))
        for side, run in (("bare", bare), ("fdleak", under)):
            if n in run.messages:
                print("      %s: %s" % (side, run.messages[n].replace("\n", "\n        ")))


def tail(text, n=60):
    lines = text.splitlines()
    return "\n".join(lines[-n:])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lib", required=True, help="path to libfdleak.so")
    ap.add_argument("--launcher", default=os.path.join(ROOT, "scripts", "fdleak"))
    ap.add_argument("--timeout", type=float, default=900,
                    help="seconds for one regrtest run of one module (default 900)")
    ap.add_argument("--outdir", help="keep every run's output, XML and reports here")
    ap.add_argument("--ignore", action="append", default=[], metavar="PAT",
                    help="regrtest --ignore PAT on both sides: skip the test cases matching "
                         "this glob (repeatable)")
    ap.add_argument("--match", action="append", default=[], metavar="PAT",
                    help="regrtest --match PAT on both sides: run only the test cases matching "
                         "this glob (repeatable; to reproduce one case)")
    ap.add_argument("--python", default=SYSTEM_PYTHON,
                    help="the CPython whose own test suite runs (default %(default)s); "
                         "exit 77 when it is not there")
    ap.add_argument("modules", nargs="+", metavar="MODULE[:PAT,...]",
                    help="a test module; after a colon, regrtest --match patterns for this "
                         "module only (a part of it)")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda sig, frame: sys.exit("check_regrtest: terminated"))
    args.lib = os.path.abspath(args.lib)
    args.launcher = os.path.abspath(args.launcher)
    if not os.path.exists(args.lib):
        sys.exit("check_regrtest: no library at %s" % args.lib)
    if not os.access(args.python, os.X_OK):
        print("SKIP: no interpreter at %s" % args.python)
        return 77
    probe = subprocess.run([args.python, "-c", PROBE], capture_output=True, text=True,
                           env=regrtest_env(), timeout=60)
    if probe.returncode != 0 or not probe.stdout.startswith("cpython "):
        # a comparison nobody ran is not a pass
        if os.path.realpath(args.python) == os.path.realpath(SYSTEM_PYTHON):
            print("FAIL: CPython's test suite is not installed for %s (Debian package "
                  "libpython3.11-testsuite; scripts/bootstrap installs it):\n%s"
                  % (args.python, probe.stderr.strip()))
            return 1
        print("SKIP: %s has no usable regression test suite (test.libregrtest):\n%s"
              % (args.python, (probe.stderr or probe.stdout).strip()))
        return 77
    print("%s: %s" % (args.python, probe.stdout.strip()))
    args.randseed = None
    problems = wrapper_selftest(args)
    if problems:
        print("FAIL: the JUnit wrapper does not record what it must on this regrtest:")
        for p in problems:
            print("  " + p)
        return 1
    print("wrapper self-test: subtest failures, setUpClass errors and skips recorded%s"
          % (args.randseed is not None and "; --randseed %d on both sides" % args.randseed or ""))

    if args.outdir:
        base = os.path.abspath(args.outdir)
        shutil.rmtree(base, ignore_errors=True)
        os.makedirs(base)
    else:
        base = tempfile.mkdtemp(prefix="check_regrtest-")
    failures = []
    retried = []
    total = {"bare": 0.0, "fdleak": 0.0}
    for module in args.modules:
        runs = {}
        for side in ("bare", "fdleak"):
            runs[side] = Run(module, side, os.path.join(base, module, DIR[side] + "-1"), args)
            total[side] += runs[side].seconds
        bare, under = runs["bare"], runs["fdleak"]
        print("%s: bare %.1f s (%s); fdleak %.1f s (%s), %s"
              % (module, bare.seconds, bare.counts(), under.seconds, under.counts(),
                 bare.cases["<module %s>" % module] == under.cases["<module %s>" % module]
                 and "same module verdict" or "verdicts differ"), flush=True)
        problems = under.fdleak_checks()
        print("  fdleak wrote %d report(s)" % under.report_count)
        for p in bare.problems:
            print("  bare: %s" % p)
        for p in under.problems + problems:
            print("  fdleak: %s" % p)
            failures.append("%s: %s" % (module, p))
        if len(bare.cases) < 2:  # only the module verdict: nothing was compared
            failures.append("%s: no test case ran bare (%s): nothing compared"
                            % (module, bare.cases["<module %s>" % module]))
        diff = differences(bare.cases, under.cases)
        if not diff:
            continue
        print("  %d case(s) differ; retrying %s once more, bare and under fdleak:"
              % (len(diff), module))
        show_diff(diff, bare, under)
        bare2 = Run(module, "bare", os.path.join(base, module, DIR["bare"] + "-2"), args)
        under2 = Run(module, "fdleak", os.path.join(base, module, DIR["fdleak"] + "-2"), args)
        total["bare"] += bare2.seconds
        total["fdleak"] += under2.seconds
        for p in under2.fdleak_checks():
            print("  fdleak (retry): %s" % p)
            failures.append("%s (retry): %s" % (module, p))
        persistent = []
        for n in diff:
            if bare2.cases.get(n) != bare.cases.get(n):
                retried.append("%s: flaky bare (%s, then %s); fdleak: %s, then %s"
                               % (n, bare.cases.get(n), bare2.cases.get(n),
                                  under.cases.get(n), under2.cases.get(n)))
            elif under2.cases.get(n) == bare.cases.get(n):
                retried.append("%s: differed once under fdleak (%s), as bare on retry (%s)"
                               % (n, under.cases.get(n), bare.cases.get(n)))
            else:
                persistent.append(n)
        if persistent:
            print("  still different on retry (bare twice the same):")
            show_diff(persistent, bare, under2)
            failures.append("%s: %d case(s) differ under fdleak: %s"
                            % (module, len(persistent), ", ".join(persistent)))
            if under2.cases.get("<module %s>" % module, "").endswith("exit 2"):
                print("  (fdleak run's output: %s)" % under2.log)
            else:  # no ordinary verdict: a crash, a hang, a timeout
                print("  --- fdleak run output (%s), last lines ---\n%s"
                      % (under2.log, tail(under2.output)))
        else:
            print("  the retry agrees: no difference that persists under fdleak")
    print("total: bare %.1f s, fdleak %.1f s" % (total["bare"], total["fdleak"]))
    if retried:
        print("retried (flaky, not counted):")
        for r in retried:
            print("  " + r)
    if args.outdir:
        print("runs kept in %s" % base)
    else:
        shutil.rmtree(base, ignore_errors=True)
    if failures:
        print("FAIL:")
        for f in failures:
            print("  " + f)
        return 1
    print("OK: %d module(s), identical outcomes bare and under fdleak" % len(args.modules))
    return 0


if __name__ == "__main__":
    sys.exit(main())
