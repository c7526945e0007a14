/* reserve.h — two descriptors held below the soft limit, so that a report of a process that
 * has used every other one still opens its files (the output, /proc, ELF modules, addr2line's
 * pipe) and still has names. */
#ifndef FDL_RESERVE_H
#define FDL_RESERVE_H

/* Takes the reserve (at start; a fork child inherits it; after a report that gave it up).
 * Async-signal-safe (raw syscalls, the table's lock-free slots). */
void fdl_reserve_fill(void);

/* Bracket every report. In between, fdleak's own opens (util.h fdl_own_open) that fail with
 * EMFILE or ENFILE give up a reserve slot and retry, and when the reserve is gone lift the
 * soft limit up to the hard one; end puts the limit back and takes the slots again.
 * Async-signal-safe; a nested report (a signal handler's) shares the bracket; a vfork child
 * does nothing (its table is its own, the reserve's numbers its parent's memory). */
void fdl_reserve_begin(void);
void fdl_reserve_end(void);

/* The soft limit as the program set it (a lift for the report not counted); 0 if unknown.
 * Async-signal-safe. */
unsigned long fdl_reserve_soft_limit(void);

#endif
