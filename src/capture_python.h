/* capture_python.h — the calling thread's Python stack, read straight from CPython's frame
 * structures without the GIL and without running Python, interned in a table of its own (one
 * key word of a creation site); turned into file/line/function text once, when first seen. */
#ifndef FDL_CAPTURE_PYTHON_H
#define FDL_CAPTURE_PYTHON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A Python stack's key: three words per frame — (code object, a hash of its file, name and
 * line table, its first line and its current line) for the thread's own frames: the line, not
 * the instruction, so a line is one site however CPython has specialized it by now; a last
 * entry (origin | 2, kind, 0) stands for the frames that handed the running work to this
 * thread: its origin's interned stack (see fdl_py_task_created, fdl_py_handoff). */
#define FDL_PY_WORDS 3

/* How work reached the frames above an origin: the text and JSON name each link. */
enum fdl_origin {
    FDL_ORIGIN_NONE,
    FDL_ORIGIN_TASK,     /* an asyncio task, created there */
    FDL_ORIGIN_THREAD,   /* a thread, started there (threading.Thread.start) */
    FDL_ORIGIN_WORK,     /* work submitted to an executor there (submit, map, run_in_executor) */
    FDL_ORIGIN_CALLBACK, /* a callback scheduled there (call_soon, call_later, call_at …) */
    FDL_ORIGIN_LISTENER, /* a connection accepted on a listener created there */
    FDL_ORIGIN_KINDS
};
/* "task", "thread", "work", "callback", "listener" (JSON); the text's "in a task created" … */
const char *fdl_py_origin_name(unsigned kind);
const char *fdl_py_origin_text(unsigned kind);

struct fdl_pyframe {
    const char *file, *function; /* never NULL ("?" when unreadable) */
    int line;                    /* 0: unknown */
    uint8_t level;               /* 0: the thread's own stack; 1: where the running work was
                                    handed off (a task created, a thread started …); 2: where
                                    its own was … */
    uint8_t kind;                /* level > 0: how (enum fdl_origin) */
};

struct fdl_pystack {
    uint16_t n;   /* frames, innermost first: the thread's, then the task's origin */
    uint16_t app; /* the app frame: innermost outside the standard library and
                     site-/dist-packages; the innermost frame when there is none … */
    bool own;     /* … and then false: no frame of the program's code */
    struct fdl_pyframe f[];
};

/* Finds CPython in the process (the executable or a loaded libpython exporting its C API)
 * and its frame layout (3.10–3.13, 3.14 from CPython's sources; otherwise, and for debug builds
 * before 3.13 and free-threaded builds, says once that Python frames are unavailable). Call
 * once at start-up (lifecycle.c) with the thread marked busy; not async-signal-safe (dlsym). */
void fdl_py_init(void);

/* "cpython 3.11.2" when the process is a CPython interpreter, else NULL. */
const char *fdl_py_runtime(void);

/* An interned Python stack (its key words, in a table of its own, never freed): the identity
 * a creation site's key holds for its Python frames. Its text: made on first sight, NULL if
 * that failed (out of memory). Lock-free; async-signal-safe. */
struct fdl_pykey;
struct fdl_pystack *fdl_pykey_text(const struct fdl_pykey *k);

/* The calling thread's Python stack, interned (its text made on first sight), for the creation
 * site's key; NULL when there are no frames (not a Python thread, the interpreter not
 * initialised, frames off, the table full: said once). *late: no frames because
 * the interpreter is finalizing or done (a daemon thread's state may be freed under it then) —
 * what this thread creates now is shutdown noise. tail (may be NULL): an interned stack that
 * ends the key as an origin of kind listener (an accepted connection's listener). Reads only this thread's own frames, holding
 * CPython's thread-state list lock (waited for briefly, never indefinitely) so that
 * finalization cannot free them meanwhile; no GIL, no Python objects, no Python code.
 * Thread-safe, async-signal-safe, fork-safe; must not run in a vfork child. */
struct fdl_pykey *fdl_py_capture(bool *late, const struct fdl_pykey *tail);

/* asyncio is creating a task for coro (the Python start-up hook's create_task wrapper calls
 * this with the GIL held): remembers the creating stack as the origin of whatever that task
 * opens. Returns 1 if remembered, 0 if not (not a coroutine, no Python frames), -1 when
 * origins are off (FDLEAK_PYORIGIN=0, or no frame layout): the hook stops calling. */
int fdl_py_task_created(void *coro);

