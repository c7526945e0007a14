/* capture.c — stack capture with libunwind, skipping fdleak's own frames. */
#include "capture.h"
#include "diag.h"
#include "real.h"
#include "util.h"
#include "tls.h"
#include "sys.h"

#include <errno.h>
#include <time.h>

#include <dlfcn.h>
#include <link.h>
#include <libunwind.h>

struct range {
    uintptr_t lo, hi;
};
static struct range self_code, unwinder_code, unwinder_data;
static int ready;

struct find_ctx {
    uintptr_t addr;
    struct range r, data;
};

/* Executable segments of the object that contains ctx->addr. */
static int find_cb(struct dl_phdr_info *info, size_t size, void *p)
{
    (void)size;
    struct find_ctx *c = p;
    struct range r = {UINTPTR_MAX, 0}, data = {UINTPTR_MAX, 0};
    int hit = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (ph->p_flags & PF_W) {
            if (lo < data.lo)
                data.lo = lo;
            if (hi > data.hi)
                data.hi = hi;
        }
        if (!(ph->p_flags & PF_X))
            continue;
        if (lo < r.lo)
            r.lo = lo;
        if (hi > r.hi)
            r.hi = hi;
        if (c->addr >= lo && c->addr < hi)
            hit = 1;
    }
    if (hit) {
        c->r = r;
        c->data = data;
    }
    return hit;
}

static struct range range_of(uintptr_t addr, struct range *data)
{
    struct find_ctx c = {addr, {0, 0}, {0, 0}};
    dl_iterate_phdr(find_cb, &c);
    if (data)
        *data = c.data;
    return c.r;
}

bool fdl_code_range(uintptr_t addr, uintptr_t *lo, uintptr_t *hi)
{
    struct range r = range_of(addr, 0);
    *lo = r.lo, *hi = r.hi;
    return r.hi > r.lo;
}

/* ---- fork ---- */

static _Atomic int forking, capturing;

#define MAX_OBJECTS 512
static struct dl_phdr_info objects[MAX_OBJECTS];
static size_t nobjects;
static int use_objects; /* in a fork child, until exec */

static int copy_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    (void)arg;
    if (nobjects < MAX_OBJECTS)
        objects[nobjects++] = *info; /* the headers it points to stay mapped in the child */
    return 0;
}

/* forking counts the threads inside fork() (several may fork at once); capturing counts the
 * captures in flight, native or Python (fdl_capture_enter). */
void fdl_capture_fork_prepare(void)
{
    __atomic_fetch_add(&forking, 1, __ATOMIC_SEQ_CST);
    /* Captures in flight finish in microseconds; a tenth of a second is plenty. */
    for (int i = 0; i < 1000 && __atomic_load_n(&capturing, __ATOMIC_SEQ_CST); i++) {
        struct timespec t = {0, 100000};
        nanosleep(&t, 0);
    }
    nobjects = 0;
    if (REAL(dl_iterate_phdr))
        REAL(dl_iterate_phdr)(copy_cb, 0);
}

void fdl_capture_fork_parent(void) { __atomic_fetch_sub(&forking, 1, __ATOMIC_SEQ_CST); }

void fdl_capture_fork_child(void)
{
    use_objects = nobjects > 0;
    /* Only the forking thread exists here: no other fork, no capture in flight. */
    __atomic_store_n(&forking, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&capturing, 0, __ATOMIC_SEQ_CST);
}

/* The copy is good while every object in it is still mapped. Once the child unloaded one
 * (which it could only do by taking the loader's lock itself, so that lock is usable), the
 * real list is both safe and right. */
static bool objects_still_mapped(void)
{
    for (size_t i = 0; i < nobjects; i++) {
        uintptr_t page = (uintptr_t)objects[i].dlpi_phdr & ~(uintptr_t)4095;
        unsigned char v;
        if (objects[i].dlpi_phdr && fdl_sys(SYS_mincore, page, 4096, &v) && errno == ENOMEM)
            return false;
    }
    return true;
}

int fdl_capture_iterate_phdr(int (*cb)(struct dl_phdr_info *, size_t, void *), void *data)
{
    if (use_objects && fdl_tls.busy) { /* libunwind, inside our capture, in a fork child */
        int saved = errno;
        bool ok = objects_still_mapped();
        errno = saved;
        if (!ok)
            use_objects = 0;
    }
    if (use_objects && fdl_tls.busy) {
        int r = 0;
        for (size_t i = 0; i < nobjects && !r; i++)
            r = cb(&objects[i], sizeof objects[i], data);
        return r;
    }
    if (!REAL(dl_iterate_phdr)) {
        errno = ENOSYS;
        return -1;
    }
    return REAL(dl_iterate_phdr)(cb, data);
}

