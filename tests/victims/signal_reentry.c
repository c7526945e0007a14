/* signal_reentry: a worker thread churns open/dup2/pipe/close for ~2 s while two timers
 * interrupt it at high frequency (a per-thread POSIX timer, SIGEV_THREAD_ID, every 100 us, and
 * ITIMER_REAL every 1 ms); the handler itself calls pipe/close and open/close, which are
 * async-signal-safe, so it can run while the worker is inside any fdleak wrapper. The program
 * must neither deadlock nor crash, and afterwards the report must list exactly the few
 * descriptors leaked at the end. */
#include "victim.h"

#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

#define RUN_SECONDS 2.0
#define MAX_ITERATIONS 3000000L

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

static char *path;
static atomic_long ticks, handler_errors, worker_errors, iterations;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Async-signal-safe only: no stdio, no malloc. */
VICTIM_FN void on_tick(int sig)
{
    (void)sig;
    int saved = errno;
    int p[2];
    if (pipe(p) == 0) {
        if (close(p[0]) != 0 || close(p[1]) != 0)
            atomic_fetch_add(&handler_errors, 1);
    } else {
        atomic_fetch_add(&handler_errors, 1);
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || close(fd) != 0)
        atomic_fetch_add(&handler_errors, 1);
    atomic_fetch_add(&ticks, 1);
    errno = saved;
}

static void *worker(void *arg)
{
    (void)arg;
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = SIGRTMIN;
    sev.sigev_notify_thread_id = (pid_t)syscall(SYS_gettid);
    timer_t timer;
    V_CHECK(timer_create(CLOCK_MONOTONIC, &sev, &timer) == 0);
    struct itimerspec its = {{0, 100000}, {0, 100000}};
    V_CHECK(timer_settime(timer, 0, &its, NULL) == 0);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN);
    sigaddset(&set, SIGALRM);
    V_CHECK(pthread_sigmask(SIG_UNBLOCK, &set, NULL) == 0);

    double end = now() + RUN_SECONDS;
    long n = 0;
    while (n < MAX_ITERATIONS && (n % 64 || now() < end)) {
        int a = open(path, O_RDONLY);
        int b = open(path, O_RDONLY | O_CLOEXEC);
        int p[2] = {-1, -1};
        int pr = pipe(p);
        if (a < 0 || b < 0 || pr != 0) {
            atomic_fetch_add(&worker_errors, 1);
        } else {
            if (dup2(p[0], a) != a) /* over a live descriptor */
                atomic_fetch_add(&worker_errors, 1);
            if (close(p[0]) || close(p[1]) || close(b) || close(a))
                atomic_fetch_add(&worker_errors, 1);
        }
        n++;
    }
    V_CHECK(pthread_sigmask(SIG_BLOCK, &set, NULL) == 0);
    V_CHECK(timer_delete(timer) == 0);
    atomic_store(&iterations, n);
    return NULL;
}

VICTIM_FN void leak_after_storm_file(void)
{
    int fd = open(path, O_RDONLY);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "storm.dat", "open", 0);
}

VICTIM_FN void leak_after_storm_pipe(void)
{
    int p[2];
    V_CHECK(pipe(p) == 0);
    V_LEAK(p[0], "pipe", "pipe:", "pipe", 0);
    V_LEAK(p[1], "pipe", "pipe:", "pipe", 0);
}

VICTIM_FN void leak_after_storm_dup2(int src)
{
    V_CHECK(dup2(src, 9) == 9);
    V_LEAK(9, "file", "storm.dat", "dup2", 0);
}

int main(void)
{
    v_begin();
    path = v_make_file("storm.dat");

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_tick;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    V_CHECK(sigaction(SIGRTMIN, &sa, NULL) == 0);
    V_CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
    /* main keeps both blocked, so process-directed SIGALRM goes to the worker too */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN);
    sigaddset(&set, SIGALRM);
    V_CHECK(pthread_sigmask(SIG_BLOCK, &set, NULL) == 0);

    struct itimerval it = {{0, 1000}, {0, 1000}};
    V_CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
    pthread_t th;
    V_CHECK(pthread_create(&th, NULL, worker, NULL) == 0);
    V_CHECK(pthread_join(th, NULL) == 0);
    struct itimerval off = {{0, 0}, {0, 0}};
    V_CHECK(setitimer(ITIMER_REAL, &off, NULL) == 0);

    fprintf(stderr, "signal_reentry: %ld iterations, %ld signals handled\n",
            atomic_load(&iterations), atomic_load(&ticks));
    V_CHECK(atomic_load(&worker_errors) == 0);
    V_CHECK(atomic_load(&handler_errors) == 0);
    /* without many interruptions the test would prove nothing */
    V_CHECK(atomic_load(&ticks) >= 200);

    leak_after_storm_file();
    leak_after_storm_pipe();
    int src = open(path, O_RDONLY);
    V_CHECK(src >= 0 && src != 9);
    leak_after_storm_dup2(src);
    V_CHECK(close(src) == 0);
    return v_finish();
}
