/* threads_churn: 8 threads create and release descriptors as fast as they can for ~3 s
 * (open, dup, dup2 over a live descriptor, fcntl(F_DUPFD), socket, socketpair, pipe, pipe2,
 * close); part-way through, each leaks one known file and goes on churning, so the leaked
 * records live through seconds of other threads closing and reusing neighbouring numbers. The
 * report must list exactly those 8, each with the creating thread's tid; v_finish() checks
 * /proc/self/fd against the same expectation. */
#include "victim.h"

#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>

#define THREADS 8
#define RUN_SECONDS 3.0
#define MAX_ITERATIONS 400000L

static char *path;
static pthread_barrier_t start;
static atomic_long errors, total;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define OK(x)                                                                               \
    do {                                                                                    \
        if ((x) < 0)                                                                        \
            atomic_fetch_add(&errors, 1);                                                   \
    } while (0)

static void churn_once(void)
{
    int a = open(path, O_RDONLY);
    int b = open(path, O_RDONLY | O_CLOEXEC);
    OK(a);
    OK(b);
    if (a >= 0 && b >= 0)
        OK(dup2(a, b)); /* over our own live descriptor */
    int c = dup(a);
    OK(c);
    int d = fcntl(a, F_DUPFD_CLOEXEC, 10);
    OK(d);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    OK(s);
    int sv[2] = {-1, -1}, p[2] = {-1, -1}, q[2] = {-1, -1};
    OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
    OK(pipe(p));
    OK(pipe2(q, O_CLOEXEC));
    int all[] = {a, b, c, d, s, sv[0], sv[1], p[0], p[1], q[0], q[1]};
    for (unsigned i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i] >= 0)
            OK(close(all[i]));
}

VICTIM_FN void thread_leak(int idx)
{
    char name[32];
    snprintf(name, sizeof name, "thread-%d.dat", idx);
    char *p = v_make_file(name);
    int fd = open(p, O_RDONLY);
    V_CHECK(fd >= 0);
    v_leak(fd, "file", __func__, name, NULL, "open", 0, (long)syscall(SYS_gettid));
}

static void *worker(void *arg)
{
    int idx = (int)(long)arg;
    pthread_barrier_wait(&start);
    double t0 = now(), end = t0 + RUN_SECONDS;
    double leak_at = t0 + RUN_SECONDS * (0.2 + 0.05 * idx); /* spread over the run */
    int leaked = 0;
    long n = 0;
    while (n < MAX_ITERATIONS && (n % 32 || now() < end)) {
        churn_once();
        n++;
        if (!leaked && (n % 32 == 0) && now() >= leak_at) {
            thread_leak(idx);
            leaked = 1;
        }
    }
    if (!leaked) /* iteration bound reached first */
        thread_leak(idx);
    atomic_fetch_add(&total, n);
    return NULL;
}

int main(void)
{
    v_begin();
    path = v_make_file("churn.dat");
    V_CHECK(pthread_barrier_init(&start, NULL, THREADS) == 0);
    pthread_t th[THREADS];
    for (long i = 0; i < THREADS; i++)
        V_CHECK(pthread_create(&th[i], NULL, worker, (void *)i) == 0);
    for (int i = 0; i < THREADS; i++)
        V_CHECK(pthread_join(th[i], NULL) == 0);
    fprintf(stderr, "threads_churn: %ld iterations in %d threads, %ld errors\n",
            atomic_load(&total), THREADS, atomic_load(&errors));
    V_CHECK(atomic_load(&errors) == 0);
    return v_finish();
}
