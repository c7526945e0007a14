/* endings: ways a program ends without returning from main. _exit and _Exit skip atexit and
 * destructors, a signal whose action is the default kills the process; fdleak still writes the
 * exit report (for a signal with "signal": "<NAME>"), and the process ends exactly as it would
 * have: same status, killed by the same signal. A program's own handler is left alone: it runs,
 * the program chooses its status, and sigaction() reports the default action for the signals
 * fdleak watches before the program installs anything. An ignored signal stays ignored.
 *
 * usage: victim-endings MODE, MODE one of
 *   _exit _Exit               status 3 / 4
 *   sigterm                   SIGTERM from another thread while main waits in pause()
 *   sigint sighup sigquit     raise() in main (no core file: RLIMIT_CORE is set to 0)
 *   handler                   own SIGTERM handler; raise; main exits with 7
 *   handler-exit              own SIGTERM handler that calls _exit(9)
 *   handler-restored          own handler installed, then SIG_DFL again; killed by SIGTERM
 *   ignored                   SIGTERM ignored; raise; exits 0
 * The victim leaks one file and one pipe and checks them (v_finish) before it ends; a failed
 * self-check ends with _exit(1) instead. */
#include "victim.h"

#include <stdint.h>
#include <sys/resource.h>

/* A handler as a number, for messages. */
#define FP(fn) ((unsigned long)(uintptr_t)(fn))

static char *path;
static volatile sig_atomic_t got_term;

VICTIM_FN int leak_file(void)
{
    int fd = open(path, O_RDONLY);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "endings.dat", "open", 0);
    return fd;
}

VICTIM_FN void leak_pipe(void)
{
    int p[2];
    V_CHECK(pipe2(p, O_CLOEXEC) == 0);
    V_LEAK(p[0], "pipe", "pipe:", "pipe2", 1);
    V_LEAK(p[1], "pipe", "pipe:", "pipe2", 1);
}

static void on_term(int sig)
{
    (void)sig;
    got_term = 1;
}

static void on_term_exit(int sig)
{
    (void)sig;
    _exit(9);
}

/* The self-check, done while the process can still report it. */
static void checked(void)
{
    if (v_finish() != 0)
        _exit(1);
}

static void *send_term(void *arg)
{
    (void)arg;
    usleep(20000);
    kill(getpid(), SIGTERM);
    return NULL;
}

/* Before the program installs anything, every watched signal has the default action. */
static void defaults_visible(void)
{
    static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        struct sigaction old;
        V_CHECK(sigaction(sigs[i], NULL, &old) == 0);
        if (old.sa_handler != SIG_DFL)
            v_fail("sigaction(%s) query: handler %#lx, expected SIG_DFL", strsignal(sigs[i]),
                   FP(old.sa_handler));
    }
    void (*prev)(int) = signal(SIGHUP, SIG_DFL);
    if (prev != SIG_DFL)
        v_fail("signal(SIGHUP, SIG_DFL) returned %#lx, expected SIG_DFL", FP(prev));
}

static void install(void (*fn)(int))
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    V_CHECK(sigaction(SIGTERM, &sa, &old) == 0);
    if (old.sa_handler != SIG_DFL)
        v_fail("installing a SIGTERM handler: old handler %#lx, expected SIG_DFL",
               FP(old.sa_handler));
    V_CHECK(sigaction(SIGTERM, NULL, &old) == 0);
    if (old.sa_handler != fn)
        v_fail("SIGTERM handler reads back as %#lx, expected the program's %#lx",
               FP(old.sa_handler), FP(fn));
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: victim-endings MODE\n");
        return 2;
    }
    const char *mode = argv[1];
    v_begin();
    path = v_make_file("endings.dat");
    struct rlimit no_core = {0, 0};
    V_CHECK(setrlimit(RLIMIT_CORE, &no_core) == 0);
    defaults_visible();
    leak_file();
    leak_pipe();

    if (!strcmp(mode, "_exit")) {
        checked();
        _exit(3);
    } else if (!strcmp(mode, "_Exit")) {
        checked();
        _Exit(4);
    } else if (!strcmp(mode, "sigterm")) {
        v_decl(NULL, "report signal=SIGTERM");
        checked();
        pthread_t t;
        V_CHECK(pthread_create(&t, NULL, send_term, NULL) == 0);
        for (;;)
            pause();
    } else if (!strcmp(mode, "sigint") || !strcmp(mode, "sighup") || !strcmp(mode, "sigquit")) {
        int sig = mode[3] == 'i' ? SIGINT : mode[3] == 'h' ? SIGHUP : SIGQUIT;
        v_decl(NULL, "report signal=%s", sig == SIGINT ? "SIGINT" : sig == SIGHUP ? "SIGHUP"
                                                                                   : "SIGQUIT");
        checked();
        raise(sig);
        fprintf(stderr, "victim: survived %s\n", mode);
        _exit(1);
    } else if (!strcmp(mode, "handler")) {
        install(on_term);
        V_CHECK(raise(SIGTERM) == 0);
        if (!got_term)
            v_fail("the program's SIGTERM handler did not run");
        return v_finish() ? 1 : 7;
    } else if (!strcmp(mode, "handler-exit")) {
        install(on_term_exit);
        checked();
        raise(SIGTERM);
        fprintf(stderr, "victim: the SIGTERM handler returned\n");
        _exit(1);
    } else if (!strcmp(mode, "handler-restored")) {
        install(on_term);
        struct sigaction sa, old;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_DFL;
        V_CHECK(sigaction(SIGTERM, &sa, &old) == 0);
        if (old.sa_handler != on_term)
            v_fail("restoring SIG_DFL: old handler %#lx, expected %#lx", FP(old.sa_handler),
                   FP(on_term));
        v_decl(NULL, "report signal=SIGTERM");
        checked();
        raise(SIGTERM);
        fprintf(stderr, "victim: survived SIGTERM with SIG_DFL restored\n");
        _exit(1);
    } else if (!strcmp(mode, "ignored")) {
        V_CHECK(signal(SIGTERM, SIG_IGN) == SIG_DFL);
        V_CHECK(raise(SIGTERM) == 0);
        struct sigaction old;
        V_CHECK(sigaction(SIGTERM, NULL, &old) == 0 && old.sa_handler == SIG_IGN);
        return v_finish();
    }
    fprintf(stderr, "victim-endings: unknown mode %s\n", mode);
    return 2;
}
