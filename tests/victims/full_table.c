/* full_table.c — a program that runs out of descriptors: it leaks files and sockets (from two
 * functions) until a creation fails with EMFILE, tries five times more as a server's accept
 * loop would, and exits. tests/check_full_table.py reads its ground truth:
 *
 *     FDLEAK_PID <pid>
 *     FDLEAK_KEPT <fd> <function>      each descriptor it keeps, and the function that made it
 *     FDLEAK_OPEN <fd>…                /proc/self/fd at its end (listed through a directory
 *                                      descriptor opened first, itself kept: the table is full)
 *
 * Arguments: [SOFT HARD] lowers its own RLIMIT_NOFILE first (setrlimit); `wait` prints
 * FDLEAK_PID and waits for a line on stdin before leaking (the checker changes its limit from
 * outside, with prlimit, meanwhile). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NOINLINE __attribute__((noipa, used))

NOINLINE int leak_file(void) { return open("/dev/null", O_RDONLY); }

NOINLINE int leak_socket(void) { return socket(AF_UNIX, SOCK_STREAM, 0); }

static int kept_fd[65536];
static const char *kept_fn[65536];
static int nkept;

static void keep(int fd, const char *fn)
{
    if (nkept < 65536) {
        kept_fd[nkept] = fd;
        kept_fn[nkept++] = fn;
    }
}

int main(int argc, char **argv)
{
    setvbuf(stdout, 0, _IOFBF, 1 << 20); /* printed at the end, with no descriptor free */
    int arg = 1;
    if (argc > arg + 1 && strcmp(argv[arg], "wait")) {
        struct rlimit rl = {strtoul(argv[arg], 0, 10), strtoul(argv[arg + 1], 0, 10)};
        if (setrlimit(RLIMIT_NOFILE, &rl)) {
            perror("setrlimit");
            return 2;
        }
        arg += 2;
    }
    int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY);
    if (dir < 0) {
        perror("/proc/self/fd");
        return 2;
    }
    keep(dir, "main");
    if (argc > arg && !strcmp(argv[arg], "wait")) {
        printf("FDLEAK_PID %d\n", (int)getpid());
        fflush(stdout);
        char line[16];
        if (!fgets(line, sizeof line, stdin))
            return 2;
    }
    int fails = 0;
    for (unsigned i = 0; fails < 6; i++) {
        int fd = i % 2 ? leak_socket() : leak_file();
        if (fd >= 0) {
            keep(fd, i % 2 ? "leak_socket" : "leak_file");
        } else if (errno == EMFILE) {
            fails++;
        } else {
            perror("open");
            return 2;
        }
    }
    printf("FDLEAK_PID %d\n", (int)getpid());
    for (int i = 0; i < nkept; i++)
        printf("FDLEAK_KEPT %d %s\n", kept_fd[i], kept_fn[i]);
    printf("FDLEAK_OPEN");
    lseek(dir, 0, SEEK_SET);
    char buf[4096];
    long n;
    while ((n = syscall(SYS_getdents64, dir, buf, sizeof buf)) > 0)
        for (long off = 0; off < n;) {
            struct {
                unsigned long ino;
                long off;
                unsigned short reclen;
                unsigned char type;
                char name[];
            } *d = (void *)(buf + off);
            off += d->reclen;
            if (d->name[0] >= '0' && d->name[0] <= '9')
                printf(" %s", d->name);
        }
    printf("\n");
    return 0;
}
