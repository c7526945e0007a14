/*
 * demo-service: a small "service" that leaks file descriptors the way real
 * services do, for `scripts/demo` to show fdleak's report on.
 *
 * It is modelled on a chat bot that crashed with "too many open files" after
 * a few days of uptime. Everything happens in one process in about a second,
 * with no outside network: a thread inside the process plays the Redis server
 * and the HTTP API the service talks to (two listening sockets on 127.0.0.1,
 * ephemeral ports).
 *
 * Deliberate mistakes, by the function that makes them, and the finding
 * fdleak names for each (the same four as the Python bot in examples/bot):
 *
 *   redis_pool_get()         3 sockets  never-closed: a global connection pool
 *                                       created on first use and never closed
 *                                       (a global resource without a shutdown
 *                                       hook)
 *   activity_client_new()    1 socket   duplicate-clients: two modules each
 *   categories_client_new()  1 socket   build their own API client instead of
 *                                       sharing one, and neither is closed
 *   cache_client_for()      30 sockets  growing: a per-user client cache that
 *                                       is never evicted: one more socket per
 *                                       job run, the leak that grows with
 *                                       uptime
 *   reminder_job()           0 sockets  pool-per-operation: a fresh connection
 *                                       on each of its 30 runs, closed again;
 *                                       nothing leaks, but every run pays a
 *                                       connect and the connections churn
 *
 * The server thread closes all of its own descriptors before main() returns,
 * so the 35 descriptors above are exactly what is left open at exit.
 *
 * Usage: demo-service [--hold]
 *   --hold  before exiting, print the pid and wait for a line on stdin, so
 *           that `ls -l /proc/PID/fd` can be compared with the report.
 *
 * Every function is noinline and the file is built without optimization
 * (examples/meson.build) so that each one appears in the stacks by name.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

enum {
    POOL_SIZE = 3,    /* connections in the Redis pool */
    JOB_RUNS = 30,    /* runs of the periodic jobs */
    MAX_CLIENTS = 64, /* connections the fake server can hold at once */
};

static void die(const char *what)
{
    fprintf(stderr, "demo-service: %s: %s\n", what, strerror(errno));
    exit(1);
}

static struct sockaddr_in loopback(unsigned short port)
{
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    return addr;
}

/* ------------------------------------------------------------------------
 * The fake backend: one thread, two listening sockets ("redis" and "api"),
 * answering every request with one line. Its descriptors are all closed in
 * backend_stop(), so none of them is a leak.
 */

struct backend {
    int redis_listen;
    int api_listen;
    int wake[2]; /* main writes a byte to wake[1] to stop the thread */
    unsigned short redis_port;
    unsigned short api_port;
    pthread_t thread;
};

static NOINLINE int listen_on_loopback(unsigned short *port)
{
    struct sockaddr_in addr = loopback(0); /* ephemeral port */
    socklen_t len = sizeof addr;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0)
        die("bind");
    if (listen(fd, 128) < 0)
        die("listen");
    if (getsockname(fd, (struct sockaddr *)&addr, &len) < 0)
        die("getsockname");
    *port = ntohs(addr.sin_port);
    return fd;
}

static NOINLINE void *backend_main(void *arg)
{
    struct backend *b = arg;
    struct pollfd fds[3 + MAX_CLIENTS];
    nfds_t n = 3;
    int running = 1;

    fds[0] = (struct pollfd){.fd = b->wake[0], .events = POLLIN};
    fds[1] = (struct pollfd){.fd = b->redis_listen, .events = POLLIN};
    fds[2] = (struct pollfd){.fd = b->api_listen, .events = POLLIN};

    while (running) {
        if (poll(fds, n, -1) < 0) {
            if (errno == EINTR)
                continue;
            die("poll");
        }
        if (fds[0].revents)
            running = 0;
        /* new connections */
        for (nfds_t i = 1; i <= 2; i++) {
            if (!(fds[i].revents & POLLIN))
                continue;
            int c = accept4(fds[i].fd, NULL, NULL, SOCK_CLOEXEC);
            if (c < 0)
                continue;
            if (n == sizeof fds / sizeof fds[0]) {
                close(c); /* full: refuse */
                continue;
            }
            fds[n++] = (struct pollfd){.fd = c, .events = POLLIN};
        }
        /* requests, and clients that hung up */
        for (nfds_t i = 3; i < n; i++) {
            if (!fds[i].revents)
                continue;
            char buf[256];
            ssize_t r = read(fds[i].fd, buf, sizeof buf);
            if (r > 0) {
                static const char reply[] = "+OK\r\n";
                if (write(fds[i].fd, reply, sizeof reply - 1) < 0)
                    r = 0;
            }
            if (r <= 0) {
                close(fds[i].fd);
                fds[i] = fds[--n]; /* move the last one here ... */
                i--;               /* ... and look at it next */
            }
        }
    }

    /* shutting down: close every descriptor this thread owns */
    for (nfds_t i = 0; i < n; i++)
        close(fds[i].fd);
    return NULL;
}

static NOINLINE void backend_start(struct backend *b)
{
    b->redis_listen = listen_on_loopback(&b->redis_port);
    b->api_listen = listen_on_loopback(&b->api_port);
    if (pipe2(b->wake, O_CLOEXEC) < 0)
        die("pipe2");
    errno = pthread_create(&b->thread, NULL, backend_main, b);
    if (errno != 0)
        die("pthread_create");
}

