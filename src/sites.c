/* sites.c — the lock-free site table and its arena (see sites.h). */
#include "sites.h"
#include "util.h"

#include <string.h>
#include <sys/mman.h>

/* ---- arena ---- */

struct arena_chunk {
    _Atomic size_t used;
    size_t cap;
    char data[];
};

#define ARENA_CHUNK (1u << 20)
static struct arena_chunk *_Atomic arena_cur;
static int warned_oom, warned_full;

void *fdl_arena_alloc(size_t size)
{
    size = (size + 15) & ~(size_t)15;
    if (size > ARENA_CHUNK / 2)
        return 0;
    for (;;) {
        struct arena_chunk *c = __atomic_load_n(&arena_cur, __ATOMIC_ACQUIRE);
        if (c) {
            size_t off = __atomic_fetch_add(&c->used, size, __ATOMIC_RELAXED);
            if (off + size <= c->cap)
                return c->data + off;
        }
        void *m = mmap(0, ARENA_CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            return 0;
        struct arena_chunk *n = m;
        n->cap = ARENA_CHUNK - sizeof *n;
        __atomic_store_n(&n->used, size, __ATOMIC_RELAXED);
        if (__atomic_compare_exchange_n(&arena_cur, &c, n, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            return n->data;
        munmap(m, ARENA_CHUNK); /* another thread installed a fresh chunk first: use it */
    }
}

/* ---- sites ---- */

static struct fdl_site *_Atomic slots[FDL_SITES_CAP];
static _Atomic unsigned n_sites;
static _Atomic uint32_t next_id;

static uint64_t hash_words(const uintptr_t *w, unsigned n)
{
    uint64_t h = 0xcbf29ce484222325ull ^ n;
    for (unsigned i = 0; i < n; i++) {
        h ^= (uint64_t)w[i];
        h *= 0x100000001b3ull;
        h ^= h >> 29;
    }
    return h ? h : 1;
}

static int same(const struct fdl_site *s, uint64_t h, const uintptr_t *w, unsigned nn, unsigned ne)
{
    return s->hash == h && s->n_native == nn && s->n_extra == ne &&
           !memcmp(s->frames, w, (nn + ne) * sizeof *w);
}

struct fdl_site *fdl_site_intern(const uintptr_t *frames, unsigned n_native, unsigned n_extra)
{
    uint64_t h = hash_words(frames, n_native + n_extra);
    unsigned mask = FDL_SITES_CAP - 1;
    struct fdl_site *mine = 0;
    for (unsigned i = (unsigned)h & mask, probes = 0; probes < FDL_SITES_CAP; i = (i + 1) & mask, probes++) {
        struct fdl_site *s = __atomic_load_n(&slots[i], __ATOMIC_ACQUIRE);
        if (s) {
            if (same(s, h, frames, n_native, n_extra))
                return s;
            continue;
        }
        if (!mine) {
            if (__atomic_load_n(&n_sites, __ATOMIC_RELAXED) >= FDL_SITES_CAP / 4 * 3) {
                fdl_warn_once(&warned_full, "too many distinct creation sites; new ones are not attributed");
                return 0;
            }
            size_t words = n_native + n_extra;
            mine = fdl_arena_alloc(sizeof *mine + words * sizeof(uintptr_t));
            if (!mine) {
                fdl_warn_once(&warned_oom, "out of memory for creation sites; new ones are not attributed");
                return 0;
            }
            mine->hash = h;
            mine->n_native = (uint16_t)n_native;
            mine->n_extra = (uint16_t)n_extra;
            memcpy(mine->frames, frames, words * sizeof *frames);
            mine->id = __atomic_add_fetch(&next_id, 1, __ATOMIC_RELAXED);
        }
        struct fdl_site *expect = 0;
        if (__atomic_compare_exchange_n(&slots[i], &expect, mine, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            __atomic_fetch_add(&n_sites, 1, __ATOMIC_RELAXED);
            return mine;
        }
        if (same(expect, h, frames, n_native, n_extra))
            return expect; /* lost the race to an identical stack; `mine` stays in the arena */
    }
    return 0;
}

void fdl_sites_foreach(void (*fn)(struct fdl_site *, void *), void *arg)
{
    for (unsigned i = 0; i < FDL_SITES_CAP; i++) {
        struct fdl_site *s = __atomic_load_n(&slots[i], __ATOMIC_ACQUIRE);
        if (s)
            fn(s, arg);
    }
}

unsigned fdl_sites_count(void) { return __atomic_load_n(&n_sites, __ATOMIC_RELAXED); }

/* ---- growth ---- */

#define RING 16
static uint64_t snap_ns[RING];
static _Atomic unsigned snaps;

static void snap_one(struct fdl_site *s, void *arg)
{
    unsigned slot = *(unsigned *)arg;
    uint64_t d = __atomic_load_n(&s->closed, __ATOMIC_ACQUIRE), c = __atomic_load_n(&s->created, __ATOMIC_ACQUIRE);
    __atomic_store_n(&s->hist[slot], (uint32_t)(c > d ? c - d : 0), __ATOMIC_RELAXED);
}

void fdl_sites_snapshot(void)
{
    unsigned n = __atomic_load_n(&snaps, __ATOMIC_RELAXED), slot = n % RING;
    snap_ns[slot] = fdl_now_mono_ns();
    fdl_sites_foreach(snap_one, &slot);
    __atomic_store_n(&snaps, n + 1, __ATOMIC_RELEASE);
}

int fdl_site_growing(const struct fdl_site *s, int k, double *per_hour)
{
    unsigned n = __atomic_load_n(&snaps, __ATOMIC_ACQUIRE);
    if (k < 2 || k > RING || n < (unsigned)k)
        return 0;
    uint32_t prev = 0;
    for (int i = k; i > 0; i--) {
        uint32_t v = __atomic_load_n(&s->hist[(n - (unsigned)i) % RING], __ATOMIC_RELAXED);
        if (i < k && v <= prev)
            return 0;
        prev = v;
    }
    uint32_t first = __atomic_load_n(&s->hist[(n - (unsigned)k) % RING], __ATOMIC_RELAXED);
    uint64_t t0 = snap_ns[(n - (unsigned)k) % RING], t1 = snap_ns[(n - 1) % RING];
    *per_hour = t1 > t0 ? (double)(prev - first) * 3600e9 / (double)(t1 - t0) : 0;
    return 1;
}
