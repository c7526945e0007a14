/* trigger_signal.c — fdleak's signal handlers, and the program's view of them: a report on
 * FDLEAK_SIGNAL (default SIGUSR1), and the exit report before SIGTERM/SIGINT/SIGHUP/SIGQUIT
 * take their default action. Handlers are installed only where the action is the default and
 * are hidden from sigaction()/signal() queries; a program's own handler replaces them. */
#include "trigger.h"
#include "config.h"
#include "diag.h"
#include "real.h"
#include "report.h"
#include "tls.h"
#include "util.h"
#include "sys.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static const int fatal[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT};

static int report_signal(void) { return fdl_config()->report_signal; }

static bool pid_one;

static bool is_fatal(int sig)
{
    if (pid_one || sig == report_signal())
        return false; /* FDLEAK_SIGNAL=HUP makes HUP a report signal, not a death */
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
        fdl_exit_report(sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : sig == SIGHUP ? "SIGHUP" : "SIGQUIT");
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

/* A report of what is open now, written in the handler: the report needs no malloc, no stdio
 * and no lock, so it is safe wherever the signal lands (even inside a wrapper, or idle in
 * epoll_wait); SA_RESTART keeps the program's system calls going. */
static void on_report(int sig)
{
    (void)sig;
    if (fdl_in_vfork_child())
        return;
    struct fdl_report_opts o = {.trigger = "signal"};
    fdl_report_now(&o);
}

static bool ours(const struct sigaction *sa)
{
    return !(sa->sa_flags & SA_SIGINFO) && (sa->sa_handler == on_fatal || sa->sa_handler == on_report);
}

/* fdleak's action for sig, or NULL when fdleak has none for it. */
static bool our_action(int sig, struct sigaction *sa)
{
    memset(sa, 0, sizeof *sa);
    sigemptyset(&sa->sa_mask);
    if (sig && sig == report_signal()) {
        sa->sa_handler = on_report;
        sa->sa_flags = SA_RESTART;
        return true;
    }
    if (is_fatal(sig)) {
        sa->sa_handler = on_fatal;
        return true;
    }
    return false;
}

static int warned_report_signal;

static void warn_taken(int sig)
{
    char mem[256];
    struct fdl_buf b;
    fdl_buf_init_mem(&b, mem, sizeof mem);
    fdl_buf_puts(&b, "the program handles SIG");
    fdl_buf_puts(&b, sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
    fdl_buf_puts(&b, " itself: no reports on it (FDLEAK_SIGNAL picks another signal)");
    fdl_warn_once(&warned_report_signal, fdl_buf_cstr(&b));
}

int fdl_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (!REAL(sigaction)) {
        errno = ENOSYS;
        return -1;
    }
    struct sigaction mine;
    if (act && !fdl_in_vfork_child()) {
        /* A program that asks for the default action gets it, with fdleak's work in front. */
        if (act->sa_handler == SIG_DFL && our_action(sig, &mine))
            act = &mine;
        else if (sig == report_signal())
            warn_taken(sig);
    }
    int r = REAL(sigaction)(sig, act, old);
    if (r == 0 && old && ours(old)) { /* what the program sees is the default it had */
        old->sa_handler = SIG_DFL;
        old->sa_flags = 0;
        sigemptyset(&old->sa_mask);
    }
    return r;
}

void fdl_signals_install(void)
{
    if (!REAL(sigaction))
        return;
    /* The init of a pid namespace (a container's entrypoint) is immune to default-action
     * signals: a handler would change that. No fatal-signal handlers there. */
    if (fdl_sys(SYS_getpid) == 1)
        pid_one = true;
    int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, report_signal()};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        struct sigaction cur, mine;
        if (!sigs[i] || !our_action(sigs[i], &mine))
            continue;
        if (REAL(sigaction)(sigs[i], 0, &cur) || cur.sa_handler != SIG_DFL || (cur.sa_flags & SA_SIGINFO))
            continue; /* the program's, or ignored: left alone */
        REAL(sigaction)(sigs[i], &mine, 0);
    }
}

__sighandler_t fdl_signal(int sig, __sighandler_t handler)
{
    struct sigaction mine, old;
    if (handler == SIG_DFL && !fdl_in_vfork_child() && our_action(sig, &mine)) {
        if (!REAL(sigaction) || REAL(sigaction)(sig, &mine, &old))
            return SIG_ERR;
        return ours(&old) ? SIG_DFL : old.sa_handler;
    }
    if (!REAL(signal)) {
        errno = ENOSYS;
        return SIG_ERR;
    }
    if (sig && sig == report_signal() && handler != SIG_ERR && !fdl_in_vfork_child())
        warn_taken(sig);
    __sighandler_t prev = REAL(signal)(sig, handler);
    return prev == on_fatal || prev == on_report ? SIG_DFL : prev;
}
