/* sites.h — interned creation sites: one record per distinct call stack, shared by every
 * descriptor created there, so memory stays flat however many descriptors churn through.
 * Lookup and insertion are lock-free (open addressing with compare-and-swap, records from an
 * append-only arena): safe from any thread, from a signal handler, and across fork. */
#ifndef FDL_SITES_H
#define FDL_SITES_H

#include <stddef.h>
#include <stdint.h>

struct fdl_pystack;

struct fdl_site {
    uint64_t hash;
    uint32_t id;                /* 1, 2, … in order of first use (gaps are possible) */
    uint16_t n_native;          /* native return addresses, innermost first */
    uint16_t n_extra;           /* further key words: the Python stack (capture_python.h) */
    _Atomic uint64_t created;   /* descriptors created here */
    _Atomic uint64_t closed;    /* … and released again */
    _Atomic uint32_t hist[16];  /* open count at the last interval snapshots (a ring) */
    struct fdl_pystack *_Atomic py; /* the Python stack's text, set once by its first creator */
    uintptr_t frames[];         /* n_native pcs, then n_extra words */
};

#define FDL_SITES_CAP (1u << 16) /* hash slots; the table accepts up to 3/4 of this */

/* The site for this key, created on first sight. NULL only when the table is full or out of
 * memory (said once). */
struct fdl_site *fdl_site_intern(const uintptr_t *frames, unsigned n_native, unsigned n_extra);

/* Calls fn for every site (in no particular order). Safe concurrently with interning. */
void fdl_sites_foreach(void (*fn)(struct fdl_site *, void *), void *arg);

unsigned fdl_sites_count(void);

/* Growth: an interval snapshot records every site's open count; a site is growing when its
 * last k recorded counts strictly increase. Snapshots are taken by one thread (the interval
 * thread); readers may run anywhere, concurrently, and see a count at most one snapshot old. */
void fdl_sites_snapshot(void);
int fdl_site_growing(const struct fdl_site *s, int k, double *per_hour);

/* Lock-free bump allocation from mmap'd chunks; memory is never freed. */
void *fdl_arena_alloc(size_t size);

#endif
