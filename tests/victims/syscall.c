/* syscall family: descriptors made and released through syscall(), the way libuv (uvloop,
 * Node.js) closes every descriptor (syscall(SYS_close, fd)). Each creating system call leaks
 * one descriptor from its own function; many more are made (through libc and through
 * syscall()) and released again through syscall(SYS_close), syscall(SYS_close_range) and
 * syscall(SYS_dup3) over them: none of those may be listed. Numbers are reused after each
 * raw close, so a record the wrapper failed to release would show a wrong site. System calls
 * that make no descriptor pass through unchanged (getpid, gettid, a bad number). */
#include "victim.h"

#include <linux/close_range.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>

static char *path;

VICTIM_FN int leak_sys_openat(void)
{
    int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "syscall.dat", "openat", 1);
    return fd;
}

VICTIM_FN int leak_sys_socket(void)
{
    int fd = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "socket", "tcp", "socket", 1);
    return fd;
}

VICTIM_FN void leak_sys_socketpair(void)
{
    int sv[2];
    V_CHECK(syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    V_LEAK(sv[0], "socket", "unix", "socketpair", 0);
    V_LEAK(sv[1], "socket", "unix", "socketpair", 0);
}

VICTIM_FN void leak_sys_pipe2(void)
{
    int p[2];
    V_CHECK(syscall(SYS_pipe2, p, O_CLOEXEC) == 0);
    V_LEAK(p[0], "pipe", "pipe", "pipe2", 1);
    V_LEAK(p[1], "pipe", "pipe", "pipe2", 1);
}

VICTIM_FN int leak_sys_dup(int src)
{
    int fd = (int)syscall(SYS_dup, src);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "syscall.dat", "dup", 0);
    return fd;
}

VICTIM_FN int leak_sys_fcntl_dupfd(int src)
{
    int fd = (int)syscall(SYS_fcntl, src, F_DUPFD_CLOEXEC, 200);
    V_CHECK(fd == 200);
    V_LEAK(fd, "file", "syscall.dat", "fcntl", 1);
    return fd;
}

VICTIM_FN int leak_sys_epoll(void)
{
    int fd = (int)syscall(SYS_epoll_create1, EPOLL_CLOEXEC);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "epoll", "eventpoll", "epoll_create1", 1);
    return fd;
}

VICTIM_FN int leak_sys_eventfd(void)
{
    int fd = (int)syscall(SYS_eventfd2, 0, EFD_NONBLOCK);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "eventfd", "eventfd", "eventfd2", 0);
    return fd;
}

VICTIM_FN int leak_sys_timerfd(void)
{
    int fd = (int)syscall(SYS_timerfd_create, CLOCK_MONOTONIC, 0);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "timerfd", "timerfd", "timerfd_create", 0);
    return fd;
}

VICTIM_FN int leak_sys_signalfd(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    int fd = (int)syscall(SYS_signalfd4, -1, &set, _NSIG / 8, 0);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "signalfd", "signalfd", "signalfd4", 0);
    /* On an existing signalfd the call sets its mask: nothing new. */
    sigaddset(&set, SIGUSR1);
    V_CHECK(syscall(SYS_signalfd4, fd, &set, _NSIG / 8, 0) == fd);
    return fd;
}

VICTIM_FN int leak_sys_inotify(void)
{
    int fd = (int)syscall(SYS_inotify_init1, IN_CLOEXEC);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "inotify", "inotify", "inotify_init1", 1);
    return fd;
}

VICTIM_FN int leak_sys_memfd(void)
{
    int fd = (int)syscall(SYS_memfd_create, "syscall-memfd", 0);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "memfd", "syscall-memfd", "memfd_create", 0);
    return fd;
}

VICTIM_FN int leak_sys_pidfd(void)
{
    int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "pidfd", "pidfd", "pidfd_open", 1); /* pidfds are always close-on-exec */
    return fd;
}

