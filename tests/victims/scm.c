/* scm: descriptors received over unix sockets (SCM_RIGHTS) are created by recvmsg/recvmmsg:
 * each one is tracked with via "recvmsg" (or "recvmmsg") at the receiving function's site, also
 * with MSG_CMSG_CLOEXEC, behind an SCM_CREDENTIALS message, when the control buffer is too
 * small (MSG_CTRUNC: the kernel installs only what fits), and from another process (a fork
 * child sends a file it opened). The originals are closed by the sender; a received descriptor
 * that is closed again is neither a leak nor an error; a plain message creates nothing. */
#include "victim.h"

#include <sys/socket.h>
#include <sys/uio.h>

#define MAXFDS 4

static char *path;

/* Creates the originals (closed by the caller after sending). */
static int make_file(void)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    V_CHECK(fd >= 0);
    return fd;
}

static void send_fds(int sock, const int *fds, int n)
{
    char data = 'x';
    struct iovec iov = {&data, 1};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(MAXFDS * sizeof(int))];
    } c;
    memset(&c, 0, sizeof c);
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    if (n > 0) {
        m.msg_control = c.buf;
        m.msg_controllen = CMSG_SPACE((size_t)n * sizeof(int));
        struct cmsghdr *h = CMSG_FIRSTHDR(&m);
        h->cmsg_level = SOL_SOCKET;
        h->cmsg_type = SCM_RIGHTS;
        h->cmsg_len = CMSG_LEN((size_t)n * sizeof(int));
        memcpy(CMSG_DATA(h), fds, (size_t)n * sizeof(int));
    }
    V_CHECK(sendmsg(sock, &m, 0) == 1);
}

