/* capture_python.c — Python frames for CPython 3.11, read the way faulthandler reads them: the
 * calling thread's own frame chain, which only that thread changes, and it is inside our
 * wrapper; CPython's thread-state list lock keeps finalization from freeing it meanwhile.
 * Nothing here takes the GIL, allocates Python objects or runs Python code; the C API is
 * looked up at run time (fdleak never links against libpython). */
#include "capture_python.h"
#include "capture.h"
#include "config.h"
#include "sites.h"
#include "tls.h"
#include "util.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static const struct fdl_py_layout layout_311 = {
    .ob_type = 8, .var_size = 16,
    .ts_cframe = 56, .cf_current = 8,
    .fr_code = 32, .fr_previous = 48, .fr_prev_instr = 56, .fr_owner = 69,
    .co_filename = 112, .co_qualname = 128, .co_linetable = 136, .co_firstlineno = 72,
    .co_firsttraceable = 168, .co_code = 184,
    .bytes_data = 32, .gen_iframe = 80,
    .str_length = 16, .str_state = 32, .str_ascii_data = 48, .str_compact_data = 72,
    .rt_finalizing = 24, .rt_mutex = 32, .rt_head = 40,
    .owned_by_generator = 1,
};

const struct fdl_py_layout *fdl_py_layout_311(void) { return &layout_311; }

static const struct fdl_py_layout *L; /* NULL: Python frames off */
static struct {
    void *(*this_tstate)(void);            /* PyGILState_GetThisThreadState */
    int (*addr2line)(void *code, int off); /* PyCode_Addr2Line */
    int (*finalizing)(void);               /* _Py_IsFinalizing */
    int (*lock)(void *, int);              /* PyThread_acquire_lock */
    int (*lock_timed)(void *, long long, int); /* PyThread_acquire_lock_timed (microseconds) */
    void (*unlock)(void *);                /* PyThread_release_lock */
    const char *runtime;                   /* &_PyRuntime */
    const void *code_type, *coro_type, *str_type, *bytes_type;
} api;
static char runtime[48];
static unsigned depth;
static bool origin;
static int warned_layout;

#define AT(p, off, T) (*(T const *)((uintptr_t)(p) + (off)))

/* A pointer worth following: not NULL, not in the zero page, aligned as every object is. */
static inline bool ok_ptr(uintptr_t p) { return p >= 4096 && !(p & 7); }

static inline bool is_type(uintptr_t obj, const void *type)
{
    return ok_ptr(obj) && AT(obj, L->ob_type, const void *) == type;
}

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

