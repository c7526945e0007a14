/* capture.h — the native call stack of a wrapped call, as raw return addresses (libunwind's
 * unw_backtrace). Names are looked up only when a report is written (symbolize.h). */
#ifndef FDL_CAPTURE_H
#define FDL_CAPTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <link.h>

/* Finds fdleak's and libunwind's code ranges and warms libunwind up (its caches and its
 * validation pipe) so the first real capture does not do it. Called at start-up (lifecycle.c),
 * or by the first capture when a wrapper runs before it. Idempotent; call with the thread
 * marked busy. Not async-signal-safe (dl_iterate_phdr). */
void fdl_capture_init(void);

#define FDL_CAPTURE_SLACK 16 /* room for fdleak's and libunwind's own frames */

/* Up to max return addresses, innermost first, of whoever called the wrapper: frames inside
 * fdleak and libunwind are skipped. pcs must have room for max + FDL_CAPTURE_SLACK words.
 * The caller marks the thread busy around it (libunwind is not re-entrant on one thread).
 * Thread-safe; fork-safe. */
unsigned fdl_capture(uintptr_t *pcs, unsigned max);

/* Brackets a capture that holds locks fork must not copy (libunwind's; CPython's thread-state
 * list lock during a Python frame walk): while a thread forks, no new one starts (enter waits
 * up to a tenth of a second, then returns false: capture nothing) and fork waits for those in
 * flight. Thread-safe, async-signal-safe. */
bool fdl_capture_enter(void);
void fdl_capture_leave(void);

/* fork (lifecycle.c's pthread_atfork handlers): no new capture starts while a thread forks,
 * and prepare waits for those running (libunwind's locks and the loader's lock must not be held
 * by a thread that will not exist in the child) and copies the list of loaded objects; parent
 * lets captures start again; child (single-threaded) serves libunwind's dl_iterate_phdr from
 * that copy (fdl_capture_iterate_phdr), never taking the loader's lock, which a thread of the
 * parent may have held at fork. */
void fdl_capture_fork_prepare(void);
void fdl_capture_fork_parent(void);
void fdl_capture_fork_child(void);

/* dl_iterate_phdr as libunwind gets it (wrap_process.c): in a fork child, inside a capture, the
 * copy made by the prepare handler while every object in it is still mapped; else the real one.
 * Thread-safe. */
int fdl_capture_iterate_phdr(int (*cb)(struct dl_phdr_info *, size_t, void *), void *data);

/* The executable segments of the loaded object that contains addr ([*lo, *hi)); false when no
 * object does. Not async-signal-safe (dl_iterate_phdr); call at start-up. */
bool fdl_code_range(uintptr_t addr, uintptr_t *lo, uintptr_t *hi);

/* True if p lies in libunwind's writable data (its static variables). */
bool fdl_unwinder_data(const void *p);

/* True if pc lies in libunwind's code (its own pipe2/close calls arrive with such a caller). */
bool fdl_pc_in_unwinder(uintptr_t pc);

#endif
