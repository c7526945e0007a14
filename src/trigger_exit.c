/* trigger_exit.c — start-up and the exit report, however the process ends: exit() (the
 * destructor of a preloaded library runs after the program's atexit handlers and
 * destructors), _exit()/_Exit(), or death by a signal whose action is the default
 * (trigger_signal.c). */
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

static int reported, exit_code = -1;

/* One exit report per process image (a forked child has its own flag: fork copies it before
 * anything is reported, or after, in which case the child's report is the child's). A later
 * call (exit after the report taken as CPython began to finalize) returns the same code. */
int fdl_exit_report(const char *signame)
{
    if (fdl_in_vfork_child())
        return -1;
    if (__atomic_exchange_n(&reported, 1, __ATOMIC_ACQ_REL))
        return __atomic_load_n(&exit_code, __ATOMIC_ACQUIRE);
    struct fdl_report_opts o = {.trigger = "exit", .signal = signame};
    long leaks = fdl_report_now(&o);
    int code = fdl_config()->exitcode;
    __atomic_store_n(&exit_code, leaks > 0 && code >= 0 ? code : -1, __ATOMIC_RELEASE);
    return __atomic_load_n(&exit_code, __ATOMIC_ACQUIRE);
}

/* CPython ran the program's atexit callbacks and now tears modules down, closing every socket
 * and file the program left open: the exit report is taken here, before the first of them. */
static void on_py_finalizing(void) { fdl_exit_report(0); }

void fdl_exit_now(int *status)
{
    int code = fdl_exit_report(0);
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

__attribute__((constructor)) static void fdl_start(void)
{
    fdl_lineage_load();
    fdl_init();
    fdl_hooks.py_finalizing = on_py_finalizing;
    fdl_signals_install();
    fdl_live_start();
}
