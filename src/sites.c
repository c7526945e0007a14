/* sites.c — the lock-free site table and its arena (see sites.h). */
#include "sites.h"
#include "config.h"
#include "diag.h"
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

void *fdl_intern(void *_Atomic *slots, unsigned cap, _Atomic unsigned *count, uint64_t hash,
                 bool (*same)(const void *entry, const void *key), void *(*make)(const void *key),
                 const void *key, unsigned *at)
{
    unsigned mask = cap - 1;
    void *mine = 0;
    for (unsigned i = (unsigned)hash & mask, probes = 0; probes < cap; i = (i + 1) & mask, probes++) {
        void *e = __atomic_load_n(&slots[i], __ATOMIC_ACQUIRE);
        if (e) {
            if (same(e, key)) {
                if (at)
                    *at = i;
                return e;
            }
            continue;
        }
        if (!mine) {
            if (__atomic_load_n(count, __ATOMIC_RELAXED) >= cap / 4 * 3)
                return 0;
            if (!(mine = make(key)))
                return 0;
        }
        void *expect = 0;
        if (__atomic_compare_exchange_n(&slots[i], &expect, mine, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            __atomic_fetch_add(count, 1, __ATOMIC_RELAXED);
            if (at)
                *at = i;
            return mine;
        }
        if (same(expect, key)) { /* lost the race to an equal key; `mine` stays in the arena */
            if (at)
                *at = i;
            return expect;
        }
    }
    return 0;
}

struct site_key {
    uint64_t hash;
    const uintptr_t *frames;
    unsigned n_native, n_extra;
};

static bool same_site(const void *entry, const void *key)
{
    const struct fdl_site *s = entry;
    const struct site_key *k = key;
    return s->hash == k->hash && s->n_native == k->n_native && s->n_extra == k->n_extra &&
           !memcmp(s->frames, k->frames, (k->n_native + k->n_extra) * sizeof *k->frames);
}

static void *make_site(const void *key)
{
    const struct site_key *k = key;
    size_t words = k->n_native + k->n_extra;
    struct fdl_site *s = fdl_arena_alloc(sizeof *s + words * sizeof(uintptr_t));
    if (!s) {
        fdl_warn_once(&warned_oom, "out of memory for creation sites; new ones are not attributed");
        return 0;
    }
    s->hash = k->hash;
    s->n_native = (uint16_t)k->n_native;
    s->n_extra = (uint16_t)k->n_extra;
    memcpy(s->frames, k->frames, words * sizeof *k->frames);
    return s;
}

struct fdl_site *fdl_stack_intern(const uintptr_t *frames, unsigned n_native, unsigned n_extra)
{
    struct site_key k = {hash_words(frames, n_native + n_extra), frames, n_native, n_extra};
    struct fdl_site *s = fdl_intern((void *_Atomic *)slots, FDL_SITES_CAP, &n_sites, k.hash, same_site, make_site, &k, 0);
    if (!s && __atomic_load_n(&n_sites, __ATOMIC_RELAXED) >= FDL_SITES_CAP / 4 * 3)
        fdl_warn_once(&warned_full, "too many distinct creation sites; new ones are not attributed");
    return s;
}

/* ---- ids ----
 * Given at first creation rather than at interning, so that the ids users see have no gaps:
 * stacks that never create (closes, misuse, exec calls) take none, nor does the entry a thread
 * made for a key another thread published first. One site at a time is `pending`: the last id
 * given is last_id = m, and the pending site gets m + 1. Every step is a compare-and-swap that
 * any thread may do on the pending site's behalf, in order: its id (0 -> m + 1), last_id
 * (m -> m + 1), pending (site -> NULL). A thread stopped halfway (preempted, interrupted by a
 * signal handler that numbers a site itself, or left behind by fork) holds nobody up: the next
 * one finishes its work. While a site is pending and has no id, last_id stays m (it moves only
 * once that id is set), so whoever sets the id sets the right one. */
static _Atomic uint32_t last_id;
static struct fdl_site *_Atomic pending;

static void number_pending(struct fdl_site *p)
{
    uint32_t none = 0, m = __atomic_load_n(&last_id, __ATOMIC_SEQ_CST);
    __atomic_compare_exchange_n(&p->id, &none, m + 1, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    uint32_t id = __atomic_load_n(&p->id, __ATOMIC_SEQ_CST), before = id - 1;
    __atomic_compare_exchange_n(&last_id, &before, id, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    struct fdl_site *was = p;
    __atomic_compare_exchange_n(&pending, &was, 0, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

void fdl_site_number(struct fdl_site *s)
{
    while (!__atomic_load_n(&s->id, __ATOMIC_ACQUIRE)) {
        struct fdl_site *p = __atomic_load_n(&pending, __ATOMIC_SEQ_CST);
        if (!p && !__atomic_compare_exchange_n(&pending, &p, s, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
            continue; /* another site became pending first: look again */
        number_pending(p ? p : s);
    }
}

struct fdl_site *fdl_site_intern(const uintptr_t *frames, unsigned n_native, unsigned n_extra)
{
    struct fdl_site *s = fdl_stack_intern(frames, n_native, n_extra);
    if (s)
        fdl_site_number(s);
    return s;
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

/* ---- lifetimes ---- */

void fdl_life_add(struct fdl_life *l, uint64_t ns)
{
    uint64_t us = ns / 1000;
    unsigned b = us < 2 ? 0 : 63 - (unsigned)__builtin_clzll(us);
    if (b >= FDL_LIFE_BUCKETS)
        b = FDL_LIFE_BUCKETS - 1;
    __atomic_fetch_add(&l->hist[b], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&l->sum_ns, ns, __ATOMIC_RELAXED);
    __atomic_fetch_add(&l->count, 1, __ATOMIC_RELAXED);
}

void fdl_life_merge(struct fdl_life *into, const struct fdl_life *b)
{
    into->count += __atomic_load_n(&b->count, __ATOMIC_RELAXED);
    into->sum_ns += __atomic_load_n(&b->sum_ns, __ATOMIC_RELAXED);
    for (unsigned i = 0; i < FDL_LIFE_BUCKETS; i++)
        into->hist[i] += __atomic_load_n(&b->hist[i], __ATOMIC_RELAXED);
}

double fdl_life_quantile(const struct fdl_life *l, double q)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < FDL_LIFE_BUCKETS; i++)
        total += __atomic_load_n(&l->hist[i], __ATOMIC_RELAXED);
    if (!total)
        return -1;
    double rank = q * (double)total, seen = 0;
    for (unsigned i = 0; i < FDL_LIFE_BUCKETS; i++) {
        double n = (double)__atomic_load_n(&l->hist[i], __ATOMIC_RELAXED);
        if (n > 0 && seen + n >= rank) {
            /* Linear within the bucket: the bucket itself is the error bar (a factor of 2). */
            double lo = i ? (double)(1ull << i) : 0, hi = (double)(1ull << (i + 1));
            return (lo + (hi - lo) * (rank - seen) / n) / 1e6;
        }
        seen += n;
    }
    return (double)(1ull << FDL_LIFE_BUCKETS) / 1e6;
}

/* ---- growth ---- */

#define RING FDL_SNAP_RING
static uint64_t snap_ns[RING];
static _Atomic unsigned snaps;
static _Atomic int snapping;           /* a snapshot is being taken */
static _Atomic uint64_t next_snap_ns;  /* lazy snapshots: when the next one is due */
static _Atomic int thread_snaps;       /* the interval thread takes them instead */

void fdl_sites_thread_snapshots(void) { __atomic_store_n(&thread_snaps, 1, __ATOMIC_RELEASE); }

static const unsigned window[FDL_FLOOR_TIERS] = {8, 64, 512}; /* snapshots per floor window */
static uint64_t floor_ns[FDL_FLOOR_TIERS][RING];                 /* when each window ended */

static void snap_one(struct fdl_site *s, void *arg)
{
    unsigned n = *(unsigned *)arg, slot = n % RING;
    uint64_t d = __atomic_load_n(&s->closed, __ATOMIC_ACQUIRE), c = __atomic_load_n(&s->created, __ATOMIC_ACQUIRE);
    uint32_t open = (uint32_t)(c > d ? c - d : 0);
    __atomic_store_n(&s->hist[slot], open, __ATOMIC_RELAXED);
    for (unsigned j = 0; j < FDL_FLOOR_TIERS; j++) {
        unsigned pos = n % window[j];
        s->floor_cur[j] = !pos || open < s->floor_cur[j] ? open : s->floor_cur[j]; /* a fresh window at 0 */
        if (pos == window[j] - 1)
            __atomic_store_n(&s->floor[j][(n / window[j]) % RING], s->floor_cur[j], __ATOMIC_RELAXED);
    }
}

void fdl_sites_snapshot(void)
{
    if (__atomic_exchange_n(&snapping, 1, __ATOMIC_ACQUIRE))
        return; /* another thread (or the code this signal handler interrupted) is at it */
    unsigned n = __atomic_load_n(&snaps, __ATOMIC_RELAXED), slot = n % RING;
    snap_ns[slot] = fdl_now_mono_ns();
    fdl_sites_foreach(snap_one, &n);
    for (unsigned j = 0; j < FDL_FLOOR_TIERS; j++)
        if (n % window[j] == window[j] - 1)
            floor_ns[j][(n / window[j]) % RING] = snap_ns[slot];
    __atomic_store_n(&snaps, n + 1, __ATOMIC_RELEASE);
    __atomic_store_n(&snapping, 0, __ATOMIC_RELEASE);
}

/* The child's growth is its own: the parent's snapshots describe the parent, and the interval
 * thread (not inherited) no longer takes them. Ids go on from the parent's: its sites are
 * the child's too. */
void fdl_sites_forked(void)
{
    __atomic_store_n(&snapping, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&snaps, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&thread_snaps, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&next_snap_ns, 0, __ATOMIC_RELAXED);
}

void fdl_sites_maybe_snapshot(uint64_t now)
{
    uint64_t due = __atomic_load_n(&next_snap_ns, __ATOMIC_RELAXED);
    if (__builtin_expect(now < due, 1))
        return;
    /* With interval reports the interval thread takes them, in step with its reports; a child
     * forked from such a process (no thread) takes them at the same pace itself. */
    const struct fdl_config *cfg = fdl_config();
    double every = cfg->interval_reports ? cfg->interval : cfg->snapshot;
    if (__atomic_load_n(&thread_snaps, __ATOMIC_ACQUIRE) || every <= 0) {
        __atomic_store_n(&next_snap_ns, UINT64_MAX, __ATOMIC_RELAXED);
        return;
    }
    uint64_t next = now + (uint64_t)(every * 1e9);
    if (!due) { /* the first call starts the clock: no snapshot of an empty table */
        __atomic_compare_exchange_n(&next_snap_ns, &due, next, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
        return;
    }
    if (__atomic_compare_exchange_n(&next_snap_ns, &due, next, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        fdl_sites_snapshot();
}

void fdl_snapshot_view(struct fdl_snapview *v)
{
    /* Never the slot the next snapshot writes (gen % RING): a snapshot completing while the
     * caller reads leaves the view intact. */
    v->gen = __atomic_load_n(&snaps, __ATOMIC_ACQUIRE);
    v->n = v->gen < RING - 1 ? v->gen : RING - 1;
    for (unsigned i = 0; i < v->n; i++)
        v->t[i] = snap_ns[(v->gen - v->n + i) % RING];
    /* The same for each tier's whole windows: never the slot the window under way completes. */
    for (unsigned j = 0; j < FDL_FLOOR_TIERS; j++) {
        unsigned done = v->gen / window[j];
        v->nf[j] = done < RING - 1 ? done : RING - 1;
        for (unsigned i = 0; i < v->nf[j]; i++)
            v->tf[j][i] = floor_ns[j][(done - v->nf[j] + i) % RING];
    }
}

unsigned fdl_floor_window(unsigned tier) { return window[tier]; }

void fdl_site_floors(const struct fdl_site *s, const struct fdl_snapview *v, unsigned tier, uint32_t *out)
{
    unsigned done = v->gen / window[tier];
    for (unsigned i = 0; i < v->nf[tier]; i++)
        out[i] = __atomic_load_n(&s->floor[tier][(done - v->nf[tier] + i) % RING], __ATOMIC_RELAXED);
}

bool fdl_floor_growing(const uint32_t *v, const uint64_t *t, unsigned n, double *per_hour)
{
    const unsigned m = FDL_FLOOR_SPAN;
    if (n < m)
        return false;
    const uint32_t *f = v + n - m;
    const uint64_t *ft = t + n - m;
    for (unsigned i = 1; i < m; i++)
        if (f[i] < f[i - 1])
            return false;
    if (f[m - 1] < f[0] + 2 || f[m - 1] <= f[m / 2 - 1])
        return false;
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (unsigned i = 0; i < m; i++) {
        double x = (double)(ft[i] - ft[0]) / 3.6e12, y = f[i]; /* hours since the first */
        sx += x, sy += y, sxx += x * x, sxy += x * y;
    }
    double den = m * sxx - sx * sx;
    if (den <= 0)
        return false;
    *per_hour = (m * sxy - sx * sy) / den;
    return *per_hour > 0;
}

bool fdl_snapshot_view_held(const struct fdl_snapview *v)
{
    /* The snapshot under way when the view was taken writes the slot the view leaves out; once
     * it completes, the next may start on the view's oldest. */
    return __atomic_load_n(&snaps, __ATOMIC_ACQUIRE) == v->gen;
}

void fdl_site_history(const struct fdl_site *s, const struct fdl_snapview *v, uint32_t *out)
{
    for (unsigned i = 0; i < v->n; i++)
        out[i] = __atomic_load_n(&s->hist[(v->gen - v->n + i) % RING], __ATOMIC_RELAXED);
}

bool fdl_growing(const uint32_t *v, const uint64_t *t, unsigned n, unsigned k, double *per_hour)
{
    if (k < 2 || n < k)
        return false;
    for (unsigned i = n - k + 1; i < n; i++)
        if (v[i] <= v[i - 1])
            return false;
    uint64_t t0 = t[n - k], t1 = t[n - 1];
    *per_hour = t1 > t0 ? (double)(v[n - 1] - v[n - k]) * 3600e9 / (double)(t1 - t0) : 0;
    return true;
}