void fdl_py_init(void)
{
    const struct fdl_config *cfg = fdl_config();
    const unsigned long *hex = dlsym(RTLD_DEFAULT, "Py_Version"); /* 3.11+ */
    const char *(*get_version)(void) = 0;
    *(void **)&get_version = dlsym(RTLD_DEFAULT, "Py_GetVersion");
    if (!hex && !get_version)
        return; /* not a CPython process */
    struct fdl_buf b;
    fdl_buf_init_mem(&b, runtime, sizeof runtime);
    fdl_buf_puts(&b, "cpython ");
    unsigned major = 0, minor = 0;
    if (hex) {
        put_version(&b, *hex);
        major = (*hex >> 24) & 0xff, minor = (*hex >> 16) & 0xff;
    } else { /* older: "3.10.12 (main, …" */
        const char *v = get_version();
        size_t n = strcspn(v, " ");
        for (size_t i = 0; i < n && i < 16; i++)
            fdl_buf_putc(&b, v[i]);
        const char *dot = strchr(v, '.');
        major = (unsigned)(v[0] - '0');
        minor = dot ? (unsigned)strtoul(dot + 1, 0, 10) : 0;
    }
    fdl_buf_cstr(&b);
    /* The moment for the exit report does not depend on the frame layout (3.13 renamed it). */
    void *fin = dlsym(RTLD_DEFAULT, "Py_IsFinalizing");
    *(void **)&api.finalizing = fin ? fin : dlsym(RTLD_DEFAULT, "_Py_IsFinalizing");
    if (!cfg->pydepth)
        return;
    if (major != 3 || minor != 11 || dlsym(RTLD_DEFAULT, "_Py_RefTotal") /* a debug build */) {
        char msg[128];
        struct fdl_buf m;
        fdl_buf_init_mem(&m, msg, sizeof msg);
        fdl_buf_puts(&m, "Python frames unavailable for CPython ");
        fdl_buf_u64(&m, major);
        fdl_buf_putc(&m, '.');
        fdl_buf_u64(&m, minor);
        if (major == 3 && minor == 11)
            fdl_buf_puts(&m, " (debug build)");
        fdl_buf_puts(&m, "; native frames only");
        fdl_buf_cstr(&m);
        fdl_warn_once(&warned_layout, msg);
        return;
    }
    *(void **)&api.this_tstate = dlsym(RTLD_DEFAULT, "PyGILState_GetThisThreadState");
    *(void **)&api.addr2line = dlsym(RTLD_DEFAULT, "PyCode_Addr2Line");
    *(void **)&api.lock = dlsym(RTLD_DEFAULT, "PyThread_acquire_lock");
    *(void **)&api.unlock = dlsym(RTLD_DEFAULT, "PyThread_release_lock");
    *(void **)&api.lock_timed = dlsym(RTLD_DEFAULT, "PyThread_acquire_lock_timed");
    api.runtime = dlsym(RTLD_DEFAULT, "_PyRuntime");
    api.code_type = dlsym(RTLD_DEFAULT, "PyCode_Type");
    api.coro_type = dlsym(RTLD_DEFAULT, "PyCoro_Type");
    api.str_type = dlsym(RTLD_DEFAULT, "PyUnicode_Type");
    api.bytes_type = dlsym(RTLD_DEFAULT, "PyBytes_Type");
    if (!api.this_tstate || !api.addr2line || !api.finalizing || !api.lock || !api.lock_timed || !api.unlock || !api.runtime ||
        !api.code_type || !api.coro_type ||
        !api.str_type || !api.bytes_type) {
        fdl_warn_once(&warned_layout, "Python frames unavailable: this CPython does not export the "
                                      "functions fdleak reads frames with; native frames only");
        return;
    }
    depth = (unsigned)cfg->pydepth;
    origin = cfg->pyorigin;
    __atomic_store_n(&L, &layout_311, __ATOMIC_RELEASE);
}

const char *fdl_py_runtime(void) { return runtime[0] ? runtime : 0; }


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
    return syscall(SYS_gettid) == syscall(SYS_getpid); /* Py_FinalizeEx runs on the main thread */
}

/* Finalization frees the states of daemon threads (and unmaps their frames) after taking
 * _PyRuntime's thread-state list lock and setting the finalizing flag, and frees the lock itself
 * at its very end: with that lock held and the flag clear, this thread's frames and the objects
 * they hold stay put until we let go. The flag is read before the lock is touched. Waited for
 * briefly, never indefinitely: this very thread may hold it (a signal handler that interrupted
 * CPython). Inside the fork gate (fdl_capture_enter), so that no child is
 * forked with the lock held. Returns the lock (give it back with let_go) and this thread's
 * state, or NULL (*late: because the interpreter is finalizing). */
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
    if (ok_ptr(*ts))
        fdl_tls.py_tstate = *ts;
    void *lock = 0;
    if (ok_ptr(*ts) && (lock = __atomic_load_n((void *const *)(api.runtime + L->rt_mutex), __ATOMIC_ACQUIRE))) {
        /* Other walkers hold it for a microsecond or two, unless preempted: wait a while
         * rather than lose this stack's frames (20 ms at most, e.g. for our own thread). */
        int got = api.lock(lock, 0) == 1 || api.lock_timed(lock, 20000, 0) == 1;
        /* Finalization may have come and gone (freeing the lock) between our reading the flag
         * and the lock: then the pointer has changed, or the flag says so now. */
        if (got && (api.finalizing() ||
                    __atomic_load_n((void *const *)(api.runtime + L->rt_mutex), __ATOMIC_ACQUIRE) != lock)) {
            api.unlock(lock);
            got = 0;
        }
        if (!got) { /* also a timeout: finalization holds the lock while it clears thread states */
            *late = late_here();
            lock = 0;
        }
    }
    if (!lock)
        fdl_capture_leave();
    return lock;
}

