/* trigger_exec.c — before exec: report every descriptor about to cross into a program that
 * does not know it exists (no close-on-exec), and tell that program where they came from. */
#include "trigger.h"
#include "config.h"
#include "core.h"
#include "lineage.h"
#include "report.h"
#include "table.h"
#include "tls.h"
#include "sys.h"

#include <errno.h>
#include <fcntl.h>

/* Descriptors fdleak saw created (here or in a forked parent) that exec would pass on. */
static int crossing(void)
{
    int n = 0;
    struct fdl_slot *s;
    for (int fd = 3; (s = fdl_table_next(&fd, INT32_MAX)); fd++) {
        if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != FDL_SLOT_OPEN || (s->flags & FDL_F_INHERITED))
            continue;
        long fl = fdl_sys(SYS_fcntl, fd, F_GETFD);
        n += fl >= 0 && !(fl & FD_CLOEXEC);
    }
    return n;
}

/* The pid that wrote an exec report: memory a vfork child shares with its parent, so a pid
 * rather than a flag. */
static int reported_pid;

void fdl_exec_forget(void) { reported_pid = 0; }

char **fdl_exec_prepare(struct fdl_region *r, char *const envp[])
{
    int saved = errno;
    int pid = (int)fdl_sys(SYS_getpid);
    bool want = fdl_config()->exec_report && reported_pid != pid;
    struct fdl_site *stack = want ? fdl_capture_stack() : 0;
    fdl_tls.busy++;
    if (want && crossing()) {
        reported_pid = pid;
        struct fdl_report_opts o = {.trigger = "exec", .crossing = true, .exec_stack = stack};
        fdl_report_now(&o);
    }
    char **env = fdl_lineage_env(r, envp, fdl_report_next_seq());
    fdl_tls.busy--;
    errno = saved;
    return env;
}
