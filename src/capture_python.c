/* capture_python.c — Python frames for CPython 3.10–3.14, read the way faulthandler reads them:
 * the calling thread's own frame chain, which only that thread changes, and it is inside our
 * wrapper; CPython's thread-state list lock keeps finalization from freeing it meanwhile. One
 * walker for every version, driven by the version's layout (capture_python.h). Nothing here
 * takes the GIL, allocates Python objects or runs Python code; the C API is looked up at run
 * time (fdleak never links against libpython). */
#include "capture_python.h"
#include "capture.h"
#include "config.h"
#include "diag.h"
#include "sites.h"
#include "tls.h"
#include "util.h"
#include "sys.h"

#include <dlfcn.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- layouts ----
 * 3.10–3.12: fixed tables, every number checked against that version's headers by
 * tests/unit/test_python.c. */
static const struct fdl_py_layout layout_310 = {
    .minor = 10, .chain = FDL_PY_CHAIN_FRAMEOBJ, .lock = FDL_PY_LOCK_PYTHREAD,
    .ob_type = 8, .var_size = 16,
    .ts_frame = 24,
    .fr_previous = 24, .fr_code = 32, .fr_pos = 96, .fr_gen = 88,
    .owned_by_generator = -1, .owner_skip = -1,
    .co_filename = 104, .co_qualname = 112, .co_linetable = 120, .co_firstlineno = 40,
    .gen_code = 24,
    .bytes_data = 32,
    .str_length = 16, .str_state = 32, .str_ascii_data = 48, .str_compact_data = 72, .str_ready_bit = 7,
    .rt_finalizing = 16, .rt_mutex = 24, .rt_head = 32,
};
static const struct fdl_py_layout layout_311 = {
    .minor = 11, .chain = FDL_PY_CHAIN_CFRAME, .lock = FDL_PY_LOCK_PYTHREAD,
    .ob_type = 8, .var_size = 16,
    .ts_frame = 56, .cf_current = 8,
    .fr_previous = 48, .fr_code = 32, .fr_pos = 56, .fr_owner = 69,
    .owned_by_generator = 1, .owner_skip = -1,
    .co_filename = 112, .co_qualname = 128, .co_linetable = 136, .co_firstlineno = 72,
    .co_firsttraceable = 168, .co_code = 184,
    .gen_iframe = 80,
    .bytes_data = 32,
    .str_length = 16, .str_state = 32, .str_ascii_data = 48, .str_compact_data = 72, .str_ready_bit = 7,
    .rt_finalizing = 24, .rt_mutex = 32, .rt_head = 40,
};
static const struct fdl_py_layout layout_312 = {
    .minor = 12, .chain = FDL_PY_CHAIN_CFRAME, .lock = FDL_PY_LOCK_PYTHREAD,
    .ob_type = 8, .var_size = 16,
    .ts_frame = 56, .cf_current = 0,
    .fr_previous = 8, .fr_code = 0, .fr_pos = 56, .fr_owner = 70,
    .owned_by_generator = 1, .owner_skip = 3, /* FRAME_OWNED_BY_CSTACK: the C-call shim */
    .co_filename = 112, .co_qualname = 128, .co_linetable = 136, .co_firstlineno = 68,
    .co_firsttraceable = 176, .co_code = 192,
    .gen_iframe = 72,
    .bytes_data = 32,
    .str_length = 16, .str_state = 32, .str_ascii_data = 40, .str_compact_data = 56, .str_ready_bit = -1,
    .rt_finalizing = 24, .rt_mutex = 32, .rt_head = 40,
};

const struct fdl_py_layout *fdl_py_layout_fixed(unsigned minor)
{
    return minor == 10 ? &layout_310 : minor == 11 ? &layout_311 : minor == 12 ? &layout_312 : 0;
}

/* 3.13+: where _Py_DebugOffsets keeps each field fdleak needs (it changes with every minor
 * version), and what it does not say. 3.13 is checked against its headers (unit test) and run
 * here; 3.14 is taken from CPython's 3.14 sources and has not been run here (verified = false:
 * fdl_py_init says so once, and the start-up self-test guards it). */
#define DF(at_, group_) {.at = (at_), .group = (group_)}
static const struct fdl_py_debug_map debug_maps[] = {
    {
        .minor = 13, .size = 584, .free_threaded = 16,
        .rt_finalizing = DF(32, 24), .rt_head = DF(40, 24), .ts_current_frame = DF(184, 152),
        .fr_previous = DF(232, 224), .fr_executable = DF(240, 224), .fr_instr_ptr = DF(248, 224),
        .fr_owner = DF(264, 224), .co_filename = DF(280, 272), .co_qualname = DF(296, 272),
        .co_linetable = DF(304, 272), .co_firstlineno = DF(312, 272), .co_code_adaptive = DF(344, 272),
        .ob_type = DF(360, 352), .bytes_ob_size = DF(520, 512), .bytes_ob_sval = DF(528, 512),
        .str_state = DF(544, 536), .str_length = DF(552, 536), .str_asciiobject_size = DF(560, 536),
        .gen_iframe_fixed = 72,
        .owned_by_generator = 1, .owner_skip = 3, /* FRAME_OWNED_BY_CSTACK: entry frames */
        .code_tag = 0, .str_ready_bit = -1, .mutex_before_head = 8, .firsttraceable_before_code = 16,
        .verified = true,
    },
    {
        .minor = 14, .size = 760, .free_threaded = 16,
        .rt_finalizing = DF(32, 24), .rt_head = DF(40, 24), .ts_current_frame = DF(208, 176),
        .fr_previous = DF(256, 248), .fr_executable = DF(264, 248), .fr_instr_ptr = DF(272, 248),
        .fr_owner = DF(288, 248), .co_filename = DF(320, 312), .co_qualname = DF(336, 312),
        .co_linetable = DF(344, 312), .co_firstlineno = DF(352, 312), .co_code_adaptive = DF(384, 312),
        .ob_type = DF(408, 400), .bytes_ob_size = DF(600, 592), .bytes_ob_sval = DF(608, 592),
        .str_state = DF(624, 616), .str_length = DF(632, 616), .str_asciiobject_size = DF(640, 616),
        .gen_iframe = DF(680, 664),
        .owned_by_generator = 1, .owner_skip = 3, /* INTERPRETER = 3, CSTACK = 4 */
        .code_tag = 3, /* f_executable is a _PyStackRef: Py_TAG_BITS */
        .str_ready_bit = -1, .mutex_before_head = 8, .firsttraceable_before_code = 16,
        .verified = false,
    },
};
#undef DF

const struct fdl_py_debug_map *fdl_py_debug_map(unsigned minor)
{
    for (size_t i = 0; i < sizeof debug_maps / sizeof *debug_maps; i++)
        if (debug_maps[i].minor == minor)
            return &debug_maps[i];
    return 0;
}

static uint64_t dbg_u64(const void *dbg, unsigned at)
{
    uint64_t v;
    memcpy(&v, (const char *)dbg + at, sizeof v);
    return v;
}

/* One offset, checked to leave room for width bytes inside its struct. */
static bool dbg_get(const void *dbg, struct fdl_py_debug_field f, unsigned width, unsigned *out)
{
    uint64_t v = dbg_u64(dbg, f.at), size = dbg_u64(dbg, f.group);
    if (size > 1u << 20 || v + width > size)
        return false;
    *out = (unsigned)v;
    return true;
}

