/* open family: open, open64, openat, openat64, creat, creat64, the _FORTIFY_SOURCE entry points
 * __open_2, __open64_2, __openat_2, __openat64_2, O_TMPFILE, and a fifo. */
#include "victim.h"

#include <sys/stat.h>

/* glibc's fortify entry points; declared here so they can be called directly. */
int __open_2(const char *, int);
int __open64_2(const char *, int);
int __openat_2(int, const char *, int);
int __openat64_2(int, const char *, int);

static char *file_a, *file_b;
static int dirfd_tmp = -1;

VICTIM_FN int leak_open(void)
{
    int fd = open(file_a, O_RDONLY);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "open-a.dat", "open", 0);
    return fd;
}

VICTIM_FN int leak_open_cloexec_creat(void)
{
    char *p = v_path("open-created.dat");
    int fd = open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "open-created.dat", "open", 1);
    return fd;
}

VICTIM_FN int leak_open64(void)
{
    int fd = open64(file_b, O_RDONLY);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "open-b.dat", "open64", 0);
    return fd;
}

VICTIM_FN int leak_openat(void)
{
    int fd = openat(dirfd_tmp, "open-a.dat", O_RDONLY | O_CLOEXEC);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "open-a.dat", "openat", 1);
    return fd;
}

VICTIM_FN int leak_openat_cwd(void)
{
    /* AT_FDCWD with an absolute path */
    int fd = openat(AT_FDCWD, file_b, O_RDONLY);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "open-b.dat", "openat", 0);
    return fd;
}

VICTIM_FN int leak_openat64(void)
{
    int fd = openat64(dirfd_tmp, "open-openat64.dat", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "open-openat64.dat", "openat64", 0);
    return fd;
}

VICTIM_FN int leak_creat(void)
{
    char *p = v_path("open-creat.dat");
    int fd = creat(p, 0600);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "open-creat.dat", "creat", 0);
    return fd;
}

VICTIM_FN int leak_creat64(void)
{
    char *p = v_path("open-creat64.dat");
    int fd = creat64(p, 0600);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "open-creat64.dat", "creat64", 0);
    return fd;
}

VICTIM_FN int leak_open_2(void)
{
    int fd = __open_2(file_a, O_RDONLY);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "open-a.dat", "__open_2", 0);
    return fd;
}

VICTIM_FN int leak_open64_2(void)
{
    int fd = __open64_2(file_b, O_RDONLY | O_CLOEXEC);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "open-b.dat", "__open64_2", 1);
    return fd;
}

VICTIM_FN int leak_openat_2(void)
{
    int fd = __openat_2(dirfd_tmp, "open-a.dat", O_RDONLY);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "open-a.dat", "__openat_2", 0);
    return fd;
}

VICTIM_FN int leak_openat64_2(void)
{
    int fd = __openat64_2(dirfd_tmp, "open-b.dat", O_RDONLY);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "open-b.dat", "__openat64_2", 0);
    return fd;
}

VICTIM_FN int leak_tmpfile(void)
{
    /* An unnamed file in the directory: the kernel names it "<dir>/#<ino> (deleted)". */
    int fd = open(v_dir(), O_TMPFILE | O_RDWR, 0600);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", v_dir(), "open", 0);
    return fd;
}

VICTIM_FN int leak_open_dir(void)
{
    int fd = open(v_dir(), O_RDONLY | O_DIRECTORY);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "dir", v_dir(), "open", 0);
    return fd;
}

VICTIM_FN int leak_fifo(void)
{
    char *p = v_path("open-fifo");
    V_CHECK(mkfifo(p, 0600) == 0);
    int fd = open(p, O_RDWR | O_NONBLOCK); /* O_RDWR: does not wait for a peer on Linux */
    V_CHECK(fd >= 0);
    V_LEAK(fd, "fifo", "open-fifo", "open", 0);
    return fd;
}

/* Every call once more, correctly: each descriptor is closed again. */
VICTIM_FN void open_correctly(void)
{
    int fds[16], n = 0;
    char *p = v_path("open-correct.dat");
    fds[n++] = open(file_a, O_RDONLY);
    fds[n++] = open(p, O_RDWR | O_CREAT, 0600);
    fds[n++] = open64(file_a, O_RDONLY);
    fds[n++] = openat(dirfd_tmp, "open-a.dat", O_RDONLY);
    fds[n++] = openat64(dirfd_tmp, "open-a.dat", O_RDONLY);
    fds[n++] = creat(p, 0600);
    fds[n++] = creat64(p, 0600);
    fds[n++] = __open_2(file_a, O_RDONLY);
    fds[n++] = __open64_2(file_a, O_RDONLY);
    fds[n++] = __openat_2(dirfd_tmp, "open-a.dat", O_RDONLY);
    fds[n++] = __openat64_2(dirfd_tmp, "open-a.dat", O_RDONLY);
    fds[n++] = open(v_dir(), O_TMPFILE | O_WRONLY, 0600);
    for (int i = 0; i < n; i++) {
        V_CHECK(fds[i] >= 0);
        V_CHECK(close(fds[i]) == 0);
    }
}

int main(void)
{
    v_begin();
    file_a = v_make_file("open-a.dat");
    file_b = v_make_file("open-b.dat");
    dirfd_tmp = open(v_dir(), O_RDONLY | O_DIRECTORY);
    V_CHECK(dirfd_tmp >= 0);

    open_correctly();
    /* The numbers just released are reused by the leaks below, so a stale record of a
     * closed descriptor would show up as a wrong site. */
    leak_open();
    leak_open_cloexec_creat();
    leak_open64();
    leak_openat();
    leak_openat_cwd();
    leak_openat64();
    leak_creat();
    leak_creat64();
    leak_open_2();
    leak_open64_2();
    leak_openat_2();
    leak_openat64_2();
    leak_tmpfile();
    leak_open_dir();
    leak_fifo();
    open_correctly(); /* all of these land above the leaks and are closed again */

    V_CHECK(close(dirfd_tmp) == 0);
    return v_finish();
}
