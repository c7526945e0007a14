/* wrap_close.c — release: close, close_range, closefrom. fdleak's own descriptors inside a
 * range are stepped around, so the program's closefrom(3) cannot pull them away. */
#include "wrap.h"

#include <linux/close_range.h>
#include <unistd.h>

int fdl_close_with(int fd, int (*real)(int), uintptr_t caller)
{
    if (!fdl_release(fd, FDL_REL_CLOSE, caller)) { /* fdleak's own: not open without fdleak */
        fdl_close_ebadf(fd);
        errno = EBADF;
        return -1;
    }
    int r = real(fd);
    if (r < 0 && errno == EBADF)
        fdl_close_ebadf(fd);
    fdl_released();
    return r;
}

FDL_EXPORT int close(int fd) { return fdl_close_with(fd, REAL(close), FDL_CALLER); }

/* Closes [lo, hi] except fdleak's descriptors, with as few real close_range calls as there
 * are gaps. Returns the first failure, if any. */
static int close_span(unsigned lo, unsigned hi, int flags, int (*real)(unsigned, unsigned, int))
{
    int skip[8];
    int n = fdl_release_range(lo, hi, skip, 8);
    int r = 0, err = 0;
    int64_t cur = lo;
    for (int i = 0; i <= n; i++) {
        int64_t end = i < n ? (int64_t)skip[i] - 1 : (int64_t)hi;
        if (cur <= end && real((unsigned)cur, (unsigned)end, flags) && !r)
            err = errno, r = -1;
        if (i < n)
            cur = (int64_t)skip[i] + 1;
    }
    if (r)
        errno = err;
    return r;
}

int fdl_close_range_with(unsigned int lo, unsigned int hi, int flags, int (*real)(unsigned, unsigned, int))
{
    /* CLOSE_RANGE_CLOEXEC closes nothing; bad arguments fail in the kernel untouched. */
    if ((flags & CLOSE_RANGE_CLOEXEC) || lo > hi || (flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC)))
        return real(lo, hi, flags);
    return close_span(lo, hi, flags, real);
}

FDL_EXPORT int close_range(unsigned int lo, unsigned int hi, int flags)
{
    return fdl_close_range_with(lo, hi, flags, REAL(close_range));
}

FDL_EXPORT void closefrom(int lowfd)
{
    if (lowfd < 0) {
        REAL(closefrom)(lowfd);
        return;
    }
    int saved = errno;
    if (close_span((unsigned)lowfd, ~0U, 0, REAL(close_range))) {
        errno = saved;
        REAL(closefrom)(lowfd); /* close_range unavailable: libc's own fallback */
    }
    errno = saved;
}
