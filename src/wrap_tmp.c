/* wrap_tmp.c — calls that open a descriptor inside libc, out of an interposer's sight:
 * temporary files, pseudo-terminals, POSIX shared memory and message queues. */
#include "wrap.h"

#include <stdlib.h>
#include <mqueue.h>
#include <pty.h>
#include <sys/mman.h>

FDL_WRAP_FD_LIBC(mkstemp, (char *t), (t))
FDL_WRAP_FD_LIBC(mkstemp64, (char *t), (t))
FDL_WRAP_FD_LIBC(mkostemp, (char *t, int f), (t, f))
FDL_WRAP_FD_LIBC(mkostemp64, (char *t, int f), (t, f))
FDL_WRAP_FD_LIBC(mkstemps, (char *t, int s), (t, s))
FDL_WRAP_FD_LIBC(mkstemps64, (char *t, int s), (t, s))
FDL_WRAP_FD_LIBC(mkostemps, (char *t, int s, int f), (t, s, f))
FDL_WRAP_FD_LIBC(mkostemps64, (char *t, int s, int f), (t, s, f))
FDL_WRAP_FD_LIBC(posix_openpt, (int f), (f))
FDL_WRAP_FD_LIBC(getpt, (void), ())
FDL_WRAP_FD_LIBC(shm_open, (const char *n, int f, mode_t m), (n, f, m))

/* mq_open's mode and attributes exist only with O_CREAT. */
FDL_EXPORT mqd_t mq_open(const char *name, int flags, ...)
{
    FDL_NEED(mq_open, -1);
    mode_t mode = 0;
    struct mq_attr *attr = 0;
    if (flags & O_CREAT) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        attr = va_arg(ap, struct mq_attr *);
        va_end(ap);
    }
    return fdl_ret_fd(REAL(mq_open)(name, flags, mode, attr), __func__, 0);
}

FDL_EXPORT int openpty(int *master, int *slave, char *name, const struct termios *t, const struct winsize *w)
{
    FDL_NEED(openpty, -1);
    int fds[2];
    int r = fdl_ret_pair(REAL(openpty)(fds, fds + 1, name, t, w), fds, __func__, 0);
    if (r == 0) {
        *master = fds[0];
        *slave = fds[1];
    }
    return r;
}

/* The parent keeps the master; the child's side is the child's (fork marks it inherited). */
FDL_EXPORT pid_t forkpty(int *master, char *name, const struct termios *t, const struct winsize *w)
{
    FDL_NEED(forkpty, -1);
    pid_t pid = REAL(forkpty)(master, name, t, w);
    if (pid > 0)
        fdl_created(*master, __func__, 0);
    else if (pid < 0)
        fdl_creation_failed();
    return pid;
}
