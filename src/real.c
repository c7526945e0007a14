/* real.c — resolves the real libc functions behind every wrapper, with raw-syscall stand-ins
 * for the window before dlsym has run (other libraries' constructors, dlsym re-entry). */
#include "real.h"
#include "tls.h"
#include "sys.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <unistd.h>

static mode_t open_mode(int flags, va_list ap)
{
    /* The mode argument exists only when the call creates a file. */
    if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)
        return (mode_t)va_arg(ap, int);
    return 0;
}

static int raw_openat(int dirfd, const char *path, int flags, mode_t mode)
{
    return (int)fdl_sys(SYS_openat, dirfd, path, flags, mode);
}

static int fb_open(const char *p, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t m = open_mode(flags, ap);
    va_end(ap);
    return raw_openat(AT_FDCWD, p, flags, m);
}
static int fb_openat(int d, const char *p, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t m = open_mode(flags, ap);
    va_end(ap);
    return raw_openat(d, p, flags, m);
}
static int fb_open_2(const char *p, int flags) { return raw_openat(AT_FDCWD, p, flags, 0); }
static int fb_openat_2(int d, const char *p, int flags) { return raw_openat(d, p, flags, 0); }
static int fb_creat(const char *p, mode_t m)
{
    return raw_openat(AT_FDCWD, p, O_CREAT | O_WRONLY | O_TRUNC, m);
}
static int fb_socket(int d, int t, int p) { return (int)fdl_sys(SYS_socket, d, t, p); }
static int fb_socketpair(int d, int t, int p, int *sv) { return (int)fdl_sys(SYS_socketpair, d, t, p, sv); }
static int fb_accept4(int s, struct sockaddr *a, socklen_t *l, int f) { return (int)fdl_sys(SYS_accept4, s, a, l, f); }
static int fb_accept(int s, struct sockaddr *a, socklen_t *l) { return fb_accept4(s, a, l, 0); }
static int fb_connect(int s, const struct sockaddr *a, socklen_t l) { return (int)fdl_sys(SYS_connect, s, a, l); }
static int fb_bind(int s, const struct sockaddr *a, socklen_t l) { return (int)fdl_sys(SYS_bind, s, a, l); }
static int fb_listen(int s, int b) { return (int)fdl_sys(SYS_listen, s, b); }
static int fb_pipe2(int *fds, int f) { return (int)fdl_sys(SYS_pipe2, fds, f); }
static int fb_pipe(int *fds) { return fb_pipe2(fds, 0); }
static int fb_dup(int fd) { return (int)fdl_sys(SYS_dup, fd); }
static int fb_dup3(int o, int n, int f) { return (int)fdl_sys(SYS_dup3, o, n, f); }
static int fb_dup2(int o, int n)
{
    if (o == n) /* dup3 refuses equal numbers; dup2 returns n if it is open. */
        return fdl_sys(SYS_fcntl, o, F_GETFD) < 0 ? -1 : n;
    return fb_dup3(o, n, 0);
}
static int fb_fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *); /* what glibc does: every argument fits a pointer */
    va_end(ap);
    return (int)fdl_sys(SYS_fcntl, fd, cmd, arg);
}
static int fb_epoll_create1(int f) { return (int)fdl_sys(SYS_epoll_create1, f); }
static int fb_epoll_create(int size)
{
    if (size <= 0) {
        errno = EINVAL;
        return -1;
    }
    return fb_epoll_create1(0);
}
static int fb_eventfd(unsigned int v, int f) { return (int)fdl_sys(SYS_eventfd2, v, f); }
static int fb_timerfd_create(int c, int f) { return (int)fdl_sys(SYS_timerfd_create, c, f); }
static int fb_signalfd(int fd, const sigset_t *m, int f) { return (int)fdl_sys(SYS_signalfd4, fd, m, _NSIG / 8, f); }
static int fb_inotify_init1(int f) { return (int)fdl_sys(SYS_inotify_init1, f); }
static int fb_inotify_init(void) { return fb_inotify_init1(0); }
static int fb_fanotify_init(unsigned int f, unsigned int e) { return (int)fdl_sys(SYS_fanotify_init, f, e); }
static int fb_memfd_create(const char *n, unsigned int f) { return (int)fdl_sys(SYS_memfd_create, n, f); }
static int fb_close(int fd) { return (int)fdl_sys(SYS_close, fd); }
static int fb_close_range(unsigned int a, unsigned int b, int f) { return (int)fdl_sys(SYS_close_range, a, b, f); }
static void fb_closefrom(int fd)
{
    int saved = errno;
    if (fd >= 0)
        fdl_sys(SYS_close_range, (unsigned)fd, ~0U, 0);
    errno = saved;
}

