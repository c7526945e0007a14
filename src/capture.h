/* capture.h — the native call stack of a wrapped call, as raw return addresses (libunwind's
 * unw_backtrace). Names are looked up only when a report is written (symbolize.h). */
#ifndef FDL_CAPTURE_H
#define FDL_CAPTURE_H

#include <stdbool.h>
#include <stdint.h>

/* Finds fdleak's and libunwind's code ranges and warms libunwind up (its caches and its
 * validation pipe) so the first real capture does not do it. Idempotent; call with the thread
 * marked busy. Not async-signal-safe (dl_iterate_phdr). */
void fdl_capture_init(void);

#define FDL_CAPTURE_SLACK 16 /* room for fdleak's and libunwind's own frames */

/* Up to max return addresses, innermost first, of whoever called the wrapper: frames inside
 * fdleak and libunwind are skipped. pcs must have room for max + FDL_CAPTURE_SLACK words.
 * The caller marks the thread busy around it (libunwind is not re-entrant on one thread).
 * Thread-safe; fork-safe. */
unsigned fdl_capture(uintptr_t *pcs, unsigned max);

/* True if pc lies in libunwind's code (its own pipe2/close calls arrive with such a caller). */
bool fdl_pc_in_unwinder(uintptr_t pc);

#endif
