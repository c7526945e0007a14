/* misuse.c — the misuse log (see misuse.h). FDLEAK_MISUSE=abort describes the misuse through
 * core's misuse_abort hook (the report layer's, installed by lifecycle.c) before aborting. */
#include "misuse.h"
#include "config.h"
#include "core.h"

#include <errno.h>
#include <stdlib.h>

static struct fdl_error errors[FDL_ERRORS_MAX];
static _Atomic unsigned used;
static _Atomic uint64_t dropped;

const char *fdl_misuse_name(enum fdl_misuse_kind k)
{
    switch (k) {
    case FDL_E_CROSSES_EXEC: return "crosses-exec";
    case FDL_E_DOUBLE_CLOSE: return "double-close";
    case FDL_E_BAD_CLOSE: return "bad-close";
    case FDL_E_CLOSE_OWNED: return "close-owned";
    }
    return "?";
}

void fdl_misuse(enum fdl_misuse_kind what, int fd, struct fdl_site *site, struct fdl_site *first_close)
{
    enum fdl_misuse_mode mode = fdl_config()->misuse;
    if (mode == FDL_MISUSE_IGNORE)
        return;
    int saved = errno;
    struct fdl_site *stack = fdl_capture_stack();
    unsigned n = __atomic_load_n(&used, __ATOMIC_ACQUIRE);
    for (unsigned i = 0; i < n && i < FDL_ERRORS_MAX; i++) {
        struct fdl_error *e = &errors[i];
        if (__atomic_load_n(&e->ready, __ATOMIC_ACQUIRE) && e->what == what && e->stack == stack) {
            __atomic_fetch_add(&e->count, 1, __ATOMIC_RELAXED);
            goto done;
        }
    }
    unsigned i = __atomic_fetch_add(&used, 1, __ATOMIC_ACQ_REL);
    if (i >= FDL_ERRORS_MAX) {
        __atomic_fetch_add(&dropped, 1, __ATOMIC_RELAXED);
        goto done;
    }
    struct fdl_error *e = &errors[i];
    e->what = what;
    e->fd = fd;
    e->site = site;
    e->stack = stack;
    e->first_close = first_close;
    __atomic_store_n(&e->count, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&e->ready, 1, __ATOMIC_RELEASE);
done:
    if (mode == FDL_MISUSE_ABORT) {
        if (fdl_hooks.misuse_abort) /* unset before start-up and in the unit tests: just abort */
            fdl_hooks.misuse_abort(what, fd, site, stack, first_close);
        abort();
    }
    errno = saved;
}

const struct fdl_error *fdl_errors(unsigned *n, uint64_t *drop)
{
    unsigned u = __atomic_load_n(&used, __ATOMIC_ACQUIRE);
    *n = u < FDL_ERRORS_MAX ? u : FDL_ERRORS_MAX;
    *drop = __atomic_load_n(&dropped, __ATOMIC_RELAXED);
    return errors;
}

void fdl_misuse_forget(void)
{
    for (unsigned i = 0; i < FDL_ERRORS_MAX; i++)
        __atomic_store_n(&errors[i].ready, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&used, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&dropped, 0, __ATOMIC_RELAXED);
}
