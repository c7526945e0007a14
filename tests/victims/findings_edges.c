/* findings_edges.c — the cases where a finding must NOT fire, or only one must (issue 7's
 * review): tests/check_findings.py runs it with one mode and compares the exit report's
 * findings with the `FINDING … mode=MODE` markers below.
 *
 *   dup       one connection and a dup of it, both kept: the same client twice, never two
 *             clients (two never-closed findings, no duplicate-clients)
 *   leftover  30 connections from one place, 29 closed: pool-per-operation for the churn and
 *             never-closed for the one kept (a churning place's leftovers are still leaks), no
 *             duplicate-clients
 *   fork      a cache grows in the parent, then a child forks and exits: the parent's report
 *             says growing; the child's, which only inherited it, says nothing
 *
 * The peer is a listening socket of this process that never accepts: connects complete in the
 * kernel's backlog. It is closed before exit. */
#include "victim.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

static struct sockaddr_in peer;

static int listener(void)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    socklen_t len = sizeof peer;
    peer.sin_family = AF_INET;
    peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (l < 0 || bind(l, (struct sockaddr *)&peer, sizeof peer) || listen(l, 128) ||
        getsockname(l, (struct sockaddr *)&peer, &len))
        v_die(__FILE__, __LINE__, "listen");
    return l;
}

static VICTIM_FN int conn(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0); /* FINDING never-closed mode=dup */
    if (fd < 0 || connect(fd, (struct sockaddr *)&peer, sizeof peer))
        v_die(__FILE__, __LINE__, "connect");
    return fd;
}

static VICTIM_FN int churn_conn(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0); /* FINDING pool-per-operation mode=leftover FINDING never-closed mode=leftover */
    if (fd < 0 || connect(fd, (struct sockaddr *)&peer, sizeof peer))
        v_die(__FILE__, __LINE__, "connect");
    return fd;
}

static VICTIM_FN int cache_conn(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0); /* FINDING growing mode=fork */
    if (fd < 0 || connect(fd, (struct sockaddr *)&peer, sizeof peer))
        v_die(__FILE__, __LINE__, "connect");
    return fd;
}

static VICTIM_FN int dup_it(int fd)
{
    return dup(fd); /* FINDING never-closed mode=dup */
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    int l = listener();
    if (!strcmp(mode, "dup")) {
        int c = conn();
        if (dup_it(c) < 0)
            v_die(__FILE__, __LINE__, "dup");
    } else if (!strcmp(mode, "leftover")) {
        for (int i = 0; i < 30; i++) {
            int c = churn_conn();
            if (i < 29)
                close(c);
        }
    } else if (!strcmp(mode, "fork")) {
        const struct timespec tick = {0, 15 * 1000 * 1000};
        for (int i = 0; i < 12; i++) { /* FDLEAK_SNAPSHOT=0.01: a snapshot at nearly each one */
            cache_conn();
            nanosleep(&tick, 0);
        }
        pid_t pid = fork();
        if (pid == 0)
            exit(0);
        int st;
        if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
            v_die(__FILE__, __LINE__, "child");
    } else {
        fprintf(stderr, "usage: findings_edges dup|leftover|fork\n");
        return 2;
    }
    close(l);
    return 0;
}