int fdl_py_layout_from_debug(const void *dbg, size_t size, unsigned long version_hex, struct fdl_py_layout *out,
                             const char **why)
{
    unsigned minor = (unsigned)(version_hex >> 16 & 0xff);
    const struct fdl_py_debug_map *m = (version_hex >> 24) == 3 ? fdl_py_debug_map(minor) : 0;
    if (!m) {
        *why = "no frame layout known for it";
        return -1;
    }
    if (size < m->size || memcmp(dbg, "xdebugpy", 8)) {
        *why = "its debug offsets are missing";
        return -1;
    }
    /* A pre-release's layout may differ from the release's (3.14's alphas and betas moved
     * whole groups): only releases are known. */
    if ((version_hex & 0xf0) != 0xf0) {
        *why = "a pre-release";
        return -1;
    }
    /* Compatible only within one minor version (CPython's own readers refuse any other). */
    if (dbg_u64(dbg, 8) >> 16 != version_hex >> 16) {
        *why = "its debug offsets are for another version";
        return -1;
    }
    if (dbg_u64(dbg, m->free_threaded)) {
        *why = "free-threaded build";
        return -1;
    }
    struct fdl_py_layout l = {
        .minor = minor, .chain = FDL_PY_CHAIN_TSTATE, .lock = FDL_PY_LOCK_PYMUTEX,
        .owned_by_generator = m->owned_by_generator, .owner_skip = m->owner_skip, .code_tag = m->code_tag,
        .str_ready_bit = m->str_ready_bit,
    };
    const unsigned P = sizeof(void *);
    unsigned ascii_size = 0;
    bool ok = dbg_get(dbg, m->rt_finalizing, P, &l.rt_finalizing) && dbg_get(dbg, m->rt_head, P, &l.rt_head) &&
              dbg_get(dbg, m->ts_current_frame, P, &l.ts_frame) &&
              dbg_get(dbg, m->fr_previous, P, &l.fr_previous) && dbg_get(dbg, m->fr_executable, P, &l.fr_code) &&
              dbg_get(dbg, m->fr_instr_ptr, P, &l.fr_pos) && dbg_get(dbg, m->fr_owner, 1, &l.fr_owner) &&
              dbg_get(dbg, m->co_filename, P, &l.co_filename) && dbg_get(dbg, m->co_qualname, P, &l.co_qualname) &&
              dbg_get(dbg, m->co_linetable, P, &l.co_linetable) &&
              dbg_get(dbg, m->co_firstlineno, 4, &l.co_firstlineno) &&
              dbg_get(dbg, m->co_code_adaptive, 0, &l.co_code) && dbg_get(dbg, m->ob_type, P, &l.ob_type) &&
              dbg_get(dbg, m->bytes_ob_size, P, &l.var_size) && dbg_get(dbg, m->bytes_ob_sval, 0, &l.bytes_data) &&
              dbg_get(dbg, m->str_state, 4, &l.str_state) &&
              dbg_get(dbg, m->str_length, P, &l.str_length) &&
              dbg_get(dbg, m->str_asciiobject_size, 0, &ascii_size);
    if (ok && m->gen_iframe.at)
        ok = dbg_get(dbg, m->gen_iframe, 0, &l.gen_iframe);
    else
        l.gen_iframe = m->gen_iframe_fixed;
    /* What the offsets lack: the compact header follows the ASCII one with utf8_length and
     * utf8; the list lock sits just before the list; _co_firsttraceable before the code. */
    l.str_ascii_data = ascii_size;
    l.str_compact_data = ascii_size + 2 * P;
    ok = ok && l.rt_head >= m->mutex_before_head && l.co_code >= m->firsttraceable_before_code && ascii_size >= 24;
    if (!ok) {
        *why = "its debug offsets are out of range";
        return -1;
    }
    l.rt_mutex = l.rt_head - m->mutex_before_head;
    l.co_firsttraceable = l.co_code - m->firsttraceable_before_code;
    *out = l;
    return 0;
}

/* ---- the interpreter in this process ---- */

static const struct fdl_py_layout *L; /* set once by fdl_py_init; never cleared */
static struct fdl_py_layout layout_dyn; /* 3.13+: filled from the debug offsets */
static _Atomic bool frames_on;         /* L's frames may be read (off after a failed self-test) */
static struct {
    void *(*this_tstate)(void);            /* PyGILState_GetThisThreadState */
    void *(*current_tstate)(void);         /* PyThreadState_Get (GIL held only) */
    void *(*current_interp)(void);         /* PyInterpreterState_Get (GIL held only) */
    void *(*main_interp)(void);            /* PyInterpreterState_Main */
    int (*gil_held)(void);                 /* PyGILState_Check */
    int (*addr2line)(void *code, int off); /* PyCode_Addr2Line */
    int (*finalizing)(void);               /* _Py_IsFinalizing (≤3.12), Py_IsFinalizing (3.13+) */
    int (*lock)(void *, int);              /* PyThread_acquire_lock (≤3.12) */
    int (*lock_timed)(void *, long long, int); /* PyThread_acquire_lock_timed (microseconds) */
    void (*unlock)(void *);                /* PyThread_release_lock (≤3.12) */
    void (*mutex_unlock)(void *);          /* PyMutex_Unlock (3.13+: wakes parked waiters) */
    const char *runtime;                   /* &_PyRuntime */
    const void *code_type, *coro_type, *str_type, *bytes_type;
    uintptr_t interp_lo, interp_hi;        /* the interpreter's code (executable or libpython) */
} api;
static char runtime[48];
static unsigned depth;
static bool origin;
static int warned_layout, warned_unverified, warned_selftest;

#define AT(p, off, T) (*(T const *)((uintptr_t)(p) + (off)))

/* A pointer worth following: not NULL, not in the zero page, aligned as every object is. */
static inline bool ok_ptr(uintptr_t p) { return p >= 4096 && !(p & 7); }

static inline bool is_type(uintptr_t obj, const void *type)
{
    return ok_ptr(obj) && AT(obj, L->ob_type, const void *) == type;
}

static inline bool on(void) { return __atomic_load_n(&frames_on, __ATOMIC_ACQUIRE); }

static void put_version(struct fdl_buf *b, unsigned long v)
{
    fdl_buf_u64(b, (v >> 24) & 0xff);
    fdl_buf_putc(b, '.');
    fdl_buf_u64(b, (v >> 16) & 0xff);
    fdl_buf_putc(b, '.');
    fdl_buf_u64(b, (v >> 8) & 0xff);
    unsigned level = (v >> 4) & 0xf;
    if (level != 0xf) {
        fdl_buf_puts(b, level == 0xa ? "a" : level == 0xb ? "b" : "rc");
        fdl_buf_u64(b, v & 0xf);
    }
}

/* One line: "Python frames unavailable for CPython 3.N (why); native frames only". */
static void unavailable(int *flag, unsigned major, unsigned minor, const char *why)
{
    char msg[192];
    struct fdl_buf m;
    fdl_buf_init_mem(&m, msg, sizeof msg);
    fdl_buf_puts(&m, "Python frames unavailable for CPython ");
    fdl_buf_u64(&m, major);
    fdl_buf_putc(&m, '.');
    fdl_buf_u64(&m, minor);
    if (why) {
        fdl_buf_puts(&m, " (");
        fdl_buf_puts(&m, why);
        fdl_buf_putc(&m, ')');
    }
    fdl_buf_puts(&m, "; native frames only");
    fdl_buf_cstr(&m);
    fdl_warn_once(flag, msg);
}

#define SYM(name) dlsym(RTLD_DEFAULT, name)

static void wrap_code_dealloc(void);

/* The layout for this interpreter, or NULL with *why (and the one line said by the caller). */
static const struct fdl_py_layout *find_layout(unsigned long hex, unsigned major, unsigned minor, const char **why)
{
    *why = 0;
    if (major != 3 || minor < 10) {
        *why = "no frame layout known for it";
        return 0;
    }
    /* Py_REF_DEBUG builds export _Py_NegativeRefcount (every version) or _Py_RefTotal (≤3.11);
     * before 3.13 their object header may differ from the fixed tables. From 3.13 on the
     * offsets come from the build itself. */
    bool debug = SYM("_Py_NegativeRefcount") || SYM("_Py_RefTotal");
    if (minor <= 12) {
        if (debug) {
            *why = "debug build";
            return 0;
        }
        return fdl_py_layout_fixed(minor);
    }
    const struct fdl_py_debug_map *m = fdl_py_debug_map(minor);
    if (!m) {
        *why = "no frame layout known for it";
        return 0;
    }
    if (!api.runtime) {
        *why = "no _PyRuntime";
        return 0;
    }
    if (fdl_py_layout_from_debug(api.runtime, m->size, hex, &layout_dyn, why))
        return 0;
    return &layout_dyn;
}

