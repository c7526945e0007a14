/* core.c — recording descriptor creation and release into the table and the site table. */
#include "core.h"
#include "flows.h"
#include "capture.h"
#include "capture_python.h"
#include "config.h"
#include "diag.h"
#include "misuse.h"
#include "sites.h"
#include "tls.h"
#include "util.h"
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

__thread struct fdl_tls fdl_tls __attribute__((tls_model("initial-exec")));

static _Atomic uint64_t open_now, peak_open;

/* fdleak's own descriptors, each with where its holder keeps the number (libunwind's static
 * pipe array, the EMFILE reserve, the stderr copy), so that a program taking the number over
 * (dup2 onto it) can be handed it cleanly: the holder sees -1 and opens another. */
#define MAX_INTERNAL 8
static struct internal {
    _Atomic int fd; /* -1: unused entry */
    int *owner;
} internals[MAX_INTERNAL] = {{-1, 0}, {-1, 0}, {-1, 0}, {-1, 0}, {-1, 0}, {-1, 0}, {-1, 0}, {-1, 0}};
static int warned_internal_reused, warned_unwind;


void fdl_counts(struct fdl_counts *out)
{
    out->open = __atomic_load_n(&open_now, __ATOMIC_RELAXED);
    out->peak = __atomic_load_n(&peak_open, __ATOMIC_RELAXED);
}

struct fdl_hooks fdl_hooks;
static _Atomic uint64_t threshold_next; /* 0: no threshold */

void fdl_set_threshold(uint64_t n) { __atomic_store_n(&threshold_next, n, __ATOMIC_RELAXED); }

