/* capture_python.h — the calling thread's Python stack, read straight from CPython's frame
 * structures without the GIL and without running Python, as key words for a site; turned into
 * file/line/function text once, when the site is first seen. */
#ifndef FDL_CAPTURE_PYTHON_H
#define FDL_CAPTURE_PYTHON_H

#include <stdbool.h>
#include <stdint.h>

struct fdl_site;

/* A Python stack's key: three words per frame — (code object, a hash of its file, name and
 * line table, its first line and the byte offset of its current instruction) for the thread's
 * own frames; a last entry (site | 2, 0, 0) stands for the frames that created the running
 * asyncio task (see fdl_py_task_created). */
#define FDL_PY_WORDS 3

struct fdl_pyframe {
    const char *file, *function; /* never NULL ("?" when unreadable) */
    int line;                    /* 0: unknown */
    uint8_t level;               /* 0: the thread's own stack; 1: where the running asyncio
                                    task was created; 2: where its creator's task was … */
};

struct fdl_pystack {
    uint16_t n;   /* frames, innermost first: the thread's, then the task's origin */
    uint16_t app; /* the app frame: innermost outside the standard library and
                     site-/dist-packages; the innermost frame when there is none */
    struct fdl_pyframe f[];
};

/* Finds CPython in the process (the executable or a loaded libpython exporting its C API),
 * checks the version has a known layout (3.11; otherwise says once that Python frames are
 * unavailable). Call once at start-up with the thread marked busy; not async-signal-safe
 * (dlsym). */
void fdl_py_init(void);

/* "cpython 3.11.2" when the process is a CPython interpreter, else NULL. */
const char *fdl_py_runtime(void);

/* The calling thread's Python stack, as a site of its own (Python key words only; its text in
 * site->py, made on first sight), for the creation site's key; NULL when there are no frames
 * (not a Python thread, the interpreter not initialised, frames off). *late: no frames because
 * the interpreter is finalizing or done (a daemon thread's state may be freed under it then) —
 * what this thread creates now is shutdown noise. Reads only this thread's own frames, holding
 * CPython's thread-state list lock (waited for briefly, never indefinitely) so that
 * finalization cannot free them meanwhile; no GIL, no Python objects, no Python code.
 * Thread-safe, async-signal-safe, fork-safe; must not run in a vfork child. */
struct fdl_site *fdl_py_capture(bool *late);

/* asyncio is creating a task for coro (the Python start-up hook's create_task wrapper calls
 * this with the GIL held): remembers the creating stack as the origin of whatever that task
 * opens. Returns 1 if remembered, 0 if not (not a coroutine, no Python frames), -1 when
 * origins are off (FDLEAK_PYORIGIN=0, or no frame layout): the hook stops calling. */
int fdl_py_task_created(void *coro);

/* The task for coro is done: its origin is forgotten (the hook's done callback, GIL held). */
void fdl_py_task_done(void *coro);

/* True while the interpreter finalizes (after atexit callbacks, as module teardown starts
 * closing whatever the program left open) and the calling thread is the one finalizing it.
 * Lock-free reads; safe anywhere. */
bool fdl_py_finalizing_here(void);

/* Whether a Python source file belongs to the standard library or an installed package (not
 * the app): frozen modules, …/lib/pythonX.Y/…, …/site-packages/…, …/dist-packages/…. */
bool fdl_py_library_file(const char *file);

/* Where CPython keeps what we read. Offsets for 3.11 on LP64 (x86-64, aarch64); the unit test
 * test_pylayout checks every one against the installed CPython headers. Another version needs
 * its own table (3.12 and 3.13 moved the frame chain) and is reported as unavailable. */
struct fdl_py_layout {
    unsigned ob_type, var_size;
    unsigned ts_cframe;
    unsigned cf_current;
    unsigned fr_code, fr_previous, fr_prev_instr, fr_owner;
    unsigned co_filename, co_qualname, co_linetable, co_firstlineno, co_firsttraceable, co_code;
    unsigned bytes_data;
    unsigned gen_iframe;
    unsigned str_length, str_state, str_ascii_data, str_compact_data;
    unsigned rt_finalizing; /* _PyRuntime._finalizing: the finalizing thread's state */
    unsigned rt_mutex;      /* _PyRuntime.interpreters.mutex: guards the list of thread states */
    unsigned rt_head;       /* _PyRuntime.interpreters.head: NULL once finalization is over */
    int owned_by_generator;
};

/* The 3.11 table (for the layout test). */
const struct fdl_py_layout *fdl_py_layout_311(void);

#endif