void fdl_py_init(void)
{
    const struct fdl_config *cfg = fdl_config();
    const unsigned long *hex = SYM("Py_Version"); /* 3.11+ */
    const char *(*get_version)(void) = 0;
    *(void **)&get_version = SYM("Py_GetVersion");
    if (!hex && !get_version)
        return; /* not a CPython process */
    struct fdl_buf b;
    fdl_buf_init_mem(&b, runtime, sizeof runtime);
    fdl_buf_puts(&b, "cpython ");
    unsigned major = 0, minor = 0;
    unsigned long version = 0;
    if (hex) {
        version = *hex;
        put_version(&b, version);
        major = (version >> 24) & 0xff, minor = (version >> 16) & 0xff;
    } else { /* 3.10 and older: "3.10.13 (main, …" */
        const char *v = get_version();
        size_t n = strcspn(v, " ");
        for (size_t i = 0; i < n && i < 16; i++)
            fdl_buf_putc(&b, v[i]);
        char *end;
        major = (unsigned)strtoul(v, &end, 10);
        minor = *end == '.' ? (unsigned)strtoul(end + 1, 0, 10) : 0;
        version = (unsigned long)major << 24 | (unsigned long)minor << 16;
    }
    fdl_buf_cstr(&b);
    /* Neither the moment for the exit report (3.13 renamed it) nor which interpreter calls
     * the start-up hook depends on the frame layout. */
    *(void **)&api.current_interp = SYM("PyInterpreterState_Get");
    *(void **)&api.main_interp = SYM("PyInterpreterState_Main");
    *(void **)&api.gil_held = SYM("PyGILState_Check");
    void *fin = SYM("Py_IsFinalizing");
    *(void **)&api.finalizing = fin ? fin : SYM("_Py_IsFinalizing");
    if (!cfg->pydepth)
        return;
    api.runtime = SYM("_PyRuntime");
    const char *why;
    const struct fdl_py_layout *l = find_layout(version, major, minor, &why);
    if (!l) {
        unavailable(&warned_layout, major, minor, why);
        return;
    }
    *(void **)&api.this_tstate = SYM("PyGILState_GetThisThreadState");
    *(void **)&api.current_tstate = SYM("PyThreadState_Get");
    *(void **)&api.addr2line = SYM("PyCode_Addr2Line");
    if (l->lock == FDL_PY_LOCK_PYTHREAD) {
        *(void **)&api.lock = SYM("PyThread_acquire_lock");
        *(void **)&api.unlock = SYM("PyThread_release_lock");
        *(void **)&api.lock_timed = SYM("PyThread_acquire_lock_timed");
    } else {
        *(void **)&api.mutex_unlock = SYM("PyMutex_Unlock");
    }
    api.code_type = SYM("PyCode_Type");
    api.coro_type = SYM("PyCoro_Type");
    api.str_type = SYM("PyUnicode_Type");
    api.bytes_type = SYM("PyBytes_Type");
    bool locks = l->lock == FDL_PY_LOCK_PYTHREAD ? api.lock && api.lock_timed && api.unlock : !!api.mutex_unlock;
    if (!api.this_tstate || !api.current_tstate || !api.addr2line || !api.finalizing || !locks || !api.runtime || !api.code_type ||
        !api.coro_type || !api.str_type || !api.bytes_type) {
        unavailable(&warned_layout, major, minor, "it does not export the functions fdleak reads frames with");
        return;
    }
    if (l->chain == FDL_PY_CHAIN_TSTATE && !fdl_py_debug_map(minor)->verified) {
        char msg[160];
        struct fdl_buf m;
        fdl_buf_init_mem(&m, msg, sizeof msg);
        fdl_buf_puts(&m, "Python frames for CPython 3.");
        fdl_buf_u64(&m, minor);
        fdl_buf_puts(&m, " use a layout taken from CPython's sources, not yet run with fdleak; "
                         "the start-up check guards it");
        fdl_buf_cstr(&m);
        fdl_warn_once(&warned_unverified, msg);
    }
    uintptr_t lo, hi;
    if (fdl_code_range((uintptr_t)api.addr2line, &lo, &hi))
        api.interp_lo = lo, api.interp_hi = hi;
    depth = (unsigned)cfg->pydepth;
    origin = cfg->pyorigin;
    __atomic_store_n(&L, l, __ATOMIC_RELEASE);
    wrap_code_dealloc();
    __atomic_store_n(&frames_on, true, __ATOMIC_RELEASE);
}

const char *fdl_py_runtime(void) { return runtime[0] ? runtime : 0; }

bool fdl_py_main_interpreter(void)
{
    /* Without the GIL there is no current interpreter to ask (and asking would abort). */
    if (!api.current_interp || !api.main_interp || !api.gil_held || !api.gil_held())
        return true;
    return api.current_interp() == api.main_interp();
}

unsigned fdl_py_native_keep(const uintptr_t *pcs, unsigned n)
{
    if (!api.interp_hi)
        return n;
    unsigned k = 0;
    while (k < n && !(pcs[k] >= api.interp_lo && pcs[k] < api.interp_hi))
        k++;
    return k ? k : n ? 1 : 0;
}

/* Finalizing: the flag is set and, where the layout is known, the interpreter still exists (an
 * embedding program that called Py_FinalizeEx carries on with the flag left set). */
static bool finalizing_now(void)
{
    if (!api.finalizing || !api.finalizing())
        return false;
    const struct fdl_py_layout *l = __atomic_load_n(&L, __ATOMIC_ACQUIRE);
    return !l || __atomic_load_n((void *const *)(api.runtime + l->rt_head), __ATOMIC_ACQUIRE);
}

bool fdl_py_finalizing_here(void)
{
    if (!finalizing_now())
        return false;
    const struct fdl_py_layout *l = __atomic_load_n(&L, __ATOMIC_ACQUIRE);
    if (l) /* _PyRuntime._finalizing is the thread state of the finalizing thread */
        return __atomic_load_n((void *const *)(api.runtime + l->rt_finalizing), __ATOMIC_ACQUIRE) == api.this_tstate();
    return fdl_sys(SYS_gettid) == fdl_sys(SYS_getpid); /* Py_FinalizeEx runs on the main thread */
}

/* Whether a descriptor this thread creates now is interpreter-shutdown noise (FDL_F_LATE):
 * while CPython finalizes; and once finalization is over, if this thread ran Python but is not
 * the one that finalized (a daemon thread; an embedding program's own thread carries on). */
static bool late_here(void)
{
    if (!api.finalizing || !api.finalizing())
        return false;
    const struct fdl_py_layout *l = __atomic_load_n(&L, __ATOMIC_ACQUIRE);
    if (!l || __atomic_load_n((void *const *)(api.runtime + l->rt_head), __ATOMIC_ACQUIRE))
        return true;
    uintptr_t fin = __atomic_load_n((const uintptr_t *)(api.runtime + l->rt_finalizing), __ATOMIC_ACQUIRE);
    return fdl_tls.py_tstate && fdl_tls.py_tstate != fin;
}

static _Atomic int exiting_tid; /* the thread that called exit(); 0 before */

void fdl_py_exit_begins(void) { __atomic_store_n(&exiting_tid, fdl_gettid(), __ATOMIC_RELEASE); }

void fdl_py_park_if_doomed(void)
{
    /* On every release of a Python thread: loads only, no call into CPython (_finalizing is
     * what Py_IsFinalizing tests up to 3.13). */
    if (!fdl_tls.py_tstate || fdl_tls.busy)
        return;
    const struct fdl_py_layout *l = __atomic_load_n(&L, __ATOMIC_ACQUIRE);
    if (!l || l->minor > 13)
        return;
    uintptr_t fin = __atomic_load_n((const uintptr_t *)(api.runtime + l->rt_finalizing), __ATOMIC_ACQUIRE);
    if (!fin || fin == fdl_tls.py_tstate)
        return;
    /* Never the main thread (it finalizes, or waits for whoever does), nor the one running
     * exit(); others while finalization runs, and after it once the process exits (an embedding
     * program's threads carry on after Py_FinalizeEx). */
    int me = fdl_gettid(), exiting = __atomic_load_n(&exiting_tid, __ATOMIC_ACQUIRE);
    if (me == getpid() || me == exiting || fdl_in_vfork_child() ||
        !(exiting || __atomic_load_n((void *const *)(api.runtime + l->rt_head), __ATOMIC_ACQUIRE)))
        return;
    for (;;) /* until the process exits; a signal handler may still run */
        fdl_sys(SYS_pause);
}

