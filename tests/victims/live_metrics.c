/* live_metrics: descriptors of several kinds and peers for the FDLEAK_METRICS file
 * (tests/check_live.py metrics). It prints what each series must say:
 *
 *     series <function> <kind> <peer> <count>   fdleak_open_descriptors summed over the series
 *                                               whose site label names <function>; peer "-" is
 *                                               empty, "*" not checked
 *     total <function> <created> <closed>       fdleak_created_total / fdleak_closed_total
 *
 * then `mark metrics open=N` and `ready metrics`. Commands on stdin: `churn` (open and close
 * for 1.5 s, then `ready churned`), `end` or end of file.
 *
 * usage: victim-live_metrics basic|many
 *   many also opens one file from each of 25 functions many_00..many_24: 34 sites in all,
 *   more than the 20 site series the file may have, so the rest must be summed under
 *   site="other". */
#include "victim.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

static char *path;
static int nheld = 3;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int port_of(int fd, int peer)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    V_CHECK((peer ? getpeername(fd, (struct sockaddr *)&a, &len)
                  : getsockname(fd, (struct sockaddr *)&a, &len)) == 0);
    return ntohs(a.sin_port);
}

VICTIM_FN int metric_files(void)
{
    int fd = open(path, O_RDONLY);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "metrics.dat", "open", 0);
    nheld++;
    return fd;
}

VICTIM_FN int metric_listen(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    V_CHECK(fd >= 0);
    v_listen_loopback(fd);
    V_LEAK(fd, "socket", "tcp&127.0.0.1", "socket", 0);
    nheld++;
    return fd;
}

VICTIM_FN int metric_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    V_CHECK(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((unsigned short)port);
    V_CHECK(connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    V_LEAK(fd, "socket", "tcp&127.0.0.1", "socket", 0);
    nheld++;
    return fd;
}

VICTIM_FN int metric_accept(int lfd)
{
    int fd = accept(lfd, NULL, NULL);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "socket", "tcp&127.0.0.1", "accept", 0);
    nheld++;
    return fd;
}

VICTIM_FN int metric_unix_listen(const char *sp)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    V_CHECK(fd >= 0);
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    V_CHECK(strlen(sp) < sizeof a.sun_path);
    strcpy(a.sun_path, sp);
    V_CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    V_CHECK(listen(fd, 4) == 0);
    V_LEAK(fd, "socket", "unix", "socket", 0);
    nheld++;
    return fd;
}

VICTIM_FN int metric_unix_connect(const char *sp)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    V_CHECK(fd >= 0);
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    strcpy(a.sun_path, sp);
    V_CHECK(connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    V_LEAK(fd, "socket", "unix", "socket", 0);
    nheld++;
    return fd;
}

VICTIM_FN int metric_unix_accept(int lfd)
{
    int fd = accept(lfd, NULL, NULL);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "socket", "unix", "accept", 0);
    nheld++;
    return fd;
}

VICTIM_FN void metric_pipe(void)
{
    int p[2];
    V_CHECK(pipe(p) == 0);
    V_LEAK(p[0], "pipe", "pipe:", "pipe", 0);
    V_LEAK(p[1], "pipe", "pipe:", "pipe", 0);
    nheld += 2;
}

/* 25 functions, 25 sites with 25 labels (one per line: the label is function (file:line)). */
#define MANY(n)                                                                             \
    VICTIM_FN void many_##n(void)                                                          \
    {                                                                                       \
        int fd = open(path, O_RDONLY);                                                      \
        V_CHECK(fd >= 0);                                                                   \
        V_LEAK(fd, "file", "metrics.dat", "open", 0);                                       \
        nheld++;                                                                            \
    }
MANY(00)
MANY(01)
MANY(02)
MANY(03)
MANY(04)
MANY(05)
MANY(06)
MANY(07)
MANY(08)
MANY(09)
MANY(10)
MANY(11)
MANY(12)
MANY(13)
MANY(14)
MANY(15)
MANY(16)
MANY(17)
MANY(18)
MANY(19)
MANY(20)
MANY(21)
MANY(22)
MANY(23)
MANY(24)

static void (*const many_fns[25])(void) = {
    many_00, many_01, many_02, many_03, many_04, many_05, many_06, many_07, many_08,
    many_09, many_10, many_11, many_12, many_13, many_14, many_15, many_16, many_17,
    many_18, many_19, many_20, many_21, many_22, many_23, many_24,
};

VICTIM_FN void metric_churn(void)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    V_CHECK(fd >= 0);
    V_CHECK(close(fd) == 0);
}

int main(int argc, char **argv)
{
    if (argc != 2 || (strcmp(argv[1], "basic") && strcmp(argv[1], "many"))) {
        fprintf(stderr, "usage: victim-live_metrics basic|many\n");
        return 2;
    }
    int many = !strcmp(argv[1], "many");
    v_begin();
    path = v_make_file("metrics.dat");

    int files[7];
    for (int i = 0; i < 7; i++)
        files[i] = metric_files();
    for (int i = 0; i < 2; i++) {
        V_CHECK(close(files[i]) == 0);
        v_unleak(files[i]);
        nheld--;
    }
    int lfd = metric_listen();
    int lport = port_of(lfd, 0);
    int cfd = metric_connect(lport);
    int afd = metric_accept(lfd);
    int cport = port_of(cfd, 0);
    V_CHECK(port_of(afd, 1) == cport);
    char *sp = v_path("m.sock");
    int ulfd = metric_unix_listen(sp);
    metric_unix_connect(sp);
    metric_unix_accept(ulfd);
    metric_pipe();
    if (many)
        for (int i = 0; i < 25; i++)
            many_fns[i]();

    v_say("series metric_files file - 5");
    v_say("total metric_files 7 2");
    v_say("series metric_listen socket - 1");
    v_say("series metric_connect socket 127.0.0.1:%d 1", lport);
    v_say("series metric_accept socket 127.0.0.1:%d 1", cport);
    v_say("series metric_unix_listen socket * 1");
    v_say("series metric_unix_connect socket %s 1", sp);
    v_say("series metric_unix_accept socket * 1");
    v_say("series metric_pipe pipe - 2");
    v_say("total metric_pipe 2 0");
    v_mark("metrics", nheld);
    v_say("ready metrics");

    char cmd[64];
    for (int n = 0; n < 10; n++) {
        v_read_line(cmd, sizeof cmd);
        if (strcmp(cmd, "churn"))
            break;
        double end = now() + 1.5;
        for (long i = 0; i < 100000 && now() < end; i++) {
            metric_churn();
            usleep(2000);
        }
        v_say("ready churned");
    }
    V_CHECK(unlink(sp) == 0);
    return v_finish();
}
