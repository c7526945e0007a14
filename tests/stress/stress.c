/* stress.c — everything at once, for a fixed time (issue 9): 8 threads creating and closing
 * every kind of descriptor (files, sockets, pipes, socketpairs, eventfds, epolls, dups, dup2
 * over live descriptors, FILE* and DIR* streams), a storm of the program's own SIGUSR2 whose
 * handler closes descriptors, fork and vfork+exec children in a loop, and fdleak's report
 * signal (SIGUSR1) arriving throughout.
 *
 *   stress SECONDS      (a watchdog alarm at 3 × SECONDS + 10 ends a deadlocked run)
 *
 * At the end the workers stop, everything shared is closed except KEEP descriptors kept on
 * purpose, and the program prints
 *     keep FD FD …
 *     children N reports-asked N swept N
 * so that tests/check_stress.py can hold the exit report to exactly that set (the table agrees
 * with what is open: nothing missing, nothing stale, nothing unattributed). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "fdleak.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define THREADS 8
#define SLOTS 64 /* shared descriptors the handler may close */
#define KEEP 5

static _Atomic int slots[SLOTS];
static atomic_bool stop;
static atomic_long children, reports;

/* The descriptors open at start (the harness's, inherited): neither swept nor the program's. */
static bool at_start[4096];

static void list_fds(void (*fn)(int fd, int dfd, void *), void *arg)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) {
        fprintf(stderr, "stress: /proc/self/fd: %s\n", strerror(errno));
        exit(1);
    }
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.')
            fn(atoi(e->d_name), dirfd(d), arg);
    closedir(d);
}

static void mark_start(int fd, int dfd, void *arg)
{
    (void)arg;
    if (fd != dfd && fd >= 0 && fd < 4096)
        at_start[fd] = true;
}

static void die(const char *what)
{
    fprintf(stderr, "stress: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* The program's own handler: takes a shared descriptor and closes it (async-signal-safe). */
static void on_usr2(int sig)
{
    (void)sig;
    int saved = errno;
    static _Atomic unsigned next;
    int fd = atomic_exchange(&slots[atomic_fetch_add(&next, 1) % SLOTS], -1);
    if (fd >= 0)
        close(fd);
    errno = saved;
}

/* Puts fd in a shared slot; whatever was there is closed. */
static void share(int fd, unsigned r)
{
    int old = atomic_exchange(&slots[r % SLOTS], fd);
    if (old >= 0)
        close(old);
}

static int make(unsigned r)
{
    int p[2];
    switch (r % 9) {
    case 0: return open("/dev/null", O_RDONLY | O_CLOEXEC);
    case 1: return socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    case 2:
        if (pipe2(p, O_CLOEXEC))
            return -1;
        close(p[1]);
        return p[0];
    case 3:
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p))
            return -1;
        close(p[0]);
        return p[1];
    case 4: return eventfd(0, EFD_CLOEXEC);
    case 5: return epoll_create1(EPOLL_CLOEXEC);
    case 6: {
        int a = dup(2);
        if (a < 0)
            return -1;
        int b = fcntl(a, F_DUPFD_CLOEXEC, 3);
        close(a);
        return b;
    }
    case 7: {
        FILE *f = fopen("/dev/null", "re");
        if (f)
            fclose(f);
        return open("/dev/zero", O_RDONLY | O_CLOEXEC);
    }
    default: {
        DIR *d = opendir("/");
        if (d)
            closedir(d);
        return eventfd(1, EFD_CLOEXEC);
    }
    }
}

static void *worker(void *arg)
{
    unsigned r = (unsigned)(uintptr_t)arg * 2654435761u;
    int mine[16];
    for (int i = 0; i < 16; i++)
        mine[i] = -1;
    while (!atomic_load(&stop)) {
        r = r * 1103515245u + 12345u;
        int fd = make(r >> 8);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                continue;
            die("create");
        }
        unsigned what = (r >> 20) % 4;
        if (what == 0) {
            share(fd, r >> 12);
        } else if (what == 1 && mine[(r >> 4) % 16] >= 0) {
            /* dup2 over a live descriptor of this thread's */
            if (dup3(fd, mine[(r >> 4) % 16], O_CLOEXEC) < 0)
                die("dup3");
            close(fd);
        } else {
            int *slot = &mine[(r >> 4) % 16];
            if (*slot >= 0)
                close(*slot);
            *slot = fd;
        }
    }
    for (int i = 0; i < 16; i++)
        if (mine[i] >= 0)
            close(mine[i]);
    return 0;
}

