/* fdleak.h — the public API of fdleak, the file-descriptor leak detector.
 *
 * fdleak is normally preloaded (LD_PRELOAD, or the `fdleak` launcher) into a program that knows
 * nothing about it. These calls let a program or a test runner ask it for more: whether it is
 * there, a checkpoint and what was created since and is still open, and a report now.
 *
 * A program that includes this header and is not linked against libfdleak still runs without
 * fdleak: the declarations are weak, so each function is NULL unless fdleak is preloaded. Call
 * them through the FDLEAK_CALL macro (a no-op returning 0 when fdleak is absent), or test the
 * function pointer yourself. From Python: ctypes.CDLL(None), guarded by hasattr. Building
 * libfdleak itself defines FDLEAK_BUILDING, which makes them ordinary definitions.
 */
#ifndef FDLEAK_H
#define FDLEAK_H

#ifdef __cplusplus
extern "C" {
#endif

#ifdef FDLEAK_BUILDING
#define FDLEAK_WEAK
#else
#define FDLEAK_WEAK __attribute__((weak))
#endif

/* FDLEAK_CALL(fdleak_count_since, cp): the call when fdleak is loaded, else 0. */
#define FDLEAK_CALL(fn, ...) ((fn) ? (fn)(__VA_ARGS__) : 0)

/* A moment in the run (monotonic nanoseconds, comparable with every descriptor's creation). */
typedef unsigned long long fdleak_checkpoint_t;

/* 1 when fdleak is loaded in this process. Thread-safe, async-signal-safe. */
FDLEAK_WEAK int fdleak_is_loaded(void);

/* Writes a report of what is open now (trigger "api", with label as "label" when not NULL)
 * where FDLEAK_OUTPUT says, in FDLEAK_FORMAT. Returns the number of leaked descriptors listed,
 * or -1 if no report could be built. Thread-safe; not async-signal-safe (it allocates and
 * symbolizes): do not call it from a signal handler. */
FDLEAK_WEAK long fdleak_report(const char *label);

/* Now, as a checkpoint. Thread-safe, async-signal-safe. */
FDLEAK_WEAK fdleak_checkpoint_t fdleak_checkpoint(void);

/* How many descriptors the program created after since that are still open (not counting
 * inherited ones). Thread-safe, async-signal-safe. */
FDLEAK_WEAK long fdleak_count_since(fdleak_checkpoint_t since);

/* The descriptors created after since and, unless until is 0, not after until, that are still
 * open: up to max of their numbers into fds (which may be NULL), in increasing order. Returns
 * how many there are (possibly more than max). Thread-safe, async-signal-safe. */
FDLEAK_WEAK long fdleak_list(fdleak_checkpoint_t since, fdleak_checkpoint_t until, int *fds, long max);

/* The same, with each one's creation site into sites (which may be NULL): the `site` id the
 * reports give it, stable for the process's life, 0 where none was recorded. Lets a caller
 * that sees the same sites again (a test runner, after each test) look each up once.
 * Thread-safe, async-signal-safe. */
FDLEAK_WEAK long fdleak_list_sites(fdleak_checkpoint_t since, fdleak_checkpoint_t until, int *fds,
                                   unsigned *sites, long max);

/* A report of just those descriptors and their sites (trigger "api", with label), as JSON to
 * path — or, when path is NULL, where and as FDLEAK_OUTPUT and FDLEAK_FORMAT say. Returns the
 * number of descriptors listed, or -1 if no report could be built. Thread-safe; not
 * async-signal-safe. */
FDLEAK_WEAK long fdleak_report_since(fdleak_checkpoint_t since, fdleak_checkpoint_t until, const char *label,
                                     const char *path);

/* For fdleak's Python start-up hook (scripts/python/sitecustomize.py), which calls it through
 * the built-in module _fdleak (src/api_python.c) with the GIL held as asyncio creates a task
 * for the coroutine coro: fdleak remembers the creating Python stack as the origin of whatever
 * that task opens. Returns 1 if
 * remembered, 0 if not, -1 when task origins are off (FDLEAK_PYORIGIN=0, or no CPython frame
 * layout) so the caller can stop. Programs have no need to call it. */
FDLEAK_WEAK int fdleak_py_task_created(void *coro);
/* … and as the task is done (its done callback): the origin is forgotten. */
FDLEAK_WEAK void fdleak_py_task_done(void *coro);
/* 1 if a task's origin is remembered for coro (a task built with asyncio.Task(...) directly is
 * not, until the hook sees its first step scheduled). */
FDLEAK_WEAK int fdleak_py_task_known(void *coro);
/* The other hand-offs, for the same hook and as it calls them (GIL held): obj — a Thread being
 * started (kind 2), an executor's work item being submitted (3), an event-loop callback being
 * scheduled (4) — gets the calling Python stack as its origin (1 remembered, 0 not, -1 origins
 * off); run_begin(obj), called from the hook's frame that runs it, returns a token for
 * run_end(obj, token): in between, what is created above that frame is attributed through
 * obj's origin instead of the frames below it (a thread's bootstrap, the event loop). */
FDLEAK_WEAK int fdleak_py_handoff(void *obj, int kind);
FDLEAK_WEAK int fdleak_py_run_begin(void *obj);
FDLEAK_WEAK void fdleak_py_run_end(void *obj, int token);
/* For the start-up hook too, once, GIL held: fdleak reads the caller's innermost Python frame
 * and checks it is file:line in function (qualified name). 1: it is; 0: it is not, and Python
 * frames are off for the rest of the process (one line on stderr names the version); -1:
 * Python frames were unavailable already, or the caller runs in a subinterpreter (not checked). */
FDLEAK_WEAK int fdleak_py_selftest(const char *file, int line, const char *function);
/* For the start-up hook: its first atexit callback (so the last to run) takes the exit report,
 * after the program's own atexit callbacks and before CPython finalizes; nothing when called
 * from a subinterpreter (whose atexit callbacks run when it ends). */
FDLEAK_WEAK void fdleak_py_exiting(void);

#ifdef __cplusplus
}
#endif

#endif
