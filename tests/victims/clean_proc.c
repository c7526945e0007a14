/* clean_proc: correct programs must not be reported for misuse. Everything here is legal and
 * closes what it opens: dup2/dup3 over live descriptors, a number closed and reused and closed
 * again, fdopen+fclose, fopen/freopen/fclose, opendir/fdopendir/closedir, popen/pclose (two at
 * once), fork children that close the parent's descriptors (which the parent closes again
 * afterwards in its own table), a vfork child that does the same before _exit, posix_spawn with
 * close actions, close_range over holes and closefrom, close of a received (SCM_RIGHTS) and of
 * an accepted descriptor, stdin closed and reopened, and four threads opening and closing at
 * once. The reports (the program's and each fork child's) must list no leak and no error. */
#include "victim.h"

#include <arpa/inet.h>
#include <linux/close_range.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/uio.h>

extern char **environ;

#define THREADS 4
#define ROUNDS 2000

static char *path;

static int ok(int fd)
{
    V_CHECK(fd >= 0);
    return fd;
}

static void done(int fd)
{
    V_CHECK(close(fd) == 0);
}

static void dup_over_live(void)
{
    int a = ok(open(path, O_RDONLY)), b = ok(open(path, O_RDONLY)), c = ok(open(path, O_RDONLY));
    V_CHECK(dup2(a, b) == b); /* b was live: replaced */
    V_CHECK(dup3(a, c, O_CLOEXEC) == c);
    V_CHECK(dup2(b, b) == b);
    done(a), done(b), done(c);
    /* the same number closed, reused, closed again */
    int x = ok(open(path, O_RDONLY));
    done(x);
    int y = ok(open(path, O_RDONLY));
    V_CHECK(y == x);
    done(y);
}

static void streams(void)
{
    FILE *f = fdopen(ok(open(path, O_RDONLY)), "r");
    V_CHECK(f && fclose(f) == 0);
    f = fopen(path, "r");
    V_CHECK(f != NULL);
    f = freopen(path, "r", f); /* closes the old descriptor internally */
    V_CHECK(f && fclose(f) == 0);
    FILE *p1 = popen("cat >/dev/null", "w"), *p2 = popen("echo x", "r");
    V_CHECK(p1 && p2);
    char buf[8];
    V_CHECK(fgets(buf, sizeof buf, p2) != NULL);
    V_CHECK(pclose(p2) == 0 && pclose(p1) == 0);
    DIR *d = opendir(v_dir());
    DIR *e = fdopendir(ok(open(v_dir(), O_RDONLY | O_DIRECTORY)));
    V_CHECK(d && e && closedir(d) == 0 && closedir(e) == 0);
}

/* The child closes the parent's descriptors in its own table; the parent closes them later. */
static void fork_children(void)
{
    int a = ok(open(path, O_RDONLY)), p[2];
    V_CHECK(pipe(p) == 0);
    for (int i = 0; i < 3; i++) {
        pid_t c = v_fork();
        if (c == 0) {
            v_child_begin();
            v_decl(NULL, "report");
            int own = ok(open(path, O_RDONLY));
            V_CHECK(close(a) == 0 && close(p[0]) == 0 && close(p[1]) == 0);
            V_CHECK(dup2(own, a) == a);
            done(own);
            done(a);
            exit(v_finish());
        }
        v_wait_ok(c, 20);
    }
    pid_t v = vfork();
    if (v == 0) {
        if (close(a) != 0 || dup2(p[0], a) != a || close(p[1]) != 0 || close(a) != 0)
            _exit(1);
        _exit(0);
    }
    V_CHECK(v > 0);
    int st;
    V_CHECK(waitpid(v, &st, 0) == v && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    posix_spawn_file_actions_t fa;
    V_CHECK(posix_spawn_file_actions_init(&fa) == 0);
    V_CHECK(posix_spawn_file_actions_addclose(&fa, a) == 0);
    V_CHECK(posix_spawn_file_actions_addclose(&fa, p[1]) == 0);
    pid_t s;
    char *argv[] = {"true", NULL};
    V_CHECK(posix_spawn(&s, "/bin/true", &fa, NULL, argv, environ) == 0);
    V_CHECK(posix_spawn_file_actions_destroy(&fa) == 0);
    V_CHECK(waitpid(s, &st, 0) == s && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    done(a), done(p[0]), done(p[1]);
}

static void ranges(void)
{
    int o = ok(open(path, O_RDONLY));
    V_CHECK(fcntl(o, F_DUPFD, 500) == 500);
    V_CHECK(fcntl(o, F_DUPFD, 503) == 503); /* 501, 502 were never open */
    V_CHECK(fcntl(o, F_DUPFD, 510) == 510);
    V_CHECK(fcntl(o, F_DUPFD, 520) == 520);
    done(o);
    V_CHECK(close_range(500, 505, 0) == 0);
    V_CHECK(close_range(510, 512, CLOSE_RANGE_CLOEXEC) == 0);
    done(510);
    closefrom(515);
    V_CHECK(fcntl(520, F_GETFD) < 0);
}

static void passing_and_accept(void)
{
    int sv[2];
    V_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    int f = ok(open(path, O_RDONLY));
    char data = 'x';
    struct iovec iov = {&data, 1};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } c;
    memset(&c, 0, sizeof c);
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = c.buf;
    m.msg_controllen = sizeof c.buf;
    struct cmsghdr *h = CMSG_FIRSTHDR(&m);
    h->cmsg_level = SOL_SOCKET;
    h->cmsg_type = SCM_RIGHTS;
    h->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(h), &f, sizeof f);
    V_CHECK(sendmsg(sv[0], &m, 0) == 1);
    memset(&c, 0, sizeof c);
    m.msg_controllen = sizeof c.buf;
    V_CHECK(recvmsg(sv[1], &m, MSG_CMSG_CLOEXEC) == 1);
    h = CMSG_FIRSTHDR(&m);
    V_CHECK(h && h->cmsg_type == SCM_RIGHTS);
    int got;
    memcpy(&got, CMSG_DATA(h), sizeof got);
    done(got), done(f), done(sv[0]), done(sv[1]);

    int l = ok(socket(AF_INET, SOCK_STREAM, 0));
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    V_CHECK(bind(l, (struct sockaddr *)&a, sizeof a) == 0 && listen(l, 2) == 0);
    V_CHECK(getsockname(l, (struct sockaddr *)&a, &len) == 0);
    int cl = ok(socket(AF_INET, SOCK_STREAM, 0));
    V_CHECK(connect(cl, (struct sockaddr *)&a, sizeof a) == 0);
    int s = ok(accept(l, NULL, NULL));
    V_CHECK(shutdown(s, SHUT_RDWR) == 0);
    done(s), done(cl), done(l);
}

static void stdin_reopened(void)
{
    done(0);
    V_CHECK(open("/dev/null", O_RDONLY) == 0);
}

static void *churn(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        int fd = ok(open(path, O_RDONLY));
        int d = ok(dup(fd));
        done(fd);
        done(d);
    }
    return NULL;
}

int main(void)
{
    v_begin();
    path = v_make_file("clean_proc.dat");
    dup_over_live();
    streams();
    fork_children();
    ranges();
    passing_and_accept();
    stdin_reopened();
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        V_CHECK(pthread_create(&t[i], NULL, churn, NULL) == 0);
    for (int i = 0; i < THREADS; i++)
        V_CHECK(pthread_join(t[i], NULL) == 0);
    return v_finish();
}
