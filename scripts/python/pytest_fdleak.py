"""pytest_fdleak: which test leaked which file descriptors — fdleak's pytest plugin.

Loaded automatically when the fdleak launcher runs pytest (it sets PYTEST_PLUGINS, and its
start-up hook makes this module importable), or by hand with `-p pytest_fdleak` when this
directory is on PYTHONPATH; it does nothing unless libfdleak is preloaded.

For each test: a checkpoint before setup; after teardown (and pytest's own per-test cleanup),
the descriptors created since the checkpoint that are still open once garbage is collected are
the test's leaks, each with its creating site (the Python app frame; full stacks in
--fdleak-json) — except the test framework's own (no frame of the program's code, one of
pytest's or a test plugin's: counted, not charged). What a fixture of wider scope (class,
module, package, session) creates while it is set up is charged to that fixture when its scope
ends, not to the test that happened to need it first. At the session's end every charge is
looked at again: what closed since is "closed late" (shown, not charged). Works under
pytest-xdist: each worker checks its own tests and sends the results with its reports (an
attribute of the teardown report, which xdist carries; what its session's end settles, through
workeroutput; JUnit XML gets one short `fdleak` property on a leaking test only: count and
places); the controller prints the summary. A test run more than once under one node id
(pytest-rerunfailures, --keep-duplicates) has each run's leaks apart: `NODEID [run 2]`.
Options: --fdleak-fail turns a leaking test into an error at teardown with the leak in its
report (a leaking fixture: the teardown that ends it); --fdleak-json PATH writes every result as
JSON; --fdleak-settle SECONDS bounds the wait for a hung-up connection's side that another
thread is about to close. Without --fdleak-fail no outcome changes: garbage is collected during
the run only where ResourceWarnings are ignored, and the plugin's own errors go to its summary,
never into a test.
"""

import gc
import json
import os
import select
import sys
import tempfile
import threading
import time
import warnings

import pytest


