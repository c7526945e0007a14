"""pytest_fdleak: which test leaked which file descriptors — fdleak's pytest plugin.

Loaded automatically when the fdleak launcher runs pytest (it sets PYTEST_PLUGINS, and its
start-up hook makes this module importable), or by hand with `-p pytest_fdleak` when this
directory is on PYTHONPATH; it does nothing unless libfdleak is preloaded.

For each test: a checkpoint before setup; after teardown, the garbage collector runs and the
descriptors created since the checkpoint that are still open are the test's leaks, each with
its creating site (the Python app frame; full stacks in --fdleak-json). What a fixture of wider
scope (class, module, package, session) creates while it is set up is charged to that fixture
when its scope ends, not to the test that happened to need it first. Works under pytest-xdist:
each worker checks its own tests and sends the results with its reports (an attribute of the
teardown report, which xdist carries; JUnit XML gets one short `fdleak` property on a leaking
test only: count and places); the controller prints the summary. A test run more than once
under one node id (pytest-rerunfailures, --keep-duplicates) has each run's leaks apart:
`NODEID [run 2]`. Options: --fdleak-fail turns a leaking test into an error at teardown with the
leak in its report (a leaking fixture: the teardown that ends it); --fdleak-json PATH writes
every result as JSON.
"""

import gc
import json
import os
import tempfile

import pytest


def pytest_addoption(parser):
    group = parser.getgroup("fdleak", "file-descriptor leaks (fdleak)")
    group.addoption("--fdleak-fail", action="store_true", default=False,
                    help="a test that leaks descriptors errors at teardown, with the leaks in its report")
    group.addoption("--fdleak-json", metavar="PATH", default=None,
                    help="write each test's and fixture's leaks to PATH as JSON")


class _Lib:
    """libfdleak's checkpoint API through ctypes, or None when fdleak is not preloaded."""

    @staticmethod
    def load():
        try:
            import ctypes

            dll = ctypes.CDLL(None)
            lib = _Lib()
            lib.checkpoint = dll.fdleak_checkpoint
            lib.checkpoint.restype = ctypes.c_ulonglong
            lib.checkpoint.argtypes = []
            lib.list = dll.fdleak_list
            lib.list.restype = ctypes.c_long
            lib.list.argtypes = [ctypes.c_ulonglong, ctypes.c_ulonglong, ctypes.POINTER(ctypes.c_int), ctypes.c_long]
            lib.report_since = dll.fdleak_report_since
            lib.report_since.restype = ctypes.c_long
            lib.report_since.argtypes = [ctypes.c_ulonglong, ctypes.c_ulonglong, ctypes.c_char_p, ctypes.c_char_p]
            lib.ctypes = ctypes
            return lib
        except (ImportError, AttributeError, OSError):
            return None

    def fds(self, since, until):
        """The descriptors created in (since, until] that are still open."""
        n = self.list(since, until, None, 0)
        if n <= 0:
            return set()
        buf = (self.ctypes.c_int * (n + 16))()
        n = self.list(since, until, buf, n + 16)
        return set(buf[: min(n, n + 16)])

    def describe(self, since, until, fds, label, tmpdir):
        """Records of those of fds created in (since, until], from a checkpoint report."""
        path = os.path.join(tmpdir, "since-%d.json" % os.getpid())
        if self.report_since(since, until, label.encode("utf-8", "replace"), path.encode()) < 0:
            return [{"fd": fd, "kind": "?", "desc": "?", "headline": "?", "key": None} for fd in sorted(fds)]
        try:
            with open(path, encoding="utf-8") as f:
                rep = json.load(f)
        finally:
            try:
                os.unlink(path)
            except OSError:
                pass
        sites = {s["id"]: s for s in rep.get("sites", [])}
        out = []
        for leak in rep.get("leaks", []):
            if leak["fd"] not in fds:
                continue
            site = sites.get(leak.get("site")) or {}
            out.append({"fd": leak["fd"], "kind": leak["kind"], "desc": leak["desc"], "via": leak.get("via"),
                        "headline": _headline(site), "key": site.get("key"), "app": site.get("app"),
                        "framework": _framework(site),
                        "python": site.get("python", []), "native": site.get("native", [])})
        return out


