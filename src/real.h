/* real.h — the one way fdleak reaches the real libc functions it wraps.
 * Every wrapped name is listed once below; wrappers call REAL(name)(...). */
#ifndef FDL_REAL_H
#define FDL_REAL_H

#include <dirent.h>
#include <link.h>
#include <fcntl.h>
#include <termios.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>

/* X(ret, name, params): a syscall-level function. Until dlsym has resolved it (or while this
 * very thread is inside dlsym) it points at a raw-syscall fallback, so REAL() is never NULL.
 * L(ret, name, params): a libc-level function with no syscall equivalent; NULL until resolved,
 * so a wrapper checks it first with FDL_NEED (wrap.h; FDL_WRAP_FD_LIBC does), which fails with
 * ENOSYS in that (practically unreachable) window rather than jumping to NULL; other callers
 * test REAL(name) for NULL themselves (capture.c's dl_iterate_phdr). */
#define FDL_REAL_FUNCS(X, L)                                                              \
    X(int, open, (const char *, int, ...))                                                 \
    X(int, open64, (const char *, int, ...))                                               \
    X(int, __open_2, (const char *, int))                                                  \
    X(int, __open64_2, (const char *, int))                                                \
    X(int, openat, (int, const char *, int, ...))                                          \
    X(int, openat64, (int, const char *, int, ...))                                        \
    X(int, __openat_2, (int, const char *, int))                                           \
    X(int, __openat64_2, (int, const char *, int))                                         \
    X(int, creat, (const char *, mode_t))                                                  \
    X(int, creat64, (const char *, mode_t))                                                \
    X(int, socket, (int, int, int))                                                        \
    X(int, socketpair, (int, int, int, int *))                                             \
    X(int, accept, (int, struct sockaddr *, socklen_t *))                                  \
    X(int, accept4, (int, struct sockaddr *, socklen_t *, int))                            \
    X(int, connect, (int, const struct sockaddr *, socklen_t))                             \
    X(int, bind, (int, const struct sockaddr *, socklen_t))                                \
    X(int, listen, (int, int))                                                             \
    X(int, pipe, (int *))                                                                  \
    X(int, pipe2, (int *, int))                                                            \
    X(int, dup, (int))                                                                     \
    X(int, dup2, (int, int))                                                               \
    X(int, dup3, (int, int, int))                                                          \
    X(int, fcntl, (int, int, ...))                                                         \
    X(int, fcntl64, (int, int, ...))                                                       \
    X(int, epoll_create, (int))                                                            \
    X(int, epoll_create1, (int))                                                           \
    X(int, eventfd, (unsigned int, int))                                                   \
    X(int, timerfd_create, (int, int))                                                     \
    X(int, signalfd, (int, const sigset_t *, int))                                         \
    X(int, inotify_init, (void))                                                           \
    X(int, inotify_init1, (int))                                                           \
    X(int, fanotify_init, (unsigned int, unsigned int))                                    \
    X(int, memfd_create, (const char *, unsigned int))                                     \
    X(int, close, (int))                                                                   \
    X(ssize_t, recvmsg, (int, struct msghdr *, int))                                       \
    X(int, recvmmsg, (int, struct mmsghdr *, unsigned int, int, struct timespec *))        \
    X(int, pidfd_open, (pid_t, unsigned int))                                              \
    X(int, pidfd_getfd, (int, int, unsigned int))                                          \
    X(int, open_by_handle_at, (int, struct file_handle *, int))                            \
    X(int, close_range, (unsigned int, unsigned int, int))                                 \
    X(void, closefrom, (int))                                                              \
    X(int, execve, (const char *, char *const[], char *const[]))                           \
    X(int, setrlimit, (__rlimit_resource_t, const struct rlimit *))                        \
    X(int, setrlimit64, (__rlimit_resource_t, const struct rlimit64 *))                    \
    X(int, prlimit, (pid_t, __rlimit_resource_t, const struct rlimit *, struct rlimit *))  \
    X(int, prlimit64, (pid_t, __rlimit_resource_t, const struct rlimit64 *, struct rlimit64 *)) \
    X(void, _exit, (int))                                                                  \
    X(void, _Exit, (int))                                                                  \
    L(int, mkstemp, (char *))                                                              \
    L(int, mkstemp64, (char *))                                                            \
    L(int, mkostemp, (char *, int))                                                        \
    L(int, mkostemp64, (char *, int))                                                      \
    L(int, mkstemps, (char *, int))                                                        \
    L(int, mkstemps64, (char *, int))                                                      \
    L(int, mkostemps, (char *, int, int))                                                  \
    L(int, mkostemps64, (char *, int, int))                                                \
    L(int, posix_openpt, (int))                                                            \
    L(int, getpt, (void))                                                                  \
    L(int, shm_open, (const char *, int, mode_t))                                          \
    L(int, mq_open, (const char *, int, ...))                                              \
    L(int, openpty, (int *, int *, char *, const struct termios *, const struct winsize *)) \
    L(pid_t, forkpty, (int *, char *, const struct termios *, const struct winsize *))      \
    L(FILE *, tmpfile, (void))                                                             \
    L(FILE *, tmpfile64, (void))                                                           \
    L(FILE *, fopen, (const char *, const char *))                                         \
    L(FILE *, fopen64, (const char *, const char *))                                       \
    L(FILE *, fdopen, (int, const char *))                                                 \
    L(FILE *, freopen, (const char *, const char *, FILE *))                               \
    L(FILE *, freopen64, (const char *, const char *, FILE *))                             \
    L(FILE *, popen, (const char *, const char *))                                         \
    L(int, pclose, (FILE *))                                                               \
    L(int, fclose, (FILE *))                                                               \
    L(DIR *, opendir, (const char *))                                                      \
    L(DIR *, fdopendir, (int))                                                             \
    L(int, closedir, (DIR *))                                                              \
    L(pid_t, vfork, (void))                                                                \
    L(int, execvpe, (const char *, char *const[], char *const[]))                          \
    L(int, fexecve, (int, char *const[], char *const[]))                                   \
    L(int, execveat, (int, const char *, char *const[], char *const[], int))               \
    L(int, sigaction, (int, const struct sigaction *, struct sigaction *))                 \
    L(__sighandler_t, signal, (int, __sighandler_t))                                       \
    L(int, dl_iterate_phdr, (int (*)(struct dl_phdr_info *, size_t, void *), void *))

#define FDL_REAL_FIELD(ret, name, params) ret (*name) params;
struct fdl_real {
    FDL_REAL_FUNCS(FDL_REAL_FIELD, FDL_REAL_FIELD)
};
#undef FDL_REAL_FIELD

extern struct fdl_real fdl_real;
extern int fdl_real_state; /* 0: unresolved, 2: resolved (atomic) */

/* Resolves every name with dlsym(RTLD_NEXT). Thread-safe and idempotent (racing threads store
 * the same pointers); re-entry from the same thread (dlsym calling back into a wrapper, e.g.
 * through a malloc interposer) returns at once, leaving the fallbacks in place. Not
 * async-signal-safe: called from the constructor and, before it, from the first wrapper. */
void fdl_real_init(void);

static inline void fdl_real_ensure(void)
{
    if (__builtin_expect(!__atomic_load_n(&fdl_real_state, __ATOMIC_ACQUIRE), 0))
        fdl_real_init();
}

#define REAL(name) (fdl_real_ensure(), __atomic_load_n(&fdl_real.name, __ATOMIC_RELAXED))

#endif
