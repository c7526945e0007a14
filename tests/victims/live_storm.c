/* live_storm: thousands of report signals while 8 threads churn descriptors and the program's
 * own SIGUSR2 handler closes and opens descriptors (tests/check_live.py storm).
 *
 * Before the storm it leaks a file, a pipe and a socket (`mark pre`: every report written
 * during the storm must list them, with their sites). Then 8 threads loop over open/close,
 * socket/close, pipe/close and a failing open whose errno must be ENOENT, checking every return
 * value (a report must not change what the program sees), and the program's SIGUSR2 handler
 * (SA_RESTART) makes and closes a pipe, opens and closes the file, and swaps the descriptor it
 * keeps in `slot` for a fresh one. Main waits in read(2) on stdin meanwhile, which must never
 * fail with EINTR. `stop` (or end of file, or STORM_LIMIT_S) ends the churn; main then declares
 * what remains (the slot's descriptor, made by a last direct call of on_usr2, and one more
 * file), prints `mark post`
 * and `ready post`, and exits at `end`.
 *
 * Descriptors a churn thread holds at once: churn_open 1, churn_socket 1, churn_pipe 2; the
 * handler (running on up to 9 threads at once) holds at most 3 besides the slot. The checker
 * bounds what a report may list with these numbers. */
#include "victim.h"

#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>

#define NTHREADS 8
#define STORM_LIMIT_S 60.0
#define MAX_ITERATIONS 2000000L /* per thread */

static char *path;
static atomic_int stop, slot = -1;
static atomic_long churn_errors, handler_errors, usr2_count, iterations;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

VICTIM_FN void pre_file(void)
{
    int fd = open(path, O_RDONLY);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "storm.dat", "open", 0);
}

VICTIM_FN void pre_pipe(void)
{
    int p[2];
    V_CHECK(pipe(p) == 0);
    V_LEAK(p[0], "pipe", "pipe:", "pipe", 0);
    V_LEAK(p[1], "pipe", "pipe:", "pipe", 0);
}

VICTIM_FN void pre_socket(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "socket", "udp", "socket", 1);
}

VICTIM_FN void post_file(void)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "storm.dat", "open", 1);
}

/* The program's own handler: async-signal-safe calls only. */
VICTIM_FN void on_usr2(int sig)
{
    (void)sig;
    int saved = errno;
    int p[2];
    if (pipe(p) != 0 || close(p[0]) != 0 || close(p[1]) != 0)
        atomic_fetch_add(&handler_errors, 1);
    int fd = open(path, O_RDONLY);
    if (fd < 0 || close(fd) != 0)
        atomic_fetch_add(&handler_errors, 1);
    int keep = open(path, O_RDONLY);
    if (keep < 0) {
        atomic_fetch_add(&handler_errors, 1);
    } else {
        int old = atomic_exchange(&slot, keep);
        if (old >= 0 && close(old) != 0)
            atomic_fetch_add(&handler_errors, 1);
    }
    atomic_fetch_add(&usr2_count, 1);
    errno = saved;
}

VICTIM_FN void churn_open(void)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || close(fd) != 0)
        atomic_fetch_add(&churn_errors, 1);
}

VICTIM_FN void churn_socket(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || close(fd) != 0)
        atomic_fetch_add(&churn_errors, 1);
}

VICTIM_FN void churn_pipe(void)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        atomic_fetch_add(&churn_errors, 1);
        return;
    }
    if (close(p[1]) != 0 || close(p[0]) != 0)
        atomic_fetch_add(&churn_errors, 1);
}

/* A call that fails: the program must see -1 and ENOENT whatever fdleak does meanwhile. */
VICTIM_FN void churn_missing(void)
{
    errno = 0;
    int fd = open("/nonexistent/fdleak-live-storm", O_RDONLY);
    int e = errno;
    if (fd != -1 || e != ENOENT) {
        atomic_fetch_add(&churn_errors, 1);
        if (fd >= 0)
            close(fd);
    }
}

static void *churner(void *arg)
{
    (void)arg;
    v_say("thread %ld", (long)syscall(SYS_gettid));
    double end = now() + STORM_LIMIT_S;
    long n = 0;
    while (!atomic_load(&stop) && n < MAX_ITERATIONS && (n % 64 || now() < end)) {
        churn_open();
        churn_socket();
        churn_pipe();
        churn_missing();
        n++;
    }
    atomic_fetch_add(&iterations, n);
    return NULL;
}

static void *timeout_stop(void *arg)
{
    (void)arg;
    double end = now() + STORM_LIMIT_S;
    while (!atomic_load(&stop) && now() < end)
        usleep(10000);
    atomic_store(&stop, 1);
    return NULL;
}

int main(void)
{
    v_begin();
    path = v_make_file("storm.dat");
    pre_file();
    pre_pipe();
    pre_socket();
    v_mark("pre", -1);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr2;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    V_CHECK(sigaction(SIGUSR2, &sa, NULL) == 0);

    pthread_t th[NTHREADS], guard;
    for (int i = 0; i < NTHREADS; i++)
        V_CHECK(pthread_create(&th[i], NULL, churner, NULL) == 0);
    V_CHECK(pthread_create(&guard, NULL, timeout_stop, NULL) == 0);
    v_say("ready storm");

    char cmd[64];
    v_read_line(cmd, sizeof cmd); /* "stop" or end of file */
    atomic_store(&stop, 1);
    for (int i = 0; i < NTHREADS; i++)
        V_CHECK(pthread_join(th[i], NULL) == 0);
    V_CHECK(pthread_join(guard, NULL) == 0);

    /* no more SIGUSR2 handlers from here on: the slot stays */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    V_CHECK(pthread_sigmask(SIG_BLOCK, &set, NULL) == 0);
    /* A descriptor made in a handler that interrupted fdleak itself may have no stack (the
     * docs/limits.md); call the handler once more outside any signal, so the one kept has. */
    on_usr2(0);
    int kept = atomic_load(&slot);
    V_CHECK(kept >= 0);
    v_leak(kept, "file", "on_usr2", "storm.dat", NULL, "open", 0, 0);
    post_file();

    fprintf(stderr, "live_storm: %ld churn iterations, %ld SIGUSR2 handled, errors %ld/%ld\n",
            atomic_load(&iterations), atomic_load(&usr2_count), atomic_load(&churn_errors),
            atomic_load(&handler_errors));
    V_CHECK(atomic_load(&churn_errors) == 0);
    V_CHECK(atomic_load(&handler_errors) == 0);
    v_say("usr2-handled %ld", atomic_load(&usr2_count));
    v_mark("post", -1);
    v_say("ready post");
    v_read_line(cmd, sizeof cmd); /* "end" or end of file */
    return v_finish();
}
