/* capture.c — stack capture with libunwind, skipping fdleak's own frames. */
#include "capture.h"
#include "tls.h"

#include <link.h>
#include <libunwind.h>

struct range {
    uintptr_t lo, hi;
};
static struct range self_code, unwinder_code;
static int ready;

struct find_ctx {
    uintptr_t addr;
    struct range r;
};

/* Executable segments of the object that contains ctx->addr. */
static int find_cb(struct dl_phdr_info *info, size_t size, void *p)
{
    (void)size;
    struct find_ctx *c = p;
    struct range r = {UINTPTR_MAX, 0};
    int hit = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (lo < r.lo)
            r.lo = lo;
        if (hi > r.hi)
            r.hi = hi;
        if (c->addr >= lo && c->addr < hi)
            hit = 1;
    }
    if (hit)
        c->r = r;
    return hit;
}

static struct range range_of(uintptr_t addr)
{
    struct find_ctx c = {addr, {0, 0}};
    dl_iterate_phdr(find_cb, &c);
    return c.r;
}

void fdl_capture_init(void)
{
    if (__atomic_load_n(&ready, __ATOMIC_ACQUIRE))
        return;
    self_code = range_of((uintptr_t)&fdl_capture_init);
    unwinder_code = range_of((uintptr_t)&unw_backtrace);
    __atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
    void *warm[8];
    unw_backtrace(warm, 8); /* libunwind's lazy init opens its pipe here, under our guard */
}

static inline int in(const struct range *r, uintptr_t pc) { return pc >= r->lo && pc < r->hi; }

bool fdl_pc_in_unwinder(uintptr_t pc)
{
    if (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE))
        unwinder_code = range_of((uintptr_t)&unw_backtrace); /* before init: still answer right */
    return in(&unwinder_code, pc);
}

unsigned fdl_capture(uintptr_t *pcs, unsigned max)
{
    if (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE))
        fdl_capture_init();
    int n = unw_backtrace((void **)pcs, (int)(max + FDL_CAPTURE_SLACK));
    if (n <= 0)
        return 0;
    unsigned skip = 0;
    while (skip < (unsigned)n && (in(&self_code, pcs[skip]) || in(&unwinder_code, pcs[skip])))
        skip++;
    unsigned k = (unsigned)n - skip;
    if (k > max)
        k = max;
    for (unsigned i = 0; i < k; i++)
        pcs[i] = pcs[i + skip];
    return k;
}
