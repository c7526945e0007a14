/* test_table.c — the descriptor table and the recording API, linked without preloading. */
#include "core.h"
#include "sites.h"
#include "table.h"
#include "unit.h"

#include <pthread.h>
#include <stdint.h>

static void test_slots(void)
{
    CHECK(fdl_table_slot(-1, true) == NULL);
    CHECK(fdl_table_slot(FDL_FD_LIMIT, true) == NULL);
    CHECK(fdl_table_slot(5000, false) == NULL); /* not mapped yet */
    struct fdl_slot *a = fdl_table_slot(5000, true);
    CHECK(a != NULL);
    CHECK(fdl_table_slot(5000, false) == a);
    CHECK(fdl_table_slot(5001, true) == a + 1);
    CHECK(fdl_table_bound() >= 5001);
    CHECK_EQ((uintptr_t)a % 64, 0);
    struct fdl_slot copy;
    CHECK(fdl_slot_read(a, &copy));
    CHECK_EQ(copy.state, FDL_SLOT_FREE);
}

static void test_record_release(void)
{
    struct fdl_counts before, after;
    fdl_counts(&before);
    fdl_created(7000, "open", 0);
    struct fdl_slot *s = fdl_table_slot(7000, false);
    CHECK(s != NULL);
    struct fdl_slot r;
    CHECK(fdl_slot_read(s, &r));
    CHECK_EQ(r.state, FDL_SLOT_OPEN);
    CHECK_STR(r.via, "open");
    CHECK(r.site != NULL); /* the stack of this test function */
    CHECK_EQ(r.seq % 2, 0);
    uint64_t created = r.site->created, closed = r.site->closed;
    fdl_counts(&after);
    CHECK_EQ(after.open, before.open + 1);

    /* Re-creating over an open record (dup2 onto it) supersedes it: the old one counts closed. */
    fdl_created(7000, "dup2", 0);
    CHECK_EQ(r.site->closed, closed + 1);
    CHECK(fdl_slot_read(s, &r));
    CHECK_STR(r.via, "dup2");

    CHECK(fdl_release(7000, FDL_REL_CLOSE, 0));
    CHECK(fdl_slot_read(s, &r));
    CHECK_EQ(r.state, FDL_SLOT_FREE);
    CHECK(fdl_release(7000, FDL_REL_CLOSE, 0)); /* twice: harmless, counted once */
    fdl_counts(&after);
    CHECK_EQ(after.open, before.open);
    CHECK(created >= 1);
}

static void test_range(void)
{
    for (int fd = 8000; fd < 8100; fd++)
        fdl_created(fd, "socket", 0);
    int skip[8];
    CHECK_EQ(fdl_release_range(8010, 8089, skip, 8), 0);
    int open = 0;
    for (int fd = 8000; fd < 8100; fd++)
        open += fdl_table_slot(fd, false)->state == FDL_SLOT_OPEN;
    CHECK_EQ(open, 20);
    fdl_release_range(0, ~0u, skip, 8);
    open = 0;
    for (int fd = 8000; fd < 8100; fd++)
        open += fdl_table_slot(fd, false)->state == FDL_SLOT_OPEN;
    CHECK_EQ(open, 0);
}

static void test_addresses(void)
{
    fdl_created(9000, "socket", 0);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    ss.ss_family = AF_UNIX;
    strcpy(((char *)&ss) + 2, "/run/some/long/unix/socket/path/that/is/longer/than/thirty/two/bytes");
    fdl_note_peer(9000, (struct sockaddr *)&ss, 110);
    fdl_note_local(9000, (struct sockaddr *)&ss, 110); /* does not fit: dropped, not truncated */
    struct fdl_slot r;
    CHECK(fdl_slot_read(fdl_table_slot(9000, false), &r));
    CHECK_EQ(r.peer_len, 110);
    CHECK_EQ(r.local_len, 0);
    CHECK_STR((char *)r.peer + 2, "/run/some/long/unix/socket/path/that/is/longer/than/thirty/two/bytes");
    fdl_release(9000, FDL_REL_CLOSE, 0);
    fdl_note_peer(9000, (struct sockaddr *)&ss, 110); /* on a closed slot: ignored */
}

static void *churn(void *arg)
{
    int base = (int)(intptr_t)arg;
    for (int i = 0; i < 20000; i++) {
        int fd = base + (i % 64);
        fdl_created(fd, "open", 0);
        fdl_release(fd, FDL_REL_CLOSE, 0);
    }
    return NULL;
}

static void test_threads(void)
{
    struct fdl_counts before, after;
    fdl_counts(&before);
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        pthread_create(&t[i], NULL, churn, (void *)(intptr_t)(10000 + i * 64));
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    fdl_counts(&after);
    CHECK_EQ(after.open, before.open);
    for (int fd = 10000; fd < 10000 + 8 * 64; fd++)
        CHECK_EQ(fdl_table_slot(fd, false)->state, FDL_SLOT_FREE);
}

int main(void)
{
    RUN(test_slots);
    RUN(test_record_release);
    RUN(test_range);
    RUN(test_addresses);
    RUN(test_threads);
    UNIT_END();
}
