/* live_idle: a process that sits idle, holding a few descriptors, while tests/check_live.py asks
 * it for reports by signal (issue 4). It leaks a file, a pipe and a listening TCP socket, then
 * prints `mark one` and `ready one` and blocks until a command arrives on stdin:
 *
 *     next     leak one more descriptor (a dup of the file), `mark two`, `ready two`, block again
 *     install  install the program's own handler for the --own-late signal, `ready installed`
 *     end      (or end of file) check the declarations (v_finish) and exit 0
 *
 * usage: victim-live_idle MODE [--own SIG:sigaction|SIG:signal] [--own-late SIG]
 *   MODE: how it blocks while idle
 *     poll     poll(2) on stdin
 *     epoll    epoll_wait(2) on an epoll descriptor watching stdin (the epoll fd is a leak too)
 *     sleep    nanosleep(2) 100 ms at a time, looking at stdin in between
 *     read     read(2) on stdin: a signal report must not make it fail with EINTR (SA_RESTART)
 *     threads  main blocks SIGUSR1/SIGUSR2 and waits in read(2); three workers each block in
 *              poll(2) on a pipe of their own (leaks) and print `thread <tid>`; a signal
 *              reaches a worker, or the one the checker aims at with tgkill
 *   --own SIG:how   the program installs its own handler for SIG at start (sigaction or
 *                   signal()); each time it runs the victim prints `handled <n>`
 *   --own-late SIG  the same, with sigaction, on the command `install`
 *
 * Before installing anything it checks that sigaction(SIGUSR1/SIGUSR2, NULL, &old) shows
 * SIG_DFL (fdleak must not be visible) and that an installed handler reads back as installed.
 * Every wait is bounded (IDLE_LIMIT_S); bare (stdin /dev/null) it goes straight to the end. */
#include "victim.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>

#define IDLE_LIMIT_S 120 /* no command for this long: fail rather than hang */
#define NWORKERS 3

static const char *mode;
static char *path;
static int file_fd = -1, epfd = -1, stdin_plain;
static int nheld = 3; /* the tracked open count, 0, 1 and 2 included */
static volatile sig_atomic_t handled;
static int handled_seen;
static long eintrs;
static atomic_int stop_workers;
static int worker_pipe[NWORKERS][2];

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

VICTIM_FN void leak_file(void)
{
    int fd = open(path, O_RDONLY);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "idle.dat", "open", 0);
    file_fd = fd;
    nheld++;
}

VICTIM_FN void leak_pipe(void)
{
    int p[2];
    V_CHECK(pipe2(p, O_CLOEXEC) == 0);
    V_LEAK(p[0], "pipe", "pipe:", "pipe2", 1);
    V_LEAK(p[1], "pipe", "pipe:", "pipe2", 1);
    nheld += 2;
}

VICTIM_FN void leak_listener(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    V_CHECK(fd >= 0);
    v_listen_loopback(fd);
    V_LEAK(fd, "socket", "tcp&127.0.0.1", "socket", 0);
    nheld++;
}

VICTIM_FN void leak_epoll(void)
{
    epfd = epoll_create1(0);
    V_CHECK(epfd >= 0);
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.fd = 0;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &ev) != 0) {
        /* stdin is /dev/null or a file (a bare run): nothing to wait for */
        V_CHECK(errno == EPERM);
        stdin_plain = 1;
    }
    V_LEAK(epfd, "epoll", "eventpoll", "epoll_create1", 0);
    nheld++;
}

VICTIM_FN void leak_worker_pipe(int i)
{
    V_CHECK(pipe(worker_pipe[i]) == 0);
    V_LEAK(worker_pipe[i][0], "pipe", "pipe:", "pipe", 0);
    V_LEAK(worker_pipe[i][1], "pipe", "pipe:", "pipe", 0);
    nheld += 2;
}

VICTIM_FN void leak_more(void)
{
    int fd = dup(file_fd);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "idle.dat", "dup", 0);
    nheld++;
}

/* Opened and closed: never in a report. */
VICTIM_FN void transient(void)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    V_CHECK(fd >= 0);
    V_CHECK(close(fd) == 0);
}

static void on_own(int sig)
{
    (void)sig;
    handled++;
}

static void note_handled(void)
{
    int h = handled;
    if (h != handled_seen) {
        handled_seen = h;
        v_say("handled %d", h);
    }
}

static int parse_sig(const char *s)
{
    if (!strcmp(s, "SIGUSR1") || !strcmp(s, "USR1"))
        return SIGUSR1;
    if (!strcmp(s, "SIGUSR2") || !strcmp(s, "USR2"))
        return SIGUSR2;
    fprintf(stderr, "victim: unsupported signal %s\n", s);
    exit(2);
}

static void install_own(int sig, int with_signal_fn)
{
    if (with_signal_fn) {
        void (*prev)(int) = signal(sig, on_own);
        if (prev != SIG_DFL)
            v_fail("signal(%d, handler) returned %#lx, expected SIG_DFL", sig,
                   (unsigned long)(uintptr_t)prev);
    } else {
        struct sigaction sa, old;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_own;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        V_CHECK(sigaction(sig, &sa, &old) == 0);
        if (old.sa_handler != SIG_DFL)
            v_fail("installing a handler for %d: old handler %#lx, expected SIG_DFL", sig,
                   (unsigned long)(uintptr_t)old.sa_handler);
    }
    struct sigaction back;
    V_CHECK(sigaction(sig, NULL, &back) == 0);
    if (back.sa_handler != on_own)
        v_fail("the handler for %d reads back as %#lx, expected the program's %#lx", sig,
               (unsigned long)(uintptr_t)back.sa_handler, (unsigned long)(uintptr_t)on_own);
}

