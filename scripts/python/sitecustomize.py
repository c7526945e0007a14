"""fdleak's start-up hook for Python programs (the fdleak launcher puts this directory first on
PYTHONPATH). It lets fdleak follow asyncio tasks back to the code that created them: when
asyncio.base_events is imported, BaseEventLoop.create_task is wrapped so that every new task's
coroutine is handed to libfdleak (fdleak_py_task_created, through ctypes with the GIL held),
which remembers the creating stack. A socket that a library opens in a task of its own (httpx
connecting through anyio's happy-eyeballs task group) is then attributed to the handler that
made the request, not to the event loop.

Nothing happens unless libfdleak is preloaded and FDLEAK_PYORIGIN is not 0. This directory is
taken off sys.path again, and the sitecustomize module it shadows (Debian's, a virtualenv's)
is run as if this one did not exist."""


def _fdleak_start():
    import os
    import sys

    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]

    if "libfdleak" in os.environ.get("LD_PRELOAD", "") and os.environ.get("FDLEAK_PYORIGIN", "1") != "0":
        sys.meta_path.insert(0, _AsyncioHook())

    # The sitecustomize this one shadows, if any.
    import importlib.machinery
    import importlib.util

    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", sys.path)
    if spec is not None and spec.origin != os.path.abspath(__file__):
        module = importlib.util.module_from_spec(spec)
        sys.modules["sitecustomize"] = module
        spec.loader.exec_module(module)


class _AsyncioHook:
    """A meta path finder that wraps create_task once asyncio.base_events has loaded, then
    leaves sys.meta_path."""

    def find_spec(self, name, path=None, target=None):
        if name != "asyncio.base_events":
            return None
        import importlib.machinery
        import sys

        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        if spec is not None and spec.loader is not None:
            loader = spec.loader
            run = loader.exec_module

            def exec_module(module):
                run(module)
                _wrap_create_task(module)

            loader.exec_module = exec_module
        return spec


def _wrap_create_task(base_events):
    import ctypes
    import functools

    try:
        note = ctypes.PyDLL(None).fdleak_py_task_created  # keeps the GIL across the call
    except AttributeError:
        return  # libfdleak is not in this process after all
    note.argtypes = [ctypes.py_object]
    note.restype = ctypes.c_int
    original = base_events.BaseEventLoop.create_task
    state = {"on": True}

    @functools.wraps(original)
    def create_task(self, coro, *args, **kwargs):
        if state["on"] and note(coro) < 0:
            state["on"] = False  # origins are off in libfdleak
        return original(self, coro, *args, **kwargs)

    base_events.BaseEventLoop.create_task = create_task


_fdleak_start()
del _fdleak_start