/* The task for coro is done: its origin is forgotten (the hook's done callback, GIL held). */
void fdl_py_task_done(void *coro);
/* Whether a task's origin is remembered for coro (a task asyncio.Task(...) built directly is
 * not: the hook hands it its first step's origin instead). GIL held. */
int fdl_py_task_known(void *coro);

/* Other hand-offs (the start-up hook's wrappers, GIL held): work obj — a thread, an executor's
 * work item, an event-loop callback — is handed to other code to run later, perhaps on another
 * thread. handoff remembers the calling stack (less the hook's frame) as its origin, kind an
 * enum fdl_origin; returns 1, 0 (no frames) or -1 (origins off). run_begin: obj starts to
 * run in the hook's frame that calls it; until the matching run_end (given what run_begin
 * returned) what is created above that frame has obj's origin in place of the frames below
 * it. run_end also forgets obj. Same table as tasks' (set-associative, told apart by type). */
int fdl_py_handoff(void *obj, int kind);
int fdl_py_run_begin(void *obj);
void fdl_py_run_end(void *obj, int token);

/* True while the interpreter finalizes (after atexit callbacks, as module teardown starts
 * closing whatever the program left open) and the calling thread is the one finalizing it.
 * Lock-free reads; safe anywhere. */
bool fdl_py_finalizing_here(void);

/* A thread that ran Python comes back from a wrapped call (or enters a release) while another
 * thread finalizes the interpreter: up to 3.13 its thread state may already be freed, and
 * CPython's own return path (PyEval_RestoreThread) would read it — a use-after-free that
 * crashes 3.10 and 3.12 now and then (seen with MALLOC_PERTURB_), and more often when fdleak's
 * wrapper kept the thread out longer. Such a thread never runs Python again (CPython ends it
 * when it takes the GIL); this parks it instead, as 3.14 itself does, until the process exits.
 * Never the main thread or the one that called exit(). Returns at once in every other case.
 * Thread-safe; not for signal handlers' own calls. */
void fdl_py_park_if_doomed(void);

/* exit() has begun (the exit trigger's first atexit handler): from now on such a thread is
 * parked even after finalization is over — the interpreter is gone, and nothing of the process
 * carries on. Async-signal-safe. */
void fdl_py_exit_begins(void);

/* Whether a Python source file belongs to the standard library or an installed package (not
 * the app): frozen modules, …/lib/pythonX.Y/…, …/site-packages/…, …/dist-packages/…. */
bool fdl_py_library_file(const char *file);

/* Whether the calling thread runs the main interpreter, not a subinterpreter (true when it
 * does not hold the GIL: nothing to ask then). Thread-safe; not async-signal-safe. */
bool fdl_py_main_interpreter(void);

/* Python start-up self-test (the start-up hook calls it once per interpreter, GIL held): the
 * innermost Python frame of the caller must be file:line in function (a qualified name). 1: it
 * is; 0: it is not, and Python frames are off from now on (said once, naming the version); -1:
 * Python frames were off already, or the caller runs in a subinterpreter (walks read the main
 * interpreter's frames: not checked). Thread-safe; not async-signal-safe (it may print). */
int fdl_py_selftest(const char *file, int line, const char *function);

/* How many of a Python creation's innermost native return addresses belong to its site: the
 * frames below the interpreter (extension modules, the libraries they call), or the one
 * interpreter frame that made the wrapped call when there are none. The interpreter's own frames
 * further out depend on how CPython's adaptive interpreter has specialized the calling line by
 * now, so they never take part in the site. Lock-free; async-signal-safe. */
unsigned fdl_py_native_keep(const uintptr_t *pcs, unsigned n);

/* Where CPython keeps what the walker reads, for one minor version on LP64 (x86-64, aarch64).
 * 3.10–3.12: fixed tables (fdl_py_layout_fixed), checked against each version's headers by the
 * unit test. 3.13+: built at start-up from the interpreter's own _PyRuntime.debug_offsets
 * (fdl_py_layout_from_debug) plus a few constants those offsets lack. */
