/* trigger.h — what the process-level wrappers (exit, exec, signals) ask of the triggers. */
#ifndef FDL_TRIGGER_H
#define FDL_TRIGGER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

struct fdl_region;

/* _exit/_Exit: the exit report, once; *status becomes FDLEAK_EXITCODE if leaks were found.
 * Nothing in a vfork child. Async-signal-safe. */
void fdl_exit_now(int *status);

/* The exit report, once per process image; returns FDLEAK_EXITCODE when leaks were found and
 * a code is set, else -1. signame: the fatal signal, or NULL. Async-signal-safe. */
int fdl_exit_report(const char *signame);

/* Whether this process image wrote its exit report: later interval reports would describe
 * the teardown, not the program. */
bool fdl_exit_reported(void);

/* In a fork child (lifecycle.c's child handler): its own exit report, its own exit code. */
void fdl_exit_fork_child(void);

/* Start-up (lifecycle.c): report-then-die handlers for the default-action fatal signals, the
 * report signal (FDLEAK_SIGNAL); the live triggers (interval thread, threshold, the reserve
 * of reserve.h). Not async-signal-safe. */
void fdl_signals_install(void);
void fdl_live_start(void);

/* The live triggers' core hooks (core.h fdl_hooks, installed by lifecycle.c): a report when
 * the open count reaches the threshold, and one (once) when a creation fails with EMFILE or
 * ENFILE (its files from the reserve). Async-signal-safe, as the hooks must be. */
void fdl_live_on_threshold(uint64_t open);
void fdl_live_on_emfile(void);

/* Start-up, before CPython initializes: the `_fdleak` built-in module for the Python start-up
 * hook (api_python.c). Nothing in a process that is not CPython 3 with the stable ABI's object
 * header, or whose interpreter is running already. */
void fdl_pymodule_register(void);

/* The program changed its RLIMIT_NOFILE: the threshold (when a percentage) follows it. The
 * reserve (reserve.h) stays where it is: below a lowered limit it would take two of the
 * program's slots, which a bare run has. Preserves errno. */
void fdl_limit_changed(void);

/* sigaction as the program should see it: SIGTERM/SIGINT/SIGHUP/SIGQUIT left at their default
 * action carry fdleak's report-then-die handler, and the report signal fdleak's report
 * handler; queries show both as SIG_DFL. A program's own handler replaces fdleak's. */
int fdl_sigaction(int sig, const struct sigaction *act, struct sigaction *old);
__sighandler_t fdl_signal(int sig, __sighandler_t handler);

/* Before exec: writes the exec report (descriptors about to cross it) and returns the
 * environment for the new program (envp plus FDLEAK_LINEAGE), allocated in r. After a failed
 * exec the caller frees r. Async-signal-safe; works in a vfork child. */
char **fdl_exec_prepare(struct fdl_region *r, char *const envp[]);

/* One exec report per process: a failed exec that the program retries (execvp walking PATH,
 * CPython's subprocess) does not write one per attempt. A new child starts afresh: this is
 * called in a fork child (lifecycle.c) and a vfork child (wrap_process.c). */
void fdl_exec_forget(void);

#endif
