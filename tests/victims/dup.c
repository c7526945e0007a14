/* dup family: dup, dup2 (fresh target, live target, onto itself, onto stdin), dup3,
 * fcntl(F_DUPFD), fcntl(F_DUPFD_CLOEXEC), fcntl64; plus F_SETFD changing close-on-exec. */
#include "victim.h"

int fcntl64(int, int, ...); /* glibc >= 2.28; declared by <fcntl.h> only for 64-bit time/offsets */

static char *base_path, *other_path;
static int base = -1;

VICTIM_FN int leak_dup(void)
{
    int fd = dup(base);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "dup-base.dat", "dup", 0);
    return fd;
}

VICTIM_FN int leak_dup2_fresh(void)
{
    int fd = dup2(base, 50);
    V_CHECK(fd == 50);
    V_LEAK(fd, "file", "dup-base.dat", "dup2", 0);
    return fd;
}

/* The descriptor that leak_dup2_over_live() replaces: its record must go away. */
VICTIM_FN int open_doomed(void)
{
    int fd = open(other_path, O_RDONLY);
    V_CHECK(fd >= 0);
    return fd;
}

VICTIM_FN int leak_dup2_over_live(int target)
{
    int fd = dup2(base, target);
    V_CHECK(fd == target);
    V_LEAK(fd, "file", "dup-base.dat", "dup2", 0);
    return fd;
}

VICTIM_FN int leak_dup3_over_live(int target)
{
    int fd = dup3(base, target, O_CLOEXEC);
    V_CHECK(fd == target);
    V_LEAK(fd, "file", "dup-base.dat", "dup3", 1);
    return fd;
}

/* dup2(fd, fd) changes nothing, so the site stays the opener's. */
VICTIM_FN int leak_open_then_self_dup2(void)
{
    int fd = open(other_path, O_RDONLY);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "dup-other.dat", "open", 0);
    return fd;
}

VICTIM_FN void self_dup2(int fd)
{
    V_CHECK(dup2(fd, fd) == fd);
}

VICTIM_FN int leak_dup3(void)
{
    int fd = dup3(base, 60, O_CLOEXEC);
    V_CHECK(fd == 60);
    V_LEAK(fd, "file", "dup-base.dat", "dup3", 1);
    return fd;
}

VICTIM_FN int leak_fcntl_dupfd(void)
{
    int fd = fcntl(base, F_DUPFD, 100);
    V_CHECK(fd >= 100);
    V_LEAK(fd, "file", "dup-base.dat", "fcntl", 0);
    return fd;
}

VICTIM_FN int leak_fcntl_dupfd_cloexec(void)
{
    int fd = fcntl(base, F_DUPFD_CLOEXEC, 0);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "dup-base.dat", "fcntl", 1);
    return fd;
}

VICTIM_FN int leak_fcntl64_dupfd(void)
{
    int fd = fcntl64(base, F_DUPFD, 70);
    V_CHECK(fd >= 70);
    V_LEAK(fd, "file", "dup-base.dat", "fcntl64", 0);
    return fd;
}

VICTIM_FN int leak_fcntl64_dupfd_cloexec(void)
{
    int fd = fcntl64(base, F_DUPFD_CLOEXEC, 0);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "dup-base.dat", "fcntl64", 1);
    return fd;
}

/* Close-on-exec changed after creation: the report must show the state at exit. */
VICTIM_FN int leak_open_then_set_cloexec(void)
{
    int fd = open(other_path, O_RDONLY);
    V_CHECK(fd >= 0);
    V_CHECK(fcntl(fd, F_SETFD, FD_CLOEXEC) == 0);
    V_LEAK(fd, "file", "dup-other.dat", "open", 1);
    return fd;
}

VICTIM_FN int leak_open_then_clear_cloexec(void)
{
    int fd = open(other_path, O_RDONLY | O_CLOEXEC);
    V_CHECK(fd >= 0);
    V_CHECK(fcntl64(fd, F_SETFD, 0) == 0);
    V_LEAK(fd, "file", "dup-other.dat", "open", 0);
    return fd;
}

/* Redirecting stdin is not a leak. */
VICTIM_FN void redirect_stdin(void)
{
    int n = open("/dev/null", O_RDONLY);
    V_CHECK(n >= 0);
    V_CHECK(dup2(n, 0) == 0);
    V_CHECK(close(n) == 0);
}

VICTIM_FN void dups_correctly(void)
{
    int a = dup(base);
    int b = dup2(base, 40);
    int c = dup3(base, 41, O_CLOEXEC);
    int d = fcntl(base, F_DUPFD, 42);
    int e = fcntl(base, F_DUPFD_CLOEXEC, 3);
    int f = fcntl64(base, F_DUPFD, 3);
    int g = fcntl64(base, F_DUPFD_CLOEXEC, 3);
    V_CHECK(a >= 0 && b == 40 && c == 41 && d >= 42 && e >= 3 && f >= 3 && g >= 3);
    /* dup2 over a live descriptor of our own, then release both */
    V_CHECK(dup2(a, g) == g);
    int fds[] = {a, b, c, d, e, f, g};
    for (unsigned i = 0; i < sizeof fds / sizeof fds[0]; i++)
        V_CHECK(close(fds[i]) == 0);
}

int main(void)
{
    v_begin();
    base_path = v_make_file("dup-base.dat");
    other_path = v_make_file("dup-other.dat");
    base = open(base_path, O_RDONLY);
    V_CHECK(base >= 0);

    redirect_stdin();
    dups_correctly();
    leak_dup();
    leak_dup2_fresh();
    leak_dup2_over_live(open_doomed());
    leak_dup3_over_live(open_doomed());
    self_dup2(leak_open_then_self_dup2());
    leak_dup3();
    leak_fcntl_dupfd();
    leak_fcntl_dupfd_cloexec();
    leak_fcntl64_dupfd();
    leak_fcntl64_dupfd_cloexec();
    leak_open_then_set_cloexec();
    leak_open_then_clear_cloexec();
    dups_correctly();

    V_CHECK(close(base) == 0);
    return v_finish();
}
