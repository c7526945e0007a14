/* table.c — the chunked descriptor table (see table.h for its concurrency rules). */
#include "table.h"
#include "diag.h"
#include "util.h"

#include <string.h>
#include <sys/mman.h>

static struct fdl_slot *_Atomic dir[FDL_DIR_SIZE];
static int bound_chunks;
static int warned_range, warned_mmap;

struct fdl_slot *fdl_table_slot(int fd, bool create)
{
    if (fd < 0)
        return 0;
    if ((unsigned)fd >= FDL_FD_LIMIT) {
        if (create)
            fdl_warn_once(&warned_range, "descriptor numbers above 16777215 are not tracked");
        return 0;
    }
    unsigned ci = (unsigned)fd >> FDL_CHUNK_BITS;
    struct fdl_slot *c = __atomic_load_n(&dir[ci], __ATOMIC_ACQUIRE);
    if (__builtin_expect(!c, 0)) {
        if (!create)
            return 0;
        size_t sz = FDL_CHUNK_SLOTS * sizeof(struct fdl_slot);
        void *m = mmap(0, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) {
            fdl_warn_once(&warned_mmap, "out of memory for the descriptor table; some descriptors are not tracked");
            return 0;
        }
        struct fdl_slot *expect = 0;
        if (__atomic_compare_exchange_n(&dir[ci], &expect, (struct fdl_slot *)m, false,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            c = m;
            int want = (int)ci + 1, cur = __atomic_load_n(&bound_chunks, __ATOMIC_RELAXED);
            while (cur < want && !__atomic_compare_exchange_n(&bound_chunks, &cur, want, true,
                                                              __ATOMIC_RELAXED, __ATOMIC_RELAXED))
                ;
        } else {
            munmap(m, sz);
            c = expect;
        }
    }
    return &c[(unsigned)fd & (FDL_CHUNK_SLOTS - 1)];
}

int fdl_table_bound(void)
{
    return __atomic_load_n(&bound_chunks, __ATOMIC_RELAXED) << FDL_CHUNK_BITS;
}

struct fdl_slot *fdl_table_next(int *fd, int hi)
{
    int bound = fdl_table_bound();
    if (hi >= bound)
        hi = bound - 1;
    for (int f = *fd < 0 ? 0 : *fd; f <= hi; f = (f | (int)(FDL_CHUNK_SLOTS - 1)) + 1) {
        struct fdl_slot *c = __atomic_load_n(&dir[(unsigned)f >> FDL_CHUNK_BITS], __ATOMIC_ACQUIRE);
        if (c) {
            *fd = f;
            return &c[(unsigned)f & (FDL_CHUNK_SLOTS - 1)];
        }
    }
    return 0;
}

bool fdl_slot_read(const struct fdl_slot *s, struct fdl_slot *out)
{
    for (int tries = 0; tries < 64; tries++) {
        uint32_t a = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
        if (a & 1)
            continue;
        memcpy(out, s, sizeof *out);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&s->seq, __ATOMIC_RELAXED) == a)
            return true;
    }
    return false;
}
