/* trigger_exit.c — start-up and the exit report. The destructor of a preloaded library runs
 * after the program's atexit handlers and destructors, so what the program cleans up at exit
 * is not reported. */
#include "config.h"
#include "core.h"
#include "report.h"

#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

__attribute__((constructor)) static void fdl_start(void) { fdl_init(); }

static int reported;

__attribute__((destructor)) static void fdl_exit_report(void)
{
    if (__atomic_exchange_n(&reported, 1, __ATOMIC_ACQ_REL))
        return;
    long leaks = fdl_report_now("exit", NULL);
    int code = fdl_config()->exitcode;
    if (leaks > 0 && code >= 0) {
        fflush(NULL); /* _exit skips stdio's own flush at the end of exit() */
        _exit(code);
    }
}
