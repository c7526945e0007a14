/* api_checkpoint: a program built against include/fdleak.h and not linked with libfdleak.
 * Bare, every call is a no-op (FDLEAK_CALL gives 0) and it says so. Preloaded, it takes
 * checkpoints around its own creations and checks what fdleak_count_since, fdleak_list and
 * fdleak_list_sites answer against what it knows it left open, then writes a checkpoint report to argv[1]
 * (tests/check_api.py reads it). Prints "got … expected …" on every mismatch; exit 1 then. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdleak.h"

static int failures;

#define EXPECT_EQ(what, got, want)                                                              \
    do {                                                                                        \
        long got_ = (long)(got), want_ = (long)(want);                                          \
        if (got_ != want_) {                                                                    \
            printf("FAIL %s: got %ld, expected %ld\n", what, got_, want_);                      \
            failures++;                                                                         \
        }                                                                                       \
    } while (0)

__attribute__((noinline)) static int leak_file(void) { return open("/etc/hostname", O_RDONLY); }
__attribute__((noinline)) static int leak_socket(void) { return socket(AF_INET, SOCK_STREAM, 0); }

int main(int argc, char **argv)
{
    if (!FDLEAK_CALL(fdleak_is_loaded)) {
        EXPECT_EQ("count without fdleak", FDLEAK_CALL(fdleak_count_since, 0), 0);
        printf("fdleak not loaded: calls are no-ops\n");
        return failures != 0;
    }
    fdleak_checkpoint_t start = fdleak_checkpoint();
    int closed = open("/etc/hostname", O_RDONLY);
    close(closed);
    int a = leak_file();
    fdleak_checkpoint_t middle = fdleak_checkpoint();
    int b = leak_socket();
    EXPECT_EQ("count since start", fdleak_count_since(start), 2);
    EXPECT_EQ("count since middle", fdleak_count_since(middle), 1);
    int fds[4] = {-1, -1, -1, -1};
    EXPECT_EQ("list start..middle", fdleak_list(start, middle, fds, 4), 1);
    EXPECT_EQ("list start..middle fd", fds[0], a);
    EXPECT_EQ("list since start", fdleak_list(start, 0, fds, 1), 2); /* more than max: the count */
    EXPECT_EQ("list since start, first", fds[0], a < b ? a : b);
    unsigned sites[4] = {0, 0, 0, 0};
    EXPECT_EQ("list_sites since start", fdleak_list_sites(start, 0, fds, sites, 4), 2);
    EXPECT_EQ("list_sites, numbers as fdleak_list's", fds[0] == (a < b ? a : b) && fds[1] == (a < b ? b : a), 1);
    EXPECT_EQ("list_sites: two sites, each with an id", sites[0] && sites[1] && sites[0] != sites[1], 1);
    fdleak_checkpoint_t later = fdleak_checkpoint();
    int pair[2];
    for (volatile int k = 0; k < 2; k++) /* volatile: not unrolled into two calls, two sites */
        pair[k] = leak_file(); /* one stack, one site: one id */
    EXPECT_EQ("list_sites of one site's two", fdleak_list_sites(later, 0, fds, sites, 4), 2);
    EXPECT_EQ("list_sites: one site, one id", sites[0] && sites[0] == sites[1], 1);
    close(pair[0]);
    close(pair[1]);
    EXPECT_EQ("count since now", fdleak_count_since(fdleak_checkpoint()), 0);
    long listed = fdleak_report_since(start, 0, "after setup", argc > 1 ? argv[1] : NULL);
    EXPECT_EQ("report_since listed", listed, 2);
    printf("leaked %d %d\n", a, b);
    return failures != 0;
}
