/* test_table.c — the descriptor table and the recording API, linked without preloading. */
#include "core.h"
#include "flows.h"
#include "sites.h"
#include "table.h"
#include "unit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
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
    CHECK_EQ(r.peer_len, FDL_ADDR_PEER_MAX); /* truncated to what a record holds */
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

/* Connections are counted per (site, peer): one flow for every connection from one stack to
 * one address, closed ones with their lifetimes; accepted ones under the local address. */
static void test_flows(void)
{
    struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(6379), .sin_addr.s_addr = htonl(0x7f000001)};
    struct fdl_flow *f = 0;
    for (int i = 0; i < 3; i++) {
        fdl_created(9100, "socket", 0);
        peer.sin_zero[0] = (unsigned char)i; /* padding differs: still one peer */
        fdl_note_peer(9100, (struct sockaddr *)&peer, sizeof peer);
        struct fdl_slot r;
        CHECK(fdl_slot_read(fdl_table_slot(9100, false), &r));
        CHECK(r.flow != 0);
        CHECK(!f || fdl_flow_at(r.flow) == f);
        f = fdl_flow_at(r.flow);
        fdl_release(9100, FDL_REL_CLOSE, 0);
    }
    CHECK(f != 0);
    if (!f)
        return;
    CHECK_EQ(f->kind, FDL_FLOW_CLIENT);
    CHECK_EQ(f->created, 3);
    CHECK_EQ(f->closed, 3);
    CHECK_EQ(f->life.count, 3);
    CHECK(f->site && f->site->life.count >= 3);

    fdl_created(9101, "socket", FDL_F_DGRAM); /* a resolver's query: a datagram flow */
    fdl_note_peer(9101, (struct sockaddr *)&peer, sizeof peer);
    struct fdl_slot r;
    CHECK(fdl_slot_read(fdl_table_slot(9101, false), &r));
    CHECK(fdl_flow_at(r.flow) && fdl_flow_at(r.flow)->kind == FDL_FLOW_DGRAM);
    fdl_release(9101, FDL_REL_CLOSE, 0);

    struct sockaddr_in local = peer, remote = peer;
    local.sin_port = htons(8080);
    remote.sin_port = htons(40000);
    fdl_created(9102, "accept4", 0);
    fdl_note_local(9102, (struct sockaddr *)&local, sizeof local);
    fdl_note_peer(9102, (struct sockaddr *)&remote, sizeof remote);
    CHECK(fdl_slot_read(fdl_table_slot(9102, false), &r));
    const struct fdl_flow *a = fdl_flow_at(r.flow);
    CHECK(a && a->kind == FDL_FLOW_SERVER);
    CHECK(a && !memcmp(a->endpoint + 2, &local.sin_port, 2)); /* the service's port, not the client's */
    fdl_release(9102, FDL_REL_CLOSE, 0);

    struct sockaddr_in6 none = {.sin6_family = AF_INET6};
    CHECK_EQ(fdl_flow_handle(f->site, FDL_FLOW_CLIENT, (struct sockaddr *)&none, 4), 0); /* too short */
    CHECK_EQ(fdl_flow_handle(0, FDL_FLOW_CLIENT, (struct sockaddr *)&peer, sizeof peer), 0); /* no site */
}

int main(void)
{
    RUN(test_flows);
    RUN(test_slots);
    RUN(test_record_release);
    RUN(test_range);
    RUN(test_addresses);
    RUN(test_threads);
    UNIT_END();
}
