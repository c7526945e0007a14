/* churn.c — scripts/bench's hot-path workload: open/close of /dev/null and socket/close, each
 * called 12 frames deep (a stack as deep as a real program's), in 1 or more threads; or
 * (`syscall`) the system calls that make no descriptor, through libc's syscall() as libuv and
 * others make them, which the library's syscall() wrapper passes through.
 *
 *   churn ITERATIONS [THREADS]     prints nothing; its run time is the measure
 *   churn ITERATIONS syscall       10 × ITERATIONS of syscall(SYS_getppid) and syscall(SYS_gettid) */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define DEPTH 12

static long iterations;

/* Recursion the compiler keeps: each level is a real frame for the unwinder to walk. */
static __attribute__((noinline)) int deep(int level, int what)
{
    if (level > 1) {
        int r = deep(level - 1, what);
        __asm__ volatile("" ::: "memory");
        return r;
    }
    int fd = what ? socket(AF_INET, SOCK_STREAM, 0) : open("/dev/null", O_RDONLY);
    if (fd < 0) {
        perror(what ? "socket" : "open");
        exit(1);
    }
    return close(fd);
}

static void *run(void *arg)
{
    (void)arg;
    for (long i = 0; i < iterations; i++)
        if (deep(DEPTH - 2, (int)(i & 1))) { /* main and run are the outer two frames */
            perror("close");
            exit(1);
        }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: churn ITERATIONS [THREADS]\n");
        return 2;
    }
    iterations = atol(argv[1]);
    if (argc > 2 && !strcmp(argv[2], "syscall")) {
        long sum = 0;
        for (long i = 0; i < iterations * 10; i++)
            sum += syscall(SYS_getppid) + syscall(SYS_gettid);
        return sum == 0; /* used, so the calls stay */
    }
    int threads = argc > 2 ? atoi(argv[2]) : 1;
    pthread_t t[64];
    if (threads < 1 || threads > 64) {
        fprintf(stderr, "churn: THREADS from 1 to 64\n");
        return 2;
    }
    for (int i = 1; i < threads; i++)
        if (pthread_create(&t[i], 0, run, 0)) {
            perror("pthread_create");
            return 1;
        }
    run(0);
    for (int i = 1; i < threads; i++)
        pthread_join(t[i], 0);
    return 0;
}