def pytest_addoption(parser):
    group = parser.getgroup("fdleak", "file-descriptor leaks (fdleak)")
    group.addoption("--fdleak-fail", action="store_true", default=False,
                    help="a test that leaks descriptors errors at teardown, with the leaks in its report")
    group.addoption("--fdleak-json", metavar="PATH", default=None,
                    help="write each test's and fixture's leaks to PATH as JSON")
    group.addoption("--fdleak-settle", metavar="SECONDS", type=float, default=0.2,
                    help="after a test, while another thread runs, wait up to this long for the "
                         "descriptors it left whose peer has hung up (a server thread's side of a "
                         "connection the client closed) to be closed; default 0.2")


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
            lib.list = dll.fdleak_list_sites
            lib.list.restype = ctypes.c_long
            lib.list.argtypes = [ctypes.c_ulonglong, ctypes.c_ulonglong, ctypes.POINTER(ctypes.c_int),
                                 ctypes.POINTER(ctypes.c_uint), ctypes.c_long]
            lib.report_since = dll.fdleak_report_since
            lib.report_since.restype = ctypes.c_long
            lib.report_since.argtypes = [ctypes.c_ulonglong, ctypes.c_ulonglong, ctypes.c_char_p, ctypes.c_char_p]
            lib.ctypes = ctypes
            lib._fds, lib._sites = (ctypes.c_int * 64)(), (ctypes.c_uint * 64)()
            return lib
        except (ImportError, AttributeError, OSError):
            return None

    def open_since(self, since, until):
        """{fd: site id} of the descriptors created in (since, until] that are still open. One
        call into the library when they fit the buffer kept for it (the usual case)."""
        while True:
            room = len(self._fds)
            n = self.list(since, until, self._fds, self._sites, room)
            if n <= room:
                return dict(zip(self._fds[:n], self._sites[:n])) if n > 0 else {}
            self._fds, self._sites = (self.ctypes.c_int * (n + 64))(), (self.ctypes.c_uint * (n + 64))()

    def describe(self, since, until, fds, label, tmpdir):
        """Records of those of fds created in (since, until], from a checkpoint report; none when
        no report could be made or read (a full table, a full disk): the caller falls back on
        what it knows (the descriptor's number and site)."""
        path = os.path.join(tmpdir, "since-%d.json" % os.getpid())
        if self.report_since(since, until, label.encode("utf-8", "replace"), path.encode()) < 0:
            return []
        try:
            with open(path, encoding="utf-8") as f:
                rep = json.load(f)
        except (OSError, ValueError):
            return []
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
            out.append({"fd": leak["fd"], "site": leak.get("site"), "kind": leak["kind"], "desc": leak["desc"],
                        "via": leak.get("via"),
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
        self.fail = config.getoption("fdleak_fail")
        self.settle = config.getoption("fdleak_settle")
        self.worker = getattr(config, "workerinput", {}).get("workerid", "")
        self.tmpdir = tempfile.mkdtemp(prefix="pytest-fdleak-")
        self.started = time.monotonic()
        self.gc_seconds = 0.0    # spent in full collections, held to FULL_GC_SHARE of the run
        self.gc_last = 0.0       # … the last of them: what the next is expected to cost
        self.sites = {}          # site id -> what a report said of it (headline, app, framework…)
        self.start = None        # the current test's checkpoint
        self.windows = []        # wide-scope fixture setups during the current test: (from, to)
        self.open_fixtures = {}  # id(fixturedef) -> (name, scope, baseid, from, to, inner windows)
        self.nesting = []        # the wide fixtures being set up, innermost last
        self.finished = []       # wide fixtures finalized, not yet checked
        self.test_leaks = {}     # nodeid -> records, for the current worker's makereport
        self.fixture_leaks = []  # records charged to fixtures, not yet attached to a report
        self.framework_held = 0  # the test framework's own, open after a test: not charged
        self.charged = []        # (from, to, windows left out, records): rechecked at the end
        self.records = 0         # records charged in this process (their ids: worker:n)
        self.results = {}        # controller: nodeid (or "nodeid [run N]") -> records
        self.runs = {}           # controller: nodeid -> teardown reports seen
        self.fixture_results = []
        self.late = {}           # controller: what closed after its test ended, by test or fixture
        self.errors = []         # what the plugin could not do (said, never raised into pytest)
        self.reports_checked = 0 # tests checked, from the reports (all workers)
        self.framework_count = 0 # the framework's descriptors seen open after tests (all workers)

    # -- checking (in the process that runs the tests) --

    def _open(self, begin, end, skip):
        """{fd: site} created in (begin, end], still open, less those of the windows in skip."""
        found = self.lib.open_since(begin, end)
        for b, e in skip if found else ():
            for fd in self.lib.open_since(b, e):
                found.pop(fd, None)
        return found

    def _left_open(self, begin, end, skip, label):
        """Records of what (begin, end] left open once everything let go of it, less the windows in
        skip and the test framework's own (counted apart). Before charging: a young collection,
        then a full one under --fdleak-fail or while full ones stay within FULL_GC_SHARE of the
        run — neither where ResourceWarnings are shown, since collecting now would take a later
        test's warning (under `filterwarnings = error`, its failure) from it; the session's end
        (_settle) collects once more and settles those. While another thread runs, up to
        --fdleak-settle seconds for those whose peer has hung up (a server thread's side of a
        connection the client closed). A site is described by a report once, when first met; a
        descriptor at a known site gets its kind and name at the session's end, or now under
        --fdleak-fail, whose error shows them. The test's own thread, with the GIL."""
        end = end or self.lib.checkpoint()  # the window ends now: a later number's reuse is not this one
        found = self._open(begin, end, skip)
        if not found:
            return []
        described = {}
        unknown = {fd for fd, site in found.items() if site not in self.sites}
        if unknown:
            described = self._describe(begin, end, unknown, label)
        own = {fd for fd, site in found.items() if not self.sites.get(site, {}).get("framework")}
        self.framework_held += len(found) - len(own)
        still = lambda: own.intersection(self._open(begin, end, skip))
        collect = own and (self.fail or _resource_warnings_ignored())
        if collect:
            _collect(full=False)
            own = still()
        if own and collect and (self.fail or self.gc_seconds + self.gc_last <= FULL_GC_SHARE * (time.monotonic() - self.started)):
            t = time.monotonic()
            _collect(full=True)
            self.gc_last = time.monotonic() - t
            self.gc_seconds += self.gc_last
            own = still()
        if own and self.settle > 0 and threading.active_count() > 1 and _hung_up(own):
            deadline = time.monotonic() + self.settle
            while time.monotonic() < deadline:
                time.sleep(0.005)
                own = still()
                if not _hung_up(own):
                    break
        if not own:
            return []
        if self.fail:
            described.update(self._describe(begin, end, own.difference(described), label))
        records = []
        for fd in sorted(own):
            r = described.get(fd) or dict(self.sites.get(found[fd]) or _UNKNOWN_SITE, fd=fd, site=found[fd])
            if r.get("framework"):
                continue
            self.records += 1
            r["id"] = "%s:%d" % (self.worker, self.records)
            records.append(r)
        self.charged.append((begin, end, skip, records))
        return records

    def _describe(self, begin, end, fds, label):
        """{fd: record} of those of fds created in (begin, end], from a report, each site's part
        kept for the next descriptor made there."""
        out = {}
        if fds:
            for r in self.lib.describe(begin, end, fds, label, self.tmpdir):
                out[r["fd"]] = r
                if r.get("site"):
                    self.sites[r["site"]] = {k: v for k, v in r.items() if k not in _PER_DESCRIPTOR}
        return out

    def _settle(self):
        """What became of the charged records, at the session's end (every test and fixture torn
        down), after one more full collection: the ids of those whose descriptor has closed
        since (closed late: shown, not charged), and for the rest still without a kind and name,
        those from one report. ([ids], {id: {kind, desc, via}})."""
        if not self.charged:
            return [], {}
        _collect(full=True)
        late, need = [], {}
        for begin, end, skip, records in self.charged:
            now = self._open(begin, end, skip)
            for r in records:
                if now.get(r["fd"]) != (r.get("site") or 0):
                    late.append(r["id"])
                elif "kind" not in r:
                    need[r["fd"]] = r
        described = {}
        if need:
            since = min(begin for begin, _, _, _ in self.charged)
            for fd, d in self._describe(since, 0, set(need), "pytest session end").items():
                if d.get("site") == need[fd].get("site"):
                    described[need[fd]["id"]] = {k: d[k] for k in ("kind", "desc", "via") if k in d}
        self.charged = []
        return late, described

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item):
        self.start = self.lib.checkpoint()
        self.windows = []
        yield
        self._guarded(item.nodeid, self._check_fixtures)  # a setup may finalize the fixtures it replaces

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
        if entry is not None:  # else function scope, or already seen (pytest may call this twice)
            self.finished.append(entry)  # checked once pytest has dropped its value too

    def _check_fixtures(self):
        """The wide fixtures finalized since the last look, each charged with what its setup
        left open — looked at when the phase that finalized them is over, after pytest has let
        go of the fixture's value (it drops it after this hook), so a value that its finalizer
        closes then is not a leak, as a test's garbage is not."""
        finished, self.finished = self.finished, []
        for name, scope, baseid, begin, end, inner in finished:
            where = "%s (%s scope%s)" % (name, scope, ", " + baseid if baseid else "")
            for r in self._left_open(begin, end, inner, "fixture " + where):
                r["fixture"] = where
                self.fixture_leaks.append(r)

    # tryfirst: the outermost wrapper, so the test is checked after pytest's own teardown work
    # — the logging plugin lets go of the test's log records (a logged exception's traceback
    # holds the frames that hold its sockets) after its teardown wrapper's yield.
    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self, item, nextitem):
        yield
        self._guarded(item.nodeid, self._check_fixtures)
        if self.start is None:
            return
        records = self._guarded(item.nodeid, self._left_open, self.start, 0, self.windows, item.nodeid)
        if records:
            self.test_leaks[item.nodeid] = records
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
            if self.fail and report.outcome == "passed":
                report.outcome = "failed"
                report.longrepr = "fdleak: this test leaked %d file descriptor%s:\n%s" % (
                    len(leaks), "" if len(leaks) == 1 else "s", "\n".join(_line(r) for r in leaks))
        if self.framework_held:
            data["framework"] = self.framework_held
            self.framework_held = 0
        if self.errors and hasattr(self.config, "workerinput"):
            data["errors"], self.errors = self.errors, []
        if self.fixture_leaks:
            data["fixtures"] = self.fixture_leaks
            report.user_properties.append(("fdleak_fixture", _short(self.fixture_leaks, fixture=True)))
            if self.fail and report.outcome == "passed":
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
        if data.get("errors") and not hasattr(self.config, "workerinput"):
            self.errors.extend(data["errors"])

    def _settled(self, late, described):
        """The session's end in the process that ran the tests (_settle): the records with ids in
        late move from the charged to the closed late, the others get their kind and name."""
        late = set(late)
        for records in list(self.results.values()) + [self.fixture_results]:
            for r in records:
                r.update(described.get(r.get("id"), ()))
        for key in list(self.results):
            gone = [r for r in self.results[key] if r.get("id") in late]
            if gone:
                self.late.setdefault(key, []).extend(gone)
                self.results[key] = [r for r in self.results[key] if r.get("id") not in late]
                if not self.results[key]:
                    del self.results[key]
        for r in self.fixture_results:
            if r.get("id") in late:
                self.late.setdefault("fixture " + r["fixture"], []).append(r)
        self.fixture_results = [r for r in self.fixture_results if r.get("id") not in late]

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error):
        """xdist's controller: a worker's last word (its session's end)."""
        out = getattr(node, "workeroutput", None) or {}
        self.fixture_results.extend(out.get("fdleak_fixtures", ()))
        self.errors.extend(out.get("fdleak_errors", ()))
        self._settled(out.get("fdleak_late", ()), out.get("fdleak_described", {}))

    # trylast: the innermost wrapper, so this runs after pytest has torn down what a run stopped
    # by -x or --maxfail left set up, and before xdist's worker sends its workeroutput (in its
    # own wrapper's end) and the terminal summary (in the terminal reporter's).
    @pytest.hookimpl(hookwrapper=True, trylast=True)
    def pytest_sessionfinish(self, session, exitstatus):
        yield
        self._guarded("the session's end", self._check_fixtures)
        # Fixtures torn down here have no report to ride on.
        leftover, self.fixture_leaks = self.fixture_leaks, []
        late, described = self._guarded("the session's end", self._settle) or ([], {})
        if hasattr(self.config, "workerinput"):
            self.config.workeroutput.update(fdleak_fixtures=leftover, fdleak_late=late, fdleak_described=described,
                                            fdleak_errors=self.errors)
            return
        self.fixture_results.extend(leftover)
        self._settled(late, described)
        path = self.config.getoption("fdleak_json")
        if path:
            with open(path, "w", encoding="utf-8") as f:
                json.dump({"fdleak_pytest": 2, "tests": self.results, "fixtures": self.fixture_results,
                           "closed_late": self.late, "framework": self.framework_count,
                           "errors": self.errors}, f, indent=1)

    def _guarded(self, what, fn, *args):
        """fn(*args), or None when it raised: said in the summary (JSON `errors`), never raised
        into pytest, where it would error the test."""
        try:
            return fn(*args)
        except Exception as e:  # noqa: BLE001 — whatever it is, it is the plugin's, not the test's
            self.errors.append("%s: %s: %s" % (what, type(e).__name__, e))
            return None

    def pytest_terminal_summary(self, terminalreporter):
        tr = terminalreporter
        tr.section("fdleak")
        for e in self.errors[:LATE_SHOWN]:
            tr.write_line("fdleak: the plugin could not check %s" % e)
        if len(self.errors) > LATE_SHOWN:
            tr.write_line("fdleak: and %d more it could not check" % (len(self.errors) - LATE_SHOWN))
        if not self.results and not self.fixture_results:
            tr.write_line("no test or fixture leaked a file descriptor (%d tests checked)" % self.reports_checked)
        if self.framework_count:
            tr.write_line("not charged: %d descriptor%s the test framework held open after tests (pytest's or a "
                          "plugin's own, e.g. pytest-asyncio's loop between tests)"
                          % (self.framework_count, "" if self.framework_count == 1 else "s"))
        if self.late:
            n = sum(len(v) for v in self.late.values())
            tr.write_line("not charged: %d descriptor%s closed late — open when %s test or fixture ended, closed "
                          "before the session did (a server thread's side of a connection, a collection, a wider "
                          "fixture's teardown):" % (n, "" if n == 1 else "s", "its" if n == 1 else "their"))
            shown = [(who, r) for who, recs in sorted(self.late.items()) for r in recs]
            for who, r in shown[:LATE_SHOWN]:
                tr.write_line("    %s: %s" % (who, _line(r)))
            if len(shown) > LATE_SHOWN:
                tr.write_line("    and %d more (--fdleak-json has them all)" % (len(shown) - LATE_SHOWN))
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


