/* regress: signal() + siginterrupt(SIGALRM, 1) (before or after signal(), argv[1] "before" or
 * "after"): read() on an empty pipe must fail with EINTR when the alarm fires. If the read is
 * restarted instead, the handler re-arms the alarm and gives up after 3 (bounded time). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#pragma GCC diagnostic ignored "-Wdeprecated-declarations" /* siginterrupt is the point */
static volatile sig_atomic_t alarms;
static void on_alarm(int s)
{
    (void)s;
    if (++alarms >= 3) {
        static const char m[] = "read() was restarted 3 times, expected EINTR\n";
        if (write(1, m, sizeof m - 1) < 0)
            _exit(4);
        _exit(3);
    }
    alarm(1);
}
int main(int argc, char **argv)
{
    int before = argc > 1 && !strcmp(argv[1], "before");
    int p[2];
    if (pipe(p))
        return 2;
    if (before)
        siginterrupt(SIGALRM, 1);
    signal(SIGALRM, on_alarm);
    if (!before)
        siginterrupt(SIGALRM, 1);
    alarm(1);
    char c;
    ssize_t n = read(p[0], &c, 1);
    int err = errno;
    alarm(0);
    printf("read returned %zd errno=%s after %d alarm(s)\n", n, n < 0 ? strerror(err) : "-",
           (int)alarms);
    close(p[0]);
    close(p[1]);
    return n < 0 && err == EINTR ? 0 : 1;
}
