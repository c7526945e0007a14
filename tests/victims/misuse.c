/* misuse: each kind of bad close, once (one of them three times from the same call). Each must
 * appear in errors[] with the function that made the bad call, the creating site where there
 * is one, the first close for a double close, and a count; the calls' return values and errno
 * stay what libc gives (checked here, so a bare run validates the expectations):
 *   bad-close     close() of a number never open, of -1, and three times of another one
 *   double-close  close() of a descriptor this process closed already (a low number that the
 *                 next open would reuse, and a high one)
 *   close-owned   close(fileno(f)) on a live FILE* (fopen and fdopen), close(dirfd(d)) on a
 *                 live DIR*; the later fclose/closedir fail with EBADF and may be reported as
 *                 a double close (optional)
 * It also leaks one file, so the text report has a leak block after the errors.
 * With FDLEAK_MISUSE=ignore nothing is declared (no errors may be recorded); with
 * FDLEAK_MISUSE=abort the first bad close aborts the process (the checker expects SIGABRT). */
#include "victim.h"

static char *path;
static int report; /* FDLEAK_MISUSE is not "ignore" */

#define ERR(what, fd, extra)                                                                \
    do {                                                                                    \
        if (report)                                                                         \
            V_ERROR(what, fd, extra);                                                       \
    } while (0)

VICTIM_FN int leak_one(void)
{
    int fd = open(path, O_RDONLY);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "misuse.dat", "open", 0);
    return fd;
}

VICTIM_FN void bad_close_never_open(void)
{
    V_CHECK(fcntl(987, F_GETFD) < 0);
    errno = 0;
    int r = close(987);
    V_CHECK(r == -1 && errno == EBADF);
    ERR("bad-close", 987, "site=null");
}

VICTIM_FN void bad_close_negative(void)
{
    errno = 0;
    int r = close(-1);
    V_CHECK(r == -1 && errno == EBADF);
    ERR("bad-close", -1, "site=null");
}

VICTIM_FN void bad_close_thrice(void)
{
    for (int i = 0; i < 3; i++) {
        errno = 0;
        int r = close(988);
        V_CHECK(r == -1 && errno == EBADF);
    }
    ERR("bad-close", 988, "site=null count=3");
}

VICTIM_FN int open_for_double(void)
{
    int fd = open(path, O_RDONLY);
    V_CHECK(fd >= 0);
    return fd;
}

VICTIM_FN int dup_high_for_double(int src)
{
    int fd = fcntl(src, F_DUPFD, 600);
    V_CHECK(fd >= 600);
    return fd;
}

VICTIM_FN void first_close(int fd)
{
    V_CHECK(close(fd) == 0);
}

VICTIM_FN void second_close(int fd)
{
    errno = 0;
    int r = close(fd);
    V_CHECK(r == -1 && errno == EBADF);
    ERR("double-close", fd, "site=open_for_double first_close=first_close");
}

VICTIM_FN void second_close_high(int fd)
{
    errno = 0;
    int r = close(fd);
    V_CHECK(r == -1 && errno == EBADF);
    ERR("double-close", fd, "site=dup_high_for_double first_close=first_close");
}

VICTIM_FN FILE *open_stream(void)
{
    FILE *f = fopen(path, "r");
    V_CHECK(f != NULL);
    return f;
}

/* The descriptor belongs to the FILE*: closing it behind the stream's back succeeds (it is
 * open) but is a misuse. */
VICTIM_FN void close_owned_file(FILE *f)
{
    int fd = fileno(f);
    int r = close(fd);
    V_CHECK(r == 0);
    ERR("close-owned", fd, "site=open_stream");
}

VICTIM_FN void fclose_after_close(FILE *f, int fd, const char *first)
{
    errno = 0;
    int r = fclose(f);
    V_CHECK(r == EOF && errno == EBADF);
    if (report) {
        char extra[96];
        snprintf(extra, sizeof extra, "optional first_close=%s", first);
        V_ERROR("double-close", fd, extra);
    }
}

VICTIM_FN int open_for_fdopen(void)
{
    int fd = open(path, O_RDONLY);
    V_CHECK(fd >= 0);
    return fd;
}

VICTIM_FN void close_owned_fdopen(int fd)
{
    int r = close(fd);
    V_CHECK(r == 0);
    ERR("close-owned", fd, "site=open_for_fdopen");
}

VICTIM_FN DIR *open_dir(void)
{
    DIR *d = opendir(v_dir());
    V_CHECK(d != NULL);
    return d;
}

VICTIM_FN void close_owned_dir(DIR *d)
{
    int fd = dirfd(d);
    int r = close(fd);
    V_CHECK(r == 0);
    ERR("close-owned", fd, "site=open_dir");
}

VICTIM_FN void closedir_after_close(DIR *d, int fd)
{
    errno = 0;
    int r = closedir(d);
    V_CHECK(r == -1 && errno == EBADF);
    if (report)
        V_ERROR("double-close", fd, "optional first_close=close_owned_dir");
}

int main(void)
{
    v_begin();
    const char *mode = getenv("FDLEAK_MISUSE");
    report = !(mode && !strcmp(mode, "ignore"));
    path = v_make_file("misuse.dat");
    leak_one();

    bad_close_never_open();
    bad_close_negative();
    bad_close_thrice();

    int a = open_for_double();
    first_close(a);
    second_close(a);

    int src = open(path, O_RDONLY);
    V_CHECK(src >= 0);
    int h = dup_high_for_double(src);
    V_CHECK(close(src) == 0);
    first_close(h);
    second_close_high(h);

    FILE *f = open_stream();
    int ffd = fileno(f);
    close_owned_file(f);
    fclose_after_close(f, ffd, "close_owned_file");

    int g = open_for_fdopen();
    FILE *gf = fdopen(g, "r");
    V_CHECK(gf != NULL);
    close_owned_fdopen(g);
    fclose_after_close(gf, g, "close_owned_fdopen");

    DIR *d = open_dir();
    int dfd = dirfd(d);
    close_owned_dir(d);
    closedir_after_close(d, dfd);

    return v_finish();
}
