/* wrap_syscall.c — syscall(): libuv (uvloop, Node.js) closes every descriptor with
 * syscall(SYS_close, fd), and some code creates them that way. Each call that makes or
 * releases a descriptor goes through the same family logic as its libc function, with the
 * system call itself as the real one (not libc's function: syscall() is no cancellation point,
 * close() is); every other number goes straight to the kernel, untouched. The system call is
 * made here (src/sys.h: the instruction and libc's -1/errno contract), never through libc's
 * syscall(): that would need dlsym, and allocators call syscall() from inside their own
 * initialisation (jemalloc opens /proc/sys/vm/overcommit_memory with syscall(SYS_open) under
 * its init lock) — a dlsym there would call back into malloc and deadlock. For the same reason
 * nothing is recorded before fdleak has resolved its real functions: what such a call leaves
 * open is inherited when recording starts. It also costs the numbers it does not route about
 * 5 ns (scripts/bench syscall). */
#include "wrap.h"
#include "sys.h"

#include <linux/close_range.h>
#include <sys/syscall.h>
#include <unistd.h>

/* syscall()'s six arguments into long a[6], from the variadic list after `last` — what every
 * caller passes in effect (a call that takes fewer leaves the rest unused). */
#define FDL_SYS_VA_ARGS(a, last)                \
    do {                                        \
        va_list ap_;                            \
        va_start(ap_, last);                    \
        for (int i_ = 0; i_ < 6; i_++)          \
            (a)[i_] = va_arg(ap_, long);        \
        va_end(ap_);                            \
    } while (0)

/* The system call itself, with the caller's six arguments (the kernel reads those it takes). */
#define RAW() fdl_sys6(nr, a[0], a[1], a[2], a[3], a[4], a[5])

/* The raw calls behind the family helpers' `real` parameter. */
static int sys_close(int fd) { return (int)fdl_sys(SYS_close, fd); }
static int sys_close_range(unsigned lo, unsigned hi, int flags) { return (int)fdl_sys(SYS_close_range, lo, hi, flags); }
static int sys_dup3(int o, int n, int flags) { return (int)fdl_sys(SYS_dup3, o, n, flags); }
#ifdef SYS_dup2
static int sys_dup2(int o, int n) { return (int)fdl_sys(SYS_dup2, o, n); }
#endif

/* A call whose result is one new descriptor, named after the system call. */
#define FD_CALL(nr, name, flags)                                                     \
    case nr:                                                                         \
        return fdl_ret_fd((int)RAW(), name, flags)

/* Every caller passes the arguments the call takes; reading six (as libc's own syscall() does)
 * reads at most a few words of the caller's frame it did not mean, and passes them on unused.
 * Thread-safe and async-signal-safe as the routed family helpers are (a signal handler may
 * close); the default path adds one load (fdleak started?) and the switch. */
FDL_EXPORT long syscall(long nr, ...)
{
    long a[6];
    FDL_SYS_VA_ARGS(a, nr);
    if (__builtin_expect(!__atomic_load_n(&fdl_real_state, __ATOMIC_ACQUIRE), 0))
        return RAW(); /* before fdleak's start: see the top of this file */
    switch (nr) {
    case SYS_close:
        return fdl_close_with((int)a[0], sys_close, FDL_CALLER);
    case SYS_close_range:
        return fdl_close_range_with((unsigned)a[0], (unsigned)a[1], (int)a[2], sys_close_range);
    case SYS_dup3:
        return fdl_dup3_with((int)a[0], (int)a[1], (int)a[2], sys_dup3, "dup3");
#ifdef SYS_dup2
    case SYS_dup2:
        return fdl_dup2_with((int)a[0], (int)a[1], sys_dup2, "dup2");
#endif
    case SYS_fcntl: {
        long r = RAW();
        return fdl_dup_cmd((int)a[1]) ? fdl_ret_fd((int)r, "fcntl", 0) : r;
    }
    case SYS_socket:
        return fdl_ret_fd((int)RAW(), "socket", fdl_socket_flags((int)a[1]));
#ifdef SYS_accept
    case SYS_accept:
        return fdl_accepted((int)RAW(), (int)a[0], "accept");
#endif
    case SYS_accept4:
        return fdl_accepted((int)RAW(), (int)a[0], "accept4");
    case SYS_socketpair:
        return fdl_ret_pair((int)RAW(), (int *)a[3], "socketpair", FDL_CALLER);
#ifdef SYS_pipe
    case SYS_pipe:
#endif
    case SYS_pipe2:
        return fdl_ret_pair((int)RAW(), (int *)a[0], "pipe2", FDL_CALLER);
    case SYS_recvmsg: {
        long r = RAW();
        if (r >= 0)
            fdl_received((const struct msghdr *)a[1], "recvmsg");
        return r;
    }
#ifdef SYS_signalfd
    case SYS_signalfd:
#endif
    case SYS_signalfd4: {
        long r = RAW();
        return (int)a[0] == -1 ? fdl_ret_fd((int)r, "signalfd4", 0) : r; /* else: a new mask */
    }
#ifdef SYS_open
        FD_CALL(SYS_open, "open", 0);
#endif
#ifdef SYS_creat
        FD_CALL(SYS_creat, "creat", 0);
#endif
        FD_CALL(SYS_openat, "openat", 0);
        FD_CALL(SYS_openat2, "openat2", 0);
        FD_CALL(SYS_open_by_handle_at, "open_by_handle_at", 0);
        FD_CALL(SYS_dup, "dup", 0);
#ifdef SYS_epoll_create
        FD_CALL(SYS_epoll_create, "epoll_create", 0);
#endif
        FD_CALL(SYS_epoll_create1, "epoll_create1", 0);
#ifdef SYS_eventfd
        FD_CALL(SYS_eventfd, "eventfd", 0);
#endif
        FD_CALL(SYS_eventfd2, "eventfd2", 0);
        FD_CALL(SYS_timerfd_create, "timerfd_create", 0);
#ifdef SYS_inotify_init
        FD_CALL(SYS_inotify_init, "inotify_init", 0);
#endif
        FD_CALL(SYS_inotify_init1, "inotify_init1", 0);
        FD_CALL(SYS_fanotify_init, "fanotify_init", 0);
        FD_CALL(SYS_memfd_create, "memfd_create", 0);
        FD_CALL(SYS_pidfd_open, "pidfd_open", 0);
        FD_CALL(SYS_pidfd_getfd, "pidfd_getfd", 0);
        FD_CALL(SYS_userfaultfd, "userfaultfd", 0);
        FD_CALL(SYS_perf_event_open, "perf_event_open", 0);
        FD_CALL(SYS_io_uring_setup, "io_uring_setup", 0);
        FD_CALL(SYS_mq_open, "mq_open", 0);
        FD_CALL(SYS_fsopen, "fsopen", 0);
        FD_CALL(SYS_fsmount, "fsmount", 0);
        FD_CALL(SYS_fspick, "fspick", 0);
        FD_CALL(SYS_open_tree, "open_tree", 0);
#ifdef SYS_memfd_secret
        FD_CALL(SYS_memfd_secret, "memfd_secret", 0);
#endif
    /* Exec and exit through the wrappers (libc's execve and _exit are these system calls and
     * nothing else): the exec report and lineage, the exit report. */
    case SYS_execve:
        return execve((const char *)a[0], (char *const *)a[1], (char *const *)a[2]);
    case SYS_execveat:
        return execveat((int)a[0], (const char *)a[1], (char *const *)a[2], (char *const *)a[3], (int)a[4]);
    case SYS_exit_group:
        _exit((int)a[0]);
    default:
        return RAW();
    }
}
