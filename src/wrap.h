/* wrap.h — what every wrapper file shares: the export attribute and the few shapes a wrapper
 * takes, so that each wrapped name is one line of "call the real one, tell the core". */
#ifndef FDL_WRAP_H
#define FDL_WRAP_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core.h"
#include "real.h"

#define FDL_EXPORT __attribute__((visibility("default")))

/* The wrapper's own return address: tells libunwind's calls apart from the program's. */
#define FDL_CALLER ((uintptr_t)__builtin_return_address(0))

/* A libc-level real function is NULL only while this thread is inside dlsym. */
#define FDL_NEED(name, fail)         \
    do {                             \
        if (!REAL(name)) {           \
            errno = ENOSYS;          \
            return fail;             \
        }                            \
    } while (0)

/* The one way a wrapper reports a creation's result: recorded, or (EMFILE…) a failure. */
static inline int fdl_ret_fd(int fd, const char *via, uint32_t flags)
{
    if (fd >= 0)
        fdl_created(fd, via, flags);
    else
        fdl_creation_failed();
    return fd;
}

/* The same for calls that return two descriptors (pipe, socketpair, openpty). */
static inline int fdl_ret_pair(int r, int fds[2], const char *via, uintptr_t caller)
{
    if (r == 0)
        fdl_created_pair(fds, via, caller);
    else
        fdl_creation_failed();
    return r;
}

/* A call whose result is a new descriptor. */
#define FDL_WRAP_FD(name, params, args) \
    FDL_EXPORT int name params { return fdl_ret_fd(REAL(name) args, #name, 0); }
#define FDL_WRAP_FD_LIBC(name, params, args) \
    FDL_EXPORT int name params             \
    {                                      \
        FDL_NEED(name, -1);                \
        return fdl_ret_fd(REAL(name) args, #name, 0); \
    }

/* open's mode argument exists only when the call may create a file. */
#define FDL_VA_MODE(mode, flags, last)                                        \
    mode_t mode = 0;                                                          \
    if (((flags) & O_CREAT) || ((flags) & O_TMPFILE) == O_TMPFILE) {          \
        va_list ap_;                                                          \
        va_start(ap_, last);                                                  \
        mode = (mode_t)va_arg(ap_, int);                                      \
        va_end(ap_);                                                          \
    }

/* ---- one family's logic, which syscall() (wrap_syscall.c) routes into as well: each takes
 * the real call to make, libc's function or the raw system call ---- */

/* socket()'s flags: a datagram socket's "connections" (a resolver's query) are not connections. */
static inline uint32_t fdl_socket_flags(int type) { return (type & 0xf) == SOCK_DGRAM ? FDL_F_DGRAM : 0; }

/* fcntl commands that make a new descriptor. */
static inline int fdl_dup_cmd(int cmd) { return cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC; }

int fdl_accepted(int fd, int listener, const char *via);        /* wrap_socket.c */
void fdl_received(const struct msghdr *m, const char *via);     /* wrap_socket.c: SCM_RIGHTS */
int fdl_dup2_with(int oldfd, int newfd, int (*real)(int, int), const char *via); /* wrap_dup.c */
int fdl_dup3_with(int oldfd, int newfd, int flags, int (*real)(int, int, int), const char *via); /* wrap_dup.c */
int fdl_close_with(int fd, int (*real)(int), uintptr_t caller); /* wrap_close.c */
int fdl_close_range_with(unsigned int lo, unsigned int hi, int flags, int (*real)(unsigned, unsigned, int));

#endif
