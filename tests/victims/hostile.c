/* hostile.c — programs that are unkind to a preload library (issue 9, check_badenv.py): each
 * mode prints what it did and exits 0; under fdleak it must print the same, in the same time
 * order, and not hang.
 *
 *   hostile fork-in-handler   a thread raises SIGUSR2 200 times while the main thread churns
 *                             descriptors; the handler forks, the child _exits at once
 *   closefrom FILE            closes every descriptor from 0 at start (close_range), as
 *                             daemons do, then opens FILE (fd 0) and writes into it the
 *                             numbers of two more it opens and leaks
 *   dup2-stderr               puts /dev/null over its stderr (where a report would go), then
 *                             leaks one
 *   few-fds                   runs with RLIMIT_NOFILE 16 (set here): opens until EMFILE,
 *                             prints how many it got, closes them */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static atomic_int forks, stop;

static void on_usr2(int sig)
{
    (void)sig;
    int saved = errno;
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    if (pid > 0) {
        waitpid(pid, 0, 0);
        atomic_fetch_add(&forks, 1);
    }
    errno = saved;
}

static void *raiser(void *arg)
{
    pthread_t main_thread = *(pthread_t *)arg;
    for (int i = 0; i < 200; i++) {
        pthread_kill(main_thread, SIGUSR2);
        usleep(500);
    }
    atomic_store(&stop, 1);
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "fork-in-handler")) {
        struct sigaction sa = {.sa_handler = on_usr2, .sa_flags = SA_RESTART};
        sigemptyset(&sa.sa_mask);
        sigaction(SIGUSR2, &sa, 0);
        pthread_t self = pthread_self(), t;
        pthread_create(&t, 0, raiser, &self);
        long churn = 0;
        while (!atomic_load(&stop)) {
            int fd = open("/dev/null", O_RDONLY);
            if (fd >= 0)
                close(fd), churn++;
        }
        pthread_join(t, 0);
        printf("forked in the handler: %s\n", atomic_load(&forks) > 0 ? "yes" : "no");
        return 0;
    }
    if (!strcmp(mode, "closefrom") && argc > 2) {
        if (close_range(0, ~0u, 0))
            return 1;
        int out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644); /* the lowest free: 0 */
        int a = open("/dev/null", O_RDONLY), b = open("/dev/zero", O_RDONLY);
        dprintf(out, "out %d, then %d and %d\n", out, a, b); /* the same numbers preloaded */
        return 0;
    }
    if (!strcmp(mode, "dup2-stderr")) {
        int null = open("/dev/null", O_WRONLY);
        if (null < 0 || dup2(null, 2) != 2)
            return 1;
        close(null);
        int fd = open("/dev/null", O_RDONLY);
        printf("leaked %d\n", fd);
        return 0;
    }
    if (!strcmp(mode, "few-fds")) {
        struct rlimit rl = {16, 16};
        getrlimit(RLIMIT_NOFILE, &rl);
        rl.rlim_cur = 16;
        if (setrlimit(RLIMIT_NOFILE, &rl))
            return 1;
        int fds[64], n = 0;
        while (n < 64 && (fds[n] = open("/dev/null", O_RDONLY)) >= 0)
            n++;
        int e = errno;
        printf("opened %d, then %s\n", n, e == EMFILE ? "EMFILE" : strerror(e));
        while (n > 0)
            close(fds[--n]);
        return 0;
    }
    fprintf(stderr, "usage: hostile fork-in-handler|closefrom|dup2-stderr|few-fds\n");
    return 2;
}
