/* sites.h — interned creation sites: one record per distinct call stack, shared by every
 * descriptor created there, so memory stays flat however many descriptors churn through.
 * Lookup and insertion are lock-free (open addressing with compare-and-swap, records from an
 * append-only arena): safe from any thread, from a signal handler, and across fork. The stacks
 * of closes, misuse and exec calls are interned the same way; only a stack that created a
 * descriptor gets an id (the "site 3" users see). */
#ifndef FDL_SITES_H
#define FDL_SITES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fdl_pystack;

/* Lifetimes of closed descriptors without storing each one: a count, a sum and a log-scale
 * histogram (bucket i holds [2^i, 2^(i+1)) microseconds; bucket 0 also everything shorter; the
 * last, from 2^31 µs (36 min), is open-ended), enough for a median and a p90 within a factor
 * of two below that. Updated with relaxed atomics from any thread or signal handler. */
#define FDL_LIFE_BUCKETS 32
struct fdl_life {
    _Atomic uint64_t count, sum_ns;
    _Atomic uint64_t hist[FDL_LIFE_BUCKETS];
};
void fdl_life_add(struct fdl_life *l, uint64_t ns);
/* Adds b's counts into a plain copy (report time). */
void fdl_life_merge(struct fdl_life *into, const struct fdl_life *b);
/* The q-quantile (0 < q < 1) in seconds, interpolated within its bucket; -1 when empty. */
double fdl_life_quantile(const struct fdl_life *l, double q);

struct fdl_site {
    uint64_t hash;
    uint32_t id;                /* 1, 2, 3 … without gaps, in order of first creation there
                                   (fdl_site_number); 0 for a stack that never created one */
    uint16_t n_native;          /* native return addresses, innermost first */
    uint16_t n_extra;           /* further key words: the interned Python stack (capture_python.h) */
    _Atomic uint64_t created;   /* descriptors created here */
    _Atomic uint64_t closed;    /* … and released again */
    _Atomic uint32_t hist[17];  /* open count at the last snapshots (FDL_SNAP_RING, a ring) */
    _Atomic uint32_t floor[3][17]; /* the lowest of those counts over each of the last windows
                                      of 8, 64 and 512 snapshots (FDL_FLOOR_TIERS, rings) */
    uint32_t floor_cur[3];      /* … over the window under way (the snapshot taker's only) */
    struct fdl_pystack *_Atomic py; /* the Python stack's text, set once by its first creator */
    struct fdl_life life;       /* lifetimes of what was closed */
    uintptr_t frames[];         /* n_native pcs, then n_extra words */
};

#define FDL_SITES_CAP (1u << 16) /* hash slots; the table accepts up to 3/4 of this */

/* The stack for this key, created on first sight, without an id. NULL only when the table is
 * full or out of memory (said once). */
struct fdl_site *fdl_stack_intern(const uintptr_t *frames, unsigned n_native, unsigned n_extra);

/* A creation site: gives s the next id unless it has one. Called before s is published in a
 * descriptor's record, so a report never lists a site without its id. Lock-free (a thread that
 * finds another's numbering half done finishes it), async-signal-safe, fork-safe; one load once
 * s has its id. */
void fdl_site_number(struct fdl_site *s);

/* fdl_stack_intern, then fdl_site_number: the creation site for this key. */
struct fdl_site *fdl_site_intern(const uintptr_t *frames, unsigned n_native, unsigned n_extra);

/* Calls fn for every site (in no particular order). Safe concurrently with interning. */
void fdl_sites_foreach(void (*fn)(struct fdl_site *, void *), void *arg);

unsigned fdl_sites_count(void);

/* Lock-free interning into an open-addressed table of cap (a power of two) pointers, shared
 * by the site, flow and Python-stack (capture_python.c) tables: returns the entry equal to key
 * (same(entry, key)), else one made by make(key) and published (*at, if given: its slot),
 * else NULL when the table is 3/4 full or make failed. Two threads racing on one key get the
 * same entry (the loser's stays unused in the arena). Safe from any thread, a signal handler,
 * and across fork. */
void *fdl_intern(void *_Atomic *slots, unsigned cap, _Atomic unsigned *count, uint64_t hash,
                 bool (*same)(const void *entry, const void *key), void *(*make)(const void *key),
                 const void *key, unsigned *at);

/* Growth: a snapshot records every site's open count in a ring of the last 16, and the lowest
 * count of every window of 8, 64 and 512 snapshots in a ring of the last 16 such floors per
 * tier (the snapshot taker alone writes them; the view reads them as it reads the counts). Snapshots are
 * taken every FDLEAK_SNAPSHOT seconds by whichever creation call finds one due, or with
 * interval reports by the interval thread at every interval; one at a time, lock-free: a
 * snapshot already under way makes the next one skip. Readers may run anywhere and see a count
 * at most one snapshot old. maybe_snapshot is async-signal-safe and cheap when nothing is due
 * (one load). */
void fdl_sites_snapshot(void);
void fdl_sites_maybe_snapshot(uint64_t now_ns);
/* In a fork child (lifecycle.c's child handler, single-threaded): a snapshot another thread of
 * the parent was taking does not exist here. */
void fdl_sites_forked(void);
/* The interval thread takes the snapshots from now on (lazy ones stop). */
void fdl_sites_thread_snapshots(void);
/* The ring as it is now: its generation, how many snapshots it holds (at most the last 16)
 * and their monotonic times, oldest first; then a site's open counts at those snapshots. The
 * view leaves out the slot a snapshot under way writes; fdl_snapshot_view_held says whether
 * another one completed while the caller read. */
#define FDL_SNAP_RING 17
#define FDL_FLOOR_TIERS 3
struct fdl_snapview {
    unsigned gen, n;
    uint64_t t[FDL_SNAP_RING];
    /* Floors: per tier, how many whole windows the view holds and the time each one ended. */
    unsigned nf[FDL_FLOOR_TIERS];
    uint64_t tf[FDL_FLOOR_TIERS][FDL_SNAP_RING];
};
void fdl_snapshot_view(struct fdl_snapview *v);
/* Whether what was read through v since it was taken is still what it says: no snapshot
 * completed meanwhile (else read again). */
bool fdl_snapshot_view_held(const struct fdl_snapview *v);
void fdl_site_history(const struct fdl_site *s, const struct fdl_snapview *v, uint32_t *out);
/* Whether the last k values of v[0..n) strictly increase; *per_hour is the rise per hour over
 * them (t: the snapshot times): the fast rule of the growth test (findings.c). */
bool fdl_growing(const uint32_t *v, const uint64_t *t, unsigned n, unsigned k, double *per_hour);

/* Slow growth, which churn and bursts do not fool: a site's floors (the lowest open count in
 * each window) at one tier, oldest first (v->nf[tier] of them). A floor history grows when its
 * last FDL_FLOOR_SPAN floors never fall, rise by 2 or more, and rose within the last half of
 * them (a cache that filled and then stays flat stops growing); *per_hour is the slope of a
 * least-squares fit over them. */
#define FDL_FLOOR_SPAN 6
void fdl_site_floors(const struct fdl_site *s, const struct fdl_snapview *v, unsigned tier, uint32_t *out);
unsigned fdl_floor_window(unsigned tier); /* snapshots per window at that tier */
bool fdl_floor_growing(const uint32_t *v, const uint64_t *t, unsigned n, double *per_hour);

/* Lock-free bump allocation from mmap'd chunks; memory is never freed. */
void *fdl_arena_alloc(size_t size);

#endif
