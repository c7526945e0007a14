/* clean: every wrapped call once, used correctly. Declares no leak; the report must have none. */
#include "victim.h"

#include <arpa/inet.h>
#include <linux/close_range.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

int __open_2(const char *, int);
int __open64_2(const char *, int);
int __openat_2(int, const char *, int);
int __openat64_2(int, const char *, int);
int fcntl64(int, int, ...);

static int ok(int fd)
{
    V_CHECK(fd >= 0);
    return fd;
}

static void done(int fd)
{
    V_CHECK(close(fd) == 0);
}

static void clean_open(const char *file, const char *dir)
{
    int d = ok(open(dir, O_RDONLY | O_DIRECTORY));
    done(ok(open(file, O_RDONLY)));
    done(ok(open(file, O_RDWR | O_CREAT, 0600)));
    done(ok(open64(file, O_RDONLY)));
    done(ok(openat(d, "clean.dat", O_RDONLY)));
    done(ok(openat64(d, "clean.dat", O_RDONLY)));
    done(ok(creat(file, 0600)));
    done(ok(creat64(file, 0600)));
    done(ok(__open_2(file, O_RDONLY)));
    done(ok(__open64_2(file, O_RDONLY)));
    done(ok(__openat_2(d, "clean.dat", O_RDONLY)));
    done(ok(__openat64_2(d, "clean.dat", O_RDONLY)));
    done(ok(open(dir, O_TMPFILE | O_RDWR, 0600)));
    done(d);
}

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static void clean_socket(const char *upath)
{
    int l = ok(socket(AF_INET, SOCK_STREAM, 0));
    struct sockaddr_in a = loopback(0);
    socklen_t len = sizeof a;
    V_CHECK(bind(l, (struct sockaddr *)&a, sizeof a) == 0);
    V_CHECK(listen(l, 4) == 0);
    V_CHECK(getsockname(l, (struct sockaddr *)&a, &len) == 0);
    int c1 = ok(socket(AF_INET, SOCK_STREAM, 0));
    int c2 = ok(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    V_CHECK(connect(c1, (struct sockaddr *)&a, sizeof a) == 0);
    V_CHECK(connect(c2, (struct sockaddr *)&a, sizeof a) == 0);
    int s1 = ok(accept(l, NULL, NULL));
    int s2 = ok(accept4(l, NULL, NULL, SOCK_CLOEXEC));
    done(s1), done(s2), done(c1), done(c2), done(l);

    int u = ok(socket(AF_INET, SOCK_DGRAM, 0));
    struct sockaddr_in ua = loopback(0);
    V_CHECK(bind(u, (struct sockaddr *)&ua, sizeof ua) == 0);
    done(u);

    struct sockaddr_un un;
    memset(&un, 0, sizeof un);
    un.sun_family = AF_UNIX;
    snprintf(un.sun_path, sizeof un.sun_path, "%s", upath);
    int ul = ok(socket(AF_UNIX, SOCK_STREAM, 0));
    V_CHECK(bind(ul, (struct sockaddr *)&un, sizeof un) == 0);
    V_CHECK(listen(ul, 1) == 0);
    int uc = ok(socket(AF_UNIX, SOCK_STREAM, 0));
    V_CHECK(connect(uc, (struct sockaddr *)&un, sizeof un) == 0);
    int us = ok(accept4(ul, NULL, NULL, 0));
    done(us), done(uc), done(ul);

    int sv[2];
    V_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    done(sv[0]), done(sv[1]);
}

static void clean_pipe_dup(const char *file)
{
    int p[2], q[2];
    V_CHECK(pipe(p) == 0);
    V_CHECK(pipe2(q, O_CLOEXEC) == 0);
    int base = ok(open(file, O_RDONLY));
    int a = ok(dup(base));
    V_CHECK(dup2(base, 77) == 77);
    V_CHECK(dup2(p[0], a) == a); /* over a live descriptor */
    V_CHECK(dup2(a, a) == a);
    V_CHECK(dup3(base, 78, O_CLOEXEC) == 78);
    int b = ok(fcntl(base, F_DUPFD, 90));
    int c = ok(fcntl(base, F_DUPFD_CLOEXEC, 0));
    int d = ok(fcntl64(base, F_DUPFD, 0));
    int e = ok(fcntl64(base, F_DUPFD_CLOEXEC, 0));
    V_CHECK(fcntl(b, F_SETFD, FD_CLOEXEC) == 0);
    int devnull = ok(open("/dev/null", O_RDONLY));
    V_CHECK(dup2(devnull, 0) == 0); /* redirecting stdin is not a leak */
    done(devnull);
    done(a), done(77), done(78), done(b), done(c), done(d), done(e), done(base);
    done(p[0]), done(p[1]), done(q[0]), done(q[1]);
}

static void clean_event(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    V_CHECK(sigprocmask(SIG_BLOCK, &set, NULL) == 0);
    done(ok(epoll_create(1)));
    done(ok(epoll_create1(EPOLL_CLOEXEC)));
    done(ok(eventfd(0, 0)));
    done(ok(timerfd_create(CLOCK_MONOTONIC, 0)));
    int s = ok(signalfd(-1, &set, 0));
    V_CHECK(signalfd(s, &set, SFD_NONBLOCK) == s);
    done(s);
    done(ok(inotify_init()));
    done(ok(inotify_init1(IN_CLOEXEC)));
    int fa = fanotify_init(FAN_CLASS_NOTIF, O_RDONLY);
    if (fa >= 0)
        done(fa);
    done(ok(memfd_create("clean", 0)));
}

static void clean_tmp(void)
{
    char *t[8];
    for (int i = 0; i < 8; i++) {
        char name[32];
        snprintf(name, sizeof name, "tmp%dXXXXXX%s", i, i % 2 ? ".s" : "");
        t[i] = v_path(name);
    }
    done(ok(mkstemp(t[0])));
    done(ok(mkostemps(t[1], 2, O_CLOEXEC)));
    done(ok(mkostemp(t[2], O_CLOEXEC)));
    done(ok(mkstemps(t[3], 2)));
    done(ok(mkstemp64(t[4])));
    done(ok(mkostemps64(t[5], 2, 0)));
    done(ok(mkostemp64(t[6], 0)));
    done(ok(mkstemps64(t[7], 2)));
    FILE *f = tmpfile();
    V_CHECK(f && fclose(f) == 0);
    f = tmpfile64();
    V_CHECK(f && fclose(f) == 0);
    int pt = posix_openpt(O_RDWR | O_NOCTTY);
    if (pt >= 0)
        done(pt);
    pt = getpt();
    if (pt >= 0)
        done(pt);
    char name[64];
    snprintf(name, sizeof name, "/clean-shm-%ld", (long)getpid());
    int s = shm_open(name, O_RDWR | O_CREAT, 0600);
    if (s >= 0) {
        V_CHECK(shm_unlink(name) == 0);
        done(s);
    }
}

static void clean_stdio_dir(const char *file, const char *dir)
{
    FILE *a = fopen(file, "r");
    FILE *b = fopen64(file, "re");
    FILE *c = fdopen(ok(open(file, O_RDONLY)), "r");
    V_CHECK(a && b && c);
    a = freopen(file, "r", a);
    b = freopen64(file, "r", b);
    V_CHECK(a && b);
    V_CHECK(fclose(a) == 0 && fclose(b) == 0 && fclose(c) == 0);
    fflush(stdout);
    FILE *p = popen("exit 3", "r");
    V_CHECK(p != NULL);
    int st = pclose(p);
    V_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 3);
    DIR *d1 = opendir(dir);
    DIR *d2 = fdopendir(ok(open(dir, O_RDONLY | O_DIRECTORY)));
    V_CHECK(d1 && d2);
    V_CHECK(closedir(d1) == 0 && closedir(d2) == 0);
}

static void clean_ranges(const char *file)
{
    int o = ok(open(file, O_RDONLY));
    for (int i = 0; i < 12; i++)
        V_CHECK(fcntl(o, F_DUPFD, 400 + i) == 400 + i);
    done(o);
    V_CHECK(close_range(400, 402, 0) == 0);
    V_CHECK(close_range(403, 405, CLOSE_RANGE_CLOEXEC) == 0);
    V_CHECK(close_range(403, 405, CLOSE_RANGE_UNSHARE) == 0);
    V_CHECK(close_range(406, 408, 0) == 0);
    closefrom(409);
    for (int i = 0; i < 12; i++)
        V_CHECK(fcntl(400 + i, F_GETFD) < 0);
}

int main(void)
{
    v_begin();
    char *file = v_make_file("clean.dat");
    clean_open(file, v_dir());
    clean_socket(v_path("clean.sock"));
    clean_pipe_dup(file);
    clean_event();
    clean_tmp();
    clean_stdio_dir(file, v_dir());
    clean_ranges(file);
    return v_finish();
}
