/* event family: epoll_create, epoll_create1, eventfd, timerfd_create, signalfd (new, and on an
 * existing signalfd, which creates nothing), inotify_init, inotify_init1, fanotify_init,
 * memfd_create. */
#include "victim.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>

VICTIM_FN int leak_epoll_create(void)
{
    int fd = epoll_create(8);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "epoll", "eventpoll", "epoll_create", 0);
    return fd;
}

VICTIM_FN int leak_epoll_create1(void)
{
    int fd = epoll_create1(EPOLL_CLOEXEC);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "epoll", "eventpoll", "epoll_create1", 1);
    return fd;
}

VICTIM_FN int leak_eventfd(void)
{
    int fd = eventfd(3, EFD_NONBLOCK);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "eventfd", "eventfd", "eventfd", 0);
    return fd;
}

VICTIM_FN int leak_timerfd(void)
{
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "timerfd", "timerfd", "timerfd_create", 1);
    return fd;
}

VICTIM_FN int leak_signalfd(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    int fd = signalfd(-1, &set, SFD_NONBLOCK);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "signalfd", "signalfd", "signalfd", 0);
    return fd;
}

/* signalfd on an existing signalfd changes its mask and returns the same descriptor: nothing
 * is created, the site stays leak_signalfd. */
VICTIM_FN void update_signalfd(int fd)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    V_CHECK(signalfd(fd, &set, 0) == fd);
}

VICTIM_FN int leak_inotify_init(void)
{
    int fd = inotify_init();
    V_CHECK(fd >= 0);
    V_CHECK(inotify_add_watch(fd, v_dir(), IN_CREATE) >= 0);
    V_LEAK(fd, "inotify", "inotify", "inotify_init", 0);
    return fd;
}

VICTIM_FN int leak_inotify_init1(void)
{
    int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "inotify", "inotify", "inotify_init1", 1);
    return fd;
}

/* Needs CAP_SYS_ADMIN: without it (EPERM) nothing is declared. */
VICTIM_FN int leak_fanotify(void)
{
    int fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC, O_RDONLY);
    if (fd < 0) {
        V_CHECK(errno == EPERM || errno == ENOSYS);
        fprintf(stderr, "victim: fanotify_init: %s, not tested\n", strerror(errno));
        return -1;
    }
    V_LEAK(fd, "fanotify", "fanotify", "fanotify_init", 1);
    return fd;
}

VICTIM_FN int leak_memfd(void)
{
    int fd = memfd_create("victim-memfd", 0);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "memfd", "victim-memfd", "memfd_create", 0);
    return fd;
}

VICTIM_FN int leak_memfd_cloexec(void)
{
    int fd = memfd_create("victim-memfd-ce", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "memfd", "victim-memfd-ce", "memfd_create", 1);
    return fd;
}

VICTIM_FN void events_correctly(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    int fds[16], n = 0;
    fds[n++] = epoll_create(1);
    fds[n++] = epoll_create1(0);
    fds[n++] = eventfd(0, EFD_CLOEXEC);
    fds[n++] = timerfd_create(CLOCK_REALTIME, 0);
    fds[n++] = signalfd(-1, &set, SFD_CLOEXEC);
    V_CHECK(fds[n - 1] < 0 || signalfd(fds[n - 1], &set, 0) == fds[n - 1]);
    fds[n++] = inotify_init();
    fds[n++] = inotify_init1(0);
    fds[n++] = memfd_create("victim-tmp", MFD_CLOEXEC);
    for (int i = 0; i < n; i++) {
        V_CHECK(fds[i] >= 0);
        V_CHECK(close(fds[i]) == 0);
    }
    int fa = fanotify_init(FAN_CLASS_NOTIF, O_RDONLY);
    if (fa >= 0)
        V_CHECK(close(fa) == 0);
}

int main(void)
{
    v_begin();
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    V_CHECK(sigprocmask(SIG_BLOCK, &set, NULL) == 0);

    events_correctly();
    leak_epoll_create();
    leak_epoll_create1();
    leak_eventfd();
    leak_timerfd();
    int sfd = leak_signalfd();
    update_signalfd(sfd);
    leak_inotify_init();
    leak_inotify_init1();
    leak_fanotify();
    leak_memfd();
    leak_memfd_cloexec();
    events_correctly();
    return v_finish();
}
