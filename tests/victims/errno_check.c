/* errno_check: wrapped calls that fail (and some that succeed), printing each call's return
 * value and errno. tests/compare_bare.py runs it with and without fdleak: the outputs must be
 * identical, i.e. the library changes no return value, no descriptor number and no errno —
 * not even after a successful call (errno is set to a sentinel before each call).
 * Prints no pids or paths, so two runs are comparable. Leaks nothing. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int __open_2(const char *, int);
int __openat_2(int, const char *, int);
int fcntl64(int, int, ...);

#define SENTINEL ESTALE

static const char *ename(int e)
{
    if (e == 0)
        return "0";
    const char *n = strerrorname_np(e);
    return n ? n : "unknown";
}

static int failures;

static void show(const char *label, long r, int e)
{
    printf("%-40s ret=%ld errno=%s\n", label, r, ename(e));
}

/* T(label, expr): int-returning call */
#define T(label, expr)                                                                      \
    __extension__({                                                                                      \
        errno = SENTINEL;                                                                   \
        long r_ = (long)(expr);                                                             \
        int e_ = errno;                                                                     \
        show(label, r_, e_);                                                                \
        (int)r_;                                                                            \
    })

/* TF/TD: FILE * / DIR * returning calls; print the descriptor or -1 */
#define TF(label, expr)                                                                     \
    __extension__({                                                                                      \
        errno = SENTINEL;                                                                   \
        FILE *f_ = (expr);                                                                  \
        int e_ = errno;                                                                     \
        show(label, f_ ? fileno(f_) : -1L, e_);                                             \
        f_;                                                                                 \
    })
#define TD(label, expr)                                                                     \
    __extension__({                                                                                      \
        errno = SENTINEL;                                                                   \
        DIR *d_ = (expr);                                                                   \
        int e_ = errno;                                                                     \
        show(label, d_ ? dirfd(d_) : -1L, e_);                                              \
        d_;                                                                                 \
    })

static void must(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "errno_check: setup failed: %s: %s\n", what, strerror(errno));
        failures++;
    }
}