# What a report says of one descriptor rather than of its site.
_PER_DESCRIPTOR = ("fd", "site", "kind", "desc", "via", "id")
# A site no report described (a report that could not be made).
_UNKNOWN_SITE = {"headline": "an unknown site", "key": None, "app": None, "framework": False, "python": [],
                 "native": []}

# Full collections (a whole heap's walk: 35 ms in a 1,000-test session) while they stay within
# this share of the run's time; beyond it a test's candidates wait for the one at the end.
FULL_GC_SHARE = 0.01
LATE_SHOWN = 10


def _collect(full):
    """The collector's run — the young generations only unless full, which walks the whole heap
    — with the failed test's traceback dropped first (it holds the test's locals), where pytest
    cannot turn what it frees into a failure: inside the test's protocol pytest's warning
    filters apply (with `filterwarnings = error`, a socket's ResourceWarning from its finalizer
    would error the test — a socket the collector would otherwise have closed at some other
    time). Meanwhile ResourceWarnings are ignored, as Python does by default, and a finalizer's
    exception goes to Python's own unraisable hook (printed, as outside pytest). Not thread-safe,
    as the warnings filters are not: another thread's warnings in those few milliseconds see the
    same filters."""
    hook = sys.unraisablehook
    sys.unraisablehook = sys.__unraisablehook__
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            for name in ("last_type", "last_value", "last_traceback", "last_exc"):
                if hasattr(sys, name):
                    setattr(sys, name, None)
            gc.collect() if full else gc.collect(1)
    finally:
        sys.unraisablehook = hook


def _resource_warnings_ignored():
    """Whether a ResourceWarning raised now would be ignored (Python's default, and pytest's
    unless a filter shows it): the first filter that can match one ignores every one. A filter
    for some messages or modules only is looked past, as a warning it does not match would be."""
    for action, message, category, module, lineno in warnings.filters:
        if not issubclass(ResourceWarning, category):
            continue
        if action != "ignore":
            return False
        if message is None and module is None and not lineno:
            return True
    return False


def _hung_up(fds):
    """Those of fds whose peer has hung up (a connection the other side closed, a pipe whose
    writers are gone): what a thread reading them is about to close. A poll with no timeout and
    no descriptor of its own."""
    p = select.poll()
    for fd in fds:
        p.register(fd, select.POLLRDHUP)  # POLLHUP is always reported
    return {fd for fd, ev in p.poll(0) if ev & (select.POLLRDHUP | select.POLLHUP) and not ev & select.POLLNVAL}


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
    if "kind" not in r:  # closed before the session's end gave it a name
        return "fd %s, at %s" % (r["fd"], r["headline"])
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