# Where the test framework's own code lives: pytest, pluggy, and the plugins that run an event
# loop around async tests (pytest-asyncio's placeholder loop between tests, anyio's,
# pytest-aiohttp's).
_FRAMEWORK = ("/_pytest/", "/pluggy/", "/pytest_asyncio/", "/anyio/pytest_plugin.py", "/pytest_aiohttp/",
              "/pytest_fdleak.py")


def _framework(site):
    """Whether a site is the test framework's: no frame of the program's code (no app frame),
    and a frame of pytest's or a test plugin's own. A loop a test itself leaks has the test's
    frame, and stays the test's."""
    return bool(site.get("python")) and not site.get("app") and any(
        any(part in (f.get("file") or "") for part in _FRAMEWORK) for f in site["python"])


def _headline(site):
    app = site.get("app")
    if app:
        path = app["file"]
        cwd = os.getcwd() + os.sep
        if path.startswith(cwd):
            path = path[len(cwd):]
        return "%s:%s in %s" % (path, app["line"], app["function"])
    if site.get("python"):  # no frame of the program's code: the library's call (site's `at`)
        return site.get("at") or "no frame of the program's code"
    for f in site.get("native", []):
        if f.get("function"):
            return "%s (%s)" % (f["function"], os.path.basename(f.get("module") or "?"))
    return "an unknown site"


