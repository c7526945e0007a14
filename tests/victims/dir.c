/* dir family: opendir, fdopendir, closedir. */
#include "victim.h"

#include <sys/stat.h>

static char *sub_a, *sub_b;

VICTIM_FN DIR *leak_opendir(void)
{
    DIR *d = opendir(sub_a);
    V_CHECK(d != NULL);
    V_LEAK(dirfd(d), "dir", "dir-a", "opendir", 1); /* glibc opens with O_CLOEXEC */
    return d;
}

VICTIM_FN DIR *leak_opendir_root(void)
{
    DIR *d = opendir("/");
    V_CHECK(d != NULL);
    V_CHECK(readdir(d) != NULL);
    V_LEAK(dirfd(d), "dir", "/", "opendir", -1);
    return d;
}

/* fdopendir adopts a descriptor made by open(): the leak's site is the open() call. */
VICTIM_FN int open_for_fdopendir(void)
{
    int fd = open(sub_b, O_RDONLY | O_DIRECTORY);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "dir", "dir-b", NULL, -1);
    return fd;
}

VICTIM_FN DIR *leak_fdopendir(int fd)
{
    DIR *d = fdopendir(fd);
    V_CHECK(d != NULL && dirfd(d) == fd);
    return d;
}

VICTIM_FN void dirs_correctly(void)
{
    DIR *a = opendir(sub_a);
    V_CHECK(a != NULL);
    int fd = open(sub_b, O_RDONLY | O_DIRECTORY);
    V_CHECK(fd >= 0);
    DIR *b = fdopendir(fd);
    V_CHECK(b != NULL);
    int n = 0;
    while (readdir(b))
        n++;
    V_CHECK(n >= 2);
    V_CHECK(closedir(b) == 0);
    V_CHECK(closedir(a) == 0);
}

int main(void)
{
    v_begin();
    sub_a = v_path("dir-a");
    sub_b = v_path("dir-b");
    V_CHECK(mkdir(sub_a, 0700) == 0 && mkdir(sub_b, 0700) == 0);

    dirs_correctly();
    leak_opendir();
    leak_fdopendir(open_for_fdopendir());
    leak_opendir_root();
    dirs_correctly();
    return v_finish();
}
