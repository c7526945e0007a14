/* trigger.h — what the process-level wrappers (exit, exec, signals) ask of the triggers. */
#ifndef FDL_TRIGGER_H
#define FDL_TRIGGER_H

#include <signal.h>

struct fdl_region;

/* _exit/_Exit: the exit report, once; *status becomes FDLEAK_EXITCODE if leaks were found.
 * Nothing in a vfork child. Async-signal-safe. */
void fdl_exit_now(int *status);

/* sigaction as the program should see it: SIGTERM/SIGINT/SIGHUP/SIGQUIT left at their default
 * action carry fdleak's report-then-die handler, which queries show as SIG_DFL. */
int fdl_sigaction(int sig, const struct sigaction *act, struct sigaction *old);

/* Before exec: writes the exec report (descriptors about to cross it) and returns the
 * environment for the new program (envp plus FDLEAK_LINEAGE), allocated in r. After a failed
 * exec the caller frees r. Async-signal-safe; works in a vfork child. */
char **fdl_exec_prepare(struct fdl_region *r, char *const envp[]);

#endif
