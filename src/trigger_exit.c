/* trigger_exit.c — the exit report, however the process ends: exit() (the destructor of a
 * preloaded library runs after the program's atexit handlers and destructors), _exit()/_Exit(),
 * death by a signal whose action is the default (trigger_signal.c), or CPython's finalization
 * (lifecycle.c's py_finalizing hook). Start-up is lifecycle.c's. */
#include "trigger.h"
#include "config.h"
#include "real.h"
#include "report.h"
#include "tls.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

static int reported, exit_code = -1;

/* A forked child is another process: its own exit report, its own code. */
void fdl_exit_fork_child(void)
{
    reported = 0;
    exit_code = -1;
}

/* One exit report per process image (a forked child starts afresh). A later call (exit after
 * the report taken as CPython began to finalize) returns the same code. The signals that end
 * a process with a report are held off while it is written: one arriving meanwhile (a parent
 * terminating its worker as it exits) would find the report started and kill the process in
 * the middle of it. keep_blocked: the caller is about to end the process anyway. */
static int exit_report(const char *signame, bool keep_blocked)
{
    if (fdl_in_vfork_child())
        return -1;
    if (__atomic_exchange_n(&reported, 1, __ATOMIC_ACQ_REL))
        return __atomic_load_n(&exit_code, __ATOMIC_ACQUIRE);
    sigset_t hold, old;
    sigemptyset(&hold);
    sigaddset(&hold, SIGTERM);
    sigaddset(&hold, SIGINT);
    sigaddset(&hold, SIGHUP);
    sigaddset(&hold, SIGQUIT);
    pthread_sigmask(SIG_BLOCK, &hold, &old);
    struct fdl_report_opts o = {.trigger = "exit", .signal = signame};
    long leaks = fdl_report_now(&o);
    int code = fdl_config()->exitcode;
    __atomic_store_n(&exit_code, leaks > 0 && code >= 0 ? code : -1, __ATOMIC_RELEASE);
    if (!keep_blocked)
        pthread_sigmask(SIG_SETMASK, &old, 0);
    return __atomic_load_n(&exit_code, __ATOMIC_ACQUIRE);
}

int fdl_exit_report(const char *signame) { return exit_report(signame, false); }

bool fdl_exit_reported(void) { return __atomic_load_n(&reported, __ATOMIC_ACQUIRE); }

void fdl_exit_now(int *status)
{
    int code = exit_report(0, true); /* _exit follows */
    if (code >= 0)
        *status = code;
}

/* After every destructor: exit() ran the program's atexit handlers, then _dl_fini ran the
 * destructors of every object, this one included (fdl_at_exit below), then this. */
static void after_destructors(void *arg)
{
    (void)arg;
    int code = fdl_exit_report(0);
    if (code >= 0) {
        fflush(NULL); /* _exit skips stdio's own flush at the end of exit() */
        REAL(_exit)(code);
    }
}

int __cxa_atexit(void (*fn)(void *), void *arg, void *dso);

/* Our destructor runs before those of libraries initialised earlier (the program's own),
 * which may still close descriptors. An exit handler registered now with no DSO attached runs
 * when _dl_fini returns (glibc rescans its list for handlers added meanwhile), i.e. after all
 * of them; if that cannot be arranged, report now. */
__attribute__((destructor)) static void fdl_at_exit(void)
{
    if (__cxa_atexit(after_destructors, 0, 0))
        after_destructors(0);
}