static void *signaller(void *arg)
{
    (void)arg;
    const struct timespec tick = {0, 200 * 1000};
    for (unsigned i = 0; !atomic_load(&stop); i++) {
        kill(getpid(), SIGUSR2);
        if (i % 100 == 0 && FDLEAK_CALL(fdleak_is_loaded)) { /* fdleak's report signal, every ~20 ms */
            kill(getpid(), SIGUSR1);
            atomic_fetch_add(&reports, 1);
        }
        nanosleep(&tick, 0);
    }
    return 0;
}

/* vfork in a frame of its own: the child borrows this stack until it execs. */
static __attribute__((noinline)) pid_t spawn_true(void)
{
    pid_t pid = vfork();
    if (pid == 0) {
        execl("/bin/true", "true", (char *)0);
        _exit(127);
    }
    return pid;
}

static void *spawner(void *arg)
{
    (void)arg;
    for (unsigned i = 0; !atomic_load(&stop); i++) {
        pid_t pid = i % 2 ? fork() : spawn_true();
        if (pid == 0) { /* a fork child opens, leaks and exits */
            open("/dev/null", O_RDONLY);
            _exit(0);
        }
        if (pid < 0)
            die("fork");
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        if (!WIFEXITED(st) || WEXITSTATUS(st))
            fprintf(stderr, "stress: child %d ended with %d\n", pid, st), exit(1);
        atomic_fetch_add(&children, 1);
    }
    return 0;
}

/* Everything open now but the standard streams, what was there at start and what is kept. */
static void to_sweep(int fd, int dfd, void *arg)
{
    struct sweep {
        int keep[KEEP], victims[4096], n;
    } *sw = arg;
    bool kept = fd <= 2 || fd == dfd || (fd < 4096 && at_start[fd]) || sw->n == 4096;
    for (int i = 0; i < KEEP; i++)
        kept |= fd == sw->keep[i];
    if (!kept)
        sw->victims[sw->n++] = fd;
}

int main(int argc, char **argv)
{
    int seconds = argc > 1 ? atoi(argv[1]) : 5;
    if (seconds < 1 || seconds > 600) {
        fprintf(stderr, "usage: stress SECONDS (1..600)\n");
        return 2;
    }
    alarm((unsigned)(3 * seconds + 10)); /* a deadlock ends here, with SIGALRM's status */
    list_fds(mark_start, 0);
    for (int i = 0; i < SLOTS; i++)
        slots[i] = -1;
    struct sigaction sa = {.sa_handler = on_usr2, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGUSR2, &sa, 0))
        die("sigaction");

    pthread_t t[THREADS + 2];
    for (int i = 0; i < THREADS; i++)
        if (pthread_create(&t[i], 0, worker, (void *)(uintptr_t)(i + 1)))
            die("pthread_create");
    pthread_create(&t[THREADS], 0, signaller, 0);
    pthread_create(&t[THREADS + 1], 0, spawner, 0);
    struct timespec end = {seconds, 0};
    while (nanosleep(&end, &end) && errno == EINTR)
        ;
    atomic_store(&stop, true);
    for (int i = 0; i < THREADS + 2; i++)
        pthread_join(t[i], 0);
    signal(SIGUSR2, SIG_IGN);
    for (int i = 0; i < SLOTS; i++) {
        int fd = atomic_exchange(&slots[i], -1);
        if (fd >= 0)
            close(fd);
    }
    /* Then a daemon's sweep: close every descriptor above 2 but the ones kept on purpose. It
     * must find nothing of the program's (swept 0): fdleak's own refuse with EBADF. */
    int keep[KEEP];
    for (int i = 0; i < KEEP; i++)
        if ((keep[i] = open("/dev/null", O_RDONLY)) < 0)
            die("keep");
    struct sweep {
        int keep[KEEP], victims[4096], n;
    } sw = {.n = 0};
    memcpy(sw.keep, keep, sizeof keep);
    list_fds(to_sweep, &sw);
    int *victims = sw.victims, n = sw.n, swept = 0;
    for (int i = 0; i < n; i++) {
        char path[64], link[256] = "?";
        snprintf(path, sizeof path, "/proc/self/fd/%d", victims[i]);
        ssize_t l = readlink(path, link, sizeof link - 1);
        link[l > 0 ? l : 1] = 0;
        if (close(victims[i]) == 0) {
            swept++;
            fprintf(stderr, "stress: swept fd %d (%s)\n", victims[i], link);
        }
    }
    printf("keep");
    for (int i = 0; i < KEEP; i++)
        printf(" %d", keep[i]);
    printf("\ninherited");
    for (int fd = 0; fd < 4096; fd++)
        if (at_start[fd])
            printf(" %d", fd);
    printf("\nchildren %ld reports-asked %ld swept %d\n", atomic_load(&children), atomic_load(&reports), swept);
    return 0;
}