/* The accepted end leaks; the listener and the client are closed through syscall(). */
VICTIM_FN int leak_sys_accept4(void)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    V_CHECK(lfd >= 0);
    v_listen_loopback(lfd);
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    V_CHECK(getsockname(lfd, (struct sockaddr *)&a, &len) == 0);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    V_CHECK(c >= 0 && connect(c, (struct sockaddr *)&a, len) == 0);
    int fd = (int)syscall(SYS_accept4, lfd, 0, 0, SOCK_CLOEXEC);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "socket", "tcp", "accept4", 1);
    V_CHECK(syscall(SYS_close, c) == 0);
    V_CHECK(syscall(SYS_close, lfd) == 0);
    return fd;
}

/* Made and released again: libc's creations and syscall()'s, closed by raw calls only. */
VICTIM_FN void churn_raw_closes(int rounds)
{
    for (int i = 0; i < rounds; i++) {
        int a = open(path, O_RDONLY);
        int b = (int)syscall(SYS_socket, AF_INET, SOCK_DGRAM, 0);
        int p[2];
        V_CHECK(a >= 0 && b >= 0 && pipe(p) == 0);
        V_CHECK(syscall(SYS_close, a) == 0 && syscall(SYS_close, b) == 0);
        V_CHECK(syscall(SYS_close, p[0]) == 0 && syscall(SYS_close, p[1]) == 0);
    }
}

/* Four consecutive descriptors released by one raw close_range. */
VICTIM_FN void churn_raw_close_range(void)
{
    int fds[4];
    for (int i = 0; i < 4; i++) {
        fds[i] = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY);
        V_CHECK(fds[i] >= 0 && (i == 0 || fds[i] == fds[i - 1] + 1));
    }
    V_CHECK(syscall(SYS_close_range, fds[0], fds[3], 0) == 0);
    for (int i = 0; i < 4; i++)
        V_CHECK(fcntl(fds[i], F_GETFD) < 0 && errno == EBADF);
}

/* A raw dup3 onto an open descriptor replaces it: the target's old record (a socket) is gone,
 * the new one is this function's; the source is closed. */
VICTIM_FN int leak_sys_dup3_over(void)
{
    int target = socket(AF_UNIX, SOCK_DGRAM, 0);
    int src = open(path, O_RDONLY);
    V_CHECK(target >= 0 && src >= 0);
    V_CHECK(syscall(SYS_dup3, src, target, O_CLOEXEC) == target);
    V_LEAK(target, "file", "syscall.dat", "dup3", 1);
    V_CHECK(syscall(SYS_close, src) == 0);
    return target;
}

/* Calls that make nothing, and failures, return what the kernel says; closing a number that
 * is not open is the same misuse through syscall() as through close(). */
VICTIM_FN void passthrough(void)
{
    V_CHECK(syscall(SYS_getpid) == getpid());
    V_CHECK(syscall(SYS_gettid) == gettid());
    errno = 0;
    V_CHECK(syscall(SYS_close, 9999) == -1 && errno == EBADF);
    V_ERROR("bad-close", 9999, "site=null");
    errno = 0;
    V_CHECK(syscall(-1L) == -1 && errno == ENOSYS);
    errno = 0;
    V_CHECK(syscall(SYS_openat, AT_FDCWD, "/nonexistent/x", O_RDONLY) == -1 && errno == ENOENT);
}

int main(void)
{
    v_begin();
    path = v_make_file("syscall.dat");
    churn_raw_closes(20);
    churn_raw_close_range();
    passthrough();
    int src = leak_sys_openat();
    leak_sys_socket();
    leak_sys_socketpair();
    leak_sys_pipe2();
    leak_sys_dup(src);
    leak_sys_fcntl_dupfd(src);
    leak_sys_epoll();
    leak_sys_eventfd();
    leak_sys_timerfd();
    leak_sys_signalfd();
    leak_sys_inotify();
    leak_sys_memfd();
    leak_sys_pidfd();
    leak_sys_accept4();
    leak_sys_dup3_over();
    churn_raw_closes(5); /* reuses numbers after the leaks too */
    return v_finish();
}
