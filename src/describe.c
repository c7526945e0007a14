/* describe.c — kind and description of a descriptor from fstat, /proc/self/fd and socket
 * options; sockets show their endpoints as "tcp 127.0.0.1:40142 -> 127.0.0.1:6379". */
#include "describe.h"
#include "util.h"
#include "sys.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

void fdl_describe_addr(struct fdl_buf *b, const struct sockaddr *sa, socklen_t len)
{
    char t[INET6_ADDRSTRLEN];
    if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const void *)sa;
        fdl_buf_puts(b, inet_ntop(AF_INET, &in->sin_addr, t, sizeof t) ? t : "?");
        fdl_buf_putc(b, ':');
        fdl_buf_u64(b, ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        fdl_buf_putc(b, '[');
        fdl_buf_puts(b, inet_ntop(AF_INET6, &in6->sin6_addr, t, sizeof t) ? t : "?");
        fdl_buf_puts(b, "]:");
        fdl_buf_u64(b, ntohs(in6->sin6_port));
    } else if (sa->sa_family == AF_UNIX) {
        const struct sockaddr_un *un = (const void *)sa;
        size_t n = len > offsetof(struct sockaddr_un, sun_path) ? len - offsetof(struct sockaddr_un, sun_path) : 0;
        if (n && un->sun_path[0] == 0) { /* abstract name */
            fdl_buf_putc(b, '@');
            fdl_buf_putn(b, un->sun_path + 1, strnlen(un->sun_path + 1, n - 1));
        } else {
            fdl_buf_putn(b, un->sun_path, strnlen(un->sun_path, n));
        }
    }
}

static bool has_addr(const struct sockaddr *sa, socklen_t len)
{
    if (sa->sa_family == AF_UNIX)
        return len > offsetof(struct sockaddr_un, sun_path);
    if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in))
        return ((const struct sockaddr_in *)(const void *)sa)->sin_port != 0 ||
               ((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr != 0;
    if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6))
        return ((const struct sockaddr_in6 *)(const void *)sa)->sin6_port != 0;
    return false;
}

static unsigned addr_port(const struct sockaddr_storage *sa)
{
    if (sa->ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
    if (sa->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
    return 0;
}

/* The socket now at fd cannot be the recorded one: socket() made a datagram socket and this is
 * not one, or
 * both it and the record have an internet peer and the ports differ. Only the port: an
 * address may legitimately read otherwise than it was given (0.0.0.0, v4-mapped), and a unix
 * peer's name is the server's, not the path the client used. */
static bool socket_stale(const struct fdl_slot *rec, int type, const struct sockaddr_storage *peer, bool have_peer)
{
    if (!rec || type < 0)
        return false;
    if ((rec->flags & FDL_F_DGRAM) && type != SOCK_DGRAM) /* the flag is set by socket() only */
        return true;
    if (!have_peer || !rec->peer_len || rec->peer_len > sizeof(struct sockaddr_storage))
        return false;
    struct sockaddr_storage was;
    memcpy(&was, rec->peer, rec->peer_len);
    if ((was.ss_family != AF_INET && was.ss_family != AF_INET6) || was.ss_family != peer->ss_family)
        return false;
    return addr_port(&was) != addr_port(peer);
}

static void describe_socket(int fd, const struct fdl_slot *rec, const char *link, struct fdl_buf *b, bool *stale)
{
    int dom = -1, type = -1, proto = -1, acc = 0;
    socklen_t l = sizeof(int);
    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &l);
    l = sizeof(int);
    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l);
    l = sizeof(int);
    getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &l);
    l = sizeof(int);
    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &l);

    const char *name;
    switch (dom) {
    case AF_INET:
    case AF_INET6:
        name = proto == IPPROTO_TCP ? "tcp" : proto == IPPROTO_UDP ? "udp" : type == SOCK_RAW ? "raw" : "inet";
        if (dom == AF_INET6 && (proto == IPPROTO_TCP || proto == IPPROTO_UDP))
            name = proto == IPPROTO_TCP ? "tcp6" : "udp6";
        break;
    case AF_UNIX: name = "unix"; break;
    case AF_NETLINK: name = "netlink"; break;
    case AF_PACKET: name = "packet"; break;
    default: name = "socket"; break;
    }
    fdl_buf_puts(b, name);
    if (dom != AF_INET && dom != AF_INET6 && dom != AF_UNIX) {
        fdl_buf_putc(b, ' ');
        fdl_buf_puts(b, link);
        return;
    }
    if (acc)
        fdl_buf_puts(b, " listen");

    struct sockaddr_storage loc, peer;
    socklen_t ll = sizeof loc, pl = sizeof peer;
    bool have_loc = !getsockname(fd, (struct sockaddr *)&loc, &ll) && has_addr((struct sockaddr *)&loc, ll);
    if (!have_loc && rec && rec->local_len) {
        memcpy(&loc, rec->local, rec->local_len);
        ll = rec->local_len;
        have_loc = has_addr((struct sockaddr *)&loc, ll);
    }
    bool have_peer = !acc && !getpeername(fd, (struct sockaddr *)&peer, &pl) && has_addr((struct sockaddr *)&peer, pl);
    bool broken = false;
    *stale = socket_stale(rec, type, &peer, have_peer);
    if (!have_peer && !acc && rec && rec->peer_len) {
        memcpy(&peer, rec->peer, rec->peer_len);
        pl = rec->peer_len;
        have_peer = broken = has_addr((struct sockaddr *)&peer, pl);
    }
    if (have_loc) {
        fdl_buf_putc(b, ' ');
        fdl_describe_addr(b, (struct sockaddr *)&loc, ll);
    }
    if (have_peer) {
        fdl_buf_puts(b, " -> ");
        fdl_describe_addr(b, (struct sockaddr *)&peer, pl);
        if (broken)
            fdl_buf_puts(b, " (disconnected)");
    }
    if (!have_loc && !have_peer) {
        fdl_buf_putc(b, ' ');
        fdl_buf_puts(b, link);
    }
}

