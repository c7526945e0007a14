/* test_sites.c — interning: identical stacks share one site, memory stays flat under churn,
 * concurrent interning of the same stack yields one site; lifetime histograms and their
 * quantiles; the growth test and the snapshot ring. */
#include "sites.h"
#include "unit.h"

#include <pthread.h>
#include <time.h>
#include <stdio.h>
#include <stdint.h>

static void test_identity(void)
{
    uintptr_t a[] = {0x1000, 0x2000, 0x3000}, b[] = {0x1000, 0x2000, 0x3001};
    struct fdl_site *sa = fdl_site_intern(a, 3, 0), *sb = fdl_site_intern(b, 3, 0);
    CHECK(sa && sb && sa != sb);
    CHECK(fdl_site_intern(a, 3, 0) == sa);
    CHECK(fdl_site_intern(a, 2, 0) != sa);       /* a prefix is another stack */
    CHECK(fdl_site_intern(a, 2, 1) != fdl_site_intern(a, 3, 0)); /* extra words are part of the key */
    CHECK_EQ(sa->n_native, 3);
    CHECK_EQ(sa->frames[2], 0x3000);
    CHECK(sa->id != sb->id);
}

static void test_flat(void)
{
    unsigned before = fdl_sites_count();
    uintptr_t k[4] = {1, 2, 3, 0};
    for (int i = 0; i < 1000000; i++) {
        k[3] = (uintptr_t)(i % 10);
        fdl_site_intern(k, 4, 0);
    }
    CHECK_EQ(fdl_sites_count(), before + 10);
}

static struct fdl_site *raced[8];

static void *race(void *arg)
{
    uintptr_t k[] = {0xdead, 0xbeef, 0xf00d};
    raced[(intptr_t)arg] = fdl_site_intern(k, 3, 0);
    return NULL;
}

static void test_race(void)
{
    pthread_t t[8];
    for (intptr_t i = 0; i < 8; i++)
        pthread_create(&t[i], NULL, race, (void *)i);
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    for (int i = 1; i < 8; i++)
        CHECK(raced[i] == raced[0]);
}

static void count(struct fdl_site *s, void *arg)
{
    (void)s;
    ++*(unsigned *)arg;
}

static void test_foreach(void)
{
    unsigned n = 0;
    fdl_sites_foreach(count, &n);
    CHECK_EQ(n, fdl_sites_count());
}

/* Within a factor of two of the truth (the bucket width), as documented. */
static void check_near(double got, double want)
{
    if (!(got >= want / 2 && got <= want * 2))
        fprintf(stderr, "quantile %g s, expected about %g s\n", got, want);
    CHECK(got >= want / 2 && got <= want * 2);
}

static void test_life(void)
{
    struct fdl_life l = {0};
    CHECK(fdl_life_quantile(&l, 0.5) < 0); /* empty: no median */
    for (int i = 0; i < 90; i++)
        fdl_life_add(&l, 2000000); /* 2 ms */
    for (int i = 0; i < 10; i++)
        fdl_life_add(&l, 5000000000ull); /* 5 s */
    CHECK_EQ(l.count, 100);
    CHECK_EQ(l.sum_ns, 90 * 2000000ull + 10 * 5000000000ull);
    check_near(fdl_life_quantile(&l, 0.5), 0.002);
    check_near(fdl_life_quantile(&l, 0.95), 5);
    fdl_life_add(&l, 0); /* shorter than a microsecond: bucket 0 */
    CHECK_EQ(l.hist[0], 1);
    fdl_life_add(&l, ~0ull / 2); /* centuries: the open-ended last bucket */
    CHECK_EQ(l.hist[FDL_LIFE_BUCKETS - 1], 1);
    struct fdl_life m = {0};
    fdl_life_merge(&m, &l);
    fdl_life_merge(&m, &l);
    CHECK_EQ(m.count, 2 * l.count);
    check_near(fdl_life_quantile(&m, 0.5), 0.002);
}