static NOINLINE void backend_stop(struct backend *b)
{
    if (write(b->wake[1], "x", 1) < 0)
        die("write");
    pthread_join(b->thread, NULL);
    close(b->wake[1]); /* the thread closed the other end and the listeners */
}

/* ------------------------------------------------------------------------
 * Client side: what the service itself does.
 */

static unsigned short redis_port, api_port;

/* Connect to the backend on 127.0.0.1:port; every connection in this file
 * is made here, and the callers are what tells the leaks apart. */
static NOINLINE int tcp_connect(unsigned short port)
{
    struct sockaddr_in addr = loopback(port);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0)
        die("connect");
    return fd;
}

/* Send one request line and wait for the one-line answer. */
static NOINLINE void request(int fd, const char *line)
{
    char buf[64];
    if (write(fd, line, strlen(line)) < 0)
        die("write");
    if (read(fd, buf, sizeof buf) <= 0)
        die("read");
}

/* (a) A global pool created lazily on first use and never closed: there is
 * no close_redis_pool() and nothing calls one at shutdown. */
static int *redis_pool;

static NOINLINE int *redis_pool_get(void)
{
    if (redis_pool == NULL) {
        redis_pool = calloc(POOL_SIZE, sizeof *redis_pool);
        if (redis_pool == NULL)
            die("calloc");
        for (int i = 0; i < POOL_SIZE; i++)
            redis_pool[i] = tcp_connect(redis_port); /* LEAK x3  FINDING never-closed peer=redis */
    }
    return redis_pool;
}

/* (b) Two modules that each make their own API client at start-up instead
 * of sharing one, and never close it. */
struct api_client {
    int fd;
};

static NOINLINE struct api_client activity_client_new(void)
{
    struct api_client c = {.fd = tcp_connect(api_port)}; /* LEAK  FINDING duplicate-clients peer=api */
    return c;
}

static NOINLINE struct api_client categories_client_new(void)
{
    struct api_client c = {.fd = tcp_connect(api_port)}; /* LEAK  FINDING duplicate-clients peer=api */
    return c;
}

/* (c1) A periodic job that opens a new connection on every run and closes it
 * again. Not a leak, but churn: a pool-per-operation finding. */
static NOINLINE void reminder_job(int run)
{
    char line[32];
    int fd = tcp_connect(redis_port); /* FINDING pool-per-operation peer=redis */
    snprintf(line, sizeof line, "GET reminder:%d\r\n", run);
    request(fd, line);
    close(fd);
}

/* (c2) A per-user client cache that nothing ever evicts. Every run serves a
 * new user, so the service holds one more socket per run: after days of
 * uptime this is the leak that hits the descriptor limit. */
struct cached_client {
    int user;
    int fd;
};
static struct cached_client user_cache[JOB_RUNS];
static int user_cache_len;

static NOINLINE int cache_client_for(int user)
{
    for (int i = 0; i < user_cache_len; i++)
        if (user_cache[i].user == user)
            return user_cache[i].fd;
    if (user_cache_len == JOB_RUNS) {
        fprintf(stderr, "demo-service: user cache full\n");
        exit(1);
    }
    user_cache[user_cache_len].user = user;
    user_cache[user_cache_len].fd = tcp_connect(api_port); /* LEAK, one per new user  FINDING growing */
    return user_cache[user_cache_len++].fd;
}

static NOINLINE void handle_startup(void)
{
    int *pool = redis_pool_get();
    request(pool[0], "PING\r\n");
    struct api_client activity = activity_client_new();
    struct api_client categories = categories_client_new();
    request(activity.fd, "GET /activities HTTP/1.1\r\n");
    request(categories.fd, "GET /categories HTTP/1.1\r\n");
}

static NOINLINE void run_jobs(void)
{
    const struct timespec tick = {0, 40 * 1000 * 1000}; /* 40 ms */
    for (int run = 0; run < JOB_RUNS; run++) {
        reminder_job(run);
        request(cache_client_for(run), "GET /user HTTP/1.1\r\n");
        request(redis_pool_get()[run % POOL_SIZE], "PING\r\n");
        nanosleep(&tick, NULL);
    }
}

int main(int argc, char **argv)
{
    int hold = argc > 1 && strcmp(argv[1], "--hold") == 0;
    struct backend backend;

    if (argc > 1 && !hold) {
        fprintf(stderr, "usage: %s [--hold]\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    alarm(30); /* a watchdog: never hang a demo */

    backend_start(&backend);
    redis_port = backend.redis_port;
    api_port = backend.api_port;
    printf("demo-service: backend up (redis on 127.0.0.1:%u, api on 127.0.0.1:%u)\n",
           redis_port, api_port);

    handle_startup();
    run_jobs();

    backend_stop(&backend);
    printf("demo-service: %d job runs done, exiting\n", JOB_RUNS);

    if (hold) {
        char line[16];
        alarm(0);
        printf("demo-service: pid %ld, holding: see ls -l /proc/%ld/fd, then press Enter\n",
               (long)getpid(), (long)getpid());
        if (fgets(line, sizeof line, stdin) == NULL)
            line[0] = '\0';
    }
    return 0;
}
