/* test_sites.c — interning: identical stacks share one site, memory stays flat under churn,
 * concurrent interning of the same stack yields one site. */
#include "sites.h"
#include "unit.h"

#include <pthread.h>
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

int main(void)
{
    RUN(test_identity);
    RUN(test_flat);
    RUN(test_race);
    RUN(test_foreach);
    UNIT_END();
}
