/* core.h — what the wrappers tell the core: a descriptor was created, is being released, got
 * an address or an owner. Every function here preserves errno, takes no lock, never blocks,
 * and is safe from any thread and from a signal handler that interrupted another wrapper on
 * the same thread (such a nested creation is recorded without a stack). */
#ifndef FDL_CORE_H
#define FDL_CORE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "diag.h" /* fdl_say, fdl_stderr_fd, fdl_keep_stderr: what release paths and reports use */
#include "misuse.h"
#include "table.h"

/* Start-up (lifecycle.c, once, single-threaded, thread marked busy): every descriptor open now
 * that has no record yet is the program's inheritance (FDL_F_INHERITED). Wrappers work before
 * it too. Not async-signal-safe (reads /proc/self/fd). */
void fdl_core_mark_inherited(void);

/* In the child of fork (lifecycle.c's child handler, single-threaded, before fork() returns
 * there): what the parent had open is inherited with the parent's sites (FDL_F_FORKED). */
void fdl_core_fork_child(void);

/* fd was just created by the wrapped call `via` (a static string: the wrapper's __func__).
 * flags: FDL_F_STREAM / FDL_F_DIR when a FILE* / DIR* owns it. Captures the stack. */
void fdl_created(int fd, const char *via, uint32_t flags);

/* The same for a connection accepted on listener: its Python stack ends with where the
 * listener was made (an origin of kind listener), so that one accepted where no frame of the
 * program's own is on the stack is named at the listener's creation. */
void fdl_created_accepted(int fd, int listener, const char *via);

/* Two descriptors from one call (pipe, socketpair): one stack for both. When libunwind itself
 * made the call (caller inside it, thread busy) the pair is fdleak's own: it is moved to high
 * numbers out of the program's way, fds[] is updated and the pair is hidden. */
void fdl_created_pair(int fds[2], const char *via, uintptr_t caller);

enum fdl_release_how {
    FDL_REL_CLOSE,  /* close(): a live FILE* or DIR* owner makes it misuse */
    FDL_REL_STREAM, /* fclose, pclose, freopen, closedir: the owner lets go */
};

/* fd is about to be released: call before the real release so a number reused by another
 * thread at once is not wiped. Returns false when fd is fdleak's own and the caller is the
 * program: the wrapper must then fail with EBADF, as it would have without fdleak, instead of
 * closing it (fdl_close_ebadf logs the bad close). */
bool fdl_release(int fd, enum fdl_release_how how, uintptr_t caller);

/* The real release returned: the wrapper is about to return to the program. A thread that ran
 * Python and comes back while another thread finalizes CPython is parked here
 * (fdl_py_park_if_doomed): the same as fdl_created does for creations. */
void fdl_released(void);

/* The program's close(fd) failed with EBADF (or would have): log a double-close when this
 * process closed fd before and nobody reopened it, else a bad-close. */
void fdl_close_ebadf(int fd);

/* The calling thread's stack, interned like a site but without an id (the stack of a close, a
 * misuse or an exec call); NULL when nested inside fdleak. */
struct fdl_site *fdl_capture_stack(void);

/* Releases every tracked descriptor in [lo, hi] except fdleak's own; fills skip[] (sorted)
 * with fdleak's descriptors inside the range so the real call can step around them. Returns
 * how many were put in skip (at most max_skip). */
int fdl_release_range(unsigned lo, unsigned hi, int *skip, int max_skip);

/* Endpoints and ownership of an open descriptor. */
void fdl_note_local(int fd, const struct sockaddr *a, socklen_t len);
void fdl_note_peer(int fd, const struct sockaddr *a, socklen_t len);
void fdl_note_flags(int fd, uint32_t flags);

struct fdl_counts {
    uint64_t open, peak;
};
void fdl_counts(struct fdl_counts *out);
/* A report counted more open descriptors than the table (unattributed ones): the peak follows,
 * so that peaks never go down from one report to the next. */
void fdl_raise_peak(uint64_t open);

/* What the recording layer hands up to the triggers and reports: set by lifecycle.c at
 * start-up, unset in the unit tests. They must be async-signal-safe.
 *   threshold      the open count reached `open`;
 *   emfile         a creation call failed with EMFILE or ENFILE;
 *   py_finalizing  a descriptor is about to be released while CPython finalizes (before the
 *                  record goes: what teardown closes was still open when it began);
 *   misuse_abort   FDLEAK_MISUSE=abort, just before abort(): describes the misuse on stderr.
 * The first three are called on the program's thread, before the wrapper returns, never while
 * that thread is inside fdleak; misuse_abort wherever fdl_misuse logs one (misuse.h). */
struct fdl_hooks {
    void (*threshold)(uint64_t open);
    void (*emfile)(void);
    void (*py_finalizing)(void);
    void (*misuse_abort)(enum fdl_misuse_kind what, int fd, struct fdl_site *site, struct fdl_site *stack,
                         struct fdl_site *first_close);
};
extern struct fdl_hooks fdl_hooks;

/* Fires the threshold hook when the open count reaches n (then again at 2n, 4n …); 0 = never. */
void fdl_set_threshold(uint64_t n);

/* A creation call failed: fires the emfile hook if errno says the table is full. Preserves
 * errno. */
void fdl_creation_failed(void);

/* fdleak's own descriptors, kept out of the program's way (near the top of the limit, at most
 * 4096), hidden from reports and protected from the program's close/closefrom.
 * internal_dup: a close-on-exec duplicate of src up there; owner (may be NULL) is where the
 * holder keeps the number, set to -1 if the program takes the number over. Returns it or -1.
 * keep: fd itself becomes one (the table had no second slot for a duplicate). drop: closes one (not if the program took it over meanwhile).
 * yield: the program is about to dup2 onto fd: hand it over. */
int fdl_internal_dup(int src, int *owner);
int fdl_internal_keep(int fd, int *owner);
void fdl_drop_internal(int fd);
void fdl_yield_internal(int fd);

/* A call that puts a descriptor on a chosen number (dup2, freopen…): at 0–2, a redirection. */
bool fdl_is_redirect(const char *via);

#endif