static const char *anon_kind(const char *link)
{
    static const struct {
        const char *needle, *kind;
    } map[] = {
        {"[eventpoll]", "epoll"}, {"[eventfd]", "eventfd"}, {"[timerfd]", "timerfd"},
        {"[signalfd]", "signalfd"}, {"inotify", "inotify"}, {"[fanotify]", "fanotify"},
        {"pidfd", "pidfd"},
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (strstr(link, map[i].needle))
            return map[i].kind;
    return "other";
}

/* What a creating call can have made, by its name: a prefix of the wrapper's name (open
 * covers open64, openat, open_by_handle_at, opendir, openpty) and the kinds it yields. A call
 * not listed (dup, fcntl, recvmsg, fdopen, pidfd_getfd …) can yield any kind. */
static bool kind_fits(const char *via, const char *kind)
{
    static const char *const anon = " socket epoll eventfd timerfd signalfd inotify fanotify pidfd ";
    static const struct {
        const char *prefix, *kinds; /* kinds: " a b ", or NULL for "any but a socket or anon" */
    } map[] = {
        {"socket", " socket "}, {"accept", " socket "}, {"pipe", " pipe "}, {"popen", " pipe "},
        {"epoll_create", " epoll "}, {"eventfd", " eventfd "}, {"timerfd_create", " timerfd "},
        {"signalfd", " signalfd "}, {"inotify_init", " inotify "}, {"fanotify_init", " fanotify "},
        {"memfd_create", " memfd "}, {"pidfd_open", " pidfd "},
        {"open", 0}, {"__open", 0}, {"creat", 0}, {"mkstemp", 0}, {"mkostemp", 0}, {"tmpfile", 0},
        {"fopen", 0}, {"freopen", 0}, {"shm_open", 0}, {"posix_openpt", 0}, {"getpt", 0}, {"forkpty", 0},
    };
    if (!via || !kind)
        return true;
    size_t kl = strlen(kind);
    for (size_t i = 0; i < sizeof map / sizeof *map; i++) {
        if (strncmp(via, map[i].prefix, strlen(map[i].prefix)))
            continue;
        const char *set = map[i].kinds ? map[i].kinds : anon;
        const char *hit = strstr(set, kind);
        bool in = hit && hit[-1] == ' ' && hit[kl] == ' ';
        return map[i].kinds ? in : !in;
    }
    return true;
}

void fdl_describe(int procfd, int fd, const struct fdl_slot *rec, struct fdl_fdinfo *out)
{
    memset(out, 0, sizeof *out);
    out->kind = "other";
    long fl = fdl_sys(SYS_fcntl, fd, F_GETFD);
    struct stat st;
    if (fl < 0 || fstat(fd, &st)) {
        out->alive = false;
        return;
    }
    out->alive = true;
    out->cloexec = fl & FD_CLOEXEC;

    char path[64], link[FDL_DESC_MAX];
    struct fdl_buf pb;
    fdl_buf_init_mem(&pb, path, sizeof path);
    if (procfd < 0) /* else relative to it: no walk of /proc/self/fd per descriptor */
        fdl_buf_puts(&pb, "/proc/self/fd/");
    fdl_buf_u64(&pb, (uint64_t)fd);
    ssize_t n = readlinkat(procfd < 0 ? AT_FDCWD : procfd, fdl_buf_cstr(&pb), link, sizeof link - 1);
    if (n <= 0) { /* closed between fstat and here (a live report races the program) */
        out->alive = false;
        return;
    }
    link[n] = 0;

    struct fdl_buf b;
    fdl_buf_init_mem(&b, out->desc, sizeof out->desc);
    switch (st.st_mode & S_IFMT) {
    case S_IFREG:
        out->kind = !strncmp(link, "/memfd:", 7) ? "memfd" : "file";
        fdl_buf_puts(&b, link);
        break;
    case S_IFDIR: out->kind = "dir"; fdl_buf_puts(&b, link); break;
    case S_IFIFO:
        out->kind = !strncmp(link, "pipe:", 5) ? "pipe" : "fifo";
        fdl_buf_puts(&b, link);
        break;
    case S_IFSOCK:
        out->kind = "socket";
        describe_socket(fd, rec, link, &b, &out->stale);
        break;
    case S_IFCHR: {
        unsigned maj = major(st.st_rdev);
        out->kind = (maj == 4 || maj == 5 || (maj >= 136 && maj <= 143)) ? "tty" : "char";
        fdl_buf_puts(&b, link);
        break;
    }
    case S_IFBLK: out->kind = "other"; fdl_buf_puts(&b, link); break;
    default:
        out->kind = !strncmp(link, "anon_inode:", 11) || !strncmp(link, "pidfd:", 6) ? anon_kind(link) : "other";
        fdl_buf_puts(&b, link);
        break;
    }
    fdl_buf_cstr(&b);
    if (rec && !kind_fits(rec->via, out->kind))
        out->stale = true;
}
