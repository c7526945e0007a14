"""fdleak's start-up hook for Python programs (the fdleak launcher puts this directory first on
PYTHONPATH). It checks once that libfdleak reads this interpreter's frames right
(fdleak_py_selftest), has the exit report taken after the program's atexit callbacks
(fdleak_py_exiting), makes the pytest plugin pytest_fdleak importable (and names it in
PYTEST_PLUGINS where libfdleak is preloaded), and lets fdleak follow
asyncio tasks back to the code that created them: once
asyncio.base_events is imported, BaseEventLoop.create_task is wrapped so that every new task's
coroutine is handed to libfdleak (fdleak_py_task_created, through ctypes with the GIL held),
which remembers the creating stack, and forgotten again when the task is done
(fdleak_py_task_done). A socket that a library opens in a task of its own (httpx connecting
through anyio's happy-eyeballs task group) is then attributed to the handler that made the
request, not to the event loop.

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
            pass  # no ctypes, or not preloaded after all
    # The plugin stays importable whatever happens (a child pytest inherits PYTEST_PLUGINS);
    # it is named to pytest only where fdleak is preloaded.
    sys.meta_path.insert(0, _Finder(here, preloaded and os.environ.get("FDLEAK_PYORIGIN", "1") != "0"))
    plugins = [p for p in os.environ.get("PYTEST_PLUGINS", "").split(",") if p.strip()]
    if preloaded and "pytest_fdleak" not in plugins:
        os.environ["PYTEST_PLUGINS"] = ",".join(plugins + ["pytest_fdleak"])

    # The sitecustomize this one shadows, if any.
    import importlib.machinery
    import importlib.util

    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", sys.path)
    if spec is not None and spec.origin != os.path.abspath(__file__):
        module = importlib.util.module_from_spec(spec)
        sys.modules["sitecustomize"] = module
        spec.loader.exec_module(module)
        return True
    return False


def _fdleak_native():
    """Two calls into libfdleak (through ctypes.PyDLL: the GIL stays held). The self-test:
    libfdleak reads this very frame (file, line, function) from CPython's memory and checks it
    against what Python says; on a mismatch it turns its Python frames off, with one line
    naming the version (keep the call on the line after the one that reads f_lineno). And the
    exit report from the first atexit callback, which runs last: after the program's own, before
    CPython finalizes."""
    import ctypes

    lib = ctypes.PyDLL(None)
    check, exiting = lib.fdleak_py_selftest, lib.fdleak_py_exiting
    check.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    check.restype = ctypes.c_int
    exiting.argtypes, exiting.restype = [], None
    code, line = sys._getframe().f_code, sys._getframe().f_lineno + 1
    check(code.co_filename.encode("utf-8", "surrogateescape"), line, b"_fdleak_native")
    import atexit

    atexit.register(exiting)


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
            import importlib.util

            return importlib.util.spec_from_file_location(name, self.here + "/pytest_fdleak.py")
        if not self.origins or name != "asyncio.base_events":
            return None
        self.origins = False  # once
        try:
            import importlib.machinery

            spec = importlib.machinery.PathFinder.find_spec(name, path, target)
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

    original = base_events.BaseEventLoop.create_task
    lib = {}  # libfdleak's two functions, looked up at the first task (ctypes loads lazily)

    def load():
        try:
            import ctypes

            dll = ctypes.PyDLL(None)  # PyDLL: the GIL stays held across the calls
            created, done = dll.fdleak_py_task_created, dll.fdleak_py_task_done
            created.argtypes = done.argtypes = [ctypes.py_object]
            created.restype, done.restype = ctypes.c_int, None
            lib.update(created=created, done=done)
        except Exception:  # not preloaded after all, or no ctypes
            lib["off"] = True

    @functools.wraps(original)
    def create_task(self, coro, *args, **kwargs):
        if not lib:
            load()
        remembered = False
        if "off" not in lib:
            result = lib["created"](coro)
            if result < 0:
                lib["off"] = True  # task origins are off in libfdleak
            remembered = result > 0
        task = original(self, coro, *args, **kwargs)
        if remembered:
            done = lib["done"]
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