static ssize_t fb_recvmsg(int s, struct msghdr *m, int f) { return fdl_sys(SYS_recvmsg, s, m, f); }
static int fb_recvmmsg(int s, struct mmsghdr *v, unsigned int n, int f, struct timespec *t)
{
    return (int)fdl_sys(SYS_recvmmsg, s, v, n, f, t);
}
static int fb_pidfd_open(pid_t p, unsigned int f) { return (int)fdl_sys(SYS_pidfd_open, p, f); }
static int fb_pidfd_getfd(int p, int t, unsigned int f) { return (int)fdl_sys(SYS_pidfd_getfd, p, t, f); }
static int fb_open_by_handle_at(int d, struct file_handle *h, int f) { return (int)fdl_sys(SYS_open_by_handle_at, d, h, f); }
static int fb_prlimit(pid_t p, __rlimit_resource_t r, const struct rlimit *n, struct rlimit *o)
{
    return (int)fdl_sys(SYS_prlimit64, p, r, n, o);
}
static int fb_prlimit64(pid_t p, __rlimit_resource_t r, const struct rlimit64 *n, struct rlimit64 *o)
{
    return (int)fdl_sys(SYS_prlimit64, p, r, n, o);
}
static int fb_setrlimit(__rlimit_resource_t r, const struct rlimit *n) { return fb_prlimit(0, r, n, 0); }
static int fb_setrlimit64(__rlimit_resource_t r, const struct rlimit64 *n) { return fb_prlimit64(0, r, n, 0); }
static int fb_execve(const char *p, char *const a[], char *const e[]) { return (int)fdl_sys(SYS_execve, p, a, e); }
static void fb_exit(int status)
{
    for (;;)
        fdl_sys(SYS_exit_group, status);
}

struct fdl_real fdl_real = {
    .open = fb_open, .open64 = fb_open, .__open_2 = fb_open_2, .__open64_2 = fb_open_2,
    .openat = fb_openat, .openat64 = fb_openat, .__openat_2 = fb_openat_2,
    .__openat64_2 = fb_openat_2, .creat = fb_creat, .creat64 = fb_creat,
    .socket = fb_socket, .socketpair = fb_socketpair, .accept = fb_accept, .accept4 = fb_accept4,
    .connect = fb_connect, .bind = fb_bind, .listen = fb_listen,
    .pipe = fb_pipe, .pipe2 = fb_pipe2, .dup = fb_dup, .dup2 = fb_dup2, .dup3 = fb_dup3,
    .fcntl = fb_fcntl, .fcntl64 = fb_fcntl, .epoll_create = fb_epoll_create,
    .epoll_create1 = fb_epoll_create1, .eventfd = fb_eventfd, .timerfd_create = fb_timerfd_create,
    .signalfd = fb_signalfd, .inotify_init = fb_inotify_init, .inotify_init1 = fb_inotify_init1,
    .fanotify_init = fb_fanotify_init, .memfd_create = fb_memfd_create,
    .close = fb_close, .close_range = fb_close_range, .closefrom = fb_closefrom,
    .recvmsg = fb_recvmsg, .recvmmsg = fb_recvmmsg, .pidfd_open = fb_pidfd_open,
    .pidfd_getfd = fb_pidfd_getfd, .open_by_handle_at = fb_open_by_handle_at,
    .setrlimit = fb_setrlimit, .setrlimit64 = fb_setrlimit64, .prlimit = fb_prlimit,
    .prlimit64 = fb_prlimit64, .execve = fb_execve, ._exit = fb_exit, ._Exit = fb_exit,
};

int fdl_real_state;

void fdl_real_init(void)
{
    if (fdl_tls.resolving)
        return;
    fdl_tls.resolving = 1;
    int saved = errno;
    void *p;
    /* A name missing from libc (an old glibc without closefrom, say) keeps its fallback; a
     * missing libc-level name stays NULL and its wrapper fails with ENOSYS. */
#define FDL_RESOLVE(ret, name, params)                                   \
    p = dlsym(RTLD_NEXT, #name);                                         \
    if (p)                                                               \
        __atomic_store_n((void **)&fdl_real.name, p, __ATOMIC_RELAXED);
    FDL_REAL_FUNCS(FDL_RESOLVE, FDL_RESOLVE)
#undef FDL_RESOLVE
    __atomic_store_n(&fdl_real_state, 2, __ATOMIC_RELEASE);
    errno = saved;
    fdl_tls.resolving = 0;
}
