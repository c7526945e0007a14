"""fdleak's start-up hook for Python programs (the fdleak launcher puts this directory first on
PYTHONPATH). It checks once that libfdleak reads this interpreter's frames right (the
self-test), has the exit report taken after the program's atexit callbacks, makes the pytest
plugin pytest_fdleak importable (and names it in PYTEST_PLUGINS where libfdleak is preloaded),
and lets fdleak follow asyncio tasks back to the code that created them: once
asyncio.base_events is imported, BaseEventLoop.create_task is wrapped so that every new task's
coroutine is handed to libfdleak, which remembers the creating stack, and forgotten again when
the task is done. libfdleak is reached through _fdleak, a built-in module the preloaded library
registers before CPython starts (its calls run with the GIL held). A socket that a library
opens in a task of its own (httpx connecting through anyio's happy-eyeballs task group) is then
attributed to the handler that made the request, not to the event loop.

The hook stays out of the program's way: it follows tasks only when a library is preloaded
and FDLEAK_PYORIGIN is not 0, takes this directory off sys.path again, runs the sitecustomize it
shadows (Debian's, a virtualenv's) as if this one did not exist, and no error of its own ever
reaches the program. Written for Python 3; Python 2 (which also reads PYTHONPATH) is left
alone."""

import sys


def _fdleak_start():
    import os

    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    preloaded = bool(os.environ.get("LD_PRELOAD"))
    if preloaded:
        try:
            _fdleak_native()
        except Exception:
            pass  # no _fdleak: not libfdleak that is preloaded, or a build it cannot serve
    # The plugin stays importable whatever happens (a child pytest inherits PYTEST_PLUGINS);
    # it is named to pytest only where fdleak is preloaded.
    sys.meta_path.insert(0, _Finder(here, preloaded and os.environ.get("FDLEAK_PYORIGIN", "1") != "0"))
    plugins = [p for p in os.environ.get("PYTEST_PLUGINS", "").split(",") if p.strip()]
    if preloaded and "pytest_fdleak" not in plugins:
        os.environ["PYTEST_PLUGINS"] = ",".join(plugins + ["pytest_fdleak"])

    # The sitecustomize this one shadows, if any.
    machinery = _machinery()
    spec = machinery.PathFinder.find_spec("sitecustomize", sys.path)
    if spec is not None and spec.origin != os.path.abspath(__file__):
        module = machinery.module_from_spec(spec)
        sys.modules["sitecustomize"] = module
        spec.loader.exec_module(module)
        return True
    return False


class _machinery:
    """The import machinery's PathFinder, module_from_spec and spec_from_file_location as CPython
    has them loaded already (importlib._bootstrap and _bootstrap_external, frozen): importing
    importlib.util for them would import warnings, types and importlib._abc into every program
    at start-up (about 1 ms and 5 million instructions)."""

    def __init__(self):
        try:
            import _frozen_importlib as bootstrap
            import _frozen_importlib_external as external

            self.PathFinder = external.PathFinder
            self.module_from_spec = bootstrap.module_from_spec
            self.spec_from_file_location = external.spec_from_file_location
        except (ImportError, AttributeError):
            import importlib.machinery
            import importlib.util

            self.PathFinder = importlib.machinery.PathFinder
            self.module_from_spec = importlib.util.module_from_spec
            self.spec_from_file_location = importlib.util.spec_from_file_location


def _fdleak_native():
    """Two calls into libfdleak, through its built-in module _fdleak (registered by the
    preloaded library before CPython starts; absent when it is not preloaded or the build is
    one fdleak cannot serve). The self-test: libfdleak reads this very frame (file, line,
    function) from CPython's memory and checks it against what Python says; on a mismatch it
    turns its Python frames off, with one line naming the version (keep the call on the line
    after the one that reads f_lineno). And the exit report from the first atexit callback,
    which runs last: after the program's own, before CPython finalizes."""
    import _fdleak

    code, line = sys._getframe().f_code, sys._getframe().f_lineno + 1
    _fdleak.selftest(code.co_filename.encode("utf-8", "surrogateescape"), line, b"_fdleak_native")
    import atexit

    atexit.register(_fdleak_exiting, _fdleak.exiting)


def _fdleak_exiting(report):
    """The last atexit callback: the exit report, and before it (CPython 3.10-3.13) a switch
    interval of an hour. A daemon thread waiting for the GIL wakes every interval to ask for
    it, and once finalization has freed the interpreter that wake-up reads freed memory (a
    crash, depending on the heap's layout — fdleak's own allocations change it). With the long
    interval such a thread sleeps until the process exits; it could not run Python any more
    anyway (finalization ends a daemon thread when it takes the GIL), and the report, taken
    while the main thread holds the GIL, lets every waiting thread's current short wait run
    out first."""
    if sys.version_info < (3, 14):
        sys.setswitchinterval(3600.0)
    report()


class _Finder:
    """A meta path finder that (1) wraps create_task once asyncio.base_events has loaded, and
    (2) serves the pytest plugin pytest_fdleak from this directory (which is no longer on
    sys.path). It stays in sys.meta_path: removing it while another thread walks the list
    would make that thread skip a finder."""

    def __init__(self, here, origins):
        self.here = here
        self.origins = origins

    def find_spec(self, name, path=None, target=None):
        if name == "pytest_fdleak":
            return _machinery().spec_from_file_location(name, self.here + "/pytest_fdleak.py")
        if not self.origins or name != "asyncio.base_events":
            return None
        self.origins = False  # once
        try:
            spec = _machinery().PathFinder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _WrapAfterExec(spec.loader)
            return spec
        except Exception:
            return None  # let the normal finders do it


class _WrapAfterExec:
    """asyncio.base_events' own loader (possibly a zipimporter shared with other modules),
    with create_task wrapped after the module has run."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        try:
            _wrap_create_task(module)
        except Exception:
            pass

    def __getattr__(self, name):
        return getattr(self.loader, name)


def _wrap_create_task(base_events):
    import functools

    import _fdleak

    original = base_events.BaseEventLoop.create_task
    created, done = _fdleak.task_created, _fdleak.task_done
    off = []  # task origins are off in libfdleak (it said -1 once)

    @functools.wraps(original)
    def create_task(self, coro, *args, **kwargs):
        remembered = False
        if not off:
            result = created(coro)
            if result < 0:
                off.append(True)
            remembered = result > 0
        task = original(self, coro, *args, **kwargs)
        if remembered:
            task.add_done_callback(lambda _task: done(coro))
        return task

    base_events.BaseEventLoop.create_task = create_task


if sys.version_info >= (3, 4):
    try:
        _shadowed = _fdleak_start()
    except Exception:
        _shadowed = True
    del _fdleak_start
    if not _shadowed:
        # No sitecustomize of the program's own: leave none behind in sys.modules either
        # (site ignores an ImportError for the name sitecustomize).
        raise ImportError("fdleak's start-up hook is done", name="sitecustomize")