enum fdl_py_chain {
    FDL_PY_CHAIN_FRAMEOBJ, /* 3.10: ts->frame, heap PyFrameObjects linked by f_back */
    FDL_PY_CHAIN_CFRAME,   /* 3.11, 3.12: ts->cframe->current_frame, _PyInterpreterFrame */
    FDL_PY_CHAIN_TSTATE,   /* 3.13+: ts->current_frame */
};
enum fdl_py_lock {
    FDL_PY_LOCK_PYTHREAD, /* ≤3.12: interpreters.mutex is a PyThread_type_lock pointer */
    FDL_PY_LOCK_PYMUTEX,  /* 3.13+: an inline one-byte PyMutex */
};
struct fdl_py_layout {
    unsigned minor;         /* 3.minor */
    enum fdl_py_chain chain;
    enum fdl_py_lock lock;
    unsigned ob_type, var_size;
    unsigned ts_frame;      /* ts->frame (3.10), ts->cframe (3.11, 3.12), ts->current_frame */
    unsigned cf_current;    /* _PyCFrame.current_frame (CHAIN_CFRAME) */
    unsigned fr_previous;   /* f_back (3.10), previous */
    unsigned fr_code;       /* f_code, f_executable (3.13+: maybe None or not code) */
    unsigned fr_pos;        /* int f_lasti in code units (3.10), prev_instr, instr_ptr */
    unsigned fr_owner;      /* owner (char; 3.11+) */
    unsigned fr_gen;        /* f_gen (3.10): the generator a frame belongs to, or NULL */
    int owned_by_generator; /* FRAME_OWNED_BY_GENERATOR (3.11+) */
    int owner_skip;         /* owners from this value on are the interpreter's (shim, entry,
                               C stack) frames: skipped (3.12+: 3; none before) */
    unsigned code_tag;      /* low bits of fr_code that tag the reference (3.14: 3) */
    unsigned co_filename, co_qualname /* co_name on 3.10 */, co_linetable, co_firstlineno;
    unsigned co_firsttraceable; /* 0: no incomplete frames to skip (3.10) */
    unsigned co_code;       /* co_code_adaptive: where fr_pos counts from (0 on 3.10) */
    unsigned gen_iframe;    /* the frame inside a generator (3.11+) */
    unsigned gen_code;      /* gi_code (3.10) */
    unsigned bytes_data;
    unsigned str_length, str_state, str_ascii_data, str_compact_data;
    int str_ready_bit;      /* the state's `ready` bit (≤3.11); -1: none (3.12+) */
    unsigned rt_finalizing; /* _PyRuntime._finalizing: the finalizing thread's state */
    unsigned rt_mutex;      /* _PyRuntime.interpreters.mutex: guards the list of thread states */
    unsigned rt_head;       /* _PyRuntime.interpreters.head: NULL once finalization is over */
};

/* The fixed table for 3.minor (10, 11, 12), else NULL. */
const struct fdl_py_layout *fdl_py_layout_fixed(unsigned minor);

/* Fills *out for 3.minor from a copy of _PyRuntime.debug_offsets (dbg, size bytes) of an
 * interpreter whose version is version_hex (Py_Version). 0 on success; else -1 with *why
 * saying what was wrong (unknown minor, cookie, version, free-threaded build, an offset out of
 * range). Pure: no process state. */
int fdl_py_layout_from_debug(const void *dbg, size_t size, unsigned long version_hex,
                             struct fdl_py_layout *out, const char **why);

/* Where each minor's debug offsets put the fields fdleak reads, and the constants they lack
 * (public for the unit test, which checks 3.13's against its headers). */
struct fdl_py_debug_field {
    unsigned short at, group; /* byte offsets in _Py_DebugOffsets: the field, its group's size */
};
struct fdl_py_debug_map {
    unsigned minor, size; /* size: sizeof(_Py_DebugOffsets) at least */
    unsigned short free_threaded;
    struct fdl_py_debug_field rt_finalizing, rt_head, ts_current_frame, fr_previous, fr_executable,
        fr_instr_ptr, fr_owner, co_filename, co_qualname, co_linetable, co_firstlineno, co_code_adaptive,
        ob_type, bytes_ob_size, bytes_ob_sval, str_state, str_length, str_asciiobject_size;
    struct fdl_py_debug_field gen_iframe; /* at == 0: not in the offsets, gen_iframe_fixed is */
    unsigned gen_iframe_fixed;
    int owned_by_generator, owner_skip;
    unsigned code_tag;
    int str_ready_bit;
    unsigned mutex_before_head;          /* interpreters.mutex = interpreters.head - this */
    unsigned firsttraceable_before_code; /* _co_firsttraceable = co_code_adaptive - this */
    bool verified;           /* run here against that version; false: from CPython's sources */
};
const struct fdl_py_debug_map *fdl_py_debug_map(unsigned minor);

#endif
