/* wrap_dup.c — duplication: dup, dup2/dup3 (which also close the target silently) and
 * fcntl's F_DUPFD commands. */
#include "wrap.h"
#include "sys.h"

#include <unistd.h>

int fcntl64(int, int, ...);

FDL_WRAP_FD(dup, (int fd), (fd))

/* A target that is one of fdleak's own descriptors is handed over to the program first. */
static void make_room(int oldfd, int newfd)
{
    if (oldfd != newfd && fdl_sys(SYS_fcntl, oldfd, F_GETFD) >= 0)
        fdl_yield_internal(newfd);
}

/* dup2/dup3 replace newfd atomically in the kernel, so the old record is superseded after the
 * call (record() accounts it as closed); on failure nothing changed. */
int fdl_dup3_with(int oldfd, int newfd, int flags, int (*real)(int, int, int), const char *via)
{
    make_room(oldfd, newfd);
    return fdl_ret_fd(real(oldfd, newfd, flags), via, 0);
}

int fdl_dup2_with(int oldfd, int newfd, int (*real)(int, int), const char *via)
{
    make_room(oldfd, newfd);
    int r = real(oldfd, newfd);
    return oldfd == newfd ? r : fdl_ret_fd(r, via, 0);
}

FDL_EXPORT int dup2(int oldfd, int newfd) { return fdl_dup2_with(oldfd, newfd, REAL(dup2), __func__); }

FDL_EXPORT int dup3(int oldfd, int newfd, int flags)
{
    return fdl_dup3_with(oldfd, newfd, flags, REAL(dup3), __func__);
}

/* Every fcntl argument fits a pointer; passing it on as one is what glibc itself does. */
FDL_EXPORT int fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    int r = REAL(fcntl)(fd, cmd, arg);
    return fdl_dup_cmd(cmd) ? fdl_ret_fd(r, __func__, 0) : r;
}

FDL_EXPORT int fcntl64(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    int r = REAL(fcntl64)(fd, cmd, arg);
    return fdl_dup_cmd(cmd) ? fdl_ret_fd(r, __func__, 0) : r;
}
