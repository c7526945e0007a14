/* socket family: socket (tcp, udp, unix), socketpair, accept, accept4, with bind/listen/connect
 * so the report's desc can name addresses. */
#include "victim.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

static char desc_buf[256];

static const char *fmt_desc(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(desc_buf, sizeof desc_buf, fmt, ap);
    va_end(ap);
    return desc_buf;
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

static int local_port(int fd)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    V_CHECK(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    return ntohs(a.sin_port);
}

static struct sockaddr_un unix_addr(const char *path)
{
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    V_CHECK(strlen(path) < sizeof a.sun_path);
    strcpy(a.sun_path, path);
    return a;
}

VICTIM_FN int leak_tcp_socket(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "socket", "tcp", "socket", 0);
    return fd;
}

VICTIM_FN int leak_udp_socket(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    V_CHECK(fd >= 0);
    struct sockaddr_in a = loopback(0);
    V_CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    V_LEAK(fd, "socket", fmt_desc("udp&127.0.0.1:%d", local_port(fd)), "socket", 1);
    return fd;
}

VICTIM_FN int leak_tcp_listener(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    V_CHECK(fd >= 0);
    struct sockaddr_in a = loopback(0);
    V_CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    V_CHECK(listen(fd, 16) == 0);
    V_LEAK(fd, "socket", fmt_desc("tcp&listen&127.0.0.1:%d", local_port(fd)), "socket", 0);
    return fd;
}

VICTIM_FN int leak_tcp_client(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    V_CHECK(fd >= 0);
    struct sockaddr_in a = loopback(port);
    V_CHECK(connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    V_LEAK(fd, "socket", fmt_desc("tcp&127.0.0.1:%d", port), "socket", 0);
    return fd;
}

VICTIM_FN int leak_accept(int listener, int port)
{
    int fd = accept(listener, NULL, NULL);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "socket", fmt_desc("tcp&127.0.0.1:%d", port), "accept", 0);
    return fd;
}

VICTIM_FN int leak_accept4(int listener, int port)
{
    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    int fd = accept4(listener, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC | SOCK_NONBLOCK);
    V_CHECK(fd >= 0);
    V_CHECK(peer.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
    V_LEAK(fd, "socket", fmt_desc("tcp&127.0.0.1:%d", port), "accept4", 1);
    return fd;
}

VICTIM_FN int leak_unix_listener(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    V_CHECK(fd >= 0);
    struct sockaddr_un a = unix_addr(path);
    V_CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    V_CHECK(listen(fd, 4) == 0);
    V_LEAK(fd, "socket", "unix&sock-listen", "socket", 0);
    return fd;
}

VICTIM_FN int leak_unix_client(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    V_CHECK(fd >= 0);
    struct sockaddr_un a = unix_addr(path);
    V_CHECK(connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    V_LEAK(fd, "socket", "unix&sock-listen", "socket", 1);
    return fd;
}

VICTIM_FN int leak_unix_accept4(int listener)
{
    int fd = accept4(listener, NULL, NULL, 0);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "socket", "unix", "accept4", 0);
    return fd;
}

VICTIM_FN void leak_socketpair(void)
{
    int sv[2];
    V_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    V_LEAK(sv[0], "socket", "unix", "socketpair", 0);
    V_LEAK(sv[1], "socket", "unix", "socketpair", 0);
}

VICTIM_FN void leak_socketpair_dgram_cloexec(void)
{
    int sv[2];
    V_CHECK(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) == 0);
    V_LEAK(sv[0], "socket", "unix", "socketpair", 1);
    V_LEAK(sv[1], "socket", "unix", "socketpair", 1);
}

/* A client connection made and released correctly (for accept/accept4 to pick up). */
static void connect_and_close(int port)
{
    int c = socket(AF_INET, SOCK_STREAM, 0);
    V_CHECK(c >= 0);
    struct sockaddr_in a = loopback(port);
    V_CHECK(connect(c, (struct sockaddr *)&a, sizeof a) == 0);
    V_CHECK(close(c) == 0);
}

/* Every call once more, correctly. */
VICTIM_FN void sockets_correctly(void)
{
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    V_CHECK(l >= 0);
    struct sockaddr_in a = loopback(0);
    V_CHECK(bind(l, (struct sockaddr *)&a, sizeof a) == 0);
    V_CHECK(listen(l, 4) == 0);
    int port = local_port(l);
    connect_and_close(port);
    connect_and_close(port);
    int s1 = accept(l, NULL, NULL);
    V_CHECK(s1 >= 0);
    int s2 = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    V_CHECK(s2 >= 0);
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    V_CHECK(u >= 0);
    int x = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    V_CHECK(x >= 0);
    int sv[2];
    V_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    V_CHECK(close(sv[1]) == 0 && close(sv[0]) == 0);
    V_CHECK(close(x) == 0 && close(u) == 0);
    V_CHECK(close(s2) == 0 && close(s1) == 0 && close(l) == 0);
}

int main(void)
{
    v_begin();
    char *upath = v_path("sock-listen");

    sockets_correctly();
    leak_tcp_socket();
    leak_udp_socket();
    int listener = leak_tcp_listener();
    int port = local_port(listener);
    leak_tcp_client(port);
    leak_accept(listener, port);
    connect_and_close(port);
    leak_accept4(listener, port);
    int ul = leak_unix_listener(upath);
    leak_unix_client(upath);
    leak_unix_accept4(ul);
    leak_socketpair();
    leak_socketpair_dgram_cloexec();
    sockets_correctly();
    return v_finish();
}