void fdl_raise_peak(uint64_t n)
{
    uint64_t p = __atomic_load_n(&peak_open, __ATOMIC_RELAXED);
    while (n > p && !__atomic_compare_exchange_n(&peak_open, &p, n, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
}

static void count_open(void)
{
    uint64_t n = __atomic_add_fetch(&open_now, 1, __ATOMIC_RELAXED);
    fdl_raise_peak(n);
}

/* Called once a creation is fully recorded (both ends of a pipe), so a threshold report never
 * sees half of it. One thread wins the crossing; the next report waits for twice the count. */
static void check_threshold(void)
{
    uint64_t t = __atomic_load_n(&threshold_next, __ATOMIC_RELAXED);
    if (__builtin_expect(!t, 1))
        return;
    uint64_t n = __atomic_load_n(&open_now, __ATOMIC_RELAXED);
    if (n >= t && !fdl_tls.busy &&
        __atomic_compare_exchange_n(&threshold_next, &t, t * 2, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED) &&
        fdl_hooks.threshold)
        fdl_hooks.threshold(n);
}

void fdl_creation_failed(void)
{
    int e = errno;
    if ((e == EMFILE || e == ENFILE) && fdl_hooks.emfile && !fdl_tls.busy && !fdl_in_vfork_child())
        fdl_hooks.emfile();
    errno = e;
}

/* The record in s (state already taken away from OPEN by the caller) is closed: its site's
 * and its flow's counts and lifetimes. */
static void account_close(struct fdl_slot *s)
{
    struct fdl_site *site = __atomic_load_n(&s->site, __ATOMIC_RELAXED);
    if (site) {
        uint64_t now = fdl_now_mono_ns(), life = now > s->created_ns ? now - s->created_ns : 0;
        fdl_life_add(&site->life, life);
        struct fdl_flow *f = fdl_flow_at(__atomic_load_n(&s->flow, __ATOMIC_RELAXED));
        if (f) {
            fdl_life_add(&f->life, life);
            __atomic_fetch_add(&f->closed, 1, __ATOMIC_RELAXED);
        }
        __atomic_fetch_add(&site->closed, 1, __ATOMIC_RELAXED);
    }
    __atomic_fetch_sub(&open_now, 1, __ATOMIC_RELAXED);
}

static void internal_add(int fd, int *owner)
{
    for (int i = 0; i < MAX_INTERNAL; i++) {
        int expect = -1;
        if (__atomic_compare_exchange_n(&internals[i].fd, &expect, fd, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
            __atomic_store_n(&internals[i].owner, owner, __ATOMIC_RELEASE);
            return;
        }
    }
}

/* Forgets fd; returns where its holder kept it (NULL if unknown). */
static int *internal_remove(int fd)
{
    for (int i = 0; i < MAX_INTERNAL; i++) {
        int expect = fd;
        int *owner = __atomic_load_n(&internals[i].owner, __ATOMIC_ACQUIRE);
        if (__atomic_compare_exchange_n(&internals[i].fd, &expect, -1, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            return owner;
    }
    return 0;
}

/* Stores a fresh record for fd. Whatever the slot held is superseded: an OPEN record means the
 * number was closed behind our back (raw syscall, glibc internals) or replaced by dup2. */
static void record(int fd, const char *via, uint32_t flags, struct fdl_site *site, uint64_t now)
{
    struct fdl_slot *s = fdl_table_slot(fd, true);
    if (!s)
        return;
    if (site) /* a creation site from now on: numbered before any record shows it */
        fdl_site_number(site);
    /* The state changes inside the write window: a reader that sees OPEN sees the new fields
     * or retries, never OPEN with the previous record's fields. */
    fdl_slot_write_begin(s);
    uint32_t old = __atomic_exchange_n(&s->state, FDL_SLOT_OPEN, __ATOMIC_ACQ_REL);
    if (old == FDL_SLOT_OPEN) {
        account_close(s);
    } else if (old == FDL_SLOT_INTERNAL) { /* reached by a path fdl_yield_internal did not see */
        int *owner = internal_remove(fd);
        if (owner)
            __atomic_store_n(owner, -1, __ATOMIC_RELEASE);
        fdl_warn_once(&warned_internal_reused,
                      "the program took over a descriptor number fdleak kept for itself");
    }
    s->flags = flags;
    s->tid = fdl_gettid();
    s->via = via;
    __atomic_store_n(&s->site, site, __ATOMIC_RELAXED);
    s->created_ns = now;
    s->closed_by = 0;
    s->local_len = s->peer_len = 0;
    __atomic_store_n(&s->flow, 0, __ATOMIC_RELAXED);
    fdl_slot_write_end(s);
    if (site) /* release: a report that sees the count sees the site's id */
        __atomic_fetch_add(&site->created, 1, __ATOMIC_RELEASE);
    count_open();
    fdl_sites_maybe_snapshot(now);
}

#define PY_NATIVE_NEAR 4 /* native frames tried first under Python code */

/* The calling thread's stack, interned (without an id: record() gives a creation site its
 * id); NULL when nested inside fdleak on this thread, and in a vfork child: libunwind keeps
 * global state (its validation pipe's numbers) that the child would rewrite in its parent's
 * memory. */
static struct fdl_site *capture_site(uint32_t *flags, const struct fdl_pykey *tail)
{
    if (fdl_tls.busy || fdl_in_vfork_child()) {
        *flags |= FDL_F_NESTED;
        return 0;
    }
    fdl_tls.busy++;
    unsigned depth = (unsigned)fdl_config()->depth;
    uintptr_t key[depth + FDL_CAPTURE_SLACK + 1]; /* native pcs, then the interned Python stack */
    bool late;
    struct fdl_pykey *py = fdl_py_capture(&late, tail);
    if (late)
        *flags |= FDL_F_LATE; /* created after CPython began to finalize: not the program's */
    unsigned n;
    if (py) {
        /* A Python creation is its Python stack and the native frames below CPython: a few,
         * so those are unwound first, the whole depth only when CPython is not among them. */
        n = fdl_capture(key, depth < PY_NATIVE_NEAR ? depth : PY_NATIVE_NEAR);
        unsigned k = fdl_py_native_keep(key, n);
        if (k == n && n == PY_NATIVE_NEAR && depth > PY_NATIVE_NEAR)
            k = fdl_py_native_keep(key, fdl_capture(key, depth));
        n = k;
        key[n] = (uintptr_t)py;
    } else {
        n = fdl_capture(key, depth);
    }
    struct fdl_site *site = n || py ? fdl_stack_intern(key, n, py ? 1 : 0) : 0;
    struct fdl_pystack *none = 0, *text = py ? fdl_pykey_text(py) : 0;
    if (site && text) /* the creation site shows its Python stack's text */
        __atomic_compare_exchange_n(&site->py, &none, text, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
    fdl_tls.busy--;
    if (!n)
        fdl_warn_once(&warned_unwind, "a call stack could not be unwound; such descriptors are reported without a site");
    return site;
}

struct fdl_site *fdl_capture_stack(void)
{
    uint32_t ignored = 0;
    return capture_site(&ignored, 0);
}

/* One creation: its stack (ending with tail's frames, when given), its record, the threshold. */
static void created(int fd, const char *via, uint32_t flags, const struct fdl_pykey *tail)
{
    int saved = errno;
    struct fdl_site *site = capture_site(&flags, tail);
    record(fd, via, flags, site, fdl_now_mono_ns());
    check_threshold();
    errno = saved;
    fdl_py_park_if_doomed(); /* finalization may have begun while this call ran */
}

void fdl_created(int fd, const char *via, uint32_t flags)
{
    if (fd >= 0 && !fdl_in_vfork_child())
        created(fd, via, flags, 0);
}

void fdl_created_accepted(int fd, int listener, const char *via)
{
    if (fd < 0 || fdl_in_vfork_child())
        return;
    struct fdl_slot *ls = fdl_table_slot(listener, false);
    const struct fdl_site *lsite = ls && __atomic_load_n(&ls->state, __ATOMIC_ACQUIRE) == FDL_SLOT_OPEN
                                       ? __atomic_load_n(&ls->site, __ATOMIC_ACQUIRE) : 0;
    /* a site's Python stack is its last key word (capture_site) */
    created(fd, via, 0, lsite && lsite->n_extra ? (const struct fdl_pykey *)lsite->frames[lsite->n_native] : 0);
}

/* Where fdleak's descriptors go: near the top of the soft limit, out of the program's way,
 * but not above 4096 — the kernel sizes a process's descriptor table (copied at every fork)
 * to its highest descriptor. */
static long internal_target(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl))
        return 3;
    rlim_t cap = rl.rlim_cur > 4096 ? 4096 : rl.rlim_cur;
    return cap >= 64 ? (long)cap - 16 : cap > 4 ? (long)(cap * 3 / 4) : 3;
}

int fdl_internal_keep(int fd, int *owner)
{
    struct fdl_slot *s = fdl_table_slot(fd, true);
    if (s)
        __atomic_store_n(&s->state, FDL_SLOT_INTERNAL, __ATOMIC_RELEASE);
    internal_add(fd, owner);
    return fd;
}

int fdl_internal_dup(int src, int *owner)
{
    long fd = fdl_sys(SYS_fcntl, src, F_DUPFD_CLOEXEC, internal_target());
    if (fd < 0)
        fd = fdl_sys(SYS_fcntl, src, F_DUPFD_CLOEXEC, 3); /* nothing free up there: anywhere */
    return fd < 0 ? -1 : fdl_internal_keep((int)fd, owner);
}

void fdl_drop_internal(int fd)
{
    struct fdl_slot *s = fdl_table_slot(fd, false);
    uint32_t expect = FDL_SLOT_INTERNAL;
    if (s && !__atomic_compare_exchange_n(&s->state, &expect, FDL_SLOT_FREE, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        return; /* handed over to the program (fdl_yield_internal) a moment ago: its descriptor now */
    internal_remove(fd);
    fdl_sys(SYS_close, fd);
}

void fdl_yield_internal(int fd)
{
    struct fdl_slot *s = fdl_table_slot(fd, false);
    uint32_t expect = FDL_SLOT_INTERNAL;
    if (fdl_in_vfork_child() || !s ||
        !__atomic_compare_exchange_n(&s->state, &expect, FDL_SLOT_FREE, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        return;
    int *owner = internal_remove(fd);
    if (owner)
        __atomic_store_n(owner, -1, __ATOMIC_RELEASE);
}

bool fdl_is_redirect(const char *via)
{
    static const char *const names[] = {"dup2", "dup3", "freopen", "freopen64", "fcntl", "fcntl64", "dup"};
    for (size_t i = 0; via && i < sizeof names / sizeof *names; i++)
        if (!strcmp(via, names[i]))
            return true;
    return false;
}

void fdl_created_pair(int fds[2], const char *via, uintptr_t caller)
{
    if (fdl_in_vfork_child())
        return;
    int saved = errno;
    if (fdl_tls.busy && fdl_pc_in_unwinder(caller)) {
        /* libunwind's validation pipe: moved up, and remembered with the array libunwind keeps
         * it in (if that array is libunwind's own static data) so it can be taken back. */
        for (int i = 0; i < 2; i++) {
            int high = fdl_internal_dup(fds[i], fdl_unwinder_data(&fds[i]) ? &fds[i] : 0);
            if (high >= 0) {
                fdl_sys(SYS_close, fds[i]);
                fds[i] = high;
            }
        }
    } else {
        uint32_t flags = 0;
        struct fdl_site *site = capture_site(&flags, 0);
        uint64_t now = fdl_now_mono_ns();
        record(fds[0], via, flags, site, now);
        record(fds[1], via, flags, site, now);
        check_threshold();
    }
    errno = saved;
    fdl_py_park_if_doomed();
}

/* Marks the slot closed by the current stack (kept for double-close reports). */
static void stamp_closed(struct fdl_slot *s, struct fdl_site *by)
{
    fdl_slot_write_begin(s);
    s->closed_by = by;
    fdl_slot_write_end(s);
}

static struct fdl_site *close_stack(void)
{
    return fdl_config()->misuse == FDL_MISUSE_IGNORE ? 0 : fdl_capture_stack();
}

/* CPython's teardown is about to close something the program left open. */
static inline void check_finalizing(void)
{
    /* Only the thread that finalizes (Py_FinalizeEx); a daemon thread's close meanwhile must
     * not take the report, which exit() would cut off. */
    if (fdl_hooks.py_finalizing && !fdl_tls.busy && fdl_py_finalizing_here())
        fdl_hooks.py_finalizing();
}

bool fdl_release(int fd, enum fdl_release_how how, uintptr_t caller)
{
    if (fdl_in_vfork_child())
        return true;
    check_finalizing();
    fdl_py_park_if_doomed();
    if (fd == 2)
        fdl_keep_stderr();
    struct fdl_slot *s = fdl_table_slot(fd, false);
    uint32_t st = s ? __atomic_load_n(&s->state, __ATOMIC_ACQUIRE) : FDL_SLOT_FREE;
    bool unwinder = fdl_tls.busy && fdl_pc_in_unwinder(caller);
    if (unwinder && st != FDL_SLOT_INTERNAL)
        return false; /* libunwind holding a stale number must not close the program's descriptor */
    if (!s)
        return true;
    if (st == FDL_SLOT_INTERNAL) {
        if (!unwinder)
            return false;
        uint32_t expect = FDL_SLOT_INTERNAL;
        if (__atomic_compare_exchange_n(&s->state, &expect, FDL_SLOT_FREE, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            internal_remove(fd);
        return true;
    }
    if (st != FDL_SLOT_OPEN)
        return true;
    int saved = errno;
    if (how == FDL_REL_CLOSE && (s->flags & (FDL_F_STREAM | FDL_F_DIR)))
        fdl_misuse(FDL_E_CLOSE_OWNED, fd, __atomic_load_n(&s->site, __ATOMIC_RELAXED), 0);
    struct fdl_site *by = close_stack();
    uint32_t expect = FDL_SLOT_OPEN;
    if (__atomic_compare_exchange_n(&s->state, &expect, FDL_SLOT_FREE, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
        account_close(s);
        stamp_closed(s, by);
    }
    errno = saved;
    return true;
}

void fdl_released(void) { fdl_py_park_if_doomed(); }

void fdl_close_ebadf(int fd)
{
    if (fdl_in_vfork_child() || fdl_tls.busy) /* busy: libunwind's stale number, not the program */
        return;
    struct fdl_slot *s = fdl_table_slot(fd, false), rec;
    if (s && __atomic_load_n(&s->state, __ATOMIC_ACQUIRE) == FDL_SLOT_FREE && fdl_slot_read(s, &rec) &&
        rec.closed_by)
        fdl_misuse(FDL_E_DOUBLE_CLOSE, fd, rec.site, rec.closed_by);
    else
        fdl_misuse(FDL_E_BAD_CLOSE, fd, 0, 0);
}

int fdl_release_range(unsigned lo, unsigned hi, int *skip, int max_skip)
{
    int n = 0;
    if (fdl_in_vfork_child())
        return 0;
    check_finalizing();
    if (lo <= 2 && hi >= 2)
        fdl_keep_stderr();
    for (int i = 0; i < MAX_INTERNAL && n < max_skip; i++) {
        int fd = __atomic_load_n(&internals[i].fd, __ATOMIC_ACQUIRE);
        if (fd >= 0 && (unsigned)fd >= lo && (unsigned)fd <= hi)
            skip[n++] = fd;
    }
    for (int i = 1; i < n; i++) /* insertion sort: n <= 8 */
        for (int j = i; j > 0 && skip[j - 1] > skip[j]; j--) {
            int t = skip[j];
            skip[j] = skip[j - 1];
            skip[j - 1] = t;
        }
    struct fdl_site *by = 0;
    bool captured = false;
    struct fdl_slot *s;
    int top = hi > (unsigned)INT32_MAX ? INT32_MAX : (int)hi;
    for (int fd = (int)(lo > (unsigned)INT32_MAX ? INT32_MAX : lo); (s = fdl_table_next(&fd, top)); fd++) {
        if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != FDL_SLOT_OPEN)
            continue;
        if (!captured) { /* one stack for the whole range, taken only if something is open */
            int saved = errno;
            by = close_stack();
            captured = true;
            errno = saved;
        }
        uint32_t expect = FDL_SLOT_OPEN;
        if (__atomic_compare_exchange_n(&s->state, &expect, FDL_SLOT_FREE, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
            account_close(s);
            stamp_closed(s, by);
        }
    }
    return n;
}

/* The connection's flow: a client's endpoint is the address it connected to, an accepted
 * connection's the local address it arrived at (recorded just before). The first connect of a
 * socket decides (a datagram socket connected again keeps its first). */
static uint32_t flow_of(const struct fdl_slot *s, const struct sockaddr *peer, socklen_t len)
{
    if (s->flow || !s->site)
        return s->flow;
    bool accepted = s->via && !strncmp(s->via, "accept", 6);
    unsigned kind = (accepted ? FDL_FLOW_SERVER : FDL_FLOW_CLIENT) | (s->flags & FDL_F_DGRAM ? FDL_FLOW_DGRAM : 0);
    return accepted ? fdl_flow_handle(s->site, kind, (const void *)s->local, s->local_len)
                    : fdl_flow_handle(s->site, kind, peer, len);
}

static void note_addr(int fd, const struct sockaddr *a, socklen_t len, bool peer)
{
    struct fdl_slot *s = fdl_in_vfork_child() ? 0 : fdl_table_slot(fd, false);
    if (!s || !a || __atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != FDL_SLOT_OPEN)
        return;
    int saved = errno;
    uint32_t had = s->flow, flow = peer ? flow_of(s, a, len) : 0;
    size_t cap = peer ? FDL_ADDR_PEER_MAX : FDL_ADDR_LOCAL_MAX;
    if (len > cap)
        len = peer ? (socklen_t)cap : 0; /* a long unix path still names the peer; truncated */
    fdl_slot_write_begin(s);
    /* Closed (and perhaps reused) since the check above, by a signal handler or another
     * thread: the address belongs to no descriptor now. */
    bool open = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE) == FDL_SLOT_OPEN;
    if (open && peer) {
        memcpy(s->peer, a, len);
        s->peer_len = (uint8_t)len;
        __atomic_store_n(&s->flow, flow, __ATOMIC_RELAXED);
    } else if (open) {
        memcpy(s->local, a, len);
        s->local_len = (uint8_t)len;
    }
    fdl_slot_write_end(s);
    struct fdl_flow *f = open && flow != had ? fdl_flow_at(flow) : 0;
    if (f) { /* counted once the descriptor carries it, so its close is counted against it */
        uint64_t c = __atomic_add_fetch(&f->created, 1, __ATOMIC_RELAXED), d = __atomic_load_n(&f->closed, __ATOMIC_RELAXED);
        uint64_t now_open = c > d ? c - d : 0, peak = __atomic_load_n(&f->peak, __ATOMIC_RELAXED);
        while (now_open > peak && !__atomic_compare_exchange_n(&f->peak, &peak, now_open, true, __ATOMIC_RELAXED,
                                                               __ATOMIC_RELAXED))
            ;
    }
    errno = saved;
}

void fdl_note_local(int fd, const struct sockaddr *a, socklen_t len) { note_addr(fd, a, len, false); }
void fdl_note_peer(int fd, const struct sockaddr *a, socklen_t len) { note_addr(fd, a, len, true); }

void fdl_note_flags(int fd, uint32_t flags)
{
    struct fdl_slot *s = fdl_in_vfork_child() ? 0 : fdl_table_slot(fd, false);
    if (!s || __atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != FDL_SLOT_OPEN)
        return;
    fdl_slot_write_begin(s);
    s->flags |= flags;
    fdl_slot_write_end(s);
}

/* ---- start-up and fork (called by lifecycle.c) ---- */

/* A descriptor open when fdleak starts, with no record yet: inherited. */
static void mark_inherited(int fd, void *arg)
{
    (void)arg;
    struct fdl_slot *s = fdl_table_slot(fd, true);
    if (!s)
        return;
    fdl_slot_write_begin(s);
    uint32_t expect = FDL_SLOT_FREE;
    if (!__atomic_compare_exchange_n(&s->state, &expect, FDL_SLOT_OPEN, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
        fdl_slot_write_end(s);
        return;
    }
    s->flags = FDL_F_INHERITED;
    s->via = 0;
    s->site = 0;
    s->tid = 0;
    s->created_ns = fdl_now_mono_ns();
    s->closed_by = 0;
    s->local_len = s->peer_len = 0;
    s->flow = 0;
    fdl_slot_write_end(s);
    count_open();
}

/* The parent's growth snapshots, report numbering and misuse log are reset by their own
 * modules (lifecycle.c lists them); what is left here is the table. Runs single-threaded. */
void fdl_core_fork_child(void)
{
    struct fdl_slot *s;
    for (int fd = 0; (s = fdl_table_next(&fd, INT32_MAX)); fd++)
        if (__atomic_load_n(&s->state, __ATOMIC_RELAXED) == FDL_SLOT_OPEN)
            s->flags |= FDL_F_FORKED;
}

void fdl_core_mark_inherited(void) { fdl_proc_fds(mark_inherited, 0); }
