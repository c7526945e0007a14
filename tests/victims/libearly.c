/* libearly: a shared library whose constructor leaks a file and a socket before main() — and,
 * because the victim links it (DT_NEEDED) while fdleak comes in through LD_PRELOAD, before
 * fdleak's own constructor has run. The leaks must still be attributed to the functions below,
 * in module libearly.so. Prints its own `leak` lines (module field "libearly.so"). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#if defined(__GNUC__) && !defined(__clang__)
#define EARLY_FN __attribute__((noipa, used))
#else
#define EARLY_FN __attribute__((noinline, used))
#endif

static int file_fd = -1, socket_fd = -1;

static void die(const char *what)
{
    perror(what);
    _exit(2);
}

/* Opens the running executable: its path is known without any environment. */
EARLY_FN int early_open_file(void)
{
    int fd = open("/proc/self/exe", O_RDONLY);
    if (fd < 0)
        die("libearly: open");
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        die("libearly: readlink");
    exe[n] = '\0';
    const char *base = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
    printf("leak %d file early_open_file %s libearly.so via=open cloexec=0\n", fd, base);
    return fd;
}

EARLY_FN int early_open_socket(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("libearly: socket");
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 1) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        die("libearly: bind/listen");
    printf("leak %d socket early_open_socket tcp&listen&127.0.0.1:%d libearly.so via=socket "
           "cloexec=1\n",
           fd, ntohs(a.sin_port));
    return fd;
}

/* Done correctly, also before fdleak's constructor. */
EARLY_FN void early_open_and_close(void)
{
    int p[2];
    if (pipe(p) != 0)
        die("libearly: pipe");
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || close(fd) != 0 || close(p[0]) != 0 || close(p[1]) != 0)
        die("libearly: open/close");
}

__attribute__((constructor)) static void early_init(void)
{
    early_open_and_close();
    file_fd = early_open_file();
    socket_fd = early_open_socket();
}

int early_file_fd(void)
{
    return file_fd;
}

int early_socket_fd(void)
{
    return socket_fd;
}
