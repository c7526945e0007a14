/* misuse.h — misuse the wrappers see (closing what is not open, closing twice, closing a
 * descriptor a FILE* or DIR* still owns), kept in a small fixed log for the reports. */
#ifndef FDL_MISUSE_H
#define FDL_MISUSE_H

#include <stdint.h>

struct fdl_site;

enum fdl_misuse_kind {
    FDL_E_CROSSES_EXEC, /* only in exec reports: computed there, never logged */
    FDL_E_DOUBLE_CLOSE,
    FDL_E_BAD_CLOSE,
    FDL_E_CLOSE_OWNED,
};

const char *fdl_misuse_name(enum fdl_misuse_kind k);

struct fdl_error {
    _Atomic int ready;              /* published: the fields below are complete */
    enum fdl_misuse_kind what;
    int fd;                         /* the first fd it happened to */
    struct fdl_site *site;          /* creating site of the descriptor, if known */
    struct fdl_site *stack;         /* stack of the bad call (interned like a site, no id) */
    struct fdl_site *first_close;   /* double-close: stack of the earlier close */
    _Atomic uint64_t count;         /* times the same (what, stack) happened */
};

#define FDL_ERRORS_MAX 256

/* Logs one misuse by the calling thread (its stack is captured here), merging it with an
 * earlier entry of the same kind and stack. With FDLEAK_MISUSE=abort it then prints the error
 * (fdl_hooks.misuse_abort, core.h) and aborts; with ignore it does nothing. Lock-free,
 * async-signal-safe, preserves errno. */
void fdl_misuse(enum fdl_misuse_kind what, int fd, struct fdl_site *site, struct fdl_site *first_close);

/* After fork (lifecycle.c's child handler): the child starts with an empty log (the parent's
 * misuse is the parent's). Single-threaded. */
void fdl_misuse_forget(void);

/* The log, for reports: entries [0, n) with ready set are complete. */
const struct fdl_error *fdl_errors(unsigned *n, uint64_t *dropped);

#endif