class FdleakPlugin:
    def __init__(self, config, lib):
        self.config = config
        self.lib = lib
        self.tmpdir = tempfile.mkdtemp(prefix="pytest-fdleak-")
        self.start = None        # the current test's checkpoint
        self.windows = []        # wide-scope fixture setups during the current test: (from, to)
        self.open_fixtures = {}  # id(fixturedef) -> (name, scope, baseid, from, to, inner windows)
        self.nesting = []        # the wide fixtures being set up, innermost last
        self.test_leaks = {}     # nodeid -> records, for the current worker's makereport
        self.fixture_leaks = []  # records charged to fixtures, not yet attached to a report
        self.framework_held = [] # the test framework's own, open after a test: not charged
        self.results = {}        # controller: nodeid (or "nodeid [run N]") -> records
        self.runs = {}           # controller: nodeid -> teardown reports seen
        self.fixture_results = []
        self.checked = 0         # tests checked in this process
        self.reports_checked = 0 # tests checked, from the reports (all workers)
        self.framework_count = 0 # the framework's descriptors seen open after tests (all workers)

    # -- checking (in the process that runs the tests) --

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item):
        self.start = self.lib.checkpoint()
        self.windows = []
        yield

    @pytest.hookimpl(hookwrapper=True)
    def pytest_fixture_setup(self, fixturedef, request):
        if fixturedef.scope == "function":
            yield
            return
        begin = self.lib.checkpoint()
        inner = []  # wide fixtures set up meanwhile (requested lazily): theirs, not this one's
        self.nesting.append(inner)
        try:
            yield
        finally:
            self.nesting.pop()
        end = self.lib.checkpoint()
        self.windows.append((begin, end))
        if self.nesting:
            self.nesting[-1].append((begin, end))
        self.open_fixtures[id(fixturedef)] = (fixturedef.argname, fixturedef.scope, fixturedef.baseid, begin, end,
                                              inner)

    def pytest_fixture_post_finalizer(self, fixturedef, request):
        entry = self.open_fixtures.pop(id(fixturedef), None)
        if entry is None:
            return  # function scope, or already checked (pytest may call this more than once)
        name, scope, baseid, begin, end, inner = entry
        own = lambda: self.lib.fds(begin, end).difference(*(self.lib.fds(b, e) for b, e in inner))
        fds = own()
        if fds:
            _collect()
            fds = own()
        if fds:
            where = "%s (%s scope%s)" % (name, scope, ", " + baseid if baseid else "")
            for r in self.lib.describe(begin, end, fds, "fixture " + where, self.tmpdir):
                if r.get("framework"):
                    self.framework_held.append(r)
                    continue
                r["fixture"] = where
                self.fixture_leaks.append(r)

    @pytest.hookimpl(hookwrapper=True, trylast=True)
    def pytest_runtest_teardown(self, item, nextitem):
        yield
        if self.start is None:
            return
        self.checked += 1
        fds = self.lib.fds(self.start, 0)
        if fds:
            # Only then the collector (a full collection per test is costly), and without the
            # traceback pytest keeps of a failed test, which holds that test's locals.
            _collect(forget_traceback=True)
            fds = self.lib.fds(self.start, 0)
        for begin, end in self.windows:  # the wide fixtures' own, charged when they end
            fds -= self.lib.fds(begin, end)
        if fds:
            records = self.lib.describe(self.start, 0, fds, item.nodeid, self.tmpdir)
            mine = [r for r in records if not r.get("framework")]
            self.framework_held.extend(r for r in records if r.get("framework"))
            if mine:
                self.test_leaks[item.nodeid] = mine
        self.start = None

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        if call.when != "teardown":
            return
        report = outcome.get_result()
        # The results ride on the report itself (xdist carries a report's attributes); JUnit XML
        # gets one short property, on a leaking test only.
        data = report.fdleak = {"checked": 1}
        leaks = self.test_leaks.pop(item.nodeid, None)
        if leaks:
            data["leaks"] = leaks
            report.user_properties.append(("fdleak", _short(leaks)))
            if self.config.getoption("fdleak_fail") and report.outcome == "passed":
                report.outcome = "failed"
                report.longrepr = "fdleak: this test leaked %d file descriptor%s:\n%s" % (
                    len(leaks), "" if len(leaks) == 1 else "s", "\n".join(_line(r) for r in leaks))
        if self.framework_held:
            data["framework"] = len(self.framework_held)
            self.framework_held = []
        if self.fixture_leaks:
            data["fixtures"] = self.fixture_leaks
            report.user_properties.append(("fdleak_fixture", _short(self.fixture_leaks, fixture=True)))
            if self.config.getoption("fdleak_fail") and report.outcome == "passed":
                report.outcome = "failed"
                report.longrepr = "fdleak: fixtures torn down here leaked %d file descriptor%s:\n%s" % (
                    len(self.fixture_leaks), "" if len(self.fixture_leaks) == 1 else "s",
                    "\n".join("fixture %s: %s" % (r["fixture"], _line(r)) for r in self.fixture_leaks))
            self.fixture_leaks = []

    # -- collecting and reporting (in the controller, or the only process) --

    def pytest_runtest_logreport(self, report):
        data = getattr(report, "fdleak", None)
        if report.when != "teardown" or not isinstance(data, dict):
            return
        self.reports_checked += data.get("checked", 0)
        self.framework_count += data.get("framework", 0)
        run = self.runs[report.nodeid] = self.runs.get(report.nodeid, 0) + 1
        if data.get("leaks"):
            self.results[report.nodeid if run == 1 else "%s [run %d]" % (report.nodeid, run)] = list(data["leaks"])
        self.fixture_results.extend(data.get("fixtures", ()))

    @pytest.hookimpl(hookwrapper=True)
    def pytest_sessionfinish(self, session, exitstatus):
        yield
        # Fixtures torn down here (a run stopped by -x or --maxfail) have no report to ride on.
        self.fixture_results.extend(self.fixture_leaks)
        self.fixture_leaks = []
        path = self.config.getoption("fdleak_json")
        if path and not hasattr(self.config, "workerinput"):
            with open(path, "w", encoding="utf-8") as f:
                json.dump({"fdleak_pytest": 1, "tests": self.results, "fixtures": self.fixture_results,
                           "framework": self.framework_count}, f, indent=1)

    def pytest_terminal_summary(self, terminalreporter):
        tr = terminalreporter
        self.fixture_results.extend(self.fixture_leaks)  # torn down after the last report
        self.fixture_leaks = []
        tr.section("fdleak")
        if not self.results and not self.fixture_results:
            tr.write_line("no test or fixture leaked a file descriptor (%d tests checked)" % self.reports_checked)
        if self.framework_count:
            tr.write_line("not charged: %d descriptor%s the test framework held open after tests (pytest's or a "
                          "plugin's own, e.g. pytest-asyncio's loop between tests)"
                          % (self.framework_count, "" if self.framework_count == 1 else "s"))
        ranked = sorted(self.results.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        for nodeid, leaks in ranked:
            tr.write_line("%s leaked %d descriptor%s" % (nodeid, len(leaks), "" if len(leaks) == 1 else "s"))
            for r in leaks:
                tr.write_line("    " + _line(r))
        for r in self.fixture_results:
            tr.write_line("fixture %s leaked: %s" % (r["fixture"], _line(r)))
        path = self.config.getoption("fdleak_json")
        if path:
            tr.write_line("fdleak: results written to %s" % path)

    def pytest_unconfigure(self, config):
        try:
            os.rmdir(self.tmpdir)
        except OSError:
            pass


def _collect(forget_traceback=False):
    """The collector's run (and the failed test's traceback dropped first, which holds its
    locals), where pytest cannot turn what it frees into a failure: this runs inside the test's
    teardown, where pytest's unraisable-exception hook and its warning filters apply (with
    `filterwarnings = error`, a socket's ResourceWarning from its finalizer would error the
    test — a socket the collector would otherwise have closed at some other time). Meanwhile
    ResourceWarnings are ignored, as Python does by default, and a finalizer's exception goes to
    Python's own unraisable hook (printed, as outside pytest). Not thread-safe, as the warnings
    filters are not: another thread's warnings in those few milliseconds see the same filters."""
    import sys
    import warnings

    hook = sys.unraisablehook
    sys.unraisablehook = sys.__unraisablehook__
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            if forget_traceback:
                for name in ("last_type", "last_value", "last_traceback", "last_exc"):
                    if hasattr(sys, name):
                        setattr(sys, name, None)
            gc.collect()
    finally:
        sys.unraisablehook = hook


def _short(records, fixture=False):
    """One line for JUnit XML: how many, and where ("2 at test_a.py:12 in test_x; 1 at …")."""
    places = {}
    for r in records:
        where = ("fixture %s: " % r["fixture"] if fixture else "") + r["headline"]
        places[where] = places.get(where, 0) + 1
    shown = ["%d at %s" % (n, w) for w, n in list(places.items())[:3]]
    return "%d descriptor%s leaked: %s%s" % (len(records), "" if len(records) == 1 else "s", "; ".join(shown),
                                            "; …" if len(places) > 3 else "")


def _line(r):
    return "fd %s %s %s, at %s" % (r["fd"], r["kind"], r["desc"], r["headline"])


class _Inactive:
    def pytest_terminal_summary(self, terminalreporter):
        terminalreporter.section("fdleak")
        terminalreporter.write_line("fdleak is not loaded in this process: run pytest under fdleak "
                                    "(fdleak -- python3 -m pytest …) to check tests for leaks")


def pytest_configure(config):
    lib = _Lib.load()
    worker = hasattr(config, "workerinput")
    if lib is None:
        if not worker:
            config.pluginmanager.register(_Inactive(), "fdleak-inactive")
        return
    config.pluginmanager.register(FdleakPlugin(config, lib), "fdleak-plugin")
