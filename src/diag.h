/* diag.h — fdleak's own one-line messages ("fdleak: …") and where they go: the program's
 * stderr, or a copy of it kept when the program lets go of fd 2. Async-signal-safe. */
#ifndef FDL_DIAG_H
#define FDL_DIAG_H

/* The program is about to release its stderr (GNU programs fclose it in an atexit handler,
 * before the exit report): when reports go to stderr and it is a terminal or a file, keeps a
 * close-on-exec copy among fdleak's own descriptors so the report still arrives. Called by the
 * core's release paths. Lock-free, async-signal-safe, preserves errno. */
void fdl_keep_stderr(void);

/* Where a stderr report or message goes: fd 2 while it is the program's stderr, else that
 * copy, else -1. Lock-free, async-signal-safe. */
int fdl_stderr_fd(void);

/* One line, "fdleak: " a b c, on fdl_stderr_fd(). Async-signal-safe. */
void fdl_say(const char *a, const char *b, const char *c);

/* "fdleak: " msg, the first time *flag is raised ("said once"). Async-signal-safe. */
void fdl_warn_once(int *flag, const char *msg);

/* From now on (and in forked children) neither says anything: a process FDLEAK_CHILDREN
 * leaves out (lifecycle.c). Async-signal-safe. */
void fdl_diag_mute(void);

#endif
