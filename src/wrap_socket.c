/* wrap_socket.c — sockets: creation, accept, and the endpoints (connect/bind/listen) that let
 * a report name the peer even after the connection broke. */
#include "wrap.h"

#include <string.h>
#include <sys/socket.h>

/* A datagram socket is marked: its "connections" (a resolver's query) are not connections. */
FDL_EXPORT int socket(int domain, int type, int proto)
{
    return fdl_ret_fd(REAL(socket)(domain, type, proto), __func__, fdl_socket_flags(type));
}

FDL_EXPORT int socketpair(int domain, int type, int proto, int sv[2])
{
    return fdl_ret_pair(REAL(socketpair)(domain, type, proto, sv), sv, __func__, FDL_CALLER);
}

/* The peer is read back from the kernel rather than from the caller's buffer, whose size the
 * call has already overwritten; the local address too: the service the connection came to. */
int fdl_accepted(int fd, int listener, const char *via)
{
    if (fd < 0) {
        fdl_creation_failed();
        return fd;
    }
    fdl_created_accepted(fd, listener, via);
    int saved = errno;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (!getsockname(fd, (struct sockaddr *)&ss, &len))
        fdl_note_local(fd, (struct sockaddr *)&ss, len);
    len = sizeof ss;
    if (!getpeername(fd, (struct sockaddr *)&ss, &len))
        fdl_note_peer(fd, (struct sockaddr *)&ss, len);
    errno = saved;
    return fd;
}

/* glibc declares the address parameters as transparent unions (__SOCKADDR_ARG); the
 * definitions must match its prototypes exactly. */
FDL_EXPORT int accept(int s, __SOCKADDR_ARG addr, socklen_t *len)
{
    return fdl_accepted(REAL(accept)(s, addr.__sockaddr__, len), s, __func__);
}

FDL_EXPORT int accept4(int s, __SOCKADDR_ARG addr, socklen_t *len, int flags)
{
    return fdl_accepted(REAL(accept4)(s, addr.__sockaddr__, len, flags), s, __func__);
}

FDL_EXPORT int connect(int s, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
    int r = REAL(connect)(s, addr.__sockaddr__, len);
    if (r == 0 || errno == EINPROGRESS) /* non-blocking connects (asyncio) count too */
        fdl_note_peer(s, addr.__sockaddr__, len);
    return r;
}

FDL_EXPORT int bind(int s, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
    int r = REAL(bind)(s, addr.__sockaddr__, len);
    if (r == 0)
        fdl_note_local(s, addr.__sockaddr__, len);
    return r;
}

FDL_EXPORT int listen(int s, int backlog)
{
    int r = REAL(listen)(s, backlog);
    if (r == 0)
        fdl_note_flags(s, FDL_F_LISTEN);
    return r;
}

/* Descriptors passed over a unix socket (SCM_RIGHTS) are created by the receiving call. */
void fdl_received(const struct msghdr *m, const char *via)
{
    if (!m || !m->msg_control)
        return;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR((struct msghdr *)m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0))
            continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof fd, sizeof fd); /* CMSG_DATA may be unaligned */
            fdl_created(fd, via, 0);
        }
    }
}

FDL_EXPORT ssize_t recvmsg(int s, struct msghdr *m, int flags)
{
    ssize_t r = REAL(recvmsg)(s, m, flags);
    if (r >= 0)
        fdl_received(m, __func__);
    return r;
}

FDL_EXPORT int recvmmsg(int s, struct mmsghdr *v, unsigned int n, int flags, struct timespec *t)
{
    int r = REAL(recvmmsg)(s, v, n, flags, t);
    for (int i = 0; i < r; i++)
        fdl_received(&v[i].msg_hdr, __func__);
    return r;
}
