/* regress: the program dup2()s sockets onto the numbers where fdleak put libunwind's validation
 * pipe (pipe: links at >= 1000 that the program did not open; 1008/1009 under ulimit -n 1024),
 * then makes a few hundred open/close calls, some from a function without unwind info
 * (regress_nouw.c). Its data on those numbers must stay intact and nothing may arrive on the
 * peers. Exit 0 when intact; prints "targets N" (how many were the library's pipe). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int regress_open_noinfo(const char *path);

int main(void)
{
    int targets[8], nt = 0, npipes = 0;
    char link[64], buf[256];
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return perror("opendir"), 2;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int fd = atoi(e->d_name);
        if (fd < 1000 || fd == dirfd(d) || nt == 8)
            continue;
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, buf, sizeof buf - 1);
        if (n > 0 && !strncmp(buf, "pipe:", 5))
            targets[nt++] = fd;
    }
    closedir(d);
    npipes = nt;
    if (nt == 0) { /* bare (or nothing moved): the numbers the pipe gets under ulimit -n 1024 */
        targets[nt++] = 1008;
        targets[nt++] = 1009;
    }
    printf("targets %d:", npipes);
    for (int i = 0; i < nt; i++)
        printf(" %d", targets[i]);
    printf("\n");

    int peer[8];
    for (int i = 0; i < nt; i++) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
            return perror("socketpair"), 2;
        if (write(sv[1], "HELLO", 5) != 5)
            return perror("write"), 2;
        if (dup2(sv[0], targets[i]) != targets[i])
            return perror("dup2"), 2;
        close(sv[0]);
        peer[i] = sv[1];
    }
    for (int i = 0; i < 300; i++) {
        int fd = i % 2 ? regress_open_noinfo("/dev/null") : open("/dev/null", O_RDONLY);
        if (fd < 0)
            return perror("open"), 2;
        close(fd);
    }
    int bad = 0;
    for (int i = 0; i < nt; i++) {
        char got[64] = {0};
        ssize_t n = recv(targets[i], got, sizeof got - 1, MSG_DONTWAIT);
        if (n != 5 || memcmp(got, "HELLO", 5)) {
            printf("FAIL fd %d: program read %zd bytes '%s' (%s), expected 5 bytes 'HELLO'\n",
                   targets[i], n, n > 0 ? got : "", n < 0 ? strerror(errno) : "-");
            bad = 1;
        }
        n = recv(peer[i], got, sizeof got - 1, MSG_DONTWAIT);
        if (n >= 0) {
            printf("FAIL fd %d: the peer received %zd unexpected bytes, expected none "
                   "(EAGAIN)\n", targets[i], n);
            bad = 1;
        }
        close(targets[i]);
        close(peer[i]);
    }
    if (!bad)
        printf("ok: data intact on %d descriptors, nothing extra on the peers\n", nt);
    return bad;
}
