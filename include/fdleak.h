/* fdleak.h — the public API of fdleak, the file-descriptor leak detector.
 *
 * fdleak is normally preloaded (LD_PRELOAD, or the `fdleak` launcher) into a program that knows
 * nothing about it. These calls let a program or a test runner ask it for more: whether it is
 * there, and a report now rather than at exit.
 *
 * To keep a program runnable without fdleak, do not link against libfdleak: look the symbols
 * up at run time (dlsym(RTLD_DEFAULT, "fdleak_report")) or declare them weak, and call them
 * only when they resolve. From Python: ctypes.CDLL(None).fdleak_report, guarded by hasattr.
 */
#ifndef FDLEAK_H
#define FDLEAK_H

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when fdleak is loaded in this process. Thread-safe, async-signal-safe. */
int fdleak_is_loaded(void);

/* Writes a report of what is open now (trigger "api", with label as "label" when not NULL)
 * where FDLEAK_OUTPUT says, in FDLEAK_FORMAT. Returns the number of leaked descriptors listed,
 * or -1 if no report could be built. Thread-safe; not async-signal-safe (it allocates and
 * symbolizes): do not call it from a signal handler. */
long fdleak_report(const char *label);

/* For fdleak's Python start-up hook (scripts/python/sitecustomize.py), which calls it through
 * ctypes.PyDLL with the GIL held as asyncio creates a task for the coroutine coro: fdleak
 * remembers the creating Python stack as the origin of whatever that task opens. Returns 1 if
 * remembered, 0 if not, -1 when task origins are off (FDLEAK_PYORIGIN=0, or no CPython frame
 * layout) so the caller can stop. Programs have no need to call it. */
int fdleak_py_task_created(void *coro);
/* … and as the task is done (its done callback): the origin is forgotten. */
void fdleak_py_task_done(void *coro);

#ifdef __cplusplus
}
#endif

#endif