/* Blocks the way MODE says until stdin is readable (or at end of file). */
static void wait_stdin(void)
{
    double deadline = now() + IDLE_LIMIT_S;
    while (now() < deadline) {
        note_handled();
        if (!strcmp(mode, "poll")) {
            struct pollfd p = {0, POLLIN, 0};
            int r = poll(&p, 1, 1000);
            if (r > 0)
                return;
            if (r < 0) {
                V_CHECK(errno == EINTR);
                eintrs++;
            }
        } else if (!strcmp(mode, "epoll")) {
            if (stdin_plain)
                return;
            struct epoll_event ev;
            int r = epoll_wait(epfd, &ev, 1, 1000);
            if (r > 0)
                return;
            if (r < 0) {
                V_CHECK(errno == EINTR);
                eintrs++;
            }
        } else if (!strcmp(mode, "sleep")) {
            struct timespec ts = {0, 100 * 1000 * 1000};
            if (nanosleep(&ts, NULL) != 0) {
                V_CHECK(errno == EINTR);
                eintrs++;
            }
            struct pollfd p = {0, POLLIN, 0};
            if (poll(&p, 1, 0) > 0)
                return;
        } else {
            return; /* read, threads: v_read_line blocks */
        }
    }
    v_fail("no command on stdin within %d s", IDLE_LIMIT_S);
    fflush(stdout);
    _exit(1);
}

static void *worker(void *arg)
{
    int i = (int)(intptr_t)arg;
    v_say("thread %ld", (long)syscall(SYS_gettid));
    double deadline = now() + IDLE_LIMIT_S;
    while (!atomic_load(&stop_workers) && now() < deadline) {
        struct pollfd p = {worker_pipe[i][0], POLLIN, 0};
        int r = poll(&p, 1, 1000);
        if (r < 0)
            V_CHECK(errno == EINTR);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: victim-live_idle poll|epoll|sleep|read|threads [--own SIG:how] "
                        "[--own-late SIG]\n");
        return 2;
    }
    mode = argv[1];
    int own = 0, own_with_signal = 0, own_late = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--own") && i + 1 < argc) {
            char name[32]; /* a copy: argv stays as it was (the report shows it) */
            snprintf(name, sizeof name, "%s", argv[++i]);
            char *how = strchr(name, ':');
            V_CHECK(how != NULL);
            *how++ = '\0';
            own = parse_sig(name);
            own_with_signal = !strcmp(how, "signal");
            V_CHECK(own_with_signal || !strcmp(how, "sigaction"));
        } else if (!strcmp(argv[i], "--own-late") && i + 1 < argc) {
            own_late = parse_sig(argv[++i]);
        } else {
            fprintf(stderr, "victim: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    if (strcmp(mode, "poll") && strcmp(mode, "epoll") && strcmp(mode, "sleep") &&
        strcmp(mode, "read") && strcmp(mode, "threads")) {
        fprintf(stderr, "victim: unknown mode %s\n", mode);
        return 2;
    }

    v_begin();
    static const int watched[] = {SIGUSR1, SIGUSR2};
    for (size_t i = 0; i < sizeof watched / sizeof *watched; i++) {
        struct sigaction old;
        V_CHECK(sigaction(watched[i], NULL, &old) == 0);
        if (old.sa_handler != SIG_DFL)
            v_fail("sigaction(%s, NULL, &old) before the program installs anything: handler "
                   "%#lx, expected SIG_DFL", strsignal(watched[i]),
                   (unsigned long)(uintptr_t)old.sa_handler);
    }
    if (own)
        install_own(own, own_with_signal);

    path = v_make_file("idle.dat");
    leak_file();
    leak_pipe();
    leak_listener();
    transient();
    if (!strcmp(mode, "epoll"))
        leak_epoll();

    pthread_t th[NWORKERS];
    if (!strcmp(mode, "threads")) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGUSR1);
        sigaddset(&set, SIGUSR2);
        for (int i = 0; i < NWORKERS; i++)
            leak_worker_pipe(i);
        /* workers start with the signals unblocked, then main blocks them for itself */
        for (int i = 0; i < NWORKERS; i++)
            V_CHECK(pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i) == 0);
        V_CHECK(pthread_sigmask(SIG_BLOCK, &set, NULL) == 0);
    }

    v_mark("one", nheld);
    v_say("ready one");
    int phase = 1;
    char cmd[64];
    for (int commands = 0; commands < 100; commands++) {
        wait_stdin();
        v_read_line(cmd, sizeof cmd);
        note_handled();
        if (!strcmp(cmd, "next")) {
            if (phase != 1) {
                v_fail("`next` twice");
                break;
            }
            phase = 2;
            leak_more();
            transient();
            v_mark("two", nheld);
            v_say("ready two");
        } else if (!strcmp(cmd, "install")) {
            if (!own_late) {
                v_fail("`install` without --own-late");
                break;
            }
            install_own(own_late, 0);
            v_say("ready installed");
        } else {
            break; /* "end" or end of file */
        }
    }
    note_handled();

    if (!strcmp(mode, "threads")) {
        atomic_store(&stop_workers, 1);
        for (int i = 0; i < NWORKERS; i++) {
            V_CHECK(write(worker_pipe[i][1], "x", 1) == 1);
            V_CHECK(pthread_join(th[i], NULL) == 0);
        }
    }
    fprintf(stderr, "live_idle %s: %ld interrupted waits, program handler ran %d times\n", mode,
            eintrs, (int)handled);
    v_say("handled-total %d", (int)handled);
    return v_finish();
}
