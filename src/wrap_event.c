/* wrap_event.c — kernel objects: epoll, eventfd, timerfd, signalfd, inotify, fanotify, memfd,
 * pidfd. */
#include "wrap.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/pidfd.h>
#include <sys/timerfd.h>

FDL_WRAP_FD(epoll_create, (int size), (size))
FDL_WRAP_FD(epoll_create1, (int flags), (flags))
FDL_WRAP_FD(eventfd, (unsigned int v, int flags), (v, flags))
FDL_WRAP_FD(timerfd_create, (int clock, int flags), (clock, flags))
FDL_WRAP_FD(inotify_init, (void), ())
FDL_WRAP_FD(inotify_init1, (int flags), (flags))
FDL_WRAP_FD(fanotify_init, (unsigned int flags, unsigned int evflags), (flags, evflags))
FDL_WRAP_FD(memfd_create, (const char *name, unsigned int flags), (name, flags))
FDL_WRAP_FD(pidfd_open, (pid_t pid, unsigned int flags), (pid, flags))
FDL_WRAP_FD(pidfd_getfd, (int pidfd, int target, unsigned int flags), (pidfd, target, flags))

/* Only fd == -1 creates; otherwise the call updates an existing signalfd's mask. */
FDL_EXPORT int signalfd(int fd, const sigset_t *mask, int flags)
{
    int r = REAL(signalfd)(fd, mask, flags);
    return fd == -1 ? fdl_ret_fd(r, __func__, 0) : r;
}