static void test_growth(void)
{
    uint64_t t[5] = {0, 1000000000, 2000000000, 3000000000ull, 4000000000ull};
    uint32_t up[5] = {9, 1, 2, 3, 4}, flat[5] = {1, 2, 3, 3, 4}, down[5] = {1, 2, 5, 4, 6};
    double ph = -1;
    CHECK(fdl_growing(up, t, 5, 3, &ph));
    CHECK_EQ((long long)ph, 3600); /* +2 over 2 s */
    CHECK(fdl_growing(up, t, 5, 4, &ph));
    CHECK(!fdl_growing(up, t, 5, 5, &ph)); /* 9 then 1: not rising over all five */
    CHECK(!fdl_growing(flat, t, 5, 3, &ph));
    CHECK(fdl_growing(flat, t, 5, 2, &ph));
    CHECK(!fdl_growing(down, t, 5, 3, &ph));
    CHECK(!fdl_growing(up, t, 2, 3, &ph)); /* fewer snapshots than asked for */

    /* The ring: a site's history follows its open count at each snapshot, oldest first. */
    uintptr_t frames[1] = {0x5151};
    struct fdl_site *s = fdl_site_intern(frames, 1, 0);
    for (int i = 0; i < 20; i++) {
        __atomic_fetch_add(&s->created, 2, __ATOMIC_RELAXED);
        __atomic_fetch_add(&s->closed, 1, __ATOMIC_RELAXED);
        fdl_sites_snapshot();
    }
    struct fdl_snapview v;
    uint32_t h[FDL_SNAP_RING];
    fdl_snapshot_view(&v);
    CHECK_EQ(v.n, 16); /* the last 16: the ring's 17th slot is the next one's */
    fdl_site_history(s, &v, h);
    CHECK_EQ(h[0], 5);
    CHECK_EQ(h[15], 20);
    for (unsigned i = 1; i < v.n; i++)
        CHECK(v.t[i] >= v.t[i - 1]);
    CHECK(fdl_growing(h, v.t, v.n, 16, &ph));
}

/* A reader taking views while another thread snapshots: whatever it read through a view that
 * held is in order (times ascending, each count one more than the one before). */
static _Atomic int ring_stop;
static struct fdl_site *ring_site;

static void *ring_writer(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&ring_stop, __ATOMIC_ACQUIRE)) {
        __atomic_fetch_add(&ring_site->created, 1, __ATOMIC_RELAXED);
        fdl_sites_snapshot();
    }
    return 0;
}

static void test_ring_race(void)
{
    uintptr_t frames[1] = {0x7171};
    ring_site = fdl_site_intern(frames, 1, 0);
    struct fdl_snapview v;
    fdl_snapshot_view(&v);
    unsigned start = v.gen; /* snapshots before the writer: the site's count was 0 in all */
    pthread_t t;
    pthread_create(&t, 0, ring_writer, 0);
    unsigned held = 0, bad = 0;
    /* Until enough views held, not a fixed count: on a loaded machine the writer may not have
     * run at all during the first hundred thousand reads. */
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; held < 20000; i++) {
        if (!(i & 1023)) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (now.tv_sec - t0.tv_sec > 20)
                break;
        }
        uint32_t h[FDL_SNAP_RING];
        fdl_snapshot_view(&v);
        fdl_site_history(ring_site, &v, h);
        if (!fdl_snapshot_view_held(&v) || v.gen < start + v.n)
            continue;
        held++;
        for (unsigned k = 1; k < v.n; k++)
            if (v.t[k] < v.t[k - 1] || h[k] != h[k - 1] + 1)
                bad++;
    }
    __atomic_store_n(&ring_stop, 1, __ATOMIC_RELEASE);
    pthread_join(t, 0);
    if (bad)
        fprintf(stderr, "%u of %u held views out of order\n", bad, held);
    CHECK_EQ(bad, 0);
    CHECK(held > 0);
}

int main(void)
{
    RUN(test_life);
    RUN(test_growth);
    RUN(test_ring_race);
    RUN(test_identity);
    RUN(test_flat);
    RUN(test_race);
    RUN(test_foreach);
    UNIT_END();
}
