/* trigger_exit.c — start-up and the exit report, however the process ends: exit() (the
 * destructor of a preloaded library runs after the program's atexit handlers and
 * destructors), _exit()/_Exit(), or death by a signal whose action is the default. */
#include "trigger.h"
#include "config.h"
#include "real.h"
#include "core.h"
#include "lineage.h"
#include "report.h"
#include "tls.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int reported;

/* One exit report per process image (a forked child has its own flag: fork copies it before
 * anything is reported, or after, in which case the child's report is the child's). */
static int exit_report(const char *signame)
{
    if (fdl_in_vfork_child() || __atomic_exchange_n(&reported, 1, __ATOMIC_ACQ_REL))
        return -1;
    struct fdl_report_opts o = {.trigger = "exit", .signal = signame};
    long leaks = fdl_report_now(&o);
    int code = fdl_config()->exitcode;
    return leaks > 0 && code >= 0 ? code : -1;
}

void fdl_exit_now(int *status)
{
    int code = exit_report(0);
    if (code >= 0)
        *status = code;
}

__attribute__((destructor)) static void fdl_exit_report(void)
{
    int code = exit_report(0);
    if (code >= 0) {
        fflush(NULL); /* _exit skips stdio's own flush at the end of exit() */
        REAL(_exit)(code);
    }
}

/* ---- death by signal ---- */

static const int fatal[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT};

static const char *signame(int sig)
{
    switch (sig) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case SIGHUP: return "SIGHUP";
    case SIGQUIT: return "SIGQUIT";
    }
    return "?";
}

static bool is_fatal(int sig)
{
    for (size_t i = 0; i < sizeof fatal / sizeof *fatal; i++)
        if (fatal[i] == sig)
            return true;
    return false;
}

/* Writes the report, then lets the signal do what its default action does (same signal, same
 * core dump). Async-signal-safe (the report is). */
static void on_fatal(int sig)
{
    if (!fdl_in_vfork_child())
        exit_report(signame(sig));
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    REAL(sigaction)(sig, &dfl, 0);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, 0);
    raise(sig);
}

static void our_action(struct sigaction *sa)
{
    memset(sa, 0, sizeof *sa);
    sa->sa_handler = on_fatal;
    sigemptyset(&sa->sa_mask);
}

static bool is_ours(const struct sigaction *sa)
{
    return !(sa->sa_flags & SA_SIGINFO) && sa->sa_handler == on_fatal;
}

int fdl_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (!REAL(sigaction)) {
        errno = ENOSYS;
        return -1;
    }
    struct sigaction mine;
    /* A program that asks for the default action gets it, with the report in front. */
    if (act && is_fatal(sig) && !fdl_in_vfork_child() && act->sa_handler == SIG_DFL) {
        our_action(&mine);
        act = &mine;
    }
    int r = REAL(sigaction)(sig, act, old);
    if (r == 0 && old && is_ours(old)) { /* what the program sees is the default it had */
        old->sa_handler = SIG_DFL;
        old->sa_flags = 0;
        sigemptyset(&old->sa_mask);
    }
    return r;
}

/* Only where the action is the default: a program's own handler (or SIG_IGN) is left alone. */
static void install_fatal(void)
{
    if (!REAL(sigaction))
        return;
    for (size_t i = 0; i < sizeof fatal / sizeof *fatal; i++) {
        struct sigaction cur, mine;
        if (REAL(sigaction)(fatal[i], 0, &cur) || cur.sa_handler != SIG_DFL || (cur.sa_flags & SA_SIGINFO))
            continue;
        our_action(&mine);
        REAL(sigaction)(fatal[i], &mine, 0);
    }
}

__attribute__((constructor)) static void fdl_start(void)
{
    fdl_lineage_load();
    fdl_init();
    install_fatal();
}