/* ---- the thread-state list lock ----
 * Finalization frees the states of daemon threads (and unmaps their frames) after taking
 * _PyRuntime's thread-state list lock and setting the finalizing flag: with that lock held and
 * the flag clear, this thread's frames and the objects they hold stay put until we let go.
 * Waited for a while (LOCK_WAIT_US), never indefinitely: this very thread may hold it (a signal
 * handler that interrupted CPython), and finalization holds it while it clears thread states.
 * ≤3.12 it is a PyThread lock that finalization frees at its very end; 3.13+ an inline PyMutex
 * (never freed), taken the way its own fast path takes it: set the LOCKED bit with a
 * compare-and-swap. */

/* Other walkers hold it for a microsecond or two, unless preempted — and with more busy
 * threads than cores a preempted holder may not run again for tens of milliseconds: wait that
 * long rather than lose this stack's frames, but never indefinitely. */
#define LOCK_WAIT_US 250000

#define PYMUTEX_LOCKED 1

static bool pymutex_try(uint8_t *m)
{
    uint8_t v = __atomic_load_n(m, __ATOMIC_RELAXED);
    while (!(v & PYMUTEX_LOCKED))
        if (__atomic_compare_exchange_n(m, &v, (uint8_t)(v | PYMUTEX_LOCKED), false, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED))
            return true;
    return false;
}

static bool pymutex_lock_bounded(uint8_t *m)
{
    if (pymutex_try(m))
        return true;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (unsigned i = 0;; i++) {
        if (i < 64) {
            sched_yield();
        } else {
            struct timespec t = {0, 50000};
            nanosleep(&t, 0);
        }
        if (pymutex_try(m))
            return true;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec) > LOCK_WAIT_US * 1000L)
            return false;
    }
}

/* Waiters parked on it (HAS_PARKED): CPython's own unlock wakes one (through its parking lot:
 * not strictly async-signal-safe, and only ever needed when another thread waits). */
static void pymutex_unlock(uint8_t *m)
{
    uint8_t v = PYMUTEX_LOCKED;
    if (!__atomic_compare_exchange_n(m, &v, 0, false, __ATOMIC_RELEASE, __ATOMIC_RELAXED))
        api.mutex_unlock(m);
}

static void list_unlock(void *lock)
{
    if (L->lock == FDL_PY_LOCK_PYMUTEX)
        pymutex_unlock(lock);
    else
        api.unlock(lock);
}

/* The lock taken, or NULL (*late: because the interpreter is finalizing). */
static void *list_lock(bool *late)
{
    void *lock;
    int got;
    if (L->lock == FDL_PY_LOCK_PYMUTEX) {
        lock = (void *)(api.runtime + L->rt_mutex);
        got = pymutex_lock_bounded(lock);
    } else {
        lock = __atomic_load_n((void *const *)(api.runtime + L->rt_mutex), __ATOMIC_ACQUIRE);
        if (!lock)
            return 0;
        got = api.lock(lock, 0) == 1 || api.lock_timed(lock, LOCK_WAIT_US, 0) == 1;
        /* Finalization may have come and gone (freeing the lock) between our reading the flag
         * and the lock: then the pointer has changed. */
        if (got && __atomic_load_n((void *const *)(api.runtime + L->rt_mutex), __ATOMIC_ACQUIRE) != lock) {
            api.unlock(lock);
            got = 0;
        }
    }
    /* Finalization may have started while we waited: the flag says so now. */
    if (got && api.finalizing()) {
        list_unlock(lock);
        got = 0;
    }
    if (!got) {
        *late = late_here();
        return 0;
    }
    return lock;
}

/* Holds this thread's frames for a walk: the lock above, inside the fork gate
 * (fdl_capture_enter) so that no child is forked with it held. The flag is read before the
 * lock is touched. Returns the lock (give it back with let_go) and this thread's state, or
 * NULL (*late: because the interpreter is finalizing). */
static void *hold_frames(uintptr_t *ts, bool *late)
{
    /* The raw flag, not finalizing_now(): once finalization is over (the interpreter gone, the
     * flag left set) there are no frames to read either, and a daemon thread's state pointer
     * is stale. */
    *late = false;
    if (api.finalizing()) {
        *late = late_here();
        return 0;
    }
    if (!fdl_capture_enter())
        return 0;
    *ts = (uintptr_t)api.this_tstate();
    void *lock = 0;
    if (ok_ptr(*ts)) {
        fdl_tls.py_tstate = *ts;
        lock = list_lock(late);
    }
    if (!lock)
        fdl_capture_leave();
    return lock;
}

static void let_go(void *lock)
{
    list_unlock(lock);
    fdl_capture_leave();
}

static unsigned walk(uintptr_t *w, uintptr_t ts);
static struct fdl_pystack *resolve(const uintptr_t *w, unsigned n);
static const char *str_copy(uintptr_t s);
static uint64_t hash_bytes(const unsigned char *p, size_t n);

/* ---- interned Python stacks ----
 * Each distinct Python stack once (its key words), with its text: what a creation site's key
 * holds for its Python frames, and what a task's origin is. A table of its own (sites.h's
 * lock-free fdl_intern), so that sites, and their ids, are creation stacks only. */
struct fdl_pykey {
    uint64_t hash;
    unsigned n;                       /* entries of FDL_PY_WORDS words */
    struct fdl_pystack *_Atomic text; /* set once by its first capture; NULL if that failed */
    uintptr_t w[];
};

#define ORIGIN_TAG 2 /* key entry (origin's fdl_pykey | 2, kind, 0): the hand-off's origin follows */
#define PYKEYS_CAP (1u << 16) /* hash slots; the table accepts up to 3/4 of this */
static struct fdl_pykey *_Atomic pykeys[PYKEYS_CAP];
static _Atomic unsigned n_pykeys;
static int warned_pykeys_full, warned_pykeys_oom;

struct pykey_probe {
    uint64_t hash;
    const uintptr_t *w;
    unsigned n;
};

static bool same_pykey(const void *entry, const void *key)
{
    const struct fdl_pykey *e = entry;
    const struct pykey_probe *k = key;
    return e->hash == k->hash && e->n == k->n && !memcmp(e->w, k->w, k->n * FDL_PY_WORDS * sizeof *k->w);
}

static void *make_pykey(const void *key)
{
    const struct pykey_probe *k = key;
    size_t words = (size_t)k->n * FDL_PY_WORDS;
    struct fdl_pykey *e = fdl_arena_alloc(sizeof *e + words * sizeof(uintptr_t));
    if (!e) {
        fdl_warn_once(&warned_pykeys_oom, "out of memory for Python stacks; new ones are reported without Python frames");
        return 0;
    }
    e->hash = k->hash;
    e->n = k->n;
    memcpy(e->w, k->w, words * sizeof *k->w);
    return e;
}

struct fdl_pystack *fdl_pykey_text(const struct fdl_pykey *k)
{
    return k ? __atomic_load_n(&k->text, __ATOMIC_ACQUIRE) : 0;
}

/* The interned stack for n key entries, its text made on first sight — under the same hold of
 * the frames as the walk, so that the objects the words name are still there. */