/* libunwind is loaded privately (RTLD_LOCAL), not linked: as a dependency of a preloaded
 * library its _Unwind_* functions would come before libgcc's in the program's symbol search,
 * and the program's C++ exceptions would run through libunwind. */
static __typeof__(unw_backtrace) *backtrace_fn; /* the header keeps the type honest */
static int warned_missing;

static void load_unwinder(void)
{
    static const char *const names[] = {"libunwind.so.8", "libunwind.so"};
    for (size_t i = 0; i < sizeof names / sizeof *names && !backtrace_fn; i++) {
        void *h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (h)
            *(void **)&backtrace_fn = dlsym(h, "unw_backtrace"); /* POSIX's way to a function */
    }
    if (!backtrace_fn)
        fdl_warn_once(&warned_missing, "libunwind.so.8 cannot be loaded (Debian package libunwind8); "
                                       "descriptors are reported without stacks");
}

void fdl_capture_init(void)
{
    if (__atomic_load_n(&ready, __ATOMIC_ACQUIRE))
        return;
    load_unwinder();
    self_code = range_of((uintptr_t)&fdl_capture_init, 0);
    if (backtrace_fn)
        unwinder_code = range_of((uintptr_t)backtrace_fn, &unwinder_data);
    __atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
    void *warm[8];
    if (backtrace_fn)
        backtrace_fn(warm, 8); /* libunwind's lazy init opens its pipe here, under our guard */
}

static inline int in(const struct range *r, uintptr_t pc) { return pc >= r->lo && pc < r->hi; }

bool fdl_pc_in_unwinder(uintptr_t pc)
{
    return in(&unwinder_code, pc); /* set before the first call into libunwind */
}

bool fdl_unwinder_data(const void *p) { return in(&unwinder_data, (uintptr_t)p); }

bool fdl_capture_enter(void)
{
    /* A thread is forking: wait for it (it waits for captures already running, not for this
     * one); give up after a tenth of a second, e.g. on the forking thread's own signal handler. */
    for (int i = 0;; i++) {
        __atomic_fetch_add(&capturing, 1, __ATOMIC_SEQ_CST);
        if (!__atomic_load_n(&forking, __ATOMIC_SEQ_CST))
            return true;
        __atomic_fetch_sub(&capturing, 1, __ATOMIC_SEQ_CST);
        if (i == 1000)
            return false;
        struct timespec t = {0, 100000};
        nanosleep(&t, 0);
    }
}

void fdl_capture_leave(void) { __atomic_fetch_sub(&capturing, 1, __ATOMIC_SEQ_CST); }

/* How many frames of fdleak's and libunwind's own a capture has had at most: asking libunwind
 * for max plus these (and two spare) instead of max + FDL_CAPTURE_SLACK saves unwinding frames
 * that would be dropped. A capture whose own frames outnumber the guess (and whose stack goes on)
 * is taken again with the whole slack. Racy updates only ever raise it. */
static _Atomic unsigned own_frames = 4;

static unsigned unwind(uintptr_t *pcs, unsigned want, unsigned *skip)
{
    if (!fdl_capture_enter())
        return 0;
    int n = backtrace_fn ? backtrace_fn((void **)pcs, (int)want) : 0;
    fdl_capture_leave();
    if (n <= 0)
        return 0;
    unsigned k = 0;
    while (k < (unsigned)n && (in(&self_code, pcs[k]) || in(&unwinder_code, pcs[k])))
        k++;
    *skip = k;
    return (unsigned)n;
}

unsigned fdl_capture(uintptr_t *pcs, unsigned max)
{
    if (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE))
        fdl_capture_init();
    unsigned own = __atomic_load_n(&own_frames, __ATOMIC_RELAXED);
    unsigned want = max + (own + 2 < FDL_CAPTURE_SLACK ? own + 2 : FDL_CAPTURE_SLACK), skip = 0;
    unsigned n = unwind(pcs, want, &skip);
    if (skip > own)
        __atomic_store_n(&own_frames, skip, __ATOMIC_RELAXED);
    if (n == want && n - skip < max && want < max + FDL_CAPTURE_SLACK)
        n = unwind(pcs, max + FDL_CAPTURE_SLACK, &skip);
    if (n <= skip)
        return 0;
    unsigned k = n - skip;
    if (k > max)
        k = max;
    for (unsigned i = 0; i < k; i++)
        pcs[i] = pcs[i + skip];
    return k;
}
