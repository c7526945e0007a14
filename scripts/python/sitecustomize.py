"""fdleak's start-up hook for Python programs (the fdleak launcher puts this directory first on
PYTHONPATH). It checks once that libfdleak reads this interpreter's frames right (the
self-test), has the exit report taken after the program's atexit callbacks, makes the pytest
plugin pytest_fdleak importable (and names it in PYTEST_PLUGINS where libfdleak is preloaded),
and lets fdleak follow work handed off to other code back to the code that handed it off: as
each module loads (or at once, if it is loaded already) it wraps, at the class level,
asyncio's BaseEventLoop.create_task and uvloop's Loop.create_task (every new task's coroutine
is handed to libfdleak, which remembers the creating stack until the task is done), and
threading.Thread.start, concurrent.futures' work items (submit, map, run_in_executor,
to_thread) and asyncio's Handle (call_soon, call_later, call_at, call_soon_threadsafe; a task
built with asyncio.Task(...) directly gets its first step's origin): the stack that starts,
submits or schedules is remembered, and while the thread, work item or callback runs, what it
creates is attributed through that stack instead of the frames below it (a thread's
bootstrap, the event loop). libfdleak is reached through _fdleak, a built-in module the
preloaded library registers before CPython starts (its calls run with the GIL held). A socket
that a library opens in a task, thread or callback of its own (httpx connecting through anyio's
happy-eyeballs task group, urlopen in an executor) is then attributed to the program's line
that made the request, not to the event loop or the worker thread.

The hook stays out of the program's way: it follows hand-offs only when a library is preloaded
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
    """A meta path finder that (1) wraps what hands work off once each module that defines it
    has loaded (_WRAPS), and (2) serves the pytest plugin pytest_fdleak from this directory
    (which is no longer on sys.path). It stays in sys.meta_path: removing it while another
    thread walks the list would make that thread skip a finder."""

    def __init__(self, here, origins):
        self.here = here
        self.pending = dict(_WRAPS) if origins else {}
        for name in list(self.pending):  # loaded before this hook ran: wrapped now
            module = sys.modules.get(name)
            if module is not None:
                _wrap(self.pending.pop(name), module)

    def find_spec(self, name, path=None, target=None):
        if name == "pytest_fdleak":
            return _machinery().spec_from_file_location(name, self.here + "/pytest_fdleak.py")
        wrap = self.pending.pop(name, None)  # once
        if wrap is None:
            return None
        try:
            spec = _machinery().PathFinder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _WrapAfterExec(spec.loader, wrap)
            return spec
        except Exception:
            return None  # let the normal finders do it


class _WrapAfterExec:
    """A module's own loader (possibly a zipimporter shared with other modules), with the
    module's hand-offs wrapped after it has run."""

    def __init__(self, loader, wrap):
        self.loader = loader
        self.wrap = wrap

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        _wrap(self.wrap, module)

    def __getattr__(self, name):
        return getattr(self.loader, name)


def _wrap(wrap, module):
    try:
        wrap(module)
    except Exception:
        pass


# enum fdl_origin (src/capture_python.h)
_THREAD, _WORK, _CALLBACK = 2, 3, 4


def _task_wrapper(original):
    """create_task wrapped: the coroutine handed to libfdleak first, forgotten when done."""
    import functools

    import _fdleak

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

    return create_task


def _wrap_base_events(base_events):
    base_events.BaseEventLoop.create_task = _task_wrapper(base_events.BaseEventLoop.create_task)


def _wrap_uvloop(uvloop):
    # uvloop.Loop is a Python subclass of the Cython loop: its create_task can be replaced
    uvloop.Loop.create_task = _task_wrapper(uvloop.Loop.create_task)


def _run_wrapper(run):
    """A method that runs handed-off work (obj is self; it takes no other argument, as
    Thread._bootstrap_inner, _WorkItem.run and Handle._run do): what it creates goes back
    through the origin its hand-off gave it."""
    import functools

    import _fdleak

    begin, end = _fdleak.run_begin, _fdleak.run_end

    @functools.wraps(run)
    def run_handed_off(self):
        token = begin(self)
        if token < 0:
            return run(self)
        try:
            return run(self)
        finally:
            end(self, token)

    return run_handed_off


def _wrap_threading(threading):
    import functools

    import _fdleak

    handoff, Thread = _fdleak.handoff, threading.Thread
    start = Thread.start

    @functools.wraps(start)
    def start_thread(self, *args, **kwargs):
        handoff(self, _THREAD)
        return start(self, *args, **kwargs)

    Thread.start = start_thread
    Thread._bootstrap_inner = _run_wrapper(Thread._bootstrap_inner)


def _wrap_executor(thread):
    import functools

    import _fdleak

    handoff, WorkItem = _fdleak.handoff, thread._WorkItem
    init = WorkItem.__init__

    @functools.wraps(init)
    def work_item(self, *args, **kwargs):
        init(self, *args, **kwargs)
        handoff(self, _WORK)

    WorkItem.__init__ = work_item
    WorkItem.run = _run_wrapper(WorkItem.run)


def _wrap_events(events):
    import functools

    import _fdleak

    handoff, known, created, done = _fdleak.handoff, _fdleak.task_known, _fdleak.task_created, _fdleak.task_done
    Handle = events.Handle
    init = Handle.__init__
    futures = [None]  # (asyncio's Future types,) once asyncio.futures is loaded (by the first handle)

    @functools.wraps(init)
    def handle(self, callback, args, loop, context=None):  # Handle.__init__'s, 3.10–3.13
        init(self, callback, args, loop, context)
        types = futures[0]
        if types is None:
            types = futures[0] = _future_types()
        owner = getattr(callback, "__self__", None)
        if owner is not None and isinstance(owner, types):
            # a task's step or a future's wakeup: the task's own origin covers it; a task
            # built directly (asyncio.Task(...)) gets the stack that schedules its first step
            get_coro = getattr(owner, "get_coro", None)
            coro = get_coro() if get_coro is not None else None
            if coro is not None and not known(coro) and created(coro) > 0:
                owner.add_done_callback(lambda _task: done(coro))
            return
        handoff(self, _CALLBACK)

    cancel, forget = Handle.cancel, _fdleak.run_end

    @functools.wraps(cancel)
    def cancel_handle(self, *args, **kwargs):
        # a cancelled callback never runs: its origin goes now, so that a handle made later at
        # the same address (a task's step, which registers none) cannot find it
        forget(self, -1)
        return cancel(self, *args, **kwargs)

    Handle.__init__ = handle
    Handle._run = _run_wrapper(Handle._run)
    Handle.cancel = cancel_handle


def _future_types():
    futures = sys.modules.get("asyncio.futures")
    if futures is None:
        return ()
    return tuple(t for t in {futures.Future, getattr(futures, "_CFuture", None), getattr(futures, "_PyFuture", None)} if t)


_WRAPS = {
    "asyncio.base_events": _wrap_base_events,
    "asyncio.events": _wrap_events,
    "uvloop": _wrap_uvloop,
    "threading": _wrap_threading,
    "concurrent.futures.thread": _wrap_executor,
}


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