static void show_mode(const char *label, int fd)
{
    struct stat st;
    if (fstat(fd, &st) == 0)
        printf("%-40s mode=%o\n", label, (unsigned)(st.st_mode & 07777));
    else
        printf("%-40s fstat failed\n", label);
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

static void files(void)
{
    int fd;
    T("close(-1)", close(-1));
    T("close(9999)", close(9999));
    T("open(missing)", open("missing/file", O_RDONLY));
    T("open(file, O_DIRECTORY)", open("f.dat", O_RDONLY | O_DIRECTORY));
    T("open(O_CREAT|O_EXCL existing)", open("f.dat", O_RDWR | O_CREAT | O_EXCL, 0600));
    fd = T("open(O_CREAT, 0640)", open("g.dat", O_RDWR | O_CREAT, 0640));
    show_mode("  mode of g.dat", fd);
    T("close(valid)", close(fd));
    T("close(same again)", close(fd));
    fd = T("open64(O_CREAT, 0777)", open64("h.dat", O_RDWR | O_CREAT, 0777));
    show_mode("  mode of h.dat", fd);
    T("close", close(fd));
    fd = T("open(O_TMPFILE, 0604)", open(".", O_TMPFILE | O_RDWR, 0604));
    show_mode("  mode of tmpfile", fd);
    T("close", close(fd));
    T("openat(9999, relative)", openat(9999, "f.dat", O_RDONLY));
    T("openat(AT_FDCWD, missing)", openat(AT_FDCWD, "nope", O_RDONLY));
    T("openat64(AT_FDCWD, missing)", openat64(AT_FDCWD, "nope", O_RDONLY));
    fd = T("openat(AT_FDCWD, f.dat)", openat(AT_FDCWD, "f.dat", O_RDONLY));
    T("close", close(fd));
    T("creat(missing dir)", creat("missing/x", 0600));
    fd = T("creat(0620)", creat("c.dat", 0620));
    show_mode("  mode of c.dat", fd);
    T("close", close(fd));
    fd = T("creat64(0600)", creat64("c64.dat", 0600));
    T("close", close(fd));
    T("__open_2(missing)", __open_2("nope", O_RDONLY));
    T("__openat_2(9999)", __openat_2(9999, "f.dat", O_RDONLY));
    fd = T("__open_2(f.dat)", __open_2("f.dat", O_RDONLY));
    T("close", close(fd));
}

static void dups(void)
{
    int fd = T("open(f.dat)", open("f.dat", O_RDWR));
    T("dup(-1)", dup(-1));
    T("dup2(-1, 5)", dup2(-1, 5));
    T("dup2(fd, fd)", dup2(fd, fd));
    T("dup2(fd, -1)", dup2(fd, -1));
    T("dup2(fd, 1000000)", dup2(fd, 1000000));
    T("dup3(fd, fd, 0)", dup3(fd, fd, 0));
    T("dup3(fd, 20, bad flags)", dup3(fd, 20, 0x4242));
    T("dup3(9999, 20, 0)", dup3(9999, 20, 0));
    int d = T("dup(fd)", dup(fd));
    T("dup2(fd, d) over live", dup2(fd, d));
    T("close(d)", close(d));
    T("fcntl(9999, F_GETFD)", fcntl(9999, F_GETFD));
    T("fcntl(9999, F_DUPFD, 0)", fcntl(9999, F_DUPFD, 0));
    T("fcntl(fd, F_DUPFD, -1)", fcntl(fd, F_DUPFD, -1));
    T("fcntl(fd, F_DUPFD, 1000000)", fcntl(fd, F_DUPFD, 1000000));
    T("fcntl(fd, 999999)", fcntl(fd, 999999));
    T("fcntl64(9999, F_DUPFD_CLOEXEC, 0)", fcntl64(9999, F_DUPFD_CLOEXEC, 0));
    d = T("fcntl(fd, F_DUPFD, 30)", fcntl(fd, F_DUPFD, 30));
    T("fcntl(d, F_GETFD)", fcntl(d, F_GETFD));
    T("close(d)", close(d));
    d = T("fcntl64(fd, F_DUPFD_CLOEXEC, 31)", fcntl64(fd, F_DUPFD_CLOEXEC, 31));
    T("fcntl64(d, F_GETFD)", fcntl64(d, F_GETFD));
    T("close(d)", close(d));
    T("fcntl(fd, F_GETFL)", fcntl(fd, F_GETFL) & (O_ACCMODE | O_NONBLOCK | O_APPEND));
    T("fcntl(fd, F_SETFL, O_NONBLOCK|O_APPEND)", fcntl(fd, F_SETFL, O_NONBLOCK | O_APPEND));
    T("fcntl(fd, F_GETFL) after", fcntl(fd, F_GETFL) & (O_ACCMODE | O_NONBLOCK | O_APPEND));
    /* pointer arguments travel through the variadic wrapper */
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
    T("fcntl(fd, F_SETLK, write lock)", fcntl(fd, F_SETLK, &fl));
    struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
    T("fcntl(fd, F_OFD_GETLK)", fcntl(fd, F_OFD_GETLK, &q));
    printf("%-40s l_type=%d l_pid=%d\n", "  OFD_GETLK result", q.l_type, q.l_pid == getpid() ? 1 : q.l_pid);
    struct flock q2 = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
    T("fcntl64(fd, F_GETLK)", fcntl64(fd, F_GETLK, &q2));
    printf("%-40s l_type=%d\n", "  GETLK result", q2.l_type);
    T("fcntl(fd, F_GETLK, NULL)", fcntl(fd, F_GETLK, (struct flock *)NULL));
    T("close(fd)", close(fd));
}

static void sockets(void)
{
    T("socket(999, STREAM)", socket(999, SOCK_STREAM, 0));
    T("socket(AF_INET, 999)", socket(AF_INET, 999, 0));
    T("socket(AF_INET, STREAM, 999)", socket(AF_INET, SOCK_STREAM, 999));
    T("socket(AF_INET, STREAM, bad flag)", socket(AF_INET, SOCK_STREAM | 0x40000000, 0));
    int sv[2] = {-7, -7};
    T("socketpair(AF_INET)", socketpair(AF_INET, SOCK_STREAM, 0, sv));
    printf("%-40s %d %d\n", "  sv untouched", sv[0], sv[1]);
    int f = T("open(f.dat)", open("f.dat", O_RDONLY));
    T("accept(file)", accept(f, NULL, NULL));
    T("accept4(file)", accept4(f, NULL, NULL, 0));
    T("accept(9999)", accept(9999, NULL, NULL));
    T("listen(9999)", listen(9999, 1));
    T("close(f)", close(f));

    int l = T("socket(tcp)", socket(AF_INET, SOCK_STREAM, 0));
    T("accept(not listening)", accept(l, NULL, NULL));
    T("accept4(bad flags)", accept4(l, NULL, NULL, 0x4242));
    struct sockaddr_in a = loopback(0);
    socklen_t len = sizeof a;
    T("bind(127.0.0.1:0)", bind(l, (struct sockaddr *)&a, sizeof a));
    T("listen", listen(l, 4));
    must(getsockname(l, (struct sockaddr *)&a, &len) == 0, "getsockname");
    int b = T("socket(tcp) 2", socket(AF_INET, SOCK_STREAM, 0));
    T("bind(in-use port)", bind(b, (struct sockaddr *)&a, sizeof a));
    int c = T("socket(tcp) client", socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    T("connect", connect(c, (struct sockaddr *)&a, sizeof a));
    int s = T("accept", accept(l, NULL, NULL));
    int c2 = T("socket(tcp) client 2", socket(AF_INET, SOCK_STREAM, 0));
    T("connect 2", connect(c2, (struct sockaddr *)&a, sizeof a));
    struct sockaddr_in peer;
    socklen_t plen = sizeof peer;
    int s2 = T("accept4(SOCK_CLOEXEC)", accept4(l, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC));
    printf("%-40s len=%u family=%d\n", "  accept4 peer", (unsigned)plen, peer.sin_family);
    T("fcntl(s2, F_GETFD)", fcntl(s2, F_GETFD));
    T("close(s2)", close(s2));
    T("close(c2)", close(c2));
    T("close(s)", close(s));
    T("close(c)", close(c));
    T("close(l)", close(l));
    /* the port is free now: connecting is refused */
    T("connect(closed port)", connect(b, (struct sockaddr *)&a, sizeof a));
    T("close(b)", close(b));
    T("socketpair(AF_UNIX)", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    printf("%-40s %d %d\n", "  sv", sv[0], sv[1]);
    T("close(sv0)", close(sv[0]));
    T("close(sv1)", close(sv[1]));
}

static void pipes_events(void)
{
    int p[2] = {-7, -7};
    T("pipe2(bad flags)", pipe2(p, 0x4242));
    printf("%-40s %d %d\n", "  p untouched", p[0], p[1]);
    T("pipe", pipe(p));
    printf("%-40s %d %d\n", "  p", p[0], p[1]);
    T("fcntl(p0, F_SETPIPE_SZ, 65536)", fcntl(p[0], F_SETPIPE_SZ, 65536));
    T("fcntl(p0, F_GETPIPE_SZ)", fcntl(p[0], F_GETPIPE_SZ));
    T("close(p0)", close(p[0]));
    T("close(p1)", close(p[1]));
    T("pipe2(O_CLOEXEC)", pipe2(p, O_CLOEXEC));
    printf("%-40s %d %d\n", "  p", p[0], p[1]);
    T("close(p1)", close(p[1]));
    T("close(p0)", close(p[0]));

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    int f = T("open(f.dat)", open("f.dat", O_RDONLY));
    T("epoll_create(0)", epoll_create(0));
    T("epoll_create1(bad)", epoll_create1(0x4242));
    T("eventfd(0, bad)", eventfd(0, 0x4242));
    T("timerfd_create(999)", timerfd_create(999, 0));
    T("signalfd(9999)", signalfd(9999, &set, 0));
    T("signalfd(file fd)", signalfd(f, &set, 0));
    T("signalfd(-1, bad flags)", signalfd(-1, &set, 0x4242));
    T("inotify_init1(bad)", inotify_init1(0x4242));
    T("fanotify_init(bad)", fanotify_init(0x40000000, O_RDONLY));
    T("memfd_create(bad flags)", memfd_create("x", 0x4242));
    T("close(f)", close(f));
    int e = T("epoll_create1(EPOLL_CLOEXEC)", epoll_create1(EPOLL_CLOEXEC));
    int s = T("signalfd(-1)", signalfd(-1, &set, 0));
    T("signalfd(s) update", signalfd(s, &set, SFD_NONBLOCK));
    int m = T("memfd_create", memfd_create("x", MFD_CLOEXEC));
    int i = T("inotify_init", inotify_init());
    T("close(i)", close(i));
    T("close(m)", close(m));
    T("close(s)", close(s));
    T("close(e)", close(e));
}

static void streams(void)
{
    char t1[] = "bad-template";
    char t2[] = "missing/dirXXXXXX";
    char t3[] = "sXXXXXX.s";
    char t4[] = "okXXXXXX";
    T("mkstemp(no XXXXXX)", mkstemp(t1));
    T("mkstemp(missing dir)", mkstemp(t2));
    T("mkstemps(suffix too long)", mkstemps(t3, 99));
    int fd = T("mkostemp(O_CLOEXEC)", mkostemp(t4, O_CLOEXEC));
    show_mode("  mode of mkostemp file", fd);
    T("fcntl(fd, F_GETFD)", fcntl(fd, F_GETFD));
    T("close(fd)", close(fd));

    TF("fopen(missing)", fopen("nope", "r"));
    TF("fopen(bad mode)", fopen("f.dat", "z"));
    TF("fopen64(missing dir, w)", fopen64("missing/x", "w"));
    FILE *f = TF("fopen(f.dat)", fopen("f.dat", "r"));
    T("fclose(valid)", fclose(f));
    TF("fdopen(9999)", fdopen(9999, "r"));
    fd = T("open(f.dat, O_RDONLY)", open("f.dat", O_RDONLY));
    TF("fdopen(rdonly fd, \"w\")", fdopen(fd, "w"));
    f = TF("fdopen(fd, \"r\")", fdopen(fd, "r"));
    T("fclose(fdopen)", fclose(f));
    T("close(fd) after fclose", close(fd));
    f = TF("fopen(f.dat) for freopen", fopen("f.dat", "r"));
    TF("freopen(missing)", freopen("nope", "r", f)); /* closes f's descriptor */
    fd = T("open after failed freopen", open("f.dat", O_RDONLY));
    T("close", close(fd));
    f = TF("fopen(f.dat) 2", fopen("f.dat", "r"));
    f = TF("freopen(g.dat)", freopen("g.dat", "r", f));
    T("fclose", fclose(f));
    f = TF("tmpfile", tmpfile());
    T("fclose(tmpfile)", fclose(f));
    TF("popen(bad mode)", popen("true", "x"));
    fflush(stdout);
    f = TF("popen(exit 7)", popen("exit 7", "r"));
    int st = T("pclose", pclose(f));
    printf("%-40s exited=%d status=%d\n", "  pclose status", WIFEXITED(st), WEXITSTATUS(st));

    TD("opendir(missing)", opendir("nope"));
    TD("opendir(file)", opendir("f.dat"));
    TD("fdopendir(9999)", fdopendir(9999));
    fd = T("open(f.dat)", open("f.dat", O_RDONLY));
    TD("fdopendir(file fd)", fdopendir(fd));
    T("close(fd)", close(fd));
    DIR *d = TD("opendir(.)", opendir("."));
    T("closedir", closedir(d));
    fd = T("open(., O_DIRECTORY)", open(".", O_RDONLY | O_DIRECTORY));
    d = TD("fdopendir(dir fd)", fdopendir(fd));
    T("closedir", closedir(d));
    T("fcntl(fd, F_GETFD) after closedir", fcntl(fd, F_GETFD));
}

static void ranges(void)
{
    T("close_range(5, 3)", close_range(5, 3, 0));
    T("close_range(bad flags)", close_range(3, 5, 0x4242));
    int a = T("open", open("f.dat", O_RDONLY));
    int b = T("dup", dup(a));
    T("close_range(a, b, CLOEXEC)", close_range((unsigned)a, (unsigned)b, CLOSE_RANGE_CLOEXEC));
    T("fcntl(b, F_GETFD)", fcntl(b, F_GETFD));
    T("close_range(a, b, 0)", close_range((unsigned)a, (unsigned)b, 0));
    T("fcntl(a, F_GETFD) after", fcntl(a, F_GETFD));
    a = T("open", open("f.dat", O_RDONLY));
    T("fcntl(F_DUPFD, 500)", fcntl(a, F_DUPFD, 500));
    T("close(a)", close(a));
    errno = SENTINEL;
    closefrom(500);
    show("closefrom(500)", 0, errno);
    T("fcntl(500, F_GETFD) after closefrom", fcntl(500, F_GETFD));
    T("close", close(T("open (lowest free)", open("f.dat", O_RDONLY))));
}

/* The same through syscall() (libuv's way): results, errno, numbers. */
static void raw(void)
{
    T("syscall(SYS_close, -1)", syscall(SYS_close, -1));
    T("syscall(SYS_close, 9999)", syscall(SYS_close, 9999));
    T("syscall(-1)", syscall(-1L));
    T("syscall(SYS_getppid) > 0", syscall(SYS_getppid) > 0);
    T("syscall(SYS_openat, missing)", syscall(SYS_openat, AT_FDCWD, "missing/file", O_RDONLY));
    int a = T("syscall(SYS_openat)", syscall(SYS_openat, AT_FDCWD, "f.dat", O_RDONLY));
    int b = T("syscall(SYS_dup)", syscall(SYS_dup, a));
    T("syscall(SYS_dup3, a, a)", syscall(SYS_dup3, a, a, 0));
    T("syscall(SYS_dup3, a, b, bad flags)", syscall(SYS_dup3, a, b, 0x4242));
    T("syscall(SYS_dup3, a, b, CLOEXEC)", syscall(SYS_dup3, a, b, O_CLOEXEC));
    T("syscall(SYS_fcntl, b, F_GETFD)", syscall(SYS_fcntl, b, F_GETFD));
    T("syscall(SYS_fcntl, a, F_DUPFD, 600)", syscall(SYS_fcntl, a, F_DUPFD, 600));
    T("syscall(SYS_fcntl, 9999, F_DUPFD)", syscall(SYS_fcntl, 9999, F_DUPFD, 0));
    T("syscall(SYS_close, 600)", syscall(SYS_close, 600));
    T("syscall(SYS_close_range, 5, 3)", syscall(SYS_close_range, 5, 3, 0));
    T("syscall(SYS_close_range, a, b)", syscall(SYS_close_range, a, b, 0));
    T("syscall(SYS_close, a) again", syscall(SYS_close, a));
    int p[2] = {-1, -1};
    T("syscall(SYS_pipe2, bad flags)", syscall(SYS_pipe2, p, 0x4242));
    T("syscall(SYS_pipe2)", syscall(SYS_pipe2, p, O_CLOEXEC));
    printf("%-40s %d %d\n", "  pipe2 fds", p[0], p[1]);
    T("syscall(SYS_socket, bad domain)", syscall(SYS_socket, 4242, SOCK_STREAM, 0));
    int s = T("syscall(SYS_socket)", syscall(SYS_socket, AF_INET, SOCK_STREAM, 0));
    T("syscall(SYS_accept4, not listening)", syscall(SYS_accept4, s, 0, 0, 0));
    T("syscall(SYS_epoll_create1, bad flags)", syscall(SYS_epoll_create1, 0x4242));
    int e = T("syscall(SYS_eventfd2)", syscall(SYS_eventfd2, 0, 0));
    T("syscall(SYS_signalfd4, not a signalfd)", syscall(SYS_signalfd4, e, 0, 8, 0));
    T("syscall(SYS_close, p[0])", syscall(SYS_close, p[0]));
    T("syscall(SYS_close, p[1])", syscall(SYS_close, p[1]));
    T("syscall(SYS_close, s)", syscall(SYS_close, s));
    T("syscall(SYS_close, e)", syscall(SYS_close, e));
    T("close", close(T("open (lowest free)", open("f.dat", O_RDONLY))));
}

/* Descriptor exhaustion: every creating call fails with EMFILE, and a failed pipe() with one
 * free slot must leave that slot free. */
static void emfile(void)
{
    struct rlimit old, low;
    must(getrlimit(RLIMIT_NOFILE, &old) == 0, "getrlimit");
    int lfd = T("socket(listener)", socket(AF_INET, SOCK_STREAM, 0));
    struct sockaddr_in a = loopback(0);
    socklen_t len = sizeof a;
    must(bind(lfd, (struct sockaddr *)&a, sizeof a) == 0, "bind");
    must(listen(lfd, 4) == 0, "listen");
    must(getsockname(lfd, (struct sockaddr *)&a, &len) == 0, "getsockname");
    int cfd = T("socket(client)", socket(AF_INET, SOCK_STREAM, 0));
    T("connect", connect(cfd, (struct sockaddr *)&a, sizeof a));

    low = old;
    low.rlim_cur = 64;
    T("setrlimit(64)", setrlimit(RLIMIT_NOFILE, &low));
    int fds[64], n = 0, last = -1, err = 0;
    for (;;) {
        errno = SENTINEL;
        int fd = open("/dev/null", O_RDONLY);
        if (fd < 0) {
            err = errno;
            break;
        }
        if (n == 64) {
            fprintf(stderr, "errno_check: more than 64 descriptors under a limit of 64?\n");
            failures++;
            break;
        }
        fds[n++] = last = fd;
    }
    printf("%-40s opened=%d last=%d errno=%s\n", "fill to limit", n, last, ename(err));
    int p[2] = {-7, -7};
    int sv[2] = {-7, -7};
    T("pipe (full)", pipe(p));
    T("socket (full)", socket(AF_INET, SOCK_STREAM, 0));
    T("socketpair (full)", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    T("accept (full)", accept(lfd, NULL, NULL));
    T("dup (full)", dup(0));
    T("dup2(0, 64) beyond limit", dup2(0, 64));
    T("fcntl F_DUPFD (full)", fcntl(0, F_DUPFD, 0));
    T("fcntl F_DUPFD 64 (beyond)", fcntl(0, F_DUPFD, 64));
    T("epoll_create1 (full)", epoll_create1(0));
    T("eventfd (full)", eventfd(0, 0));
    T("memfd_create (full)", memfd_create("x", 0));
    T("inotify_init (full)", inotify_init());
    char t[] = "fullXXXXXX";
    T("mkstemp (full)", mkstemp(t));
    TF("fopen (full)", fopen("f.dat", "r"));
    TF("tmpfile (full)", tmpfile());
    TD("opendir (full)", opendir("."));
    TF("popen (full)", popen("true", "r"));
    if (n > 0) {
        T("close(last)", close(fds[--n]));
        T("pipe (one slot free)", pipe(p));
        printf("%-40s %d %d\n", "  p untouched", p[0], p[1]);
        int one = T("open (the free slot)", open("f.dat", O_RDONLY));
        T("close(one)", close(one));
    }
    while (n > 0)
        close(fds[--n]);
    T("setrlimit(restore)", setrlimit(RLIMIT_NOFILE, &old));
    int s = T("accept (after)", accept(lfd, NULL, NULL));
    T("close(s)", close(s));
    T("close(cfd)", close(cfd));
    T("close(lfd)", close(lfd));
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *dir = getenv("FDLEAK_TEST_DIR");
    char tmpl[] = "/tmp/fdleak-errno-XXXXXX";
    if (!dir || !*dir)
        dir = mkdtemp(tmpl);
    if (!dir || chdir(dir) != 0) {
        perror("errno_check: work directory");
        return 2;
    }
    umask(022);
    FILE *f = fopen("f.dat", "w");
    must(f && fputs("errno_check\n", f) >= 0 && fclose(f) == 0, "f.dat");

    files();
    dups();
    sockets();
    pipes_events();
    streams();
    ranges();
    raw();
    emfile();
    T("close", close(T("final open (lowest free)", open("f.dat", O_RDONLY))));
    if (dir == tmpl) { /* our own scratch directory: remove it (after all the output) */
        DIR *d = opendir(".");
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL)
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                unlink(e->d_name);
        if (d)
            closedir(d);
        if (chdir("/") == 0)
            rmdir(tmpl);
    }
    return failures ? 2 : 0;
}