/* The descriptors in a received message's SCM_RIGHTS (other control messages skipped). */
static int fds_of(struct msghdr *m, int *out)
{
    int n = 0;
    for (struct cmsghdr *h = CMSG_FIRSTHDR(m); h; h = CMSG_NXTHDR(m, h)) {
        if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
            continue;
        int k = (int)((h->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        memcpy(out + n, CMSG_DATA(h), (size_t)k * sizeof(int));
        n += k;
    }
    return n;
}

struct rx {
    char data;
    struct iovec iov;
    struct msghdr m;
    struct {
        _Alignas(struct cmsghdr) char buf[CMSG_SPACE(MAXFDS * sizeof(int)) +
                                          CMSG_SPACE(sizeof(struct ucred))];
    } c;
};

static struct msghdr *rx_init(struct rx *r, size_t control)
{
    memset(r, 0, sizeof *r);
    r->iov.iov_base = &r->data;
    r->iov.iov_len = 1;
    r->m.msg_iov = &r->iov;
    r->m.msg_iovlen = 1;
    r->m.msg_control = r->c.buf;
    r->m.msg_controllen = control;
    return &r->m;
}

VICTIM_FN void recv_plain(int sock)
{
    struct rx r;
    struct msghdr *m = rx_init(&r, sizeof r.c.buf);
    V_CHECK(recvmsg(sock, m, 0) == 1);
    int fds[MAXFDS];
    V_CHECK(fds_of(m, fds) == 2);
    V_LEAK(fds[0], "file", "scm.dat", "recvmsg", 0);
    V_LEAK(fds[1], "pipe", "pipe:", "recvmsg", 0);
}

VICTIM_FN void recv_cloexec(int sock)
{
    struct rx r;
    struct msghdr *m = rx_init(&r, sizeof r.c.buf);
    V_CHECK(recvmsg(sock, m, MSG_CMSG_CLOEXEC) == 1);
    int fds[MAXFDS];
    V_CHECK(fds_of(m, fds) == 2);
    V_LEAK(fds[0], "file", "scm.dat", "recvmsg", 1);
    V_LEAK(fds[1], "pipe", "pipe:", "recvmsg", 1);
}

/* SO_PASSCRED is on: an SCM_CREDENTIALS message comes first, then SCM_RIGHTS. */
VICTIM_FN void recv_with_credentials(int sock)
{
    struct rx r;
    struct msghdr *m = rx_init(&r, sizeof r.c.buf);
    V_CHECK(recvmsg(sock, m, 0) == 1);
    int creds = 0;
    for (struct cmsghdr *h = CMSG_FIRSTHDR(m); h; h = CMSG_NXTHDR(m, h))
        creds += h->cmsg_type == SCM_CREDENTIALS;
    V_CHECK(creds == 1);
    int fds[MAXFDS];
    V_CHECK(fds_of(m, fds) == 1);
    V_LEAK(fds[0], "file", "scm.dat", "recvmsg", 0);
}

/* Three sent, room for one (CMSG_LEN, not CMSG_SPACE, whose padding holds a second int on
 * 64-bit): MSG_CTRUNC, and only the first is installed. */
VICTIM_FN void recv_truncated(int sock)
{
    struct rx r;
    struct msghdr *m = rx_init(&r, CMSG_LEN(sizeof(int)));
    V_CHECK(recvmsg(sock, m, 0) == 1);
    V_CHECK(m->msg_flags & MSG_CTRUNC);
    int fds[MAXFDS];
    V_CHECK(fds_of(m, fds) == 1);
    V_LEAK(fds[0], "file", "scm.dat", "recvmsg", 0);
}

/* Two datagrams in one call: one descriptor in the first, two in the second. */
VICTIM_FN void recv_mmsg(int sock)
{
    struct rx r[2];
    struct mmsghdr mm[2];
    memset(mm, 0, sizeof mm);
    for (int i = 0; i < 2; i++)
        mm[i].msg_hdr = *rx_init(&r[i], sizeof r[i].c.buf);
    /* rx_init pointed iov at r[i]; the copies in mm keep those pointers */
    V_CHECK(recvmmsg(sock, mm, 2, 0, NULL) == 2);
    int fds[MAXFDS];
    V_CHECK(fds_of(&mm[0].msg_hdr, fds) == 1);
    V_LEAK(fds[0], "file", "scm.dat", "recvmmsg", 0);
    V_CHECK(fds_of(&mm[1].msg_hdr, fds) == 2);
    V_LEAK(fds[0], "pipe", "pipe:", "recvmmsg", 0);
    V_LEAK(fds[1], "pipe", "pipe:", "recvmmsg", 0);
}

VICTIM_FN void recv_mmsg_cloexec(int sock)
{
    struct rx r[1];
    struct mmsghdr mm[1];
    memset(mm, 0, sizeof mm);
    mm[0].msg_hdr = *rx_init(&r[0], sizeof r[0].c.buf);
    V_CHECK(recvmmsg(sock, mm, 1, MSG_CMSG_CLOEXEC, NULL) == 1);
    int fds[MAXFDS];
    V_CHECK(fds_of(&mm[0].msg_hdr, fds) == 1);
    V_LEAK(fds[0], "file", "scm.dat", "recvmmsg", 1);
}

/* Received and closed again: not a leak, and the close is not a misuse. */
VICTIM_FN void recv_and_close(int sock)
{
    struct rx r;
    struct msghdr *m = rx_init(&r, sizeof r.c.buf);
    V_CHECK(recvmsg(sock, m, 0) == 1);
    int fds[MAXFDS];
    V_CHECK(fds_of(m, fds) == 1);
    V_CHECK(close(fds[0]) == 0);
}

/* A message without descriptors (control buffer offered, none used). */
VICTIM_FN void recv_nothing(int sock)
{
    struct rx r;
    struct msghdr *m = rx_init(&r, sizeof r.c.buf);
    V_CHECK(recvmsg(sock, m, 0) == 1);
    int fds[MAXFDS];
    V_CHECK(fds_of(m, fds) == 0);
}

VICTIM_FN void recv_from_child(int sock)
{
    struct rx r;
    struct msghdr *m = rx_init(&r, sizeof r.c.buf);
    V_CHECK(recvmsg(sock, m, 0) == 1);
    int fds[MAXFDS];
    V_CHECK(fds_of(m, fds) == 1);
    V_LEAK(fds[0], "file", "child.dat", "recvmsg", 0);
}

/* The child opens a file, sends it and closes its own copy: it leaks nothing. */
static void child_sends(int sock, const char *file)
{
    v_child_begin();
    v_decl(NULL, "report");
    int fd = open(file, O_RDONLY);
    V_CHECK(fd >= 0);
    send_fds(sock, &fd, 1);
    V_CHECK(close(fd) == 0);
    exit(v_finish());
}

int main(void)
{
    v_begin();
    path = v_make_file("scm.dat");
    char *child_file = v_make_file("child.dat");
    int sv[2], cv[2];
    V_CHECK(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) == 0);
    V_CHECK(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, cv) == 0);
    int on = 1;
    V_CHECK(setsockopt(cv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on) == 0);

    int f = make_file(), q[2];
    V_CHECK(pipe2(q, O_CLOEXEC) == 0);
    int two[2] = {f, q[0]}, three[3] = {f, f, q[1]};

    send_fds(sv[0], two, 2);
    recv_plain(sv[1]);
    send_fds(sv[0], two, 2);
    recv_cloexec(sv[1]);
    send_fds(cv[0], &f, 1);
    recv_with_credentials(cv[1]);
    send_fds(sv[0], three, 3);
    recv_truncated(sv[1]);
    send_fds(sv[0], &f, 1);
    send_fds(sv[0], q, 2);
    recv_mmsg(sv[1]);
    send_fds(sv[0], &f, 1);
    recv_mmsg_cloexec(sv[1]);
    send_fds(sv[0], &f, 1);
    recv_and_close(sv[1]);
    send_fds(sv[0], NULL, 0);
    recv_nothing(sv[1]);

    pid_t c = v_fork();
    if (c == 0)
        child_sends(sv[0], child_file);
    v_wait_ok(c, 20);
    recv_from_child(sv[1]);

    V_CHECK(close(f) == 0 && close(q[0]) == 0 && close(q[1]) == 0);
    V_CHECK(close(sv[0]) == 0 && close(sv[1]) == 0 && close(cv[0]) == 0 && close(cv[1]) == 0);
    return v_finish();
}