static void let_go(void *lock)
{
    api.unlock(lock);
    fdl_capture_leave();
}

static unsigned walk(uintptr_t *w, uintptr_t ts);
static struct fdl_pystack *resolve(const uintptr_t *w, unsigned n);

/* A Python stack as a site of its own (Python words only), its text made on first sight —
 * under the same hold of the frames as the walk, so that the objects the words name are
 * still there. */
static struct fdl_site *intern_stack(const uintptr_t *w, unsigned n)
{
    struct fdl_site *site = fdl_site_intern(w, 0, n * FDL_PY_WORDS);
    if (site && !__atomic_load_n(&site->py, __ATOMIC_ACQUIRE)) {
        struct fdl_pystack *py = resolve(w, n), *none = 0;
        __atomic_compare_exchange_n(&site->py, &none, py, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
    }
    return site;
}

/* The key buffer lives here, not in fdl_py_capture: programs that are not Python (and may run
 * on small thread stacks) never pay for it. */
static __attribute__((noinline)) struct fdl_site *capture_held(uintptr_t ts)
{
    uintptr_t w[(FDL_PYDEPTH_MAX + 1) * FDL_PY_WORDS];
    unsigned n = walk(w, ts);
    return n ? intern_stack(w, n) : 0;
}

struct fdl_site *fdl_py_capture(bool *late)
{
    *late = false;
    if (!__atomic_load_n(&L, __ATOMIC_ACQUIRE)) {
        *late = late_here();
        return 0;
    }
    uintptr_t ts;
    void *lock = hold_frames(&ts, late);
    if (!lock)
        return 0;
    struct fdl_site *site = capture_held(ts);
    let_go(lock);
    return site;
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
static uint64_t code_hash(uintptr_t code)
{
    uint64_t h = str_hash(AT(code, L->co_filename, uintptr_t)) * 31 + str_hash(AT(code, L->co_qualname, uintptr_t));
    uintptr_t lt = AT(code, L->co_linetable, uintptr_t);
    if (is_type(lt, api.bytes_type)) {
        intptr_t n = AT(lt, L->var_size, intptr_t);
        h = (h * 31 + (uint64_t)n) * 31 + hash_bytes((const unsigned char *)(lt + L->bytes_data), n < 0 ? 0 : n > 512 ? 512 : (size_t)n);
    }
    return h;
}

/* ---- task origins ----
 * The Python start-up hook (scripts/python/sitecustomize.py, installed by the launcher) calls
 * fdleak_py_task_created(coro) as asyncio creates each task: the creating stack is interned
 * then as a site of its own (Python words only) and remembered here under the coroutine,
 * together with its code object so that a recycled address is not mistaken for it. A walk that
 * meets a registered coroutine at the root of the running task ends the task's own frames
 * there and appends the origin. Far cheaper than CPython's own cr_origin, which computes line
 * numbers for every coroutine made, tasks or not. Set-associative: an entry is forgotten when
 * its task is done (fdl_py_task_done); when a set is full, one is evicted in turn (that live
 * task loses its origin, nothing worse). Each entry has a sequence count, so readers without
 * the GIL see whole entries. */

#define TASK_SETS 4096
#define TASK_WAYS 4
static struct task_entry {
    _Atomic unsigned seq;
    uintptr_t coro, code;
    struct fdl_site *site;
} tasks[TASK_SETS][TASK_WAYS];
static _Atomic unsigned task_victim;

static inline unsigned task_set(uintptr_t coro) { return (unsigned)((coro >> 4) ^ (coro >> 16)) & (TASK_SETS - 1); }

static uintptr_t coro_code(uintptr_t coro) { return AT(coro + L->gen_iframe, L->fr_code, uintptr_t); }

static struct fdl_site *task_origin(uintptr_t coro)
{
    uintptr_t code = coro_code(coro);
    struct task_entry *set = tasks[task_set(coro)];
    for (int way = 0; way < TASK_WAYS; way++) {
        struct task_entry *e = &set[way];
        for (int tries = 0; tries < 4; tries++) {
            unsigned s1 = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);
            if (s1 & 1)
                continue;
            uintptr_t c = __atomic_load_n(&e->coro, __ATOMIC_RELAXED), k = __atomic_load_n(&e->code, __ATOMIC_RELAXED);
            struct fdl_site *site = __atomic_load_n(&e->site, __ATOMIC_RELAXED);
            __atomic_thread_fence(__ATOMIC_ACQUIRE);
            if (__atomic_load_n(&e->seq, __ATOMIC_RELAXED) != s1)
                continue;
            if (c == coro && k == code)
                return site;
            break;
        }
    }
    return 0;
}

static void task_write(struct task_entry *e, uintptr_t coro, uintptr_t code, struct fdl_site *site)
{
    __atomic_fetch_add(&e->seq, 1, __ATOMIC_ACQ_REL);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    __atomic_store_n(&e->coro, coro, __ATOMIC_RELAXED);
    __atomic_store_n(&e->code, code, __ATOMIC_RELAXED);
    __atomic_store_n(&e->site, site, __ATOMIC_RELAXED);
    __atomic_fetch_add(&e->seq, 1, __ATOMIC_RELEASE);
}

/* Writers hold the GIL (one at a time); the sequence count is for the readers. The entry for
 * coro if there is one, else a free way, else one evicted in turn. */
static void task_remember(uintptr_t coro, struct fdl_site *site)
{
    struct task_entry *set = tasks[task_set(coro)], *e = 0, *free = 0;
    for (int way = 0; way < TASK_WAYS && !e; way++) {
        uintptr_t c = __atomic_load_n(&set[way].coro, __ATOMIC_RELAXED);
        if (c == coro)
            e = &set[way];
        else if (!c && !free)
            free = &set[way];
    }
    if (!e)
        e = free ? free : &set[__atomic_fetch_add(&task_victim, 1, __ATOMIC_RELAXED) % TASK_WAYS];
    task_write(e, coro, coro_code(coro), site);
}

void fdl_py_task_done(void *coro)
{
    if (!__atomic_load_n(&L, __ATOMIC_ACQUIRE))
        return;
    struct task_entry *set = tasks[task_set((uintptr_t)coro)];
    for (int way = 0; way < TASK_WAYS; way++)
        if (__atomic_load_n(&set[way].coro, __ATOMIC_RELAXED) == (uintptr_t)coro)
            task_write(&set[way], 0, 0, 0);
}

#define ORIGIN_TAG 2 /* key entry (origin site | 2, 0, 0): the task's origin follows */

/* The walk itself, under the lock: up to depth frames of the thread, then an origin entry (w has
 * room for FDL_PYDEPTH_MAX + 1 entries). */
static unsigned walk(uintptr_t *w, uintptr_t ts)
{
    uintptr_t cf = AT(ts, L->ts_cframe, uintptr_t);
    uintptr_t f = ok_ptr(cf) ? AT(cf, L->cf_current, uintptr_t) : 0;
    unsigned n = 0, walked = 0, n_task = 0;
    uintptr_t root = 0; /* the outermost coroutine of the innermost run of coroutine frames */
    bool root_done = false;
    for (; ok_ptr(f) && walked < 1024; walked++, f = AT(f, L->fr_previous, uintptr_t)) {
        uintptr_t code = AT(f, L->fr_code, uintptr_t);
        if (!is_type(code, api.code_type)) {
            fdl_warn_once(&warned_layout, "a Python frame could not be read; Python frames of such stacks are left out");
            return 0;
        }
        bool gen = AT(f, L->fr_owner, char) == L->owned_by_generator;
        uintptr_t start = code + L->co_code, at = AT(f, L->fr_prev_instr, uintptr_t);
        /* A frame still being set up has not started its first line: not a caller yet. */
        bool incomplete = !gen && at < start + 2 * (uintptr_t)AT(code, L->co_firsttraceable, int);
        if (!incomplete && n < depth) {
            /* The code object's address alone could name a newer one after the first is freed
             * (exec'd code, reloads): what its text is, its first line and the instruction go
             * with it. */
            w[FDL_PY_WORDS * n] = code;
            w[FDL_PY_WORDS * n + 1] = code_hash(code);
            w[FDL_PY_WORDS * n + 2] = (at > start ? (uint32_t)(at - start) : 0) |
                                      (uint64_t)(uint32_t)AT(code, L->co_firstlineno, int) << 32;
            n++;
        }
        if (gen && !root_done) {
            uintptr_t g = f - L->gen_iframe;
            if (is_type(g, api.coro_type))
                root = g, n_task = n;
        } else if (root) {
            root_done = true; /* the event loop's frames (or whatever drove the coroutine) */
        }
        if (n >= depth && (root_done || !origin))
            break;
    }
    struct fdl_site *o = origin && root ? task_origin(root) : 0;
    if (!o)
        return n;
    /* The task's own frames end at its coroutine: what drove it (the event loop, asyncio.run)
     * is in its origin too, after the frames that created it. */
    w[FDL_PY_WORDS * n_task] = (uintptr_t)o | ORIGIN_TAG;
    w[FDL_PY_WORDS * n_task + 1] = w[FDL_PY_WORDS * n_task + 2] = 0;
    return n_task + 1;
}

int fdl_py_task_created(void *coro)
{
    if (!__atomic_load_n(&L, __ATOMIC_ACQUIRE) || !origin)
        return -1;
    if (!is_type((uintptr_t)coro, api.coro_type) || fdl_tls.busy)
        return 0;
    fdl_tls.busy++;
    bool late;
    uintptr_t ts;
    int ok = 0;
    void *lock = hold_frames(&ts, &late);
    if (lock) {
        uintptr_t w[(FDL_PYDEPTH_MAX + 1) * FDL_PY_WORDS];
        unsigned n = walk(w, ts);
        /* Frame 0 is the hook's wrapper around create_task: not the program's. */
        struct fdl_site *site = n > 1 ? intern_stack(w + FDL_PY_WORDS, n - 1) : 0;
        if (site) {
            task_remember((uintptr_t)coro, site);
            ok = 1;
        }
        let_go(lock);
    }
    fdl_tls.busy--;
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
    unsigned kind = state >> 2 & 7, compact = state >> 5 & 1, ascii = state >> 6 & 1, ready = state >> 7 & 1;
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

/* The text of n key entries; the caller holds the frames (hold_frames). */
static struct fdl_pystack *resolve(const uintptr_t *w, unsigned n)
{
    /* An origin entry stands for all the frames of its site. */
    unsigned total = 0;
    for (unsigned i = 0; i < n; i++) {
        const uintptr_t *k = w + FDL_PY_WORDS * i;
        const struct fdl_pystack *o = k[0] & ORIGIN_TAG ? ((struct fdl_site *)(k[0] & ~(uintptr_t)ORIGIN_TAG))->py : 0;
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
            const struct fdl_pystack *o = __atomic_load_n(&((struct fdl_site *)(k[0] & ~(uintptr_t)ORIGIN_TAG))->py, __ATOMIC_ACQUIRE);
            for (unsigned j = 0; o && j < o->n && m < total; j++) {
                st->f[m] = o->f[j];
                st->f[m++].level = (uint8_t)(o->f[j].level < 255 ? o->f[j].level + 1 : 255);
            }
            continue;
        }
        struct fdl_pyframe *f = &st->f[m++];
        f->file = str_copy(AT(k[0], L->co_filename, uintptr_t));
        f->function = str_copy(AT(k[0], L->co_qualname, uintptr_t));
        int line = frame_line(k);
        f->line = line > 0 ? line : 0;
        f->level = 0;
    }
    st->n = (uint16_t)m;
    st->app = 0;
    for (unsigned i = 0; i < m; i++)
        if (!fdl_py_library_file(st->f[i].file)) {
            st->app = (uint16_t)i;
            break;
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
