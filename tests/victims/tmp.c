/* temporary files and terminals: mkstemp, mkostemp, mkstemps, mkostemps and their 64 names,
 * tmpfile, tmpfile64, posix_openpt, getpt, shm_open. */
#include "victim.h"

#include <sys/mman.h>

/* A fresh template "<dir>/<prefix>XXXXXX<suffix>" (heap string, filled in by mkstemp & co). */
static char *tmpl(const char *prefix, const char *suffix)
{
    char name[128];
    snprintf(name, sizeof name, "%sXXXXXX%s", prefix, suffix);
    return v_path(name);
}

VICTIM_FN int leak_mkstemp(void)
{
    int fd = mkstemp(tmpl("mkstemp-", ""));
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "mkstemp-", "mkstemp", 0);
    return fd;
}

VICTIM_FN int leak_mkostemp(void)
{
    int fd = mkostemp(tmpl("mkostemp-", ""), O_CLOEXEC);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "mkostemp-", "mkostemp", 1);
    return fd;
}

VICTIM_FN int leak_mkstemps(void)
{
    int fd = mkstemps(tmpl("mkstemps-", ".sfx"), 4);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "mkstemps-&.sfx", "mkstemps", 0);
    return fd;
}

VICTIM_FN int leak_mkostemps(void)
{
    int fd = mkostemps(tmpl("mkostemps-", ".sfx"), 4, O_CLOEXEC);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "mkostemps-&.sfx", "mkostemps", 1);
    return fd;
}

VICTIM_FN int leak_mkstemp64(void)
{
    int fd = mkstemp64(tmpl("mkstemp64-", ""));
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "mkstemp64-", "mkstemp64", 0);
    return fd;
}

VICTIM_FN int leak_mkostemp64(void)
{
    int fd = mkostemp64(tmpl("mkostemp64-", ""), 0);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "mkostemp64-", "mkostemp64", 0);
    return fd;
}

VICTIM_FN int leak_mkstemps64(void)
{
    int fd = mkstemps64(tmpl("mkstemps64-", ".x"), 2);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "mkstemps64-", "mkstemps64", 0);
    return fd;
}

VICTIM_FN int leak_mkostemps64(void)
{
    int fd = mkostemps64(tmpl("mkostemps64-", ".x"), 2, O_CLOEXEC);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "mkostemps64-", "mkostemps64", 1);
    return fd;
}

VICTIM_FN int leak_tmpfile(void)
{
    FILE *f = tmpfile();
    V_CHECK(f != NULL);
    V_CHECK(fputs("tmpfile\n", f) >= 0);
    V_LEAK(fileno(f), "file", "/tmp/", "tmpfile", -1);
    return fileno(f);
}

VICTIM_FN int leak_tmpfile64(void)
{
    FILE *f = tmpfile64();
    V_CHECK(f != NULL);
    V_LEAK(fileno(f), "file", "/tmp/", "tmpfile64", -1);
    return fileno(f);
}

VICTIM_FN int leak_posix_openpt(void)
{
    int fd = posix_openpt(O_RDWR | O_NOCTTY);
    if (fd < 0) {
        fprintf(stderr, "victim: posix_openpt: %s, not tested\n", strerror(errno));
        return -1;
    }
    V_LEAK(fd, "tty|char", "ptmx", "posix_openpt", 0);
    return fd;
}

VICTIM_FN int leak_getpt(void)
{
    int fd = getpt();
    if (fd < 0) {
        fprintf(stderr, "victim: getpt: %s, not tested\n", strerror(errno));
        return -1;
    }
    V_LEAK(fd, "tty|char", "ptmx", "getpt", -1);
    return fd;
}

static char shm_name[64];

VICTIM_FN int leak_shm_open(void)
{
    snprintf(shm_name, sizeof shm_name, "/victim-shm-%ld", (long)getpid());
    int fd = shm_open(shm_name, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        fprintf(stderr, "victim: shm_open: %s, not tested\n", strerror(errno));
        return -1;
    }
    V_CHECK(shm_unlink(shm_name) == 0); /* nothing left behind in /dev/shm */
    V_LEAK(fd, "file", "victim-shm-", "shm_open", 1); /* shm_open sets O_CLOEXEC */
    return fd;
}

VICTIM_FN void tmp_correctly(void)
{
    int fds[8], n = 0;
    fds[n++] = mkstemp(tmpl("ok-", ""));
    fds[n++] = mkostemp(tmpl("ok-", ""), O_CLOEXEC);
    fds[n++] = mkstemps(tmpl("ok-", ".s"), 2);
    fds[n++] = mkostemps(tmpl("ok-", ".s"), 2, 0);
    fds[n++] = mkstemp64(tmpl("ok-", ""));
    fds[n++] = mkostemp64(tmpl("ok-", ""), 0);
    fds[n++] = mkstemps64(tmpl("ok-", ".s"), 2);
    fds[n++] = mkostemps64(tmpl("ok-", ".s"), 2, 0);
    for (int i = 0; i < n; i++) {
        V_CHECK(fds[i] >= 0);
        V_CHECK(close(fds[i]) == 0);
    }
    FILE *f = tmpfile();
    V_CHECK(f != NULL && fclose(f) == 0);
    f = tmpfile64();
    V_CHECK(f != NULL && fclose(f) == 0);
    int pt = posix_openpt(O_RDWR | O_NOCTTY);
    if (pt >= 0)
        V_CHECK(close(pt) == 0);
    pt = getpt();
    if (pt >= 0)
        V_CHECK(close(pt) == 0);
    char name[64];
    snprintf(name, sizeof name, "/victim-shm-ok-%ld", (long)getpid());
    int s = shm_open(name, O_RDWR | O_CREAT, 0600);
    if (s >= 0) {
        V_CHECK(shm_unlink(name) == 0);
        V_CHECK(close(s) == 0);
    }
}

int main(void)
{
    v_begin();
    tmp_correctly();
    leak_mkstemp();
    leak_mkostemp();
    leak_mkstemps();
    leak_mkostemps();
    leak_mkstemp64();
    leak_mkostemp64();
    leak_mkstemps64();
    leak_mkostemps64();
    leak_tmpfile();
    leak_tmpfile64();
    leak_posix_openpt();
    leak_getpt();
    leak_shm_open();
    tmp_correctly();
    return v_finish();
}
