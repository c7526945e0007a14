/* extra: creation calls beyond the core families: openpty (two descriptors), forkpty (the
 * master, in the parent), pidfd_open, pidfd_getfd, open_by_handle_at and mq_open. Each leak's
 * via is the call's name. A call the system refuses (no pty support, ENOSYS, EPERM without
 * CAP_DAC_READ_SEARCH, no mqueue) is skipped with the reason on stderr and declares nothing. */
#include "victim.h"

#include <mqueue.h>
#include <pty.h>
#include <sys/pidfd.h>
#include <sys/syscall.h>

static char *path;
static int skipped;

static void skip(const char *call)
{
    fprintf(stderr, "victim: skip %s: %s\n", call, strerror(errno));
    skipped++;
}

VICTIM_FN void leak_openpty(void)
{
    int m, s;
    if (openpty(&m, &s, NULL, NULL, NULL) != 0) {
        skip("openpty");
        return;
    }
    V_LEAK(m, "tty|char", "ptmx", "openpty", 0);
    V_LEAK(s, "tty|char", "/dev/pts/", "openpty", 0);
}

VICTIM_FN void leak_forkpty(void)
{
    int m;
    fflush(NULL);
    pid_t c = forkpty(&m, NULL, NULL, NULL);
    if (c < 0) {
        skip("forkpty");
        return;
    }
    if (c == 0)
        _exit(0);
    V_LEAK(m, "tty|char", "ptmx", "forkpty", 0);
    int st = v_wait_child(c, 20);
    V_CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

VICTIM_FN int leak_pidfd_open(void)
{
    int fd = pidfd_open(getpid(), 0);
    if (fd < 0) {
        skip("pidfd_open");
        return -1;
    }
    V_LEAK(fd, "pidfd", "-", "pidfd_open", 1);
    return fd;
}

VICTIM_FN void leak_pidfd_getfd(int pidfd, int target)
{
    int fd = pidfd_getfd(pidfd, target, 0);
    if (fd < 0) {
        skip("pidfd_getfd");
        return;
    }
    V_LEAK(fd, "file", "extra.dat", "pidfd_getfd", 1);
}

VICTIM_FN void leak_open_by_handle_at(int mount_fd, struct file_handle *h)
{
    int fd = open_by_handle_at(mount_fd, h, O_RDONLY);
    if (fd < 0) {
        skip("open_by_handle_at");
        return;
    }
    V_LEAK(fd, "file", "-", "open_by_handle_at", 0);
}

VICTIM_FN void leak_mq_open(const char *name)
{
    struct mq_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.mq_maxmsg = 1;
    attr.mq_msgsize = 16;
    mqd_t q = mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
    if (q == (mqd_t)-1) {
        skip("mq_open");
        return;
    }
    V_CHECK(mq_unlink(name) == 0);
    V_LEAK((int)q, "file|other|mqueue", "-", "mq_open", 1);
}

int main(void)
{
    v_begin();
    path = v_make_file("extra.dat");
    leak_openpty();
    leak_forkpty();

    int pidfd = leak_pidfd_open();
    if (pidfd >= 0) {
        int mine = open(path, O_RDONLY);
        V_CHECK(mine >= 0);
        leak_pidfd_getfd(pidfd, mine);
        V_CHECK(close(mine) == 0);
    }

    struct {
        struct file_handle h;
        unsigned char space[MAX_HANDLE_SZ];
    } fh;
    fh.h.handle_bytes = MAX_HANDLE_SZ;
    int mount_id;
    if (name_to_handle_at(AT_FDCWD, path, &fh.h, &mount_id, 0) != 0) {
        skip("name_to_handle_at (so open_by_handle_at)");
    } else {
        int mfd = open(v_dir(), O_RDONLY | O_DIRECTORY);
        V_CHECK(mfd >= 0);
        leak_open_by_handle_at(mfd, &fh.h);
        V_CHECK(close(mfd) == 0);
    }

    char name[64];
    snprintf(name, sizeof name, "/fdleak-victim-%ld", (long)getpid());
    leak_mq_open(name);
    if (skipped)
        fprintf(stderr, "victim: %d calls skipped (not supported here)\n", skipped);
    return v_finish();
}
