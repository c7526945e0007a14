/* live_slow: slow growth under constant churn (tests/check_growth.py). Every 2 ms conn() makes a
 * socket and the caller closes it again (the same call line keeps what it keeps); every 100 ms
 * a burst of 40 made and closed at once (another line);
 * with FDLEAK_SNAPSHOT=0.02 (a snapshot every 20 ms):
 *
 *   live_slow leak N SECONDS    also keeps one socket from conn() every N snapshot intervals
 *   live_slow cache N SECONDS   keeps one every 20 ms until it holds N, then no more
 *   live_slow churn 0 SECONDS   keeps nothing
 *
 * At the end it raises SIGUSR1 (a live report) and exits (the exit report). It prints
 * `rate <kept per hour>` and `kept <fd>…` (its ground truth). */
#include "victim.h"

#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

VICTIM_FN int conn(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    V_CHECK(fd >= 0);
    return fd;
}

int main(int argc, char **argv)
{
    V_CHECK(argc == 4);
    const char *mode = argv[1];
    int n = atoi(argv[2]);
    double secs = atof(argv[3]), start = now(), next_keep = start, next_burst = start;
    double every = !strcmp(mode, "leak") ? n * 0.02 : 0.02;
    int kept[4096], nkept = 0;
    while (now() - start < secs) {
        double t = now();
        int keep = strcmp(mode, "churn") && t >= next_keep && nkept < 4096 && (strcmp(mode, "cache") || nkept < n);
        int fd = conn(); /* one call line: what is kept comes from the place that churns */
        if (keep) {
            kept[nkept++] = fd;
            next_keep += every;
        } else {
            close(fd);
        }
        if (t >= next_burst) {
            int b[40];
            for (int i = 0; i < 40; i++)
                b[i] = conn();
            for (int i = 0; i < 40; i++)
                close(b[i]);
            next_burst += 0.1;
        }
        struct timespec d = {0, 2000000};
        nanosleep(&d, 0);
    }
    printf("rate %.1f\nkept", !strcmp(mode, "leak") ? 3600.0 / every : 0.0);
    for (int i = 0; i < nkept; i++)
        printf(" %d", kept[i]);
    printf("\n");
    fflush(stdout);
    raise(SIGUSR1);
    return 0;
}