static struct fdl_pykey *intern_stack(const uintptr_t *w, unsigned n)
{
    struct pykey_probe k = {hash_bytes((const unsigned char *)w, n * FDL_PY_WORDS * sizeof *w), w, n};
    struct fdl_pykey *e = fdl_intern((void *_Atomic *)pykeys, PYKEYS_CAP, &n_pykeys, k.hash, same_pykey, make_pykey, &k, 0);
    if (!e && __atomic_load_n(&n_pykeys, __ATOMIC_RELAXED) >= PYKEYS_CAP / 4 * 3)
        fdl_warn_once(&warned_pykeys_full, "too many distinct Python stacks; new ones are reported without Python frames");
    if (e && !__atomic_load_n(&e->text, __ATOMIC_ACQUIRE)) {
        struct fdl_pystack *py = resolve(w, n), *none = 0;
        __atomic_compare_exchange_n(&e->text, &none, py, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
    }
    return e;
}

/* The key buffer lives here, not in fdl_py_capture: programs that are not Python (and may run
 * on small thread stacks) never pay for it. */
static __attribute__((noinline)) struct fdl_pykey *capture_held(uintptr_t ts, const struct fdl_pykey *tail)
{
    uintptr_t w[(FDL_PYDEPTH_MAX + 2) * FDL_PY_WORDS];
    unsigned n = walk(w, ts);
    if (tail && origin) { /* after whatever origin the walk appended: the last resort for a place */
        w[FDL_PY_WORDS * n] = (uintptr_t)tail | ORIGIN_TAG;
        w[FDL_PY_WORDS * n + 1] = FDL_ORIGIN_LISTENER;
        w[FDL_PY_WORDS * n++ + 2] = 0;
    }
    return n ? intern_stack(w, n) : 0;
}

struct fdl_pykey *fdl_py_capture(bool *late, const struct fdl_pykey *tail)
{
    *late = false;
    if (!on()) {
        *late = late_here();
        return 0;
    }
    uintptr_t ts;
    void *lock = hold_frames(&ts, late);
    if (!lock)
        return 0;
    struct fdl_pykey *key = capture_held(ts, tail);
    let_go(lock);
    return key;
}

static uint64_t hash_bytes(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        h = (h ^ v) * 0x100000001b3ull;
        h ^= h >> 31;
    }
    for (; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* A hash of a str's characters (as stored: 1, 2 or 4 bytes each), at most the first 512
 * bytes; 0 for anything else. Never CPython's own cached hash: it appears only once something
 * hashes the string, and a key must not change meanwhile. */
static uint64_t str_hash(uintptr_t s)
{
    if (!is_type(s, api.str_type))
        return 0;
    uint32_t state = AT(s, L->str_state, uint32_t);
    unsigned kind = state >> 2 & 7, compact = state >> 5 & 1, ascii = state >> 6 & 1;
    intptr_t len = AT(s, L->str_length, intptr_t);
    if (!compact || len < 0 || (kind != 1 && kind != 2 && kind != 4))
        return 0;
    size_t n = (size_t)len * kind;
    return hash_bytes((const unsigned char *)(s + (ascii ? L->str_ascii_data : L->str_compact_data)), n > 512 ? 512 : n);
}

/* What identifies a code object's text, whatever its address: file, name, and line table
 * (two code objects from one file and name, compiled from different lines, differ there). */
static uint64_t code_hash_of(uintptr_t code)
{
    uint64_t h = str_hash(AT(code, L->co_filename, uintptr_t)) * 31 + str_hash(AT(code, L->co_qualname, uintptr_t));
    uintptr_t lt = AT(code, L->co_linetable, uintptr_t);
    if (is_type(lt, api.bytes_type)) {
        intptr_t n = AT(lt, L->var_size, intptr_t);
        h = (h * 31 + (uint64_t)n) * 31 + hash_bytes((const unsigned char *)(lt + L->bytes_data), n < 0 ? 0 : n > 512 ? 512 : (size_t)n);
    }
    return h;
}

/* Hashes already computed, by code object: a code object's text never changes while it lives,
 * and the code type's dealloc is wrapped (fdl_py_init) so that an entry is dropped before its
 * object is freed — an address reused by a newer code object can never meet the older one's
 * hash (content checks cannot promise that: exec'd snippets recycle the code, name, file and
 * line-table objects together). Direct-mapped; an entry is written by moving its count from
 * even to odd, so a reader sees a whole entry or misses. A walker looks up only code objects of
 * its own thread's live frames, which cannot be freed meanwhile. Async-signal-safe. */
#define CODE_CACHE 4096
static struct code_cached {
    _Atomic unsigned seq;
    uintptr_t code;
    uint64_t hash;
} code_cache[CODE_CACHE];
static void (*code_dealloc_real)(void *); /* set once the wrapper is in place; else no cache */

static inline struct code_cached *code_slot(uintptr_t code)
{
    return &code_cache[(code >> 4 ^ code >> 16) & (CODE_CACHE - 1)];
}

static uint64_t code_hash(uintptr_t code)
{
    if (!__atomic_load_n(&code_dealloc_real, __ATOMIC_ACQUIRE))
        return code_hash_of(code);
    struct code_cached *e = code_slot(code);
    unsigned s = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);
    if (!(s & 1)) {
        uintptr_t c = __atomic_load_n(&e->code, __ATOMIC_RELAXED);
        uint64_t h = __atomic_load_n(&e->hash, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_ACQUIRE); /* the reads above before the re-check */
        if (c == code && __atomic_load_n(&e->seq, __ATOMIC_RELAXED) == s)
            return h;
    }
    uint64_t h = code_hash_of(code);
    if (!(s & 1) && __atomic_compare_exchange_n(&e->seq, &s, s + 1, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
        __atomic_thread_fence(__ATOMIC_RELEASE); /* the odd count before the fields change */
        __atomic_store_n(&e->code, code, __ATOMIC_RELAXED);
        __atomic_store_n(&e->hash, h, __ATOMIC_RELAXED);
        __atomic_store_n(&e->seq, s + 2, __ATOMIC_RELEASE);
    }
    return h;
}

/* The code type's tp_dealloc, wrapped: called by CPython with the GIL held, for every code
 * object freed, before it is. An odd count is a walker writing another code object (this one
 * has no frame left to be walked), which replaces the entry anyway. */
static void code_dealloc(void *code)
{
    struct code_cached *e = code_slot((uintptr_t)code);
    for (;;) {
        unsigned s = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);
        if (s & 1 || __atomic_load_n(&e->code, __ATOMIC_ACQUIRE) != (uintptr_t)code)
            break;
        if (__atomic_compare_exchange_n(&e->seq, &s, s + 1, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
            __atomic_store_n(&e->code, 0, __ATOMIC_RELAXED);
            __atomic_store_n(&e->seq, s + 2, __ATOMIC_RELEASE);
            break;
        }
    }
    code_dealloc_real(code);
}

/* Puts code_dealloc in PyCode_Type.tp_dealloc, after checking that the type object is laid out
 * as expected (tp_name "code", tp_dealloc inside the interpreter's code). Without it, hashes
 * are computed at every frame. Called once from fdl_py_init, before the program's first Python
 * code, or with the slot swapped in one store (a dealloc that read the old one frees an object
 * no walk can have cached). */
static void wrap_code_dealloc(void)
{
    char *type = (char *)api.code_type;
    unsigned name_at = L->var_size + 8, dealloc_at = L->var_size + 32; /* after PyObject_VAR_HEAD */
    const char *name = *(const char **)(type + name_at);
    void (*real)(void *);
    memcpy(&real, type + dealloc_at, sizeof real);
    if (!name || strcmp(name, "code") || !api.interp_hi || (uintptr_t)real < api.interp_lo ||
        (uintptr_t)real >= api.interp_hi)
        return;
    __atomic_store_n(&code_dealloc_real, real, __ATOMIC_RELEASE);
    void (*mine)(void *) = code_dealloc;
    __atomic_store_n((void (**)(void *))(type + dealloc_at), mine, __ATOMIC_RELEASE);
}

/* ---- hand-off origins ----
 * The Python start-up hook (scripts/python/sitecustomize.py, installed by the launcher) calls
 * fdleak_py_task_created(coro) as asyncio creates each task, and fdleak_py_handoff(obj, kind)
 * as a thread is started, work is submitted to an executor or a callback scheduled: the
 * calling stack is interned then (intern_stack) and remembered here under the coroutine or the
 * object, together with a check word (a coroutine's code object, an object's type) so that a
 * recycled address is not mistaken for it. A walk that meets a registered coroutine at the
 * root of the running task ends the task's own frames there and appends the origin; one that
 * meets the frame a hand-off runs in (fdl_py_run_begin) does the same. Far cheaper than
 * CPython's own cr_origin, which computes line numbers for every coroutine made, tasks or not.
 * Set-associative: an entry is forgotten when its task is done or its work has run; when a set
 * is full, one is evicted in turn (that live work loses its origin, nothing worse). Each entry
 * has a sequence count, so readers without the GIL see whole entries. */

#define TASK_SETS 4096
#define TASK_WAYS 4
static struct task_entry {
    _Atomic unsigned seq;
    uintptr_t obj, check;
    struct fdl_pykey *origin;
    unsigned kind;
} tasks[TASK_SETS][TASK_WAYS];
static _Atomic unsigned task_victim;

static inline unsigned task_set(uintptr_t obj) { return (unsigned)((obj >> 4) ^ (obj >> 16)) & (TASK_SETS - 1); }

/* What a recycled address is told apart by: the code object a coroutine runs, else the type. */
static uintptr_t check_word(uintptr_t obj, bool coro)
{
    if (!coro)
        return AT(obj, L->ob_type, uintptr_t);
    if (L->chain == FDL_PY_CHAIN_FRAMEOBJ)
        return AT(obj, L->gen_code, uintptr_t);
    return AT(obj + L->gen_iframe, L->fr_code, uintptr_t) & ~(uintptr_t)L->code_tag;
}

/* The origin remembered for obj (a coroutine's, or another hand-off's), and its kind. */
static struct fdl_pykey *task_lookup(uintptr_t obj, bool coro, unsigned *got_kind)
{
    uintptr_t check = check_word(obj, coro);
    struct task_entry *set = tasks[task_set(obj)];
    for (int way = 0; way < TASK_WAYS; way++) {
        struct task_entry *e = &set[way];
        for (int tries = 0; tries < 4; tries++) {
            unsigned s1 = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);
            if (s1 & 1)
                continue;
            uintptr_t c = __atomic_load_n(&e->obj, __ATOMIC_RELAXED), k = __atomic_load_n(&e->check, __ATOMIC_RELAXED);
            struct fdl_pykey *origin = __atomic_load_n(&e->origin, __ATOMIC_RELAXED);
            unsigned kd = __atomic_load_n(&e->kind, __ATOMIC_RELAXED);
            __atomic_thread_fence(__ATOMIC_ACQUIRE);
            if (__atomic_load_n(&e->seq, __ATOMIC_RELAXED) != s1)
                continue;
            if (c == obj && k == check && coro == (kd == FDL_ORIGIN_TASK)) {
                *got_kind = kd;
                return origin;
            }
            break;
        }
    }
    return 0;
}

static struct fdl_pykey *task_origin(uintptr_t coro)
{
    unsigned kind;
    return task_lookup(coro, true, &kind);
}

static void task_write(struct task_entry *e, uintptr_t obj, uintptr_t check, struct fdl_pykey *origin, unsigned kind)
{
    __atomic_fetch_add(&e->seq, 1, __ATOMIC_ACQ_REL);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    __atomic_store_n(&e->obj, obj, __ATOMIC_RELAXED);
    __atomic_store_n(&e->check, check, __ATOMIC_RELAXED);
    __atomic_store_n(&e->origin, origin, __ATOMIC_RELAXED);
    __atomic_store_n(&e->kind, kind, __ATOMIC_RELAXED);
    __atomic_fetch_add(&e->seq, 1, __ATOMIC_RELEASE);
}

/* Writers hold the GIL (one at a time); the sequence count is for the readers. The entry for
 * obj if there is one, else a free way, else one evicted in turn. */
static void task_remember(uintptr_t obj, struct fdl_pykey *origin, unsigned kind)
{
    struct task_entry *set = tasks[task_set(obj)], *e = 0, *free = 0;
    for (int way = 0; way < TASK_WAYS && !e; way++) {
        uintptr_t c = __atomic_load_n(&set[way].obj, __ATOMIC_RELAXED);
        if (c == obj)
            e = &set[way];
        else if (!c && !free)
            free = &set[way];
    }
    if (!e)
        e = free ? free : &set[__atomic_fetch_add(&task_victim, 1, __ATOMIC_RELAXED) % TASK_WAYS];
    task_write(e, obj, check_word(obj, kind == FDL_ORIGIN_TASK), origin, kind);
}

static void task_forget(uintptr_t obj)
{
    struct task_entry *set = tasks[task_set(obj)];
    for (int way = 0; way < TASK_WAYS; way++)
        if (__atomic_load_n(&set[way].obj, __ATOMIC_RELAXED) == obj)
            task_write(&set[way], 0, 0, 0, 0);
}

void fdl_py_task_done(void *coro)
{
    if (on())
        task_forget((uintptr_t)coro);
}

int fdl_py_task_known(void *coro)
{
    return on() && is_type((uintptr_t)coro, api.coro_type) && task_origin((uintptr_t)coro);
}

const char *fdl_py_origin_name(unsigned kind)
{
    static const char *const names[FDL_ORIGIN_KINDS] = {"", "task", "thread", "work", "callback", "listener"};
    return kind < FDL_ORIGIN_KINDS ? names[kind] : "";
}

const char *fdl_py_origin_text(unsigned kind)
{
    static const char *const texts[FDL_ORIGIN_KINDS] = {"", "in a task created", "in a thread started",
                                                        "in work submitted", "in a callback scheduled",
                                                        "accepted on a listener created"};
    return kind < FDL_ORIGIN_KINDS ? texts[kind] : "";
}


/* Line numbers already computed (CPython walks the line table up to the offset): direct-mapped
 * on a frame's key words (code object, its text's hash, offset), which say exactly what the
 * line is. An entry is taken for writing by moving its count from even to odd, so a reader
 * sees a whole entry or misses. Async-signal-safe. */
#define LINE_CACHE 4096
static struct line_cached {
    _Atomic unsigned seq;
    uintptr_t key[FDL_PY_WORDS];
    int line;
} line_cache[LINE_CACHE];

static int frame_line(const uintptr_t *k)
{
    struct line_cached *e = &line_cache[(k[0] >> 4 ^ k[1] ^ k[2] * 0x9e3779b1u) & (LINE_CACHE - 1)];
    unsigned s = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);
    if (!(s & 1)) {
        bool same = true;
        for (unsigned i = 0; i < FDL_PY_WORDS; i++)
            same &= __atomic_load_n(&e->key[i], __ATOMIC_RELAXED) == k[i];
        int line = __atomic_load_n(&e->line, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_ACQUIRE); /* the reads above before the re-check */
        if (same && __atomic_load_n(&e->seq, __ATOMIC_RELAXED) == s)
            return line;
    }
    int line = api.addr2line((void *)k[0], (int)(uint32_t)k[2]);
    if (!(s & 1) && __atomic_compare_exchange_n(&e->seq, &s, s + 1, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
        __atomic_thread_fence(__ATOMIC_RELEASE); /* the odd count before the fields change */
        for (unsigned i = 0; i < FDL_PY_WORDS; i++)
            __atomic_store_n(&e->key[i], k[i], __ATOMIC_RELAXED);
        __atomic_store_n(&e->line, line, __ATOMIC_RELAXED);
        __atomic_store_n(&e->seq, s + 2, __ATOMIC_RELEASE);
    }
    return line;
}

/* The newest frame of a thread state, per chain shape. */
static uintptr_t first_frame(uintptr_t ts)
{
    if (L->chain != FDL_PY_CHAIN_CFRAME)
        return AT(ts, L->ts_frame, uintptr_t);
    uintptr_t cf = AT(ts, L->ts_frame, uintptr_t);
    return ok_ptr(cf) ? AT(cf, L->cf_current, uintptr_t) : 0;
}

/* One frame of the chain, as the walker sees it. */
struct frame {
    uintptr_t code;   /* 0: not a frame of the program's code (skipped) */
    uint32_t offset;  /* byte offset of the current instruction */
    uintptr_t coro;   /* the coroutine a generator-owned frame belongs to, else 0 */
    bool gen;         /* owned by a generator (or coroutine) */
};

static void read_frame(uintptr_t f, struct frame *out)
{
    out->code = 0;
    out->offset = 0;
    out->coro = 0;
    if (L->chain == FDL_PY_CHAIN_FRAMEOBJ) { /* 3.10: a frame object; f_lasti in code units */
        uintptr_t code = AT(f, L->fr_code, uintptr_t), g = AT(f, L->fr_gen, uintptr_t);
        out->gen = g != 0;
        if (out->gen && is_type(g, api.coro_type))
            out->coro = g;
        if (!is_type(code, api.code_type))
            return;
        int lasti = AT(f, L->fr_pos, int);
        out->code = code;
        out->offset = lasti > 0 ? 2 * (uint32_t)lasti : 0;
        return;
    }
    /* 3.11+: interpreter frames. The interpreter's own (3.12's C-call shims, 3.13's entry
     * frames, 3.14's INTERPRETER and CSTACK) have owners from owner_skip on; only a frame
     * whose code pointer is a code object is the program's (3.13's f_executable may be None). */
    int owner = AT(f, L->fr_owner, uint8_t); /* a small enum stored in a char */
    out->gen = owner == L->owned_by_generator;
    if (L->owner_skip >= 0 && owner >= L->owner_skip)
        return;
    if (out->gen && is_type(f - L->gen_iframe, api.coro_type))
        out->coro = f - L->gen_iframe;
    uintptr_t code = AT(f, L->fr_code, uintptr_t) & ~(uintptr_t)L->code_tag;
    if (!is_type(code, api.code_type))
        return;
    uintptr_t start = code + L->co_code, at = AT(f, L->fr_pos, uintptr_t);
    /* A frame still being set up has not started its first line: not a caller yet. */
    if (!out->gen && at < start + 2 * (uintptr_t)AT(code, L->co_firsttraceable, int))
        return;
    out->code = code;
    out->offset = at > start ? (uint32_t)(at - start) : 0;
}

/* The walk itself, under the lock: up to depth frames of the thread, then an origin entry (w has
 * room for FDL_PYDEPTH_MAX + 1 entries): the running task's, or the hand-off's this thread runs
 * (the innermost of fdl_tls.py_run), whichever comes first from the top. */
static unsigned walk(uintptr_t *w, uintptr_t ts)
{
    uintptr_t f = first_frame(ts);
    unsigned n = 0, walked = 0, n_task = 0;
    uintptr_t root = 0; /* the outermost coroutine of the innermost run of coroutine frames */
    bool root_done = false, cut = false;
    unsigned runs = fdl_tls.py_runs;
    const struct fdl_py_run *run = origin && runs && runs <= sizeof fdl_tls.py_run / sizeof *fdl_tls.py_run
                                       ? &fdl_tls.py_run[runs - 1] : 0;
    for (; ok_ptr(f) && walked < 1024; walked++, f = AT(f, L->fr_previous, uintptr_t)) {
        if (run && f == run->cut) {
            cut = true; /* the frames below are the runner's (a thread's bootstrap, the loop) */
            break;
        }
        struct frame fr;
        read_frame(f, &fr);
        if (fr.code && n < depth) {
            /* The code object's address alone could name a newer one after the first is freed
             * (exec'd code, reloads): what its text is, its first line and the instruction go
             * with it. */
            w[FDL_PY_WORDS * n] = fr.code;
            w[FDL_PY_WORDS * n + 1] = code_hash(fr.code);
            w[FDL_PY_WORDS * n + 2] = fr.offset | (uint64_t)(uint32_t)AT(fr.code, L->co_firstlineno, int) << 32;
            /* The line, not the instruction: a specialized call may stop on another
             * instruction of the same line (3.11's PRECALL_* run the call themselves). */
            int line = frame_line(w + FDL_PY_WORDS * n);
            w[FDL_PY_WORDS * n + 2] = (uint32_t)(line > 0 ? line : 0) | (w[FDL_PY_WORDS * n + 2] & ~(uint64_t)UINT32_MAX);
            n++;
        }
        if (fr.gen && !root_done) {
            if (fr.coro)
                root = fr.coro, n_task = n;
        } else if (root && fr.code) {
            root_done = true; /* the event loop's frames (or whatever drove the coroutine) */
        }
        if (n >= depth && (root_done || !origin) && !run)
            break;
    }
    struct fdl_pykey *o = origin && root ? task_origin(root) : 0;
    unsigned kind = FDL_ORIGIN_TASK;
    if (o) {
        n = n_task; /* the task's own frames end at its coroutine: what drove it (the event loop,
                       asyncio.run) is in its origin too, after the frames that created it */
    } else if (cut && run->origin) {
        o = run->origin;
        kind = run->kind;
    } else {
        return n;
    }
    w[FDL_PY_WORDS * n] = (uintptr_t)o | ORIGIN_TAG;
    w[FDL_PY_WORDS * n + 1] = kind;
    w[FDL_PY_WORDS * n + 2] = 0;
    return n + 1;
}

/* The stack the calling thread runs now, interned, less its innermost frame (the hook's wrapper
 * that asks): the origin of what it hands off. GIL held. */
static struct fdl_pykey *origin_here(void)
{
    bool late;
    uintptr_t ts;
    struct fdl_pykey *key = 0;
    void *lock = hold_frames(&ts, &late);
    if (lock) {
        uintptr_t w[(FDL_PYDEPTH_MAX + 1) * FDL_PY_WORDS];
        unsigned n = walk(w, ts);
        key = n > 1 ? intern_stack(w + FDL_PY_WORDS, n - 1) : 0;
        let_go(lock);
    }
    return key;
}

int fdl_py_handoff(void *obj, int kind)
{
    if (!on() || !origin)
        return -1;
    if (!ok_ptr((uintptr_t)obj) || kind <= FDL_ORIGIN_TASK || kind >= FDL_ORIGIN_KINDS || fdl_tls.busy)
        return 0;
    fdl_tls.busy++;
    struct fdl_pykey *key = origin_here();
    /* remembered even without frames: a recycled address must not keep another's origin */
    task_remember((uintptr_t)obj, key, (unsigned)kind);
    fdl_tls.busy--;
    return key != 0;
}

int fdl_py_run_begin(void *obj)
{
    unsigned runs = fdl_tls.py_runs, kind = 0;
    if (!on() || !origin || !ok_ptr((uintptr_t)obj) || fdl_tls.busy ||
        runs >= sizeof fdl_tls.py_run / sizeof *fdl_tls.py_run)
        return -1;
    struct fdl_pykey *o = task_lookup((uintptr_t)obj, false, &kind);
    if (!o)
        return -1;
    /* The hook's frame that runs obj: the innermost frame of the program's kind now (a C call
     * pushes none of its own; 3.12's shims and 3.13's entry frames are skipped) */
    bool late;
    uintptr_t ts, cut = 0;
    fdl_tls.busy++;
    void *lock = hold_frames(&ts, &late);
    if (lock) {
        uintptr_t f = first_frame(ts);
        for (int i = 0; ok_ptr(f) && i < 8 && !cut; i++, f = AT(f, L->fr_previous, uintptr_t)) {
            struct frame fr;
            read_frame(f, &fr);
            if (fr.code)
                cut = f;
        }
        let_go(lock);
    }
    fdl_tls.busy--;
    if (!cut)
        return -1;
    fdl_tls.py_run[runs] = (struct fdl_py_run){cut, o, kind};
    __atomic_signal_fence(__ATOMIC_SEQ_CST); /* a signal handler's walk sees the entry whole */
    fdl_tls.py_runs = runs + 1;
    return (int)runs;
}

void fdl_py_run_end(void *obj, int token)
{
    if (token >= 0 && (unsigned)token < fdl_tls.py_runs)
        fdl_tls.py_runs = (unsigned)token;
    if (on() && ok_ptr((uintptr_t)obj))
        task_forget((uintptr_t)obj);
}

int fdl_py_task_created(void *coro)
{
    if (!on() || !origin)
        return -1;
    if (!is_type((uintptr_t)coro, api.coro_type) || fdl_tls.busy)
        return 0;
    fdl_tls.busy++;
    struct fdl_pykey *key = origin_here(); /* less the hook's wrapper around create_task */
    if (key)
        task_remember((uintptr_t)coro, key, FDL_ORIGIN_TASK);
    fdl_tls.busy--;
    return key != 0;
}

int fdl_py_selftest(const char *file, int line, const char *function)
{
    if (!on() || fdl_tls.busy)
        return -1;
    /* Walks read the thread's state in the main interpreter; a caller in a subinterpreter (the
     * hook runs in each one site starts) runs on another state: nothing to check there. */
    if (!api.gil_held || !api.gil_held() || !fdl_py_main_interpreter() || api.current_tstate() != api.this_tstate())
        return -1;
    fdl_tls.busy++;
    bool late;
    uintptr_t ts;
    int ok = -1;
    const char *got_file = "?", *got_function = "?";
    int got_line = 0;
    void *lock = hold_frames(&ts, &late);
    if (lock) {
        uintptr_t w[(FDL_PYDEPTH_MAX + 1) * FDL_PY_WORDS];
        unsigned n = walk(w, ts);
        if (n && !(w[0] & ORIGIN_TAG)) {
            got_file = str_copy(AT(w[0], L->co_filename, uintptr_t));
            got_function = str_copy(AT(w[0], L->co_qualname, uintptr_t));
            got_line = (int)(uint32_t)w[2];
        }
        ok = !strcmp(got_file, file) && got_line == line && !strcmp(got_function, function);
        let_go(lock);
    }
    fdl_tls.busy--;
    if (ok == 0) {
        __atomic_store_n(&frames_on, false, __ATOMIC_RELEASE);
        char msg[640];
        struct fdl_buf m;
        fdl_buf_init_mem(&m, msg, sizeof msg);
        fdl_buf_puts(&m, "Python frames failed the start-up check on CPython 3.");
        fdl_buf_u64(&m, L->minor);
        fdl_buf_puts(&m, " (read ");
        fdl_buf_puts(&m, got_file);
        fdl_buf_putc(&m, ':');
        fdl_buf_u64(&m, got_line > 0 ? (unsigned)got_line : 0);
        fdl_buf_puts(&m, " in ");
        fdl_buf_puts(&m, got_function);
        fdl_buf_puts(&m, ", expected ");
        fdl_buf_puts(&m, file);
        fdl_buf_putc(&m, ':');
        fdl_buf_u64(&m, line > 0 ? (unsigned)line : 0);
        fdl_buf_puts(&m, " in ");
        fdl_buf_puts(&m, function);
        fdl_buf_puts(&m, "); native frames only");
        fdl_buf_cstr(&m);
        fdl_warn_once(&warned_selftest, msg);
    }
    return ok;
}

/* ---- text ---- */

static void put_utf8(struct fdl_buf *b, uint32_t c)
{
    if (c >= 0xd800 && c < 0xe000)
        c = 0xfffd; /* a lone surrogate (surrogateescape'd bytes of a file name) */
    if (c < 0x80) {
        fdl_buf_putc(b, (char)c);
    } else if (c < 0x800) {
        fdl_buf_putc(b, (char)(0xc0 | c >> 6));
        fdl_buf_putc(b, (char)(0x80 | (c & 0x3f)));
    } else if (c < 0x10000) {
        fdl_buf_putc(b, (char)(0xe0 | c >> 12));
        fdl_buf_putc(b, (char)(0x80 | (c >> 6 & 0x3f)));
        fdl_buf_putc(b, (char)(0x80 | (c & 0x3f)));
    } else {
        fdl_buf_putc(b, (char)(0xf0 | c >> 18));
        fdl_buf_putc(b, (char)(0x80 | (c >> 12 & 0x3f)));
        fdl_buf_putc(b, (char)(0x80 | (c >> 6 & 0x3f)));
        fdl_buf_putc(b, (char)(0x80 | (c & 0x3f)));
    }
}

/* Copies of ASCII strs already made (file and function names recur in every stack through
 * them): direct-mapped on the object's address, each entry checked against the str's bytes
 * before use, so a str freed and another allocated at its address, or an entry torn by two
 * threads filling it at once, only costs a fresh copy. Async-signal-safe (no locks). */
#define STR_CACHE 1024
static struct str_cached {
    _Atomic uintptr_t obj;
    const char *_Atomic copy;
} str_cache[STR_CACHE];

static const char *ascii_copy(uintptr_t s, const char *data, size_t len)
{
    struct str_cached *e = &str_cache[(s >> 4 ^ s >> 14) & (STR_CACHE - 1)];
    const char *c = __atomic_load_n(&e->copy, __ATOMIC_ACQUIRE);
    /* strnlen first: it stops at the copy's own end, so memcmp never reads past it */
    if (__atomic_load_n(&e->obj, __ATOMIC_ACQUIRE) == s && c && strnlen(c, len + 1) == len && !memcmp(c, data, len))
        return c;
    char *out = fdl_arena_alloc(len + 1);
    if (!out)
        return "?";
    memcpy(out, data, len);
    out[len] = 0;
    __atomic_store_n(&e->copy, out, __ATOMIC_RELEASE);
    __atomic_store_n(&e->obj, s, __ATOMIC_RELEASE);
    return out;
}

/* A copy of a str (compact, as every code object's names are) in the arena; "?" otherwise. */
static const char *str_copy(uintptr_t s)
{
    if (!is_type(s, api.str_type))
        return "?";
    uint32_t state = AT(s, L->str_state, uint32_t);
    /* kind 2..4, compact 5, ascii 6 on every version; ready 7 only until 3.11 */
    unsigned kind = state >> 2 & 7, compact = state >> 5 & 1, ascii = state >> 6 & 1;
    bool ready = L->str_ready_bit < 0 || (state >> L->str_ready_bit & 1);
    intptr_t len = AT(s, L->str_length, intptr_t);
    if (!compact || !ready || len < 0 || (kind != 1 && kind != 2 && kind != 4))
        return "?";
    if (len > 1024)
        len = 1024;
    if (ascii) /* the common case: the bytes are the UTF-8 */
        return ascii_copy(s, (const char *)(s + L->str_ascii_data), (size_t)len);
    char mem[4 * 1024 + 1];
    struct fdl_buf b;
    fdl_buf_init_mem(&b, mem, sizeof mem);
    uintptr_t data = s + L->str_compact_data; /* not ASCII: after the compact header */
    for (intptr_t i = 0; i < len; i++)
        put_utf8(&b, kind == 1 ? AT(data, (unsigned)i, uint8_t)
                     : kind == 2 ? AT(data, 2 * (unsigned)i, uint16_t) : AT(data, 4 * (unsigned)i, uint32_t));
    char *out = fdl_arena_alloc(b.len + 1);
    if (!out)
        return "?";
    memcpy(out, b.data, b.len);
    out[b.len] = 0;
    return out;
}

/* The text of an origin entry's interned stack. */
static const struct fdl_pystack *origin_text(uintptr_t word)
{
    return fdl_pykey_text((const struct fdl_pykey *)(word & ~(uintptr_t)ORIGIN_TAG));
}

/* The text of n key entries; the caller holds the frames (hold_frames). */
static struct fdl_pystack *resolve(const uintptr_t *w, unsigned n)
{
    /* An origin entry stands for all the frames of its interned stack. */
    unsigned total = 0;
    for (unsigned i = 0; i < n; i++) {
        const uintptr_t *k = w + FDL_PY_WORDS * i;
        const struct fdl_pystack *o = k[0] & ORIGIN_TAG ? origin_text(k[0]) : 0;
        total += k[0] & ORIGIN_TAG ? (o ? o->n : 0) : 1;
    }
    if (total > 2 * depth)
        total = 2 * depth;
    struct fdl_pystack *st = fdl_arena_alloc(sizeof *st + total * sizeof st->f[0]);
    if (!st)
        return 0;
    unsigned m = 0;
    for (unsigned i = 0; i < n && m < total; i++) {
        const uintptr_t *k = w + FDL_PY_WORDS * i;
        if (k[0] & ORIGIN_TAG) {
            const struct fdl_pystack *o = origin_text(k[0]);
            for (unsigned j = 0; o && j < o->n && m < total; j++) {
                st->f[m] = o->f[j];
                st->f[m].kind = o->f[j].level ? o->f[j].kind : (uint8_t)k[1];
                st->f[m++].level = (uint8_t)(o->f[j].level < 255 ? o->f[j].level + 1 : 255);
            }
            continue;
        }
        struct fdl_pyframe *f = &st->f[m++];
        f->file = str_copy(AT(k[0], L->co_filename, uintptr_t));
        f->function = str_copy(AT(k[0], L->co_qualname, uintptr_t));
        f->line = (int)(uint32_t)k[2]; /* the walk put the line there */
        f->level = f->kind = 0;
    }
    st->n = (uint16_t)m;
    st->app = 0;
    st->own = false;
    for (unsigned i = 0; i < m && !st->own; i++)
        if (!fdl_py_library_file(st->f[i].file)) {
            st->app = (uint16_t)i;
            st->own = true;
        }
    return st;
}

bool fdl_py_library_file(const char *file)
{
    if (!strncmp(file, "<frozen ", 8) || strstr(file, "/site-packages/") || strstr(file, "/dist-packages/"))
        return true;
    /* …/lib/python3.11/… or …/lib64/python3.11/…: the standard library */
    for (const char *p = strstr(file, "/lib"); p; p = strstr(p + 1, "/lib")) {
        const char *q = p + 4;
        if (!strncmp(q, "64", 2))
            q += 2;
        if (strncmp(q, "/python", 7))
            continue;
        q += 7;
        if (*q < '0' || *q > '9')
            continue;
        while ((*q >= '0' && *q <= '9') || *q == '.')
            q++;
        if (*q == '/')
            return true;
    }
    return false;
}
