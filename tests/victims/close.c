/* close family: close_range (plain, CLOSE_RANGE_CLOEXEC which closes nothing,
 * CLOSE_RANGE_UNSHARE, open-ended ~0U) and closefrom. Groups of descriptors are opened, some
 * ranges released, and the released numbers reused by a new site; the report must list exactly
 * the survivors, with the right sites. Needs descriptors 3..40 free at start (check_leaks.py
 * and meson start programs with only 0, 1 and 2 open). */
#include "victim.h"

#include <linux/close_range.h>

#define GROUP 4

static char *path;

/* n consecutive descriptors, released again by a range call below (not leaks). */
static void open_group(int *fds, int n)
{
    for (int i = 0; i < n; i++) {
        fds[i] = open(path, O_RDONLY);
        V_CHECK(fds[i] >= 0);
        V_CHECK(i == 0 || fds[i] == fds[i - 1] + 1); /* consecutive, so ranges are exact */
    }
}

VICTIM_FN void leak_group_a(int *fds)
{
    for (int i = 0; i < GROUP; i++) {
        fds[i] = open(path, O_RDONLY);
        V_CHECK(fds[i] >= 0);
        V_CHECK(i == 0 || fds[i] == fds[i - 1] + 1);
        V_LEAK(fds[i], "file", "close.dat", "open", 0);
    }
}

/* Survives close_range(CLOSE_RANGE_CLOEXEC), which only marks it close-on-exec. */
VICTIM_FN void leak_group_c(int *fds)
{
    for (int i = 0; i < GROUP; i++) {
        fds[i] = open(path, O_RDONLY);
        V_CHECK(fds[i] >= 0);
        V_CHECK(i == 0 || fds[i] == fds[i - 1] + 1);
        V_LEAK(fds[i], "file", "close.dat", "open", 1);
    }
}

/* The upper half survives close_range(.., CLOSE_RANGE_UNSHARE) of the lower half. */
VICTIM_FN void open_group_d(int *fds)
{
    for (int i = 0; i < GROUP; i++) {
        fds[i] = open(path, O_RDONLY);
        V_CHECK(fds[i] >= 0);
        V_CHECK(i == 0 || fds[i] == fds[i - 1] + 1);
    }
}

VICTIM_FN void dup_group_high(int src, int *fds)
{
    for (int i = 0; i < 3; i++) {
        fds[i] = fcntl(src, F_DUPFD, 300);
        V_CHECK(fds[i] == 300 + i);
    }
}

/* Reuses numbers released by the ranges: a stale record would show the old site. */
VICTIM_FN void leak_reopen_after_ranges(int n)
{
    for (int i = 0; i < n; i++) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        V_CHECK(fd >= 0);
        V_LEAK(fd, "file", "close.dat", "open", 1);
    }
}

VICTIM_FN void leak_reopen_high(int src)
{
    int fd = fcntl(src, F_DUPFD, 300);
    V_CHECK(fd == 300);
    V_LEAK(fd, "file", "close.dat", "fcntl", 0);
}

int main(void)
{
    v_begin();
    for (int fd = 3; fd <= 40; fd++)
        if (fcntl(fd, F_GETFD) >= 0) {
            fprintf(stderr, "victim: fd %d is open at start; run with only 0, 1, 2 open\n", fd);
            return 2;
        }
    path = v_make_file("close.dat");

    int a[GROUP], b[GROUP], c[GROUP], d[GROUP], e[GROUP], f[3];
    leak_group_a(a);
    open_group(b, GROUP);
    leak_group_c(c);
    open_group_d(d);
    open_group(e, GROUP);
    V_CHECK(b[0] == a[GROUP - 1] + 1 && c[0] == b[GROUP - 1] + 1 && d[0] == c[GROUP - 1] + 1 &&
            e[0] == d[GROUP - 1] + 1);
    dup_group_high(a[0], f);

    V_CHECK(close_range((unsigned)b[0], (unsigned)b[GROUP - 1], 0) == 0);
    V_CHECK(close_range((unsigned)c[0], (unsigned)c[GROUP - 1], CLOSE_RANGE_CLOEXEC) == 0);
    V_CHECK(close_range((unsigned)d[0], (unsigned)d[1], CLOSE_RANGE_UNSHARE) == 0);
    for (int i = 2; i < GROUP; i++) /* the survivors of group d */
        v_leak(d[i], "file", "open_group_d", "close.dat", NULL, "open", 0, 0);
    V_CHECK(close_range(300, ~0U, 0) == 0);
    V_CHECK(fcntl(f[0], F_GETFD) < 0 && errno == EBADF);
    closefrom(e[0]);
    V_CHECK(fcntl(e[GROUP - 1], F_GETFD) < 0 && errno == EBADF);

    /* b (4) + d[0..1] (2) + e[0..1] (2) are free again, lowest first */
    leak_reopen_after_ranges(GROUP + 2 + 2);
    leak_reopen_high(a[0]);
    return v_finish();
}
